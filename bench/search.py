"""Answered-question search benchmark: recall, MRR and speed, with baselines.

    python bench/search.py [--intents PATH] [--pairs PATH] [--queries 1000]
        [--zh-answers 2000] [--model e5+use|e5|use|none]

Every answer stands for one question, searched for by its paraphrases:
- English (--intents, CLINC-style JSON, the --split utterances): per intent one
  answer whose question is one utterance and whose linked questions are 2-4
  more, as staff would link them; the other utterances of the intent are the
  queries.
- Chinese (--pairs, TSV "sentence1, sentence2, label"): the distinct sentence1
  of the label-1 pairs are the answers' questions (at most --zh-answers); their
  sentence2 paraphrases are the queries, and any answer linked to the query by
  a chain of label-1 pairs counts as right. Run again with the queries turned
  into traditional characters (OpenCC s2t), against the same index.
The answers have no bodies (the data has none), so every system searches the
question texts only; the Chinese answers have no linked questions.

Systems, on the same documents in the same run:
1. headon: the real code. A temporary data directory is migrated, Answer rows
   with a published copy and linked Question rows are created, the index is
   filled by `_refresh_terms` (what publishing calls) and queried by `search`.
   "headon hybrid" is the same index with each answer's sentence vectors
   stored as publishing stores them (`answer_vectors.refresh`, USE) and the
   query searched by `search` with the embedder on: the lexical ranking and
   the nearest answers above the cosine floor fused by reciprocal rank. Its
   build time is the vectors' alone. "headon bigrams" is the lexical search
   (with its three synonym pairs), run in the same process with no embedder.
2. SQLite FTS5, the default unicode61 tokenizer: a run of Chinese characters is
   one token. The query's tokens are ORed and ranked by bm25.
3. SQLite FTS5, the trigram tokenizer: the query's 3-character substrings ORed,
   ranked by bm25; a query with no run of 3 characters finds nothing.
4. The merge engine's sentence embedder: cosine between the query and the
   closest of an answer's texts (its question and linked questions), over the
   same match keys the engine uses. Always returns something: a real search
   on it would need a threshold, which is not chosen here.

Metrics per query over the top 10 (what the public search page shows):
recall@1, recall@5, MRR@10 and the share of queries with no result. Index
build time and per-query latency (median, p95); the embedder's latency is
measured on --latency-sample single queries, its recall on batched ones.

Synonyms (with an embedder): five answers, each worded with one word of a pair
people use for one thing (保修/质保, 续航/里程, warranty/guarantee, and two pairs
the index does not list: 提车/交车, handover/pickup), searched for by a short
query with the other word and no other word of the answer, both ways; the
share found first by the lexical search without its synonym list, the
lexical search, and the hybrid.

Prints a table per language and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.harness import sample  # noqa: E402

SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"
TOP = 10

Ranker = Callable[[str], list[int]]  # query -> document indexes, best first


@dataclass
class Doc:
    question: str
    asked: list[str]

    @property
    def texts(self) -> list[str]:
        return [self.question, *self.asked]


Queries = list[tuple[str, frozenset[int]]]  # (query, indexes of the right documents)


# -- data ------------------------------------------------------------------------


def english(path: Path, split: str, seed: int) -> tuple[list[Doc], Queries]:
    data = json.loads(path.read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in data[split]:
        if intent != "oos":
            by_intent[str(intent)].append(str(text))
    rng = random.Random(seed)
    docs: list[Doc] = []
    queries: Queries = []
    for intent in sorted(by_intent):
        texts = by_intent[intent][:]
        rng.shuffle(texts)
        linked = rng.randint(2, 4)
        docs.append(Doc(texts[0], texts[1 : 1 + linked]))
        queries += [(t, frozenset([len(docs) - 1])) for t in texts[1 + linked :]]
    return docs, queries


def chinese(path: Path, cap: int, seed: int) -> tuple[list[Doc], Queries]:
    """LCQMC repeats questions across pairs ("a~b", "b~c"): any answer whose
    question is labelled a paraphrase of the query, directly or through such a
    chain, counts as right, so a duplicate answer is not scored as a miss."""
    paraphrases: dict[str, list[str]] = defaultdict(list)
    parent: dict[str, str] = {}

    def root(text: str) -> str:
        while parent.setdefault(text, text) != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            cells = line.rstrip("\n\r").split("\t")
            if len(cells) >= 3 and cells[-1].strip() == "1":
                a, b = cells[-3].strip(), cells[-2].strip()
                paraphrases[a].append(b)
                parent[root(a)] = root(b)
    questions = list(paraphrases)
    if 0 < cap < len(questions):
        questions = random.Random(seed).sample(questions, cap)
    docs = [Doc(q, []) for q in questions]
    group: dict[str, set[int]] = defaultdict(set)
    for i, q in enumerate(questions):
        group[root(q)].add(i)
    queries = [
        (p, frozenset(group[root(q)])) for q in questions for p in dict.fromkeys(paraphrases[q])
    ]
    return docs, queries


# -- systems ---------------------------------------------------------------------


def setup_django(data_dir: str) -> None:
    os.environ["HEADON_DATA_DIR"] = data_dir
    os.environ["HEADON_EMBEDDER"] = "none"
    os.environ["DJANGO_SETTINGS_MODULE"] = "headon.settings"
    os.environ.pop("DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def headon_index(
    docs: Sequence[Doc], lang: str, embedder: Any
) -> tuple[Ranker, float, Ranker | None, float]:
    """Answers and linked questions as rows, the index filled by the real
    `_refresh_terms`; only that last step is timed as the index build.
    With an embedder, also the hybrid (lexical + stored vectors) and the
    time to store the vectors; each ranker sets the process's embedder
    (None for the lexical one) before searching."""
    from django.db import transaction
    from django.utils import timezone

    from headon.desk.models import Answer, AnswerTerm, AnswerVector, Question
    from headon.desk.services import answer_vectors, merging
    from headon.desk.services.answers import _refresh_terms, search

    merging._embedder_state["loaded"] = None
    AnswerVector.objects.all().delete()

    # A fresh corpus per language: idf is over the answers of this run only.
    AnswerTerm.objects.all().delete()
    Question.objects.all().delete()
    Answer.objects.all().delete()
    now = timezone.now()
    field = "question_en" if lang == "en" else "question_zh"
    with transaction.atomic():
        answers = Answer.objects.bulk_create(
            Answer(
                status=Answer.Status.PUBLISHED,
                published={
                    "question_en": "",
                    "question_zh": "",
                    "body_en": "",
                    "body_zh": "",
                    field: doc.question,
                },
                published_at=now,
                first_published_at=now,
                **{field: doc.question},
            )
            for doc in docs
        )
        Question.objects.bulk_create(
            Question(text=text, answer=answer, covered_at=now)
            for answer, doc in zip(answers, docs, strict=True)
            for text in doc.asked
        )
    start = time.perf_counter()
    with transaction.atomic():
        for answer in answers:
            _refresh_terms(answer)
    build = time.perf_counter() - start
    position = {answer.pk: i for i, answer in enumerate(answers)}

    def lexical(query: str) -> list[int]:
        merging._embedder_state["loaded"] = None
        return [position[pk] for pk, _score in search(query, limit=TOP)]

    if embedder is None:
        return lexical, build, None, 0.0
    # The hybrid: the same index plus each answer's vectors, stored as
    # publishing stores them (`answer_vectors.refresh`), timed on their own.
    merging._embedder_state["loaded"] = embedder
    start = time.perf_counter()
    with transaction.atomic():
        for answer in answers:
            answer_vectors.refresh(answer)
    hybrid_build = time.perf_counter() - start

    def hybrid(query: str) -> list[int]:
        merging._embedder_state["loaded"] = embedder
        return [position[pk] for pk, _score in search(query, limit=TOP)]

    return lexical, build, hybrid, hybrid_build


_WORD = re.compile(r"[^\W_]+")


def _quoted(tokens: Sequence[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(tokens))


def unicode61_query(query: str) -> str:
    # What a search box on FTS5 does: each word quoted (so no query syntax
    # leaks through), ORed so one missing word does not empty the result.
    return _quoted(_WORD.findall(query.casefold()))


def trigram_query(query: str) -> str:
    grams = [w[i : i + 3] for w in _WORD.findall(query.casefold()) for i in range(len(w) - 2)]
    return _quoted(grams)


def fts_index(
    db: sqlite3.Connection,
    name: str,
    tokenizer: str,
    docs: Sequence[Doc],
    build_query: Callable[[str], str],
) -> tuple[Ranker, float]:
    # `name` and `tokenizer` are this file's constants; the documents and
    # queries go in as parameters.
    start = time.perf_counter()
    db.execute(f"DROP TABLE IF EXISTS {name}")
    db.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(text, tokenize='{tokenizer}')")
    db.executemany(
        f"INSERT INTO {name}(rowid, text) VALUES (?, ?)",  # noqa: S608
        ((i + 1, "\n".join(doc.texts)) for i, doc in enumerate(docs)),
    )
    db.commit()
    build = time.perf_counter() - start
    sql = f"SELECT rowid FROM {name} WHERE {name} MATCH ? ORDER BY bm25({name}) LIMIT {TOP}"  # noqa: S608

    def rank(query: str) -> list[int]:
        expression = build_query(query)
        if not expression:
            return []
        return [rowid - 1 for (rowid,) in db.execute(sql, (expression,))]

    return rank, build


class EmbedderIndex:
    """Cosine to the closest of each answer's texts, on the engine's match keys.

    Query vectors are kept by match key, so a query the model has seen (a
    traditional-character copy of a simplified one) is not encoded again for
    the recall figures; latency is always timed on fresh encodes."""

    def __init__(self, embedder: Any, docs: Sequence[Doc]) -> None:
        from headon.desk.merging import match_key

        self.embedder, self.key = embedder, match_key
        self.seen: dict[str, np.ndarray] = {}
        texts = [t for doc in docs for t in doc.texts]
        # Each answer's texts are contiguous: reduceat takes the max per answer.
        self.starts = np.cumsum([0] + [len(doc.texts) for doc in docs[:-1]])
        start = time.perf_counter()
        self.vectors = embedder.encode([match_key(t) for t in texts])
        self.build = time.perf_counter() - start

    def top(self, query_vectors: np.ndarray) -> list[list[int]]:
        per_answer = np.maximum.reduceat(query_vectors @ self.vectors.T, self.starts, axis=1)
        best = np.argsort(-per_answer, axis=1, kind="stable")[:, :TOP]
        return best.tolist()

    def rank(self, query: str) -> list[int]:
        key = self.key(query)
        self.seen[key] = self.embedder.encode([key])[0]
        return self.top(self.seen[key][None, :])[0]

    def rank_all(self, queries: Sequence[str]) -> list[list[int]]:
        keys = [self.key(q) for q in queries]
        missing = [k for k in dict.fromkeys(keys) if k not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.embedder.encode(missing), strict=True))
        return self.top(np.stack([self.seen[k] for k in keys]))


# -- measuring -------------------------------------------------------------------


def score(ranked: Sequence[Sequence[int]], gold: Sequence[frozenset[int]]) -> dict[str, float]:
    n = len(gold)
    positions = [
        next((i + 1 for i, doc in enumerate(r) if doc in g), 0)
        for r, g in zip(ranked, gold, strict=True)
    ]
    return {
        "recall_at_1": sum(p == 1 for p in positions) / n,
        "recall_at_5": sum(0 < p <= 5 for p in positions) / n,
        "mrr": sum(1 / p for p in positions if p) / n,
        "no_result": sum(not r for r in ranked) / n,
    }


def latency(seconds: Sequence[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
    }


def run_lexical(rank: Ranker, queries: Queries) -> dict[str, float]:
    ranked, seconds = [], []
    for text, _gold in queries:
        start = time.perf_counter()
        ranked.append(rank(text))
        seconds.append(time.perf_counter() - start)
    result = score(ranked, [g for _, g in queries])
    result.update(latency(seconds))
    return result


def run_embedder(index: EmbedderIndex, queries: Queries, latency_sample: int) -> dict[str, Any]:
    seconds = []
    for text, _gold in queries[:latency_sample]:
        start = time.perf_counter()
        index.rank(text)
        seconds.append(time.perf_counter() - start)
    result: dict[str, Any] = score(index.rank_all([q for q, _ in queries]), [g for _, g in queries])
    result.update(latency(seconds))
    return result


def glued(text: str) -> bool:
    """A Latin letter or digit right before a Chinese character: headon's
    terms() reads the whole run as one word, with no character pairs."""
    from headon.desk.merging import match_key

    return bool(re.search(r"[a-z0-9][\u3400-\u9fff\uf900-\ufaff]", match_key(text)))


# -- the run -----------------------------------------------------------------------

SYSTEMS = (
    ("headon", "headon bigrams"),
    ("headon_hybrid", "headon hybrid"),
    ("fts5_unicode61", "FTS5 unicode61"),
    ("fts5_trigram", "FTS5 trigram"),
    ("embedder", "embedder"),
)


def run_language(
    lang: str,
    docs: list[Doc],
    runs: dict[str, Queries],
    embedder: Any,
    db: sqlite3.Connection,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Build every index over `docs` once; run each set of queries on each."""
    out: dict[str, Any] = {"answers": len(docs), "texts": sum(len(d.texts) for d in docs)}
    out["queries"] = {name: len(q) for name, q in runs.items()}
    rankers: dict[str, Ranker] = {}
    builds: dict[str, float] = {}
    rankers["headon"], builds["headon"], hybrid, hybrid_build = headon_index(docs, lang, embedder)
    if hybrid is not None:
        rankers["headon_hybrid"], builds["headon_hybrid"] = hybrid, hybrid_build
    rankers["fts5_unicode61"], builds["fts5_unicode61"] = fts_index(
        db, f"{lang}_unicode61", "unicode61", docs, unicode61_query
    )
    rankers["fts5_trigram"], builds["fts5_trigram"] = fts_index(
        db, f"{lang}_trigram", "trigram", docs, trigram_query
    )
    index = EmbedderIndex(embedder, docs) if embedder is not None else None
    if index is not None:
        builds["embedder"] = index.build
    for run, queries in runs.items():
        results: dict[str, Any] = {}
        for system, rank in rankers.items():
            results[system] = run_lexical(rank, queries)
        if index is not None:
            results["embedder"] = run_embedder(index, queries, args.latency_sample)
        for system, build in builds.items():
            results[system]["build_s"] = build
        out[run] = results
    if lang == "zh":
        out["headon_glued"] = headon_glued_breakdown(docs, runs["zh"], rankers["headon"])
    return out


