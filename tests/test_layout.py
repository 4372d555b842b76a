"""The package's shape: small files, a test file per module (or a reason in CONTRIBUTING.md), no import cycles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "srdistill"
MAX_LINES = 300


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def holds_code(path: Path) -> bool:
    """Whether a module has more than a docstring, imports and ``__all__``."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]:
            continue
        return True
    return False


def mirrored_test(path: Path) -> Path:
    """``srdistill/a/b.py`` → ``tests/a/test_b.py``; a package's ``__init__.py`` → ``tests/a/test_a.py``."""
    rel = path.relative_to(PACKAGE)
    stem = rel.parent.name if path.name == "__init__.py" else path.stem
    return ROOT / "tests" / rel.parent / f"test_{stem or 'srdistill'}.py"


def reasons_in_contributing() -> dict[str, str]:
    """CONTRIBUTING.md's table of modules tested through other test files: module -> where and why."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("### Modules tested through others", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(srdistill/[^`]+)` \| (.+) \|$", section, re.M)}


def test_no_module_is_over_300_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_module_has_its_test_file_or_a_reason() -> None:
    reasons = reasons_in_contributing()
    missing = [
        str(p.relative_to(ROOT))
        for p in modules()
        if holds_code(p) and not mirrored_test(p).is_file() and str(p.relative_to(ROOT)) not in reasons
    ]
    assert missing == [], "add tests/<package>/test_<module>.py, or a row in CONTRIBUTING.md's table"


def test_the_reasons_name_modules_that_exist_and_tests_that_exist() -> None:
    for module, why in reasons_in_contributing().items():
        assert (ROOT / module).is_file(), module
        assert not mirrored_test(ROOT / module).is_file(), f"{module} has its own test file now; drop its row"
        for test in re.findall(r"`(tests/[^`]+\.py)`", why):
            assert (ROOT / test).is_file(), (module, test)


def imports_of(path: Path) -> set[str]:
    """srdistill modules imported at module level or in functions, leaving out ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
    skipped = {id(c) for n in checking for c in ast.walk(n)} - {id(n) for n in checking}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("srdistill"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("srdistill")}
    return found


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def test_no_import_cycles() -> None:
    graph = {module_name(p): imports_of(p) for p in modules()}
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
