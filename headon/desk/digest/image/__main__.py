"""`python -m headon.desk.digest.image`: time the rendering of a huge digest.

Three hundred answers in each language, the median of three runs, with the
process's peak memory, which should stay near flat however tall the image is.
"""

from __future__ import annotations

import resource
import statistics
import struct
import time
from typing import Any

from headon.desk.digest.image import render_digest_png


def huge_digest(answers: int = 300) -> dict[str, Any]:
    """A snapshot of `answers` answers, 400 characters each, in both languages."""
    sentence = (
        "电池在冬天的续航会下降多少？我们实测了三种车型，结果如下。Range drops 20% at -10°C. "
    )
    items = [
        {
            "rank": n + 1,
            "question": {
                "zh": f"第{n + 1}个问题：冬天续航会下降多少？",
                "en": f"Question {n + 1}?",
            },
            "body": {
                "zh": (sentence * 8)[:400],
                "en": ("Winter range drops by a fifth. " * 14)[:400],
            },
            "asked_by": 1000 - n,
            "channels": 3,
        }
        for n in range(answers)
    ]
    site = {"name": {"en": "Acme Motors", "zh": "阿克米汽车"}, "url": "https://example.org"}
    return {"date": "2026-11-23", "site": site, "answers": items}


def time_language(big: dict[str, Any], language: str, before: float) -> str:
    """One row of the table: `big` rendered three times in `language`."""
    walls: list[float] = []
    cpus: list[float] = []
    png = b""
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        png = render_digest_png(big, language=language)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    height = struct.unpack(">I", png[20:24])[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"{language:8}  {statistics.median(walls):20.2f}  {statistics.median(cpus):5.2f}"
        f"  {height:9,}  {len(png) / 1e6:6.1f}  {peak:.0f} (before: {before / 1024:.0f})"
    )


def main() -> None:
    big = huge_digest()
    render_digest_png(big | {"answers": big["answers"][:3]}, language="zh")  # warm the caches
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("language  wall s (median of 3)  cpu s  height px  PNG MB  peak RSS MB")  # noqa: T201
    for language in ("zh", "en"):
        print(time_language(big, language, before))  # noqa: T201


if __name__ == "__main__":
    main()
