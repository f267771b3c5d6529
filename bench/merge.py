"""Merge-engine benchmark: quality against gold labels, speed and memory, with baselines.

    python bench/merge.py --intents PATH [--split test] --pairs PATH --dev-pairs PATH

--intents is a CLINC-style JSON file (lists of [text, intent] per split) or a CSV
with a header "text,category"; pair files are TSV "sentence1, sentence2, label"
(a header row and a leading id column are tolerated; a 0-5 score counts as the
same question from 4 up). Every threshold is chosen on dev data only: the
--dev-split of the JSON (a seeded half of the rows for a CSV) and --dev-pairs.
If --dev-pairs is the same file as --pairs, it is split into two seeded halves.

Prints a table and, as its last line, one JSON object with every metric.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from bench.harness import sample
from bench.merge_bands import bands_table, fit_history, load_history, measure_bands
from bench.merge_scores import (
    best_threshold,
    binary_prf,
    cluster_metrics,
    pairwise_prf,
    threshold_for_precision,
)
from headon.desk.merging import (
    MergeEngine,
    Thresholds,
    load_embedder,
    match_key,
)
from headon.desk.merging.calibrate import AUTO_PRECISION, calibrate
from headon.desk.merging.embedders import E5_ENGINES, ConcatEmbedder, E5Embedder, Embedder, Vectors
from headon.desk.merging.normalise import is_chinese

Labelled = list[tuple[str, str]]  # (text, gold category)
Pairs = list[tuple[str, str, int]]
DENSITY_WEIGHTS = (0.0, 0.5, 1.0)
OVERLAP_WEIGHTS = (0.0, 0.02, 0.04, 0.06)


# -- loading --------------------------------------------------------------------


def load_intents(path: Path, split: str, dev_split: str, seed: int) -> tuple[Labelled, Labelled]:
    """Return (dev, test) labelled asks from a CLINC-style JSON or a text,category CSV."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        test = [(str(t), str(c)) for t, c in data[split]]
        dev = [(str(t), str(c)) for t, c in data[dev_split]] if dev_split in data else []
        if dev:
            return dev, test
        rows = test
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [(r["text"], r["category"]) for r in csv.DictReader(fh) if r["text"]]
    # No separate dev split: hold out a seeded half of the rows for choosing thresholds.
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    return rows[: len(rows) // 2], rows[len(rows) // 2 :]


def load_pairs(path: Path) -> Pairs:
    pairs: Pairs = []
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            cells = line.rstrip("\n\r").split("\t")
            if len(cells) < 3:
                continue
            a, b, label = cells[-3:]
            try:
                score = float(label)
            except ValueError:
                continue  # the header row
            # Chinese STS-B grades 0-5: 4 and 5 mean the same meaning.
            pairs.append((a, b, int(score >= 4) if score > 1 else int(score)))
    return pairs


# -- measuring --------------------------------------------------------------------


def reset_peak_rss() -> None:
    # Linux lets a process reset its own high-water mark, so each method gets its own peak.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CachedEmbedder:
    """Wraps an embedder so that each text is embedded once across all the runs here,
    and across runs with ``--cache DIR`` (one .npz per model and engine)."""

    def __init__(self, inner: Embedder, store: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.store = None
        if store is not None:
            engine = getattr(inner, "engine", "")
            self.store = store / f"{inner.name}{'-' + engine if engine else ''}.npz"
            if self.store.exists():
                with np.load(self.store, allow_pickle=False) as data:
                    self.cache = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
        self.stored = len(self.cache)

    def save(self) -> None:
        if self.store is None or len(self.cache) == self.stored:
            return
        self.store.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.cache)
        tmp = self.store.with_suffix(".tmp.npz")
        np.savez(tmp, texts=np.array(texts), vectors=np.stack([self.cache[t] for t in texts]))
        tmp.replace(self.store)
        self.stored = len(texts)

    def encode(self, texts: Sequence[str]) -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            start = time.perf_counter()
            for text, vec in zip(missing, self.inner.encode(missing), strict=True):
                self.cache[text] = vec
            self.seconds += time.perf_counter() - start
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])


def is_mostly_chinese(texts: Sequence[str]) -> bool:
    return sum(is_chinese(match_key(t)) for t in texts) * 2 >= len(texts)


# The settings chosen on dev pairs, by whether the pairs are Chinese.
PAIR_SETTINGS = {
    True: ("zh_model_share", "zh_density_weight", "zh_overlap_weight", "zh_offset"),
    False: ("density_weight", "overlap_weight", "meaning"),
}


