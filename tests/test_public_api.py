"""The package's shape: errors.py imports nothing of the package at run time; a public API whose every name is
written once (import cycles: tests/test_layering.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import claude_guard

SRC = Path(claude_guard.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in SRC.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import the module can run, at its top or in a function (not under ``if TYPE_CHECKING:``)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports at run time (``from . import x`` resolves to the module x)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base_parts = package.split(".")
                    base_parts = base_parts[: len(base_parts) - node.level + 1]
                    base = ".".join([*base_parts, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                targets = [f"{base}.{alias.name}" for alias in node.names]
                targets = [target if target in modules else base for target in targets]
            edges |= {target for target in targets if target in modules and target != name}
        graph[name] = edges
    return graph


def test_the_import_graph_is_read_from_the_sources() -> None:
    graph = import_graph()
    assert "claude_guard.errors" in graph["claude_guard.pii._output"]
    assert "claude_guard.pii._output" in graph["claude_guard.pii._redact"]


def test_errors_imports_nothing_of_the_package_at_run_time() -> None:
    assert import_graph()["claude_guard.errors"] == set()


# --- the top level ------------------------------------------------------------------------------------


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the ``if TYPE_CHECKING:`` imports of the top-level ``__init__.py``."""
    import importlib

    tree = ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.level == 1 and imp.module
                for alias in imp.names:
                    if alias.name == "*":
                        module = importlib.import_module(f"claude_guard.{imp.module}")
                        found.update(dict.fromkeys(module.__all__, imp.module))
                    else:
                        # ``X as X``: an explicit re-export for mypy's strict mode
                        assert alias.asname == alias.name, alias.name
                        found[alias.name] = imp.module
    return found


def test_the_type_checking_imports_agree_with_the_lazy_table() -> None:
    assert _type_checking_imports() == claude_guard._WHERE


def test_the_top_level_all_is_the_lazy_table() -> None:
    assert claude_guard.__all__ == sorted(claude_guard._WHERE)
    assert len(claude_guard.__all__) == len(set(claude_guard.__all__))


def test_each_top_level_name_is_the_object_of_its_module() -> None:
    import importlib

    for name, module_name in claude_guard._WHERE.items():
        module = importlib.import_module(f"claude_guard.{module_name}")
        assert name in module.__all__, f"{name} is not public in claude_guard.{module_name}"
        assert getattr(claude_guard, name) is getattr(module, name)


def test_every_error_is_at_the_top_level() -> None:
    from claude_guard import errors

    assert set(errors.__all__) <= set(claude_guard.__all__)
    from claude_guard import ConfigurationError, RateLimitedError

    assert RateLimitedError is errors.RateLimitedError
    assert issubclass(ConfigurationError, ValueError)


def test_an_unknown_top_level_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        _ = claude_guard.NoSuchThing


# --- every public name shown in the docs, and exported from one place -------------------------------------

ROOT = SRC.parent.parent
# What a user reads: the docs (the benchmark tables name internals on purpose), the README, the examples and
# the reference app.
DOC_FILES = [
    *(path for path in sorted((ROOT / "docs").glob("*.md")) if path.name != "benchmarks.md"),
    ROOT / "README.md",
    *sorted((ROOT / "examples").rglob("*.py")),
    SRC / "reference_app.py",
]

# Public names the docs do not show, each with the reason it is public anyway. Keep it short.
NOT_IN_DOCS: dict[str, str] = {
    "claude_guard.fastapi.get_guard": "the dependency the other FastAPI dependencies use to find the guard",
    "claude_guard.litestar.get_guard": "the Litestar twin of claude_guard.fastapi.get_guard",
}

# Modules that are public (no leading underscore) but are entry points, not import surfaces.
NO_ALL = {"claude_guard.reference_app", "claude_guard.testing.pytest_plugin"}


def _public_modules() -> list[str]:
    return sorted(
        name
        for name in _modules()
        if not any(part.startswith("_") for part in name.split(".")) and name not in NO_ALL
    )


def _public_all() -> dict[str, list[str]]:
    import importlib

    found: dict[str, list[str]] = {}
    for name in _public_modules():
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None)
        assert names is not None, f"{name} is public and has no __all__"
        found[name] = list(names)
    return found


def test_every_public_name_exists() -> None:
    import importlib

    for module_name, names in _public_all().items():
        module = importlib.import_module(module_name)
        assert len(names) == len(set(names)), module_name
        for name in names:
            assert hasattr(module, name), f"{module_name}.{name}"


def test_every_public_name_is_shown_in_the_docs() -> None:
    import re

    text = "\n".join(path.read_text(encoding="utf-8") for path in DOC_FILES)
    missing = [
        f"{module}.{name}"
        for module, names in _public_all().items()
        for name in names
        if not re.search(rf"\b{re.escape(name)}\b", text) and f"{module}.{name}" not in NOT_IN_DOCS
    ]
    assert missing == [], "public but not in the docs: document it, or make it private"


def test_the_allow_list_names_only_public_names() -> None:
    public = {f"{module}.{name}" for module, names in _public_all().items() for name in names}
    assert set(NOT_IN_DOCS) <= public


def test_every_public_object_is_exported_from_one_place() -> None:
    # The top level re-exports a few names of the packages; apart from it, one object has one public path.
    # (Two objects may share a name: claude_guard.fastapi and claude_guard.litestar are twins.)
    import importlib

    places: dict[int, list[str]] = {}
    for module_name, names in _public_all().items():
        if module_name == "claude_guard":
            continue
        module = importlib.import_module(module_name)
        for name in names:
            value = getattr(module, name)
            if isinstance(value, str | int | float | tuple | frozenset) or value is None:
                continue  # constants compare by value and may be interned: their identity says nothing
            places.setdefault(id(value), []).append(f"{module_name}.{name}")
    assert [paths for paths in places.values() if len(paths) > 1] == []
