"""The package's shape: no import cycle among its modules; a public API whose every name is written once."""

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


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_import_graph_is_read_from_the_sources() -> None:
    graph = import_graph()
    assert "claude_guard.errors" in graph["claude_guard.pii._output"]
    assert "claude_guard.pii._output" in graph["claude_guard.pii._redact"]
    # the checker sees a cycle when there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_modules() -> None:
    assert _cycles(import_graph()) == []


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