def pair_grid(base: Thresholds, chinese: bool, embedder: Embedder) -> list[Thresholds]:
    """Candidate settings for the pairs' script; the threshold is searched for each."""
    if not chinese:
        return [
            replace(base, density_weight=w, overlap_weight=o)
            for w in DENSITY_WEIGHTS
            for o in OVERLAP_WEIGHTS
        ]
    shares = (0.5, 0.75, 1.0) if isinstance(embedder, ConcatEmbedder) else (1.0,)
    return [
        replace(base, zh_model_share=m, zh_density_weight=w, zh_overlap_weight=o, zh_offset=0.0)
        for m in shares
        for w in DENSITY_WEIGHTS
        for o in OVERLAP_WEIGHTS
    ]


def cached(inner: Embedder, store: Path | None = None) -> Embedder:
    """The embedder with every model behind a cache (each part of a concatenation)."""
    if isinstance(inner, ConcatEmbedder):
        return ConcatEmbedder([CachedEmbedder(p, store) for p in inner.parts])
    return CachedEmbedder(inner, store)


def save_cache(embedder: Embedder | None) -> None:
    parts = embedder.parts if isinstance(embedder, ConcatEmbedder) else [embedder]
    for part in parts:
        if isinstance(part, CachedEmbedder):
            part.save()


# -- methods on the intents -------------------------------------------------------


def run_engine(engine: MergeEngine, rows: Labelled) -> list[str]:
    clusters = engine.recluster([(str(i), text) for i, (text, _) in enumerate(rows)])
    label = {}
    for cluster in clusters:
        for ask_id in cluster.ask_ids:
            label[ask_id] = cluster.question_id
    return [label[str(i)] for i in range(len(rows))]


def tune(
    grid: Sequence[Any], run: Callable[[Any], list[Any]], gold: Sequence[str]
) -> tuple[Any, dict[str, float]]:
    """Pick the grid value with the best pairwise F1 on dev (ties: higher precision)."""
    best: tuple[float, float] = (-1.0, -1.0)
    chosen, chosen_metrics = grid[0], {}
    for value in grid:
        m = cluster_metrics(gold, run(value))
        if (m["f1"], m["precision"]) > best:
            best, chosen, chosen_metrics = (m["f1"], m["precision"]), value, m
    return chosen, chosen_metrics


def tfidf_vectors(fit_texts: Sequence[str], texts: Sequence[str]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    vec.fit([match_key(t) for t in fit_texts])
    return vec.transform([match_key(t) for t in texts])


def tfidf_cluster(matrix: Any, threshold: float) -> list[int]:
    # Average linkage on cosine distance, cut at the threshold: the usual
    # "TF-IDF plus a threshold" grouping, stronger than connected components.
    # TfidfVectorizer's rows are unit length, except an ask with no n-gram seen
    # in the dev texts: it is all zeros, at distance 1 from everything (sklearn's
    # own cosine metric refuses such rows).
    from sklearn.cluster import AgglomerativeClustering

    if matrix.shape[0] < 2:
        return [0] * matrix.shape[0]
    distances = np.clip(1 - (matrix @ matrix.T).toarray(), 0.0, 1.0)
    model = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1 - threshold,
    )
    return [int(x) for x in model.fit_predict(distances)]


def bertopic_cluster(vectors: np.ndarray, min_cluster_size: int, seed: int) -> list[int]:
    """BERTopic's default pipeline on the same embeddings: UMAP to 5-d, then HDBSCAN.

    HDBSCAN's outliers (-1) each become their own question, as an ask the
    pipeline could not place would be shown on its own.
    """
    import umap  # type: ignore[import-untyped]
    from sklearn.cluster import HDBSCAN

    reduced = umap.UMAP(
        n_neighbors=15,
        n_components=5,
        min_dist=0.0,
        metric="cosine",
        random_state=seed,
        n_jobs=1,
    ).fit_transform(vectors)
    labels = HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean", copy=True).fit_predict(
        reduced
    )
    return [int(x) if x >= 0 else -(i + 2) for i, x in enumerate(labels)]


NOISE = (
    lambda t: t,
    lambda t: t + " 🚗🚗",
    lambda t: t.upper() + "?!",
    lambda t: "@somebody " + t,
    lambda t: t + " https://t.cn/x1",
    lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t),
)


def time_assign(
    embedder: Embedder | None, thresholds: Thresholds, held: Sequence[str], rest: Sequence[str]
) -> dict[str, float]:
    """Assign held-out asks one at a time into an engine built on the rest."""
    return time_assign_with(MergeEngine(embedder=embedder, thresholds=thresholds), held, rest)


