"""How well a grouping or a same-question decision matches gold labels, for
bench/merge.py: precision, recall and F1 over all pairs of asks, ARI and NMI
(scikit-learn), precision, recall and F1 of the decisions on question pairs,
and the threshold with the best F1 on dev scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np


def pairwise_prf(gold: Sequence[str], pred: Sequence[Any]) -> tuple[float, float, float]:
    """Precision, recall, F1 over all pairs of asks of "these two ask the same question"."""

    def pairs(counts: Counter[Any]) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    tp = pairs(Counter(zip(gold, pred, strict=True)))
    pred_pairs, gold_pairs = pairs(Counter(pred)), pairs(Counter(gold))
    p = tp / pred_pairs if pred_pairs else 1.0
    r = tp / gold_pairs if gold_pairs else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def cluster_metrics(gold: Sequence[str], pred: Sequence[Any]) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    p, r, f = pairwise_prf(gold, pred)
    return {
        "precision": p,
        "recall": r,
        "f1": f,
        "ari": float(adjusted_rand_score(gold, pred)),
        "nmi": float(normalized_mutual_info_score(gold, pred)),
        "clusters": float(len(set(pred))),
    }


def binary_prf(labels: Sequence[int], decisions: Sequence[bool]) -> dict[str, float]:
    tp = sum(1 for y, d in zip(labels, decisions, strict=True) if y and d)
    predicted, positive = sum(decisions), sum(labels)
    p = tp / predicted if predicted else 1.0
    r = tp / positive if positive else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def best_threshold(
    scores: Sequence[float], labels: Sequence[int], forced: Sequence[bool] | None = None
) -> tuple[float, float]:
    """The threshold with the best F1 on these (dev) scores, and that F1.

    Pairs marked ``forced`` count as the same whatever their score. One sort and
    running sums try every distinct score as the threshold.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    f = np.zeros(len(s), dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    positives = int(y.sum())
    free = ~f
    order = np.argsort(-s[free], kind="stable")
    ss, yy = s[free][order], y[free][order]
    if not len(ss):
        return 1.0, 0.0
    # Deciding "same" for the first k free pairs, plus every forced one.
    tp = int((y & f).sum()) + np.cumsum(yy)
    predicted = int(f.sum()) + np.arange(1, len(ss) + 1)
    last = np.r_[ss[1:] != ss[:-1], True]  # cut only between distinct scores
    f1 = np.where(last, 2 * tp / (predicted + positives), -1.0)
    k = int(np.argmax(f1))
    return float(ss[k]), float(f1[k])


def threshold_for_precision(
    scores: Sequence[float],
    labels: Sequence[int],
    precision: float,
    forced: Sequence[bool] | None = None,
) -> float:
    """The lowest threshold whose decisions (forced pairs always "same") reach
    ``precision`` on these (dev) scores; above every score if none does."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    f = np.zeros(len(s), dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    order = np.argsort(-s[~f], kind="stable")
    ss, yy = s[~f][order], y[~f][order]
    tp = int((y & f).sum()) + np.cumsum(yy)
    predicted = int(f.sum()) + np.arange(1, len(ss) + 1)
    last = np.r_[ss[1:] != ss[:-1], True] if len(ss) else np.zeros(0, dtype=bool)
    ok = np.flatnonzero(last & (tp / predicted >= precision))
    if not len(ok):
        return float(np.nextafter(ss[0], np.inf)) if len(ss) else 0.0
    return float(ss[ok[-1]])