# (answer's question, query, the pair): an answer holds one word of a pair
# and no other pair's words; its query holds the other word and nothing else
# the answer says, so only knowing the synonym finds it.
SYNONYM_PAIRS = (
    ("电池{}多久？", "{}几年", ("保修", "质保")),
    ("满电{}多少公里？", "{}怎么样", ("续航", "里程")),
    ("How long is the battery {}?", "what {} do I get", ("warranty", "guarantee")),
    ("什么时候可以{}？", "{}要等多久", ("提车", "交车")),
    ("When is the {} of my new car?", "{} date", ("handover", "pickup")),
)


def synonym_probe(embedder: Any) -> dict[str, float]:
    """Share of synonym queries whose answer comes first, per system."""
    from unittest import mock

    from headon.desk.models import Answer, AnswerTerm, AnswerVector
    from headon.desk.services import answers, merging

    found = {"lexical_no_list": 0, "lexical": 0, "hybrid": 0}
    cases = 0
    for which in (0, 1):
        AnswerTerm.objects.all().delete()
        AnswerVector.objects.all().delete()
        Answer.objects.all().delete()
        merging._embedder_state["loaded"] = embedder
        queries: list[tuple[str, int]] = []
        for question, query, pair in SYNONYM_PAIRS:
            copy = {"question_zh": question.format(pair[which])}
            answer = Answer.objects.create(status=Answer.Status.PUBLISHED, published=copy)
            answers._refresh_terms(answer)
            queries.append((query.format(pair[1 - which]), answer.pk))
        for query, pk in queries:
            cases += 1
            merging._embedder_state["loaded"] = None
            with mock.patch.dict(answers.SYNONYMS, clear=True):
                found["lexical_no_list"] += (answers.search(query)[:1] or [(0, 0)])[0][0] == pk
            found["lexical"] += (answers.search(query)[:1] or [(0, 0)])[0][0] == pk
            merging._embedder_state["loaded"] = embedder
            found["hybrid"] += (answers.search(query)[:1] or [(0, 0)])[0][0] == pk
    return {name: n / cases for name, n in found.items()} | {"queries": cases}


