from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from headon.visits import verify_draw
from headon.visits.models import Draw, Program
from headon.visits.services import draws


class Command(BaseCommand):
    help = "The program's verifiable draw: commit, close, run, verify, or print its record."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        commit = sub.add_parser("commit", help="fix the seed source before applications close")
        commit.add_argument("program", help="the program's slug")
        commit.add_argument(
            "--source",
            choices=["secret", "beacon"],
            default="secret",
            help="the beacon round with an organiser secret (default), or the round alone",
        )
        commit.add_argument(
            "--beacon-offset",
            type=int,
            default=100,
            help="the draw uses the first drand quicknet round at or after the seal, plus this many",
        )
        commit.add_argument("--mechanism", choices=["fair", "plain"], default="fair")
        commit.add_argument("--tiers", action="store_true", help="priority tiers (off by default)")
        close = sub.add_parser("close", help="seal the application list and publish its hash")
        close.add_argument("program")
        close.add_argument("--force", action="store_true", help="even before the window closes")
        run = sub.add_parser("run", help="run the draw (once; a second run changes nothing)")
        run.add_argument("program")
        run.add_argument(
            "--beacon-value",
            default="",
            help="the sealed quicknet round's signature (hex), or drand's JSON for it",
        )
        verify = sub.add_parser("verify", help="re-run a record with the standalone verifier")
        verify.add_argument("program", nargs="?", help="the program's slug")
        verify.add_argument("--record", help="a record file instead of a program")
        verify.add_argument("--secret", help="the revealed secret, hex (must be the record's)")
        record = sub.add_parser("record", help="print the published record as JSON")
        record.add_argument("program")
        simulate = sub.add_parser(
            "simulate", help="compare the mechanisms on the reference program; write a report"
        )
        simulate.add_argument("--applicants", type=int, default=30_000)
        simulate.add_argument("--runs", type=int, default=200)
        simulate.add_argument("--seed", type=int, default=1)
        simulate.add_argument(
            "--out", default="", help="a directory for draw-simulation.md and its chart"
        )

    def _program(self, slug: str) -> Program:
        try:
            return Program.objects.get(slug=slug)
        except Program.DoesNotExist:
            raise CommandError(f"No program {slug!r}.") from None

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"_{action}")(**options)
        except draws.DrawStepError as exc:
            raise CommandError(str(exc)) from None

    def _commit(
        self, program: str, source: str, beacon_offset: int, mechanism: str, tiers: bool, **_: Any
    ) -> None:
        draw = draws.draw_commit(
            program=self._program(program),
            source=source,
            beacon_offset=beacon_offset,
            mechanism=Draw.Mechanism.FAIR if mechanism == "fair" else Draw.Mechanism.PLAIN,
            tiers=tiers,
            actor=None,
        )
        what = f", commitment {draw.commitment}" if draw.commitment else ""
        self.stdout.write(
            f"Committed {draw.algorithm}, {draw.mechanism}, tiers {'on' if draw.tiers else 'off'},"
            f" the first drand quicknet round at or after the seal plus {draw.beacon_offset}{what}."
        )

    def _close(self, program: str, force: bool, **_: Any) -> None:
        draw = draws.draw_close(program=self._program(program), actor=None, force=force)
        self.stdout.write(
            f"Sealed {draw.parties} applications: hash {draw.sealed_hash};"
            f" the draw uses drand quicknet round {draw.beacon_round}."
        )

    def _run(self, program: str, beacon_value: str, **_: Any) -> None:
        draw = draws.draw_run(program=self._program(program), actor=None, beacon_value=beacon_value)
        record = draw.record or {}
        offers = sum(1 for session in record.get("outcome", {}).values() if session)
        self.stdout.write(
            f"Drawn: seed {draw.seed}, {offers} parties offered a place, "
            f"{len(record.get('waitlist', []))} on the waitlist."
        )

    def _simulate(self, applicants: int, runs: int, seed: int, out: str, **_: Any) -> None:
        from headon.visits.simulation_report import write_report

        text = write_report(
            applicants=applicants, runs=runs, seed=seed, out=Path(out) if out else None
        )
        self.stdout.write(text)

    def _record(self, program: str, **_: Any) -> None:
        draw = Draw.objects.filter(program=self._program(program), stage=Draw.Stage.DONE).first()
        if draw is None:
            raise CommandError("This program has not been drawn.")
        json.dump(draw.record, self.stdout, separators=(",", ":"))
        self.stdout.write("")

    def _verify(
        self,
        program: str | None,
        record: str | None,
        secret: str | None,
        **_: Any,
    ) -> None:
        argv: list[str] = []
        with tempfile.TemporaryDirectory() as tmp:
            if record:
                path = record
            else:
                if not program:
                    raise CommandError("Name a program or give --record FILE.")
                draw = Draw.objects.filter(
                    program=self._program(program), stage=Draw.Stage.DONE
                ).first()
                if draw is None:
                    raise CommandError("This program has not been drawn.")
                path = str(Path(tmp) / "record.json")
                Path(path).write_text(json.dumps(draw.record), encoding="utf-8")
            if secret:
                argv += ["--secret", secret]
            stdout = sys.stdout
            sys.stdout = self.stdout
            try:
                code = verify_draw.main([path, *argv])
            finally:
                sys.stdout = stdout
        if code != 0:
            raise CommandError("The record does not match.", returncode=1)
