"""`python3 dev.py test` runs lint and four test processes at once (each
half of the suite on SQLite and on PostgreSQL). These tests check what it
would start, and with which environment, without starting anything: two
processes that shared a data directory, a Redis database or a PostgreSQL
test database would break each other's tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings

PG = "postgres://postgres@127.0.0.1:5432/headon"
BASE = {"PATH": "/usr/bin", "DATABASE_URL": "postgres://elsewhere/prod", "HOME": "/root"}


def _load_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("headon_dev", settings.PROJECT_DIR / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


dev = _load_dev()


def plan(args, *, pg_url=PG, lint=True):
    return dev.plan_tests(args, lint=lint, pg_url=pg_url, run_dir=Path("/run"), base=BASE)


def pytest_args(part):
    """What follows `python -m pytest -o cache_dir=...`."""
    assert part.command[1:3] == ["-m", "pytest"]
    assert part.command[3] == "-o"
    assert part.command[4].startswith("cache_dir=")
    return part.command[5:]


def suite_parts(parts):
    return [part for part in parts if part.name != "lint and types"]


def test_it_runs_lint_and_each_half_on_each_database():
    parts = plan([])
    assert [part.name for part in parts] == [
        "lint and types",
        "tests on SQLite (headon/tests)",
        "tests on SQLite (apps)",
        "tests on PostgreSQL (headon/tests)",
        "tests on PostgreSQL (apps)",
    ]
    assert parts[0].command[-1] == "lint"
    assert [pytest_args(part) for part in parts[1:]] == [
        ["headon/tests"],
        ["headon", "--ignore=headon/tests"],
    ] * 2


def test_without_postgres_it_runs_sqlite_only():
    parts = suite_parts(plan([], pg_url=""))
    assert [part.name for part in parts] == [
        "tests on SQLite (headon/tests)",
        "tests on SQLite (apps)",
    ]
    assert all("DATABASE_URL" not in part.env for part in parts)


def test_no_lint_leaves_lint_out():
    assert next(part.name for part in plan([], lint=False)) == "tests on SQLite (headon/tests)"


def test_options_go_to_every_half():
    parts = suite_parts(plan(["-k", "headon", "-x"]))
    assert len(parts) == 4  # `headon` is a directory, but here the value of -k
    assert [pytest_args(part)[-3:] for part in parts] == [["-k", "headon", "-x"]] * 4


@pytest.mark.parametrize(
    "target",
    [
        "headon/desk/tests/test_ranking.py",
        "headon/desk/tests/test_ranking.py::test_x",
        "headon/visits",
        "headon",
    ],
)
def test_paths_run_just_those_once_on_each_database(target):
    parts = suite_parts(plan(["-x", target, "-k", "login"]))
    assert [part.name for part in parts] == ["tests on SQLite", "tests on PostgreSQL"]
    assert [pytest_args(part) for part in parts] == [["-x", target, "-k", "login"]] * 2
    # One process on PostgreSQL: the database the user named.
    assert parts[1].env["DATABASE_URL"] == PG


def test_an_options_value_is_no_path():
    assert dev.user_paths(["-k", "headon", "-m", "browser", "--durations", "10"]) == []
    assert dev.user_paths(["--tb=short", "headon/tests", "-p", "no:cacheprovider"]) == [
        "headon/tests"
    ]


def test_every_process_has_its_own_directories_and_redis_database():
    parts = plan([])
    for name in ("HEADON_DATA_DIR", "TMPDIR"):
        values = [part.env[name] for part in parts]
        assert len(set(values)) == len(parts), name
    logs = [part.log for part in parts]
    assert len(set(logs)) == len(parts)
    caches = [part.command[4] for part in suite_parts(parts)]
    assert len(set(caches)) == len(caches)
    redis = [part.env["HEADON_TEST_REDIS_URL"] for part in suite_parts(parts)]
    assert len(set(redis)) == 4
    # The cluster test empties its Redis database: the process's own.
    assert [part.env["HEADON_CLUSTER_REDIS_URL"] for part in suite_parts(parts)] == redis
    numbers = {int(url.rsplit("/", 1)[1]) for url in redis}
    assert numbers.isdisjoint({12, 13})  # the cluster test's and bench/rush.py's defaults
    assert "HEADON_TEST_REDIS_URL" not in parts[0].env  # lint needs none


def test_the_postgres_processes_have_their_own_test_databases():
    """pytest-django names the test database test_<name of DATABASE_URL's
    database>: the two halves must not name the same one."""
    postgres = [part for part in plan([]) if "PostgreSQL" in part.name]
    urls = [part.env["DATABASE_URL"] for part in postgres]
    assert urls == [
        "postgres://postgres@127.0.0.1:5432/headon_tests",
        "postgres://postgres@127.0.0.1:5432/headon_apps",
    ]


def test_sqlite_processes_never_inherit_a_database_url():
    for part in plan([]):
        if "PostgreSQL" not in part.name:
            assert "DATABASE_URL" not in part.env, part.name


def test_each_process_gets_one_blas_thread():
    for part in suite_parts(plan([])):
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            assert part.env[name] == "1"
        assert part.env["PATH"] == BASE["PATH"]


def test_with_database_keeps_the_server_and_credentials():
    url = "postgres://user:secret@db.example:6432/headon?sslmode=require"
    assert dev.with_database(url, "headon_apps") == (
        "postgres://user:secret@db.example:6432/headon_apps?sslmode=require"
    )


def test_a_short_log_is_printed_whole_and_a_long_one_ends_with_its_path(tmp_path):
    log = tmp_path / "part.log"
    log.write_text("one\ntwo\n")
    assert dev.log_text(log, lines=5) == "one\ntwo"
    log.write_text("".join(f"line {n}\n" for n in range(10)))
    text = dev.log_text(log, lines=3)
    assert text.splitlines() == [f"... (7 lines above: {log})", "line 7", "line 8", "line 9"]


def test_bandits_misreadings_of_nosec_reasons_are_not_shown():
    """Field report P11: lines that looked like failures on every run."""
    assert dev._bandit_noise(
        "[manager]\tWARNING\tTest in comment: demo is not a test name or id, ignoring"
    )
    assert dev._bandit_noise(
        "[tester]\tWARNING\tnosec encountered (B608), but no failed test on line 3"
    )
    assert not dev._bandit_noise(
        ">> Issue: [B608:hardcoded_sql_expressions] Possible SQL injection"
    )
