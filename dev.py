#!/usr/bin/env python3
"""Run headon from a clean clone with nothing but Python >= 3.11.

    python3 dev.py demo        make .venv, install the locked dependencies,
                               load the bilingual demo and serve it on :8000
    python3 dev.py test        also install the test tools; lint, type-check,
                               then run the whole suite on SQLite, and on
                               PostgreSQL when HEADON_TEST_POSTGRES is set
    python3 dev.py lint        ruff, ruff format, mypy, bandit, migrations check
    python3 dev.py bench       run the benchmarks under bench/
    python3 dev.py lock        re-pin requirements/*.lock from pyproject.toml
    python3 dev.py headon ...  any `headon` command inside .venv

Uses only the standard library, so it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HEADON_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
LOCKS = {
    "base": ROOT / "requirements" / "base.lock",
    "dev": ROOT / "requirements" / "dev.lock",
    "bench": ROOT / "requirements" / "bench.lock",
}


def say(message: str) -> None:
    print(f"[dev.py] {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if check and completed.returncode != 0:
        say(f"failed ({completed.returncode}): {' '.join(str(a) for a in args)}")
        sys.exit(completed.returncode)
    return completed.returncode


def ensure_env(kind: str) -> None:
    """Create .venv and install the `kind` lock file, unless already done."""
    lock = LOCKS[kind]
    digest = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / f".headon-{kind}.sha256"
    if stamp.exists() and stamp.read_text() == digest and PYTHON.exists():
        return
    if sys.version_info < (3, 11):
        sys.exit("headon needs Python 3.11 or newer.")
    started = time.monotonic()
    if not PYTHON.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    say(f"installing the locked dependencies ({lock.relative_to(ROOT)})")
    pip: list[str | Path] = [
        PYTHON,
        "-m",
        "pip",
        "--disable-pip-version-check",
        "install",
        "--quiet",
    ]
    # --require-hashes: a fresh machine gets byte for byte what CI tested.
    run(*pip, "--require-hashes", "--no-deps", "-r", lock)
    run(*pip, "--no-deps", "--editable", ".")
    for other in VENV.glob(".headon-*.sha256"):
        other.unlink()
    stamp.write_text(digest)
    say(f"environment ready in {time.monotonic() - started:.0f} s")


def headon(*args: str) -> None:
    ensure_env("base")
    os.execv(BIN / "headon", [str(BIN / "headon"), *args])


def lint() -> int:
    ensure_env("dev")
    failures = 0
    steps: list[list[str | Path]] = [
        [BIN / "ruff", "check", "."],
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "mypy", "headon", "dev.py"],
        [PYTHON, "-m", "headon", "makemigrations", "--check", "--dry-run"],
    ]
    for step in steps:
        say(
            "lint: " + " ".join(str(part.name if isinstance(part, Path) else part) for part in step)
        )
        failures += run(*step, check=False) != 0
    say("lint: bandit")
    failures += bandit() != 0
    return failures


def bandit() -> int:
    """Security lint; each exception carries its reason and a `# nosec`.

    Bandit 1.9 honours a `# nosec` on a line that starts a multi-line
    expression, then also warns that it "encountered" it: a line that looks
    like a failure on every run. Those lines are dropped; the rest is shown."""
    completed = subprocess.run(
        [str(BIN / "bandit"), "--quiet", "--recursive", "headon", "--exclude", "*/tests/*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    for stream, out in ((completed.stdout, sys.stdout), (completed.stderr, sys.stderr)):
        kept = [line for line in stream.splitlines() if "nosec encountered" not in line]
        if kept:
            print("\n".join(kept), file=out)
    return completed.returncode


def pytest(label: str, database_url: str | None, args: list[str]) -> tuple[int, float]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    say(f"tests on {label}")
    started = time.monotonic()
    code = run(PYTHON, "-m", "pytest", *args, env=env, check=False)
    return code, time.monotonic() - started


def postgres_reachable(url: str) -> str | None:
    """None if PostgreSQL at `url` answers, else the reason it does not."""
    probe = (
        "import sys, psycopg\n"
        "from psycopg.conninfo import make_conninfo\n"
        "try:\n"
        # The tests create their own database; the server must answer.
        "    server = make_conninfo(sys.argv[1], dbname='postgres')\n"
        "    psycopg.connect(server, connect_timeout=5).close()\n"
        "except Exception as exc:\n"
        "    sys.exit(str(exc).strip() or type(exc).__name__)\n"
    )
    result = subprocess.run(
        [str(PYTHON), "-c", probe, url], capture_output=True, text=True, check=False
    )
    return None if result.returncode == 0 else (result.stderr.strip() or "no answer")


def test(args: list[str]) -> None:
    skip_lint = "--no-lint" in args
    args = [a for a in args if a != "--no-lint"]
    ensure_env("dev")
    results: list[tuple[str, str]] = []
    failed = False
    if not skip_lint:
        lint_failures = lint()
        results.append(("lint and types", "ok" if not lint_failures else f"{lint_failures} failed"))
        failed |= bool(lint_failures)
    code, seconds = pytest("SQLite", None, args)
    results.append(("tests on SQLite", f"{'ok' if code == 0 else 'FAILED'} in {seconds:.0f} s"))
    failed |= code != 0
    pg_url = os.environ.get("HEADON_TEST_POSTGRES", "").strip()
    if pg_url:
        reason = postgres_reachable(pg_url)
        if reason:
            results.append(("tests on PostgreSQL", f"FAILED: cannot reach {pg_url}: {reason}"))
            failed = True
        else:
            code, seconds = pytest("PostgreSQL", pg_url, args)
            results.append(
                ("tests on PostgreSQL", f"{'ok' if code == 0 else 'FAILED'} in {seconds:.0f} s")
            )
            failed |= code != 0
    else:
        results.append(("tests on PostgreSQL", "NOT RUN: set HEADON_TEST_POSTGRES=postgres://..."))
    say("summary")
    for name, outcome in results:
        print(f"  {name:<22} {outcome}")
    sys.exit(1 if failed else 0)


def lock() -> None:
    """Re-pin both lock files with hashes, for every platform headon runs on."""
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("`dev.py lock` needs uv on PATH (pip install uv).")
    common: list[str | Path] = [
        uv,
        "pip",
        "compile",
        "pyproject.toml",
        "--generate-hashes",
        "--universal",
        "--python-version",
        "3.11",
        "--quiet",
    ]
    run(*common, "-o", LOCKS["base"])
    run(*common, "--extra", "dev", "-o", LOCKS["dev"])
    run(*common, "--extra", "dev", "--extra", "bench", "-o", LOCKS["bench"])


def main() -> None:
    command, *args = sys.argv[1:] or ["help"]
    if command == "demo":
        headon("demo", *args)
    elif command == "headon":
        headon(*args)
    elif command == "test":
        test(args)
    elif command == "lint":
        sys.exit(1 if lint() else 0)
    elif command == "bench":
        ensure_env("bench")
        if not args:
            sys.exit("usage: python3 dev.py bench merge|rush [options]  (see bench/README.md)")
        run(PYTHON, ROOT / "bench" / f"{args[0]}.py", *args[1:])
    elif command == "lock":
        lock()
    else:
        print(__doc__)
        sys.exit(0 if command in {"help", "-h", "--help"} else 2)


if __name__ == "__main__":
    main()