def headon_glued_breakdown(docs: Sequence[Doc], queries: Queries, rank: Ranker) -> dict[str, float]:
    """headon's recall@1 where the query or its answer glues Latin/digits to Chinese."""
    hit = [
        (glued(q) or any(glued(docs[i].question) for i in g), (rank(q) or [-1])[0] in g)
        for q, g in queries
    ]
    affected = [ok for flag, ok in hit if flag]
    clean = [ok for flag, ok in hit if not flag]
    return {
        "share": len(affected) / len(hit),
        "recall_at_1_affected": sum(affected) / len(affected) if affected else float("nan"),
        "recall_at_1_other": sum(clean) / len(clean) if clean else float("nan"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--intents", type=Path, default=SHARED_DATA / "clinc150" / "data_full.json")
    parser.add_argument("--split", default="test")
    parser.add_argument("--pairs", type=Path, default=SHARED_DATA / "zh_pairs" / "lcqmc_dev.tsv")
    parser.add_argument("--queries", type=int, default=1000, help="per language (0 = all)")
    parser.add_argument("--zh-answers", type=int, default=2000, help="Chinese answers (0 = all)")
    parser.add_argument("--model", default="e5+use", help="e5+use, e5, use, or none")
    parser.add_argument("--latency-sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    metrics: dict[str, Any] = {"seed": args.seed, "sqlite": sqlite3.sqlite_version}
    notes: list[str] = []
    if sqlite3.sqlite_version_info < (3, 34, 0):
        sys.exit(f"FTS5 trigram needs SQLite >= 3.34; this Python has {sqlite3.sqlite_version}")

    en_docs, en_queries = english(args.intents, args.split, args.seed)
    zh_docs, zh_queries = chinese(args.pairs, args.zh_answers, args.seed)
    en_queries = sample(en_queries, args.queries, args.seed)
    zh_queries = sample(zh_queries, args.queries, args.seed)
    zh_runs: dict[str, Queries] = {"zh": zh_queries}
    try:
        import opencc  # type: ignore[import-untyped]

        s2t = opencc.OpenCC("s2t")
        zh_runs["zh_traditional"] = [(s2t.convert(q), g) for q, g in zh_queries]
    except ImportError:
        notes.append("opencc is not importable: no traditional-character run")

    from headon.desk.merging import load_embedder

    embedder = None
    if args.model != "none":
        start = time.perf_counter()
        preference = ["e5+use", "e5", "use"] if args.model == "e5+use" else [args.model]
        embedder = load_embedder(preference)
        metrics["model_load_s"] = time.perf_counter() - start
        if embedder is None:
            notes.append("no sentence embedder could be loaded: its column is skipped")
    metrics["model"] = embedder.name if embedder is not None else "none"

    with tempfile.TemporaryDirectory(prefix="headon-search-bench-") as data_dir:
        setup_django(data_dir)
        db = sqlite3.connect(Path(data_dir) / "fts.sqlite3")
        db.execute("PRAGMA journal_mode=WAL")
        metrics["en"] = run_language("en", en_docs, {"en": en_queries}, embedder, db, args)
        metrics["zh"] = run_language("zh", zh_docs, zh_runs, embedder, db, args)
        if embedder is not None:
            metrics["synonyms"] = synonym_probe(embedder)
        db.close()
        from django.db import connections

        connections.close_all()
    metrics["notes"] = notes
    print_tables(metrics, args)
    print(json.dumps(metrics, sort_keys=True, default=float))
    return 0


def print_tables(m: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"headon search bench · SQLite {m['sqlite']} · embedder {m['model']} · "
        f"top {TOP} · seed {m['seed']}"
    )
    titles = {
        "en": f"English: {args.intents.name} {args.split}",
        "zh": f"Chinese: {args.pairs.name} label-1",
        "zh_traditional": "Chinese, queries in traditional characters (same index)",
    }
    for lang in ("en", "zh"):
        block = m[lang]
        for run in block["queries"]:
            print()
            print(
                f"{titles[run]} · {block['answers']} answers ({block['texts']} texts) · "
                f"{block['queries'][run]} queries"
            )
            head = (
                f"{'system':<18}{'R@1':>7}{'R@5':>7}{'MRR':>7}{'none':>7}"
                f"{'build s':>9}{'median ms':>11}{'p95 ms':>9}"
            )
            print(head)
            print("-" * len(head))
            for key, label in SYSTEMS:
                r = block[run].get(key)
                if r is None:
                    continue
                print(
                    f"{label:<18}{r['recall_at_1']:>7.3f}{r['recall_at_5']:>7.3f}{r['mrr']:>7.3f}"
                    f"{r['no_result']:>7.3f}{r['build_s']:>9.2f}{r['median_ms']:>11.2f}"
                    f"{r['p95_ms']:>9.2f}"
                )
    g = m["zh"]["headon_glued"]
    print(
        f"\nheadon, Chinese: {g['share']:.1%} of queries have a Latin letter or digit glued to "
        f"Chinese (in the query or its answer): R@1 {g['recall_at_1_affected']:.3f} there, "
        f"{g['recall_at_1_other']:.3f} elsewhere"
    )
    if "embedder" in m["en"]["en"]:
        print(
            f"embedder latency: {args.latency_sample} single queries; recall from batched ones;"
            " it always returns 10 answers (no threshold)"
        )
    if "synonyms" in m:
        p = m["synonyms"]
        print(
            f"synonyms ({p['queries']} queries, answer first): lexical without its list "
            f"{p['lexical_no_list']:.2f}, lexical {p['lexical']:.2f}, hybrid {p['hybrid']:.2f}"
        )
    for note in m["notes"]:
        print(f"note: {note}")


if __name__ == "__main__":
    sys.exit(main())