def time_assign_with(
    engine: MergeEngine, held: Sequence[str], rest: Sequence[str]
) -> dict[str, float]:
    engine.recluster([(f"old{i}", t) for i, t in enumerate(rest)])
    times = []
    for i, text in enumerate(held):
        start = time.perf_counter()
        engine.assign(f"new{i}", text)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "assign_median_ms": statistics.median(times) if times else 0.0,
        "assign_p95_ms": float(np.percentile(times, 95)) if times else 0.0,
    }


QUIET_SIZES = (50, 150, 500)


def quiet_days(
    rows: Labelled, embedder: Embedder, thresholds: Thresholds, seed: int
) -> dict[str, dict[str, float]]:
    """Pairwise P/R/F1 on small days: three seeded samples of the test asks per
    size, re-clustered and assigned one ask at a time into an empty day, with
    the engine's thresholds and with the day shift turned off."""
    out: dict[str, dict[str, float]] = {}
    variants = (("engine", thresholds), ("no_shift", replace(thresholds, reference_density=0.0)))
    for size in QUIET_SIZES:
        if size >= len(rows):
            continue
        samples = [random.Random(f"{seed}-{size}-{s}").sample(rows, size) for s in range(3)]
        for name, th in variants:
            for path in ("recluster", "assign"):
                gold: list[str] = []
                pred: list[str] = []
                for s, day in enumerate(samples):
                    engine = MergeEngine(embedder=embedder, thresholds=th)
                    if path == "recluster":
                        label = {
                            a: c.question_id
                            for c in engine.recluster([(str(i), t) for i, (t, _) in enumerate(day)])
                            for a in c.ask_ids
                        }
                        ids = [label[str(i)] for i in range(size)]
                    else:
                        ids = [engine.assign(str(i), t).question_id for i, (t, _) in enumerate(day)]
                    gold += [f"{s}:{c}" for _, c in day]
                    pred += [f"{s}:{q}" for q in ids]
                p, r, f = pairwise_prf(gold, pred)
                out[f"{size}_{name}_{path}"] = {"precision": p, "recall": r, "f1": f}
    return out


