"""The engine never imports Qt or the GUI, and its training stages never import its evaluation: import-linter
contracts in pyproject.toml. No import cycles anywhere in engine/ or gui/."""

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_engine_never_imports_qt_or_gui():
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    result = subprocess.run(command + ["--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_engine_source_mentions_no_qt():
    for path in (ROOT / "engine").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for banned in ("PySide6", "pyqtgraph", "superqt", "from gui", "import gui"):
            assert banned not in text, f"{path.name} mentions {banned}"


def _imports_between_modules(packages=("engine", "gui")) -> dict[str, set[str]]:
    """Module → the modules of ``packages`` it imports: every import counts, also those inside functions
    or under ``TYPE_CHECKING`` (a cycle hidden that way is still a cycle for a reader)."""
    modules = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[:len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target not in packages and not name.startswith(target + "."):
                    found.add(target)
        graph[name] = found
    return graph


def test_no_import_cycles_in_engine_or_gui():
    graph = _imports_between_modules()
    assert len(graph) > 40  # the walk really found the modules
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        raise AssertionError(f"import cycle: {' -> '.join(err.args[1])}") from None


def test_the_cycle_check_finds_a_cycle(tmp_path):
    graph = {"engine.a": {"engine.b"}, "engine.b": {"engine.a"}}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        return
    raise AssertionError("a two-module cycle was not found")
