"""Import speed: `headon import-asks` on a generated export, against a
baseline in the same run (the standard library's csv reader feeding
sqlite3.executemany into a bare table: no validation, no normalising).

    python bench/imports.py --rows 1000000

Prints a table, then one JSON line. Target (issue 4): a million asks in
under 60 s with under 1 GB of memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import run_timed  # noqa: E402

TEXTS = [
    "交付什么时候开始？",
    "What's the real-world range?",
    "听说电池是二手的，是真的吗？😂",
    "Will the price drop after launch? @HeadonMotors",
    "質保幾年？電池質保多久",
    "充电桩送不送？ 问了客服也没说清楚",
]


def make_export(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "author", "posted_at", "likes", "replies", "shares"])
        for n in range(rows):
            writer.writerow(
                [
                    n,
                    f"{rng.choice(TEXTS)} #{n % 997}",
                    f"user{rng.randint(1, rows // 2 + 1)}",
                    f"2026-11-24 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
                    rng.randint(0, 500),
                    rng.randint(0, 50),
                    rng.randint(0, 20),
                ]
            )


BASELINE = """
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE asks (external_id TEXT UNIQUE, text TEXT, author TEXT, posted_at TEXT, likes INT)")
with open(sys.argv[1], newline="", encoding="utf-8") as fh:
    rows = csv.reader(fh)
    next(rows)
    batch = []
    for r in rows:
        batch.append((r[0], r[1], r[2], r[3], int(r[4])))
        if len(batch) == 2000:
            db.executemany("INSERT INTO asks VALUES (?, ?, ?, ?, ?)", batch)
            db.commit()
            batch = []
    db.executemany("INSERT INTO asks VALUES (?, ?, ?, ?, ?)", batch)
    db.commit()
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="headon-bench-import-") as tmp:
        work = Path(tmp)
        export = work / "asks.csv"
        make_export(export, args.rows, args.seed)
        size_mb = export.stat().st_size / 1e6
        env = {**os.environ, "HEADON_DATA_DIR": str(work / "data"), "HEADON_EMBEDDER": "none"}
        env.pop("DATABASE_URL", None)
        subprocess.run([python, "-m", "headon", "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        subprocess.run(
            [python, "-m", "headon", "shell", "--no-imports", "-c",
             "from headon.desk.models import Channel; "
             "Channel.objects.create(slug='weibo', name='Weibo', kind='social_export')"],
            env=env, check=True, cwd=ROOT,
        )  # fmt: skip
        base_s, base_mb, _ = run_timed(
            [python, "-c", BASELINE, str(export), str(work / "base.sqlite3")], env
        )
        cmd = [
            python,
            "-m",
            "headon",
            "import-asks",
            str(export),
            "--channel",
            "weibo",
            "--no-progress",
        ]
        first_s, first_mb, _ = run_timed(cmd, env)
        again_s, again_mb, _ = run_timed(cmd, env)  # a re-import: every row is a duplicate
    rows = args.rows
    table = [
        ("baseline: csv + sqlite3.executemany", base_s, base_mb),
        ("headon import-asks", first_s, first_mb),
        ("headon import-asks, same file again", again_s, again_mb),
    ]
    print(f"import bench · {rows:,} rows · {size_mb:.0f} MB CSV · SQLite · {os.cpu_count()} cores")
    print(f"{'run':<40}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}")
    for name, seconds, mb in table:
        print(f"{name:<40}{seconds:>9.1f}{rows / seconds:>10,.0f}{mb:>9.0f}")
    per_million = first_s * 1_000_000 / rows
    print(
        f"a million rows at this rate: {per_million:.0f} s (target < 60 s); share of baseline speed {base_s / first_s:.2f}"
    )
    print(
        json.dumps(
            {
                "rows": rows,
                "baseline_s": round(base_s, 2),
                "import_s": round(first_s, 2),
                "reimport_s": round(again_s, 2),
                "import_rows_per_s": round(rows / first_s),
                "import_peak_mb": round(first_mb),
                "seconds_per_million": round(per_million, 1),
                "share_of_baseline": round(base_s / first_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