def time_day(
    size: int, rows: Labelled, embedder: Embedder | None, thresholds: Thresholds, seed: int
) -> dict[str, float]:
    """Re-cluster a synthetic day: test asks repeated with emoji, case, links, full width.

    Real days repeat the same few hundred questions many times; this measures the
    exact stage at scale, with only the distinct texts reaching the model.
    """
    rng = random.Random(seed)
    day = [(str(i), rng.choice(NOISE)(rng.choice(rows)[0])) for i in range(size)]
    gc.collect()
    reset_peak_rss()
    start = time.perf_counter()
    clusters = MergeEngine(embedder=embedder, thresholds=thresholds).recluster(day)
    seconds = time.perf_counter() - start
    return {
        "asks": float(size),
        "distinct_texts": float(len({t for t, _ in rows})),
        "questions": float(len(clusters)),
        "recluster_s": seconds,
        "asks_per_s": size / seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def compare_day(
    size: int,
    rows: Labelled,
    embedder: Embedder,
    thresholds: Thresholds,
    min_cluster_size: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Both pipelines from raw asks to questions on one synthetic day (test asks
    repeated with noise), each embedding from scratch with the same model.

    BERTopic-style embeds each distinct text as received (its documents) and
    clusters those; headon normalises first, so noisy copies of one wording
    reach the model once. Quality is scored per ask against the gold intents.
    """
    rng = random.Random(f"{seed}-compare")
    picked = [rng.choice(rows) for _ in range(size)]
    day = [(rng.choice(NOISE)(text), gold) for text, gold in picked]
    gold = [g for _, g in day]
    out: dict[str, dict[str, float]] = {}

    gc.collect()
    start = time.perf_counter()
    engine = MergeEngine(embedder=embedder, thresholds=thresholds)
    label = {
        a: c.question_id
        for c in engine.recluster([(str(i), t) for i, (t, _) in enumerate(day)])
        for a in c.ask_ids
    }
    seconds = time.perf_counter() - start
    out["engine"] = cluster_metrics(gold, [label[str(i)] for i in range(size)])
    out["engine"].update(total_s=seconds, distinct=float(len({match_key(t) for t, _ in day})))

    gc.collect()
    start = time.perf_counter()
    distinct = list(dict.fromkeys(t for t, _ in day))
    vectors = embedder.encode(distinct)
    embed_s = time.perf_counter() - start
    topic = dict(zip(distinct, bertopic_cluster(vectors, min_cluster_size, seed), strict=True))
    seconds = time.perf_counter() - start
    out["bertopic"] = cluster_metrics(gold, [topic[t] for t, _ in day])
    out["bertopic"].update(total_s=seconds, embed_s=embed_s, distinct=float(len(distinct)))
    return out


# -- the run --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--intents", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--dev-split", default="val")
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--dev-pairs", type=Path, required=True)
    parser.add_argument("--model", default="e5+use", help="e5+use, e5, use, or none (lexical mode)")
    parser.add_argument("--asks", type=int, default=1500, help="test asks sampled (0 = all)")
    parser.add_argument("--dev-asks", type=int, default=1500)
    parser.add_argument("--pair-count", type=int, default=1500, help="test pairs (0 = all)")
    parser.add_argument("--dev-pair-count", type=int, default=1500)
    parser.add_argument("--assign-count", type=int, default=200)
    parser.add_argument(
        "--day-asks",
        type=int,
        default=0,
        help="also time a re-cluster of a synthetic day this big (test asks with noisy copies)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="cores e5-small may use (the app uses 1)"
    )
    parser.add_argument(
        "--e5-engine",
        choices=E5_ENGINES,
        default=None,
        help="what runs e5-small (default: the app's, ONNX Runtime int8 where it loads)",
    )
    parser.add_argument(
        "--compare-day",
        type=int,
        default=0,
        help="also run both pipelines end to end on a synthetic day this big (BERTopic-style)",
    )
    parser.add_argument("--skip-bertopic", action="store_true")
    parser.add_argument(
        "--history",
        type=Path,
        default=None,
        help="earlier days' confirmed asks (CSV text,category or a JSON's train split):"
        " fit the learned transform on them and score the engine with it too",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="a directory that keeps embeddings between runs (one file per model)",
    )
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    seed = args.seed
    metrics: dict[str, Any] = {"seed": seed, "model": args.model}
    notes: list[str] = []

    # Data. Sampling is seeded; nothing below looks at test labels until scoring.
    dev_rows, test_rows = load_intents(args.intents, args.split, args.dev_split, seed)
    dev_rows, test_rows = sample(dev_rows, args.dev_asks, seed), sample(test_rows, args.asks, seed)
    test_pairs = load_pairs(args.pairs)
    if args.dev_pairs.resolve() == args.pairs.resolve():
        shuffled = test_pairs[:]
        random.Random(seed).shuffle(shuffled)
        dev_pairs, test_pairs = shuffled[: len(shuffled) // 2], shuffled[len(shuffled) // 2 :]
        notes.append("--dev-pairs is --pairs: split into two seeded halves, disjoint")
    else:
        dev_pairs = load_pairs(args.dev_pairs)
    dev_pairs = sample(dev_pairs, args.dev_pair_count, seed)
    test_pairs = sample(test_pairs, args.pair_count, seed)
    metrics.update(
        dev_asks=len(dev_rows),
        test_asks=len(test_rows),
        test_intents=len({c for _, c in test_rows}),
        dev_pairs=len(dev_pairs),
        test_pairs=len(test_pairs),
    )

    # Model.
    reset_peak_rss()
    start = time.perf_counter()
    preference = () if args.model == "none" else (args.model,)
    inner = load_embedder(preference, threads=args.threads, e5_engine=args.e5_engine)
    metrics["model_load_s"] = time.perf_counter() - start
    metrics["model_load_peak_rss_mb"] = peak_rss_mb()
    embedder = cached(inner, args.cache) if inner is not None else None
    metrics["mode"] = "semantic" if embedder else "lexical"
    if embedder is not None:
        metrics["model_name"] = embedder.name
        parts = inner.parts if isinstance(inner, ConcatEmbedder) else [inner]
        engines = [p.engine for p in parts if isinstance(p, E5Embedder)]
        if engines:
            metrics["e5_engine"] = engines[0]

    gold_dev = [c for _, c in dev_rows]
    gold_test = [c for _, c in test_rows]
    test_keys = [match_key(t) for t, _ in test_rows]

    # Embedding speed, cold, on the test asks (shared by the engine and BERTopic-style).
    test_vectors = None
    if embedder is not None:
        reset_peak_rss()
        start = time.perf_counter()
        # The engine's own vectors (Chinese asks lean on e5), shared with BERTopic-style.
        test_vectors = MergeEngine(embedder=embedder).meaning_vectors(test_keys)
        seconds = time.perf_counter() - start
        metrics["embed_asks_per_s"] = len(test_keys) / seconds
        metrics["embed_s"] = seconds
        metrics["embed_peak_rss_mb"] = peak_rss_mb()
        embedder.encode([match_key(t) for t, _ in dev_rows])

    # 1. headon engine: its bands calibrated on dev asks only (calibrate.py): the
    # reference density measured, the auto band for pairwise precision, the
    # suggest band for a reviewer's load.
    if embedder is not None:
        calibration = calibrate(embedder, dev_rows, seed=seed)
        thresholds = calibration.thresholds
        metrics["engine_dev"] = asdict(calibration) | {"thresholds": None}
    else:
        thresholds = Thresholds()
    metrics["engine_meaning_threshold"] = thresholds.meaning
    metrics["engine_near_threshold"] = thresholds.near
    metrics["engine_density_weight"] = thresholds.density_weight
    metrics["engine_reference_density"] = thresholds.reference_density
    metrics["engine_suggest_threshold"] = thresholds.suggest
    gc.collect()
    reset_peak_rss()
    engine = MergeEngine(embedder=embedder, thresholds=thresholds)
    start = time.perf_counter()
    pred = run_engine(engine, test_rows)
    cluster_s = time.perf_counter() - start
    engine_m = cluster_metrics(gold_test, pred)
    engine_m["cluster_s"] = cluster_s
    engine_m["total_s"] = cluster_s + metrics.get("embed_s", 0.0)
    engine_m["asks_per_s"] = len(test_rows) / engine_m["total_s"]
    engine_m["peak_rss_mb"] = peak_rss_mb()

    # Assign one new ask at a time: held-out asks into an engine built on the rest.
    texts = [t for t, _ in test_rows]
    engine_m.update(
        time_assign(inner, thresholds, texts[: args.assign_count], texts[args.assign_count :])
    )
    metrics["engine"] = engine_m
    metrics["bands"] = measure_bands(embedder, thresholds, test_rows)

    # 1b. The same engine with a transform learned from earlier days' confirmed
    # asks, its thresholds calibrated with it on the same dev asks.
    if args.history is not None and embedder is not None:
        history = load_history(args.history)
        start = time.perf_counter()
        transform, chosen = fit_history(embedder, history, dev_rows, seed, thresholds)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        pred = run_engine(MergeEngine(embedder=embedder, transform=transform), test_rows)
        history_m = cluster_metrics(gold_test, pred)
        history_m.update(cluster_s=time.perf_counter() - start, fit_and_calibrate_s=fit_s)
        history_m["total_s"] = history_m["cluster_s"] + metrics.get("embed_s", 0.0)
        history_m["asks_per_s"] = len(test_rows) / history_m["total_s"]
        history_m["peak_rss_mb"] = peak_rss_mb()
        history_m.update(
            history_asks=float(transform.examples),
            history_questions=float(transform.classes),
            dev_precision=chosen.precision,
            dev_precision_bound=chosen.precision_bound,
            **dict(zip(("floor_meaning", "floor_suggest"), chosen.floors or (), strict=False)),
            dev_f1=chosen.f1,
            **{f"threshold_{k}": float(v) for k, v in transform.thresholds.items()},
        )
        history_m["without_history"] = {
            k: engine_m[k] for k in ("precision", "recall", "f1", "ari", "nmi")
        }
        texts = [t for t, _ in test_rows]
        assign_engine = MergeEngine(embedder=inner, transform=transform)
        history_m.update(
            time_assign_with(assign_engine, texts[: args.assign_count], texts[args.assign_count :])
        )
        metrics["history"] = history_m
        metrics["bands_without_history"] = metrics["bands"]
        metrics["bands"] = measure_bands(embedder, chosen.thresholds, test_rows, transform)
    if embedder is not None:
        metrics["quiet_days"] = quiet_days(test_rows, embedder, thresholds, seed)
    if args.day_asks:
        metrics["day"] = time_day(args.day_asks, test_rows, inner, thresholds, seed)

    # 2. TF-IDF character n-grams + average linkage at a dev-chosen threshold.
    grid = [round(x, 2) for x in np.arange(0.2, 0.91, 0.05)]
    dev_matrix = tfidf_vectors([t for t, _ in dev_rows], [t for t, _ in dev_rows])
    chosen, _ = tune(grid, lambda t: tfidf_cluster(dev_matrix, t), gold_dev)
    gc.collect()
    reset_peak_rss()
    start = time.perf_counter()
    matrix = tfidf_vectors([t for t, _ in dev_rows], [t for t, _ in test_rows])
    pred = tfidf_cluster(matrix, chosen)
    tfidf_m = cluster_metrics(gold_test, pred)
    tfidf_m.update(total_s=time.perf_counter() - start, threshold=chosen, peak_rss_mb=peak_rss_mb())
    tfidf_m["cluster_s"] = tfidf_m["total_s"]
    tfidf_m["asks_per_s"] = len(test_rows) / tfidf_m["total_s"]
    metrics["tfidf"] = tfidf_m

    # 3. BERTopic-style on the same embeddings.
    if embedder is None or test_vectors is None:
        notes.append("BERTopic-style skipped: it needs an embedder (lexical mode)")
    elif args.skip_bertopic:
        notes.append("BERTopic-style skipped: --skip-bertopic")
    else:
        try:
            import umap  # type: ignore[import-untyped]  # noqa: F401
        except ImportError as exc:
            notes.append(f"BERTopic-style skipped: umap-learn does not import ({exc})")
        else:
            dev_vectors = MergeEngine(embedder=embedder).meaning_vectors([t for t, _ in dev_rows])
            # Tuned on dev like the others; this also pays numba's one-off compilation.
            chosen, _ = tune([3, 5, 10], lambda m: bertopic_cluster(dev_vectors, m, seed), gold_dev)
            gc.collect()
            reset_peak_rss()
            start = time.perf_counter()
            pred = bertopic_cluster(test_vectors, chosen, seed)
            seconds = time.perf_counter() - start
            bt_m = cluster_metrics(gold_test, pred)
            bt_m.update(
                cluster_s=seconds,
                total_s=seconds + metrics["embed_s"],
                min_cluster_size=chosen,
                peak_rss_mb=peak_rss_mb(),
            )
            bt_m["asks_per_s"] = len(test_rows) / bt_m["total_s"]
            metrics["bertopic"] = bt_m
            metrics["speedup_vs_bertopic_clustering"] = seconds / engine_m["cluster_s"]
            metrics["speedup_vs_bertopic_total"] = bt_m["total_s"] / engine_m["total_s"]
            if args.compare_day:
                day_m = compare_day(args.compare_day, test_rows, inner, thresholds, chosen, seed)
                metrics["compare_day"] = day_m
                metrics["speedup_vs_bertopic_day"] = (
                    day_m["bertopic"]["total_s"] / day_m["engine"]["total_s"]
                )

    # 4. Question pairs: the same-question decision of the engine configured above,
    # with the settings of the pairs' script chosen on the dev pairs.
    dev_labels = [y for _, _, y in dev_pairs]
    pair_thresholds = thresholds
    chinese_pairs = is_mostly_chinese([t for a, b, _ in dev_pairs for t in (a, b)])
    metrics["pairs_script"] = "zh" if chinese_pairs else "other"
    if embedder is not None:
        best_f = -1.0
        for trial in pair_grid(thresholds, chinese_pairs, embedder):
            dev_scores = MergeEngine(embedder=embedder, thresholds=trial).score_pairs(
                [(a, b) for a, b, _ in dev_pairs]
            )
            sc = [s.score if s.score is not None else 0.0 for s in dev_scores]
            forced = [s.same_key or s.jaccard >= thresholds.near for s in dev_scores]
            t, f = best_threshold(sc, dev_labels, forced)
            if f > best_f:
                # Chinese pairs: the offset moves their threshold, the rest stays.
                best_f = f
                pair_thresholds = (
                    replace(trial, zh_offset=t - trial.meaning)
                    if chinese_pairs
                    else replace(trial, meaning=t)
                )
        if not chinese_pairs:
            notes.append(
                "pairs are not mostly Chinese: their meaning threshold and density weight"
                " are chosen on the dev pairs apart from the intents' ones"
            )
    pair_engine = MergeEngine(embedder=embedder, thresholds=pair_thresholds)
    start = time.perf_counter()
    test_scores = pair_engine.score_pairs([(a, b) for a, b, _ in test_pairs])
    test_labels = [y for _, _, y in test_pairs]
    pairs_m = binary_prf(test_labels, [pair_engine.same_question(s) for s in test_scores])
    pt = pair_engine.thresholds
    pairs_m.update(
        threshold=pt.meaning + (pt.zh_offset if chinese_pairs else 0.0),
        seconds=time.perf_counter() - start,
    )
    for name in PAIR_SETTINGS[chinese_pairs]:
        pairs_m[name] = getattr(pt, name)
    if embedder is not None:
        # The auto band on pairs: the lowest score whose dev pairs reach the
        # auto precision, with the settings chosen above.
        dev_scores = pair_engine.score_pairs([(a, b) for a, b, _ in dev_pairs])
        t_auto = threshold_for_precision(
            [s.score if s.score is not None else -np.inf for s in dev_scores],
            dev_labels,
            AUTO_PRECISION,
            [s.same_key or s.jaccard >= pt.near for s in dev_scores],
        )
        auto = binary_prf(
            test_labels,
            [
                s.same_key or s.jaccard >= pt.near or (s.score is not None and s.score >= t_auto)
                for s in test_scores
            ],
        )
        pairs_m.update(
            auto_threshold=t_auto, auto_precision=auto["precision"], auto_recall=auto["recall"]
        )
    cosines = [s.score for s in test_scores]
    if all(c is not None for c in cosines):
        from sklearn.metrics import roc_auc_score

        pairs_m["auc"] = float(roc_auc_score(test_labels, cosines))
    if inner is not None:
        # Assign one new ask of the pairs' language: held-out sentences into an
        # engine built on other sentences of the test pairs.
        texts = list(dict.fromkeys(t for a, b, _ in test_pairs for t in (a, b)))
        held, rest = texts[: args.assign_count], texts[args.assign_count :][:3000]
        pairs_m.update(time_assign(inner, pair_thresholds, held, rest))
    metrics["pairs_engine"] = pairs_m

    from sklearn.metrics.pairwise import paired_cosine_distances

    fit = [t for a, b, _ in dev_pairs for t in (a, b)]
    da = tfidf_vectors(fit, [a for a, _, _ in dev_pairs])
    db = tfidf_vectors(fit, [b for _, b, _ in dev_pairs])
    dev_sims = (1 - paired_cosine_distances(da, db)).tolist()
    t_tfidf, _ = best_threshold(dev_sims, dev_labels)
    ta = tfidf_vectors(fit, [a for a, _, _ in test_pairs])
    tb = tfidf_vectors(fit, [b for _, b, _ in test_pairs])
    test_sims = (1 - paired_cosine_distances(ta, tb)).tolist()
    pairs_t = binary_prf(test_labels, [s >= t_tfidf for s in test_sims])
    pairs_t["threshold"] = t_tfidf
    metrics["pairs_tfidf"] = pairs_t
    metrics["notes"] = notes

    save_cache(embedder)
    print_table(metrics, args)
    print(json.dumps(metrics, sort_keys=True, default=float))
    return 0


def print_table(m: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"headon merge bench · model {m.get('model_name', 'none')} ({m['mode']} mode"
        f"{', e5 on ' + m['e5_engine'] if 'e5_engine' in m else ''}) · "
        f"intents {args.intents.name} {m['test_asks']} test asks / {m['test_intents']} intents "
        f"(dev {m['dev_asks']}) · pairs {args.pairs.name} {m['test_pairs']} (dev {m['dev_pairs']})"
        f" · seed {m['seed']}"
    )
    if "embed_asks_per_s" in m:
        print(
            f"model load {m['model_load_s']:.1f} s · embedding {m['embed_asks_per_s']:.0f} asks/s"
            f" (peak RSS {m['embed_peak_rss_mb']:.0f} MB)"
        )
    print()
    head = (
        f"{'intents':<22}{'P':>6}{'R':>6}{'F1':>6}{'ARI':>6}{'NMI':>6}{'groups':>8}"
        f"{'cluster s':>11}{'total s':>9}{'asks/s':>8}{'peak MB':>9}"
    )
    print(head)
    print("-" * len(head))
    for key, label in (
        ("engine", "headon engine"),
        ("history", "headon + history"),
        ("tfidf", "TF-IDF char 2-4"),
        ("bertopic", "BERTopic-style"),
    ):
        r = m.get(key)
        if r is None:
            continue
        print(
            f"{label:<22}{r['precision']:>6.3f}{r['recall']:>6.3f}{r['f1']:>6.3f}{r['ari']:>6.3f}"
            f"{r['nmi']:>6.3f}{int(r['clusters']):>8}{r['cluster_s']:>11.2f}{r['total_s']:>9.2f}"
            f"{r['asks_per_s']:>8.0f}{r['peak_rss_mb']:>9.0f}"
        )
    e = m["engine"]
    print(
        f"\nengine thresholds (dev): auto {m['engine_meaning_threshold']}, suggest "
        f"{m['engine_suggest_threshold']:.3f}, near {m['engine_near_threshold']}, density weight"
        f" {m['engine_density_weight']}, reference density {m['engine_reference_density']} ·"
        f" assign one new ask: median {e['assign_median_ms']:.2f} ms, p95 {e['assign_p95_ms']:.2f} ms"
    )
    if "history" in m:
        h = m["history"]
        chosen = ", ".join(f"{k[10:]} {v:.3f}" for k, v in h.items() if k.startswith("threshold_"))
        print(
            f"with history ({int(h['history_asks']):,} asks, {int(h['history_questions'])} questions,"
            f" fitted and calibrated in {h['fit_and_calibrate_s']:.0f} s): {chosen} · assign one"
            f" new ask: median {h['assign_median_ms']:.2f} ms, p95 {h['assign_p95_ms']:.2f} ms"
        )
    for line in bands_table(m):
        print(line)
    if "quiet_days" in m:
        q = m["quiet_days"]
        print(
            f"\n{'quiet days (test asks)':<26}{'asks':>6}"
            f"{'re-cluster P / R / F1':>24}{'assign one by one P / R / F1':>31}"
        )
        for name, label in (("engine", "headon engine"), ("no_shift", "without the day shift")):
            for size in QUIET_SIZES:
                if f"{size}_{name}_recluster" not in q:
                    continue
                cells = [
                    " / ".join(
                        f"{q[f'{size}_{name}_{path}'][k]:.3f}"
                        for k in ("precision", "recall", "f1")
                    )
                    for path in ("recluster", "assign")
                ]
                print(f"{label:<26}{size:>6}{cells[0]:>24}{cells[1]:>31}")
    if "day" in m:
        d = m["day"]
        print(
            f"synthetic day: re-cluster {int(d['asks']):,} asks ({int(d['distinct_texts']):,} "
            f"distinct texts, noisy copies) in {d['recluster_s']:.1f} s, "
            f"{d['asks_per_s']:,.0f} asks/s, peak RSS {d['peak_rss_mb']:.0f} MB"
        )
    if "speedup_vs_bertopic_clustering" in m:
        print(
            f"speed-up vs BERTopic-style: clustering {m['speedup_vs_bertopic_clustering']:.1f}x,"
            f" end to end with embedding {m['speedup_vs_bertopic_total']:.1f}x"
        )
    if "compare_day" in m:
        c = m["compare_day"]
        print(
            f"\nend to end on a day of {args.compare_day:,} asks (test asks repeated with emoji,"
            " case, links, mentions, full width), embedding from scratch:"
        )
        print(f"{'':<22}{'P':>6}{'R':>6}{'F1':>6}{'ARI':>6}{'embedded':>10}{'total s':>9}")
        for key, label in (("engine", "headon engine"), ("bertopic", "BERTopic-style")):
            r = c[key]
            print(
                f"{label:<22}{r['precision']:>6.3f}{r['recall']:>6.3f}{r['f1']:>6.3f}"
                f"{r['ari']:>6.3f}{int(r['distinct']):>10,}{r['total_s']:>9.1f}"
            )
        print(f"speed-up vs BERTopic-style on the day: {m['speedup_vs_bertopic_day']:.1f}x")
    print()
    head = f"{'pairs (same question)':<22}{'P':>6}{'R':>6}{'F1':>6}{'AUC':>6}{'threshold':>11}"
    print(head)
    print("-" * len(head))
    for key, label in (("pairs_engine", "headon engine"), ("pairs_tfidf", "TF-IDF char 2-4")):
        r = m[key]
        auc = f"{r['auc']:>6.3f}" if "auc" in r else f"{'':>6}"
        print(
            f"{label:<22}{r['precision']:>6.3f}{r['recall']:>6.3f}{r['f1']:>6.3f}{auc}"
            f"{r['threshold']:>11.3f}"
        )
    settings = ", ".join(
        f"{name} {m['pairs_engine'][name]:.3g}"
        for name in PAIR_SETTINGS[m["pairs_script"] == "zh"]
        if name in m["pairs_engine"]
    )
    if m["mode"] == "semantic":
        print(f"pair settings chosen on the dev pairs ({m['pairs_script']} script): {settings}")
    if "auto_precision" in m["pairs_engine"]:
        p = m["pairs_engine"]
        print(
            f"auto band on the pairs (threshold {p['auto_threshold']:.3f} from the dev pairs):"
            f" precision {p['auto_precision']:.3f}, recall {p['auto_recall']:.3f}"
        )
    if "assign_median_ms" in m["pairs_engine"]:
        p = m["pairs_engine"]
        print(
            f"assign one new ask of the pairs' language: median {p['assign_median_ms']:.2f} ms,"
            f" p95 {p['assign_p95_ms']:.2f} ms"
        )
    for note in m["notes"]:
        print(f"note: {note}")


if __name__ == "__main__":
    sys.exit(main())
