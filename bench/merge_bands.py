"""The merge engine's bands and learned history, for bench/merge.py.

- ``load_history``: earlier days' confirmed asks, a CSV ``text,category`` or a
  CLINC-style JSON whose ``train`` split is used.
- ``fit_history``: the transform fitted on them, with the engine's thresholds
  calibrated with it on the dev asks (``headon.desk.merging.calibrate``).
- ``measure_bands``: the test asks assigned one at a time into an empty day,
  as the live desk places them: how many went in at once (auto), got a
  question of their own with a suggestion (suggest) or without (new); the
  pairwise precision of what was merged; how often a suggestion was right;
  and the suggestions a re-cluster of the same asks leaves for review.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.merge_scores import pairwise_prf
from headon.desk.merging import MergeEngine, Thresholds, Transform, fit_transform
from headon.desk.merging.calibrate import Calibration, calibrate
from headon.desk.merging.embedders import Embedder

Labelled = list[tuple[str, str]]


def load_history(path: Path) -> Labelled:
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return [(str(t), str(c)) for t, c in data["train"]]
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [(r["text"], r["category"]) for r in csv.DictReader(fh) if r["text"]]


def fit_history(
    embedder: Embedder,
    history: Labelled,
    dev_rows: Labelled,
    seed: int,
    untransformed: Thresholds | None = None,
) -> tuple[Transform, Calibration]:
    """The transform from the history, carrying the thresholds chosen with it
    on dev, held to the false merges of the engine without it at
    ``untransformed`` (calibrate.py's floor)."""
    vectors = MergeEngine(embedder=embedder).meaning_vectors([t for t, _ in history])
    if vectors is None:
        raise ValueError("a history needs a sentence embedder")
    transform = fit_transform(vectors, [c for _, c in history])
    chosen = calibrate(
        embedder, dev_rows, transform=transform, seed=seed, untransformed=untransformed
    )
    return transform.with_thresholds(**chosen.values()), chosen


def measure_bands(
    embedder: Embedder | None,
    thresholds: Thresholds,
    rows: Sequence[tuple[str, str]],
    transform: Transform | None = None,
) -> dict[str, float]:
    gold = [c for _, c in rows]
    engine = MergeEngine(embedder=embedder, thresholds=thresholds, transform=transform)
    placed = [engine.assign(str(i), text) for i, (text, _) in enumerate(rows)]
    first_gold: dict[str, str] = {}
    for a, g in zip(placed, gold, strict=True):
        first_gold.setdefault(a.question_id, g)
    auto = sum(a.stage in ("exact", "near", "meaning") for a in placed)
    suggested = [
        (a.suggested, g) for a, g in zip(placed, gold, strict=True) if a.suggested is not None
    ]
    n = max(len(rows), 1)
    p, r, _ = pairwise_prf(gold, [a.question_id for a in placed])
    out = {
        "auto_precision": p,
        "auto_recall": r,
        "auto_share": auto / n,
        "suggest_share": len(suggested) / n,
        "suggest_per_1000_asks": 1000 * len(suggested) / n,
        "new_share": (len(rows) - auto - len(suggested)) / n,
        # A suggestion is right when the suggested question's first ask asks the same.
        "suggest_precision": _right(suggested, first_gold),
    }
    batch = MergeEngine(embedder=embedder, thresholds=thresholds, transform=transform)
    clusters = batch.recluster([(str(i), text) for i, (text, _) in enumerate(rows)])
    majority = {
        c.question_id: Counter(gold[int(a)] for a in c.ask_ids).most_common(1)[0][0]
        for c in clusters
    }
    found = batch.suggestions(majority)
    out["recluster_suggest_per_1000_asks"] = 1000 * len(found) / n
    out["recluster_suggest_precision"] = _right(
        [(other, majority[q]) for q, (other, _) in found.items()], majority
    )
    return out


def _right(pairs: Sequence[tuple[str, str]], gold_of: dict[str, str]) -> float:
    return sum(gold_of[q] == g for q, g in pairs) / len(pairs) if pairs else 1.0


def bands_table(m: dict[str, Any]) -> list[str]:
    lines = [
        f"\n{'bands (test asks, one by one)':<32}{'auto P':>8}{'auto':>7}{'suggest':>9}"
        f"{'new':>7}{'sugg/1000':>11}{'sugg P':>8}{'re-cluster sugg/1000 (P)':>27}"
    ]
    for key, label in (("bands_without_history", "without history"), ("bands", "engine")):
        b = m.get(key)
        if b is None:
            continue
        if key == "bands" and "bands_without_history" in m:
            label = "with history"
        lines.append(
            f"{label:<32}{b['auto_precision']:>8.3f}{b['auto_share']:>7.3f}"
            f"{b['suggest_share']:>9.3f}{b['new_share']:>7.3f}{b['suggest_per_1000_asks']:>11.0f}"
            f"{b['suggest_precision']:>8.3f}"
            f"{b['recluster_suggest_per_1000_asks']:>19.0f} ({b['recluster_suggest_precision']:.3f})"
        )
    return lines
