"""The map in docs/architecture.md, kept true: imports run one way.

Every `import` in headon/ counts, the ones inside functions too (a lazy
import still ties two modules together; it only hides the loop until run
time). Imports under `if TYPE_CHECKING:` do not count: they never run.
"""

from __future__ import annotations

import ast
import itertools
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "headon"

# The pure cores: plain data in, plain data out, no Django (STYLE.md rule 2).
# A core may import other cores and the standard library or numeric
# libraries, never the framework.
CORES = (
    "headon.antibot.pow",
    "headon.charts",
    "headon.desk.digest.image",
    "headon.desk.digest.reconcile_digest",
    "headon.desk.intake.exports",
    "headon.desk.merging",
    "headon.desk.ranking",
    "headon.visits.beacon",
    "headon.visits.draw",
    "headon.visits.identity",
    "headon.visits.questions",
    "headon.visits.record_text",
    "headon.visits.schedule",
    "headon.visits.simulate",
    "headon.visits.tickets",
    "headon.visits.verify_draw",
    "headon.visits.verify_ticket",
)
FRAMEWORK = ("django", "django_tasks", "django_tasks_db", "ninja", "axes", "ipware")
# A module longer than this needs a reason in its first lines: "# Long: ...".
MAX_LINES = 800


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.relative_to(PACKAGE).parts
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, name: str) -> Iterator[str]:
    """Every dotted name `path` imports (relative imports made absolute)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                # `from package import module` imports the module.
                full = f"{base}.{alias.name}"
                yield full if full in modules() else base
        stack.extend(ast.iter_child_nodes(node))


def _own_module(name: str) -> str | None:
    """The headon module a dotted name lives in, if any."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@cache
def graph() -> dict[str, frozenset[str]]:
    edges = {}
    for name, path in modules().items():
        targets = {_own_module(n) for n in imported_names(path, name) if n.startswith("headon")}
        edges[name] = frozenset(t for t in targets if t and t != name)
    return edges


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _is_service(name: str) -> bool:
    return ".services." in name + "." or name.endswith(".services")


def _is_view_or_job(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return ".views" in name or last in ("jobs", "urls", "staff_urls", "api")


class ArchitectureTests(SimpleTestCase):
    def test_the_checker_sees_the_loop_services_and_jobs_once_made(self) -> None:
        """The control: put back the lazy import a service once had of the
        visits jobs (`from headon.visits import jobs` inside a function) and
        the checker finds the loop."""
        with tempfile.TemporaryDirectory() as scratch:
            lazy = Path(scratch) / "offers.py"
            lazy.write_text("def confirm() -> None:\n    from headon.visits import jobs\n")
            imported = set(imported_names(lazy, "headon.visits.services.offers"))
        self.assertIn("headon.visits.jobs", imported)
        edges = dict(graph())
        offers = "headon.visits.services.offers"
        edges[offers] = edges[offers] | {"headon.visits.jobs"}
        self.assertIn(offers, itertools.chain.from_iterable(cycles(edges)))
        self.assertTrue(_is_view_or_job("headon.visits.jobs"))

    def test_there_is_no_import_loop_inside_headon(self) -> None:
        self.assertEqual(cycles(graph()), [])

    def test_the_cores_import_no_django(self) -> None:
        wrong = [
            (name, imported)
            for name, path in modules().items()
            if _in(name, CORES)
            for imported in imported_names(path, name)
            if _in(imported, FRAMEWORK)
            or (imported.startswith("headon") and not _in(_own_module(imported) or "", CORES))
        ]
        self.assertEqual(wrong, [])

    def test_services_import_no_views_jobs_or_urls(self) -> None:
        wrong = [
            (name, target)
            for name, targets in graph().items()
            if _is_service(name)
            for target in targets
            if _is_view_or_job(target)
        ]
        self.assertEqual(wrong, [])

    def test_the_product_imports_nothing_from_the_benchmarks(self) -> None:
        wrong = [
            name
            for name, path in modules().items()
            if any(_in(imported, ("bench",)) for imported in imported_names(path, name))
        ]
        self.assertEqual(wrong, [])

    def test_no_module_is_longer_than_the_house_style_allows_without_a_reason(self) -> None:
        too_long = []
        for name, path in modules().items():
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) > MAX_LINES and not any(
                line.startswith("# Long: ") for line in lines[:5]
            ):
                too_long.append((name, len(lines)))
        self.assertEqual(too_long, [])
