"""The direction of imports inside ``claude_guard``, read from the source with ``ast`` (lazy imports inside
functions and ``TYPE_CHECKING`` blocks included): core ← protections ← assembly ← faces and tools.

- The core and the protections import no web framework (Starlette, FastAPI, Litestar, uvicorn) and nothing
  above them (the assembly, a face or a tool), not even lazily or for type checking.
- The core imports no protection (one reasoned exception), and a protection imports no other protection.
- The assembly (``ClaudeGuard``, ``GuardSettings``, the top-level package) imports no framework or face at
  import time: ``ClaudeGuard.install`` reaches the FastAPI face inside the call.
- No import cycle, lazy imports included (``TYPE_CHECKING`` imports excluded: they never run).

A module of ``claude_guard`` that ``LAYERS`` does not place is held to the strictest rules, the core's: it
passes as long as it imports only the core, and otherwise the failure says where to place it. The layers
are drawn in docs/architecture.md.
"""

from __future__ import annotations

import ast
import fnmatch
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import claude_guard

FRAMEWORKS = frozenset({"starlette", "fastapi", "litestar", "uvicorn"})

LAYERS: Mapping[str, str] = {
    # core: framework-free plumbing every protection shares
    "claude_guard._asgi": "core",
    "claude_guard._credentials": "core",
    "claude_guard._hooks": "core",
    "claude_guard._json": "core",
    "claude_guard._otel_api": "core",
    "claude_guard.context": "core",
    "claude_guard.errors": "core",
    "claude_guard.logscrub": "core",
    "claude_guard.messages": "core",
    "claude_guard.middleware": "core",
    "claude_guard.pricing": "core",
    "claude_guard.profiles": "core",
    "claude_guard.responses": "core",
    "claude_guard.secret_providers": "core",
    "claude_guard.secrets": "core",
    "claude_guard.store": "core",
    # the connection to Claude that the gateway, the egress face and count_tokens share
    "claude_guard.upstream": "core",
    # protections: policy, backends, ASGI middleware, SDK hook
    "claude_guard.audit": "protection",
    "claude_guard.keys": "protection",
    "claude_guard.ledger": "protection",
    "claude_guard.pii": "protection",
    "claude_guard.ratelimit": "protection",
    "claude_guard.sandbox": "protection",
    "claude_guard.transport": "protection",
    "claude_guard.validation": "protection",
    # assembly: builds every protection from the settings
    "claude_guard": "assembly",
    "claude_guard.guard": "assembly",
    "claude_guard.settings": "assembly",
    # faces
    "claude_guard.egress": "face",
    "claude_guard.fastapi": "face",
    "claude_guard.gateway": "face",
    "claude_guard.litestar": "face",
    "claude_guard.reference_app": "face",
    # tools
    "claude_guard._cli_*": "tool",
    "claude_guard._demo": "tool",
    "claude_guard.cli": "tool",
    "claude_guard.dashboard": "tool",
    "claude_guard.testing": "tool",
}

ABOVE_PROTECTIONS = frozenset({"assembly", "face", "tool"})

FRAMEWORK_FACES = frozenset({"claude_guard.fastapi", "claude_guard.litestar", "claude_guard.reference_app"})
"""The faces that import a web framework. (The egress face speaks only the anthropic SDK: the assembly
builds its hook chain.)"""

GATEWAY_NAMES = frozenset({("claude_guard", "MessagesProxy")})
"""The gateway face by its top-level name (``claude_guard.gateway`` itself is a face in LAYERS)."""

CORE_MAY_IMPORT: Mapping[tuple[str, str], str] = {
    ("claude_guard.profiles", "claude_guard.sandbox._policy"): (
        "a Profile carries its tool policies; _policy is plain data and parsing, importing only the core"
    ),
}


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    target: str
    """The module imported: an internal module resolved to its file, else the dotted name as written."""
    names: tuple[str, ...]
    line: int
    lazy: bool
    """Inside a function: runs when the function is called, not when the module is imported."""
    type_only: bool
    """Under ``if TYPE_CHECKING:``: never runs."""

    def __str__(self) -> str:
        where = "lazy " if self.lazy else "type-only " if self.type_only else ""
        names = f" ({', '.join(self.names)})" if self.names else ""
        return f"{self.importer}:{self.line} {where}imports {self.target}{names}"


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``root`` (``root/<package>/...``), by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: Iterable[str], root: str) -> None:
        self.module = module
        self.root = root
        self.package = module if is_package else module.rpartition(".")[0]
        self.modules = set(modules)
        self.depth = 0
        self.type_only = 0
        self.found: list[Import] = []

    def _add(self, target: str, names: tuple[str, ...], line: int) -> None:
        self.found.append(Import(self.module, target, names, line, self.depth > 0, self.type_only > 0))

    def _resolve(self, dotted: str) -> str:
        while dotted and dotted not in self.modules and "." in dotted:
            dotted = dotted.rpartition(".")[0]
        return dotted

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_only += 1
            for child in node.body:
                self.visit(child)
            self.type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            internal = alias.name.split(".")[0] == self.root
            self._add(self._resolve(alias.name) if internal else alias.name, (), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        if source.split(".")[0] != self.root:
            self._add(source, tuple(a.name for a in node.names), node.lineno)
            return
        plain: list[str] = []
        for alias in node.names:
            if f"{source}.{alias.name}" in self.modules:  # ``from . import _engine``: the submodule
                self._add(f"{source}.{alias.name}", (), node.lineno)
            else:
                plain.append(alias.name)
        if plain:
            self._add(self._resolve(source), tuple(plain), node.lineno)


def imports_of(root: Path, package: str) -> list[Import]:
    """Every import statement of the package under ``root``, resolved."""
    modules = module_files(root, package)
    found: list[Import] = []
    for name, path in modules.items():
        collector = _Collector(name, path.name == "__init__.py", modules, package)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(collector.found)
    return found


def layer_of(module: str, layers: Mapping[str, str] = LAYERS) -> str | None:
    best: tuple[int, str] | None = None
    for pattern, layer in layers.items():
        # A package covers its submodules; the root package (the top-level names) only itself.
        inside = "." in pattern and module.startswith(pattern + ".")
        matches = module == pattern or inside or fnmatch.fnmatchcase(module, pattern)
        if matches and (best is None or len(pattern) > best[0]):
            best = (len(pattern), layer)
    if best is None:
        return "core" if module.split(".")[0] == "claude_guard" else None
    return best[1]


def protection_of(module: str, layers: Mapping[str, str] = LAYERS) -> str | None:
    """The protection package (or flat module) ``module`` belongs to."""
    for pattern, layer in layers.items():
        if layer == "protection" and (module == pattern or module.startswith(pattern + ".")):
            return pattern
    return None


def violations(
    found: Iterable[Import],
    layers: Mapping[str, str] = LAYERS,
    gateway: frozenset[tuple[str, str]] = GATEWAY_NAMES,
    framework_faces: frozenset[str] = FRAMEWORK_FACES,
) -> list[str]:
    """What breaks the rules of the module docstring, one line per import."""
    broken: list[str] = []
    for imp in found:
        source = layer_of(imp.importer, layers)
        framework = imp.target.split(".")[0] in FRAMEWORKS
        target = None if framework else layer_of(imp.target, layers)
        if source in ("core", "protection"):
            if framework:
                broken.append(f"{imp}: the {source} imports no web framework")
            elif target in ABOVE_PROTECTIONS:
                broken.append(
                    f"{imp}: the {source} imports nothing above the protections ({target});"
                    " a module that must is placed in LAYERS"
                )
            elif any((imp.target, name) in gateway for name in imp.names):
                broken.append(f"{imp}: the gateway face is above the {source}")
        if source == "core" and target == "protection" and (imp.importer, imp.target) not in CORE_MAY_IMPORT:
            broken.append(f"{imp}: the core imports no protection")
        if source == "protection" and target == "protection":
            mine, theirs = protection_of(imp.importer, layers), protection_of(imp.target, layers)
            if mine != theirs:
                broken.append(f"{imp}: a protection ({mine}) imports no other protection")
        at_import = not imp.lazy and not imp.type_only
        if source == "assembly" and at_import and (framework or imp.target in framework_faces):
            broken.append(f"{imp}: the assembly imports no framework or framework face when imported")
    return broken


def cycles(found: Iterable[Import], root: str = "claude_guard") -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module, or a module importing
    itself), counting every import that runs, lazy ones included."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        if imp.type_only or imp.target.split(".")[0] != root:
            continue
        graph.setdefault(imp.importer, set()).add(imp.target)
        graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm; the graph is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
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
            if len(component) > 1 or node in graph[node]:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _tree() -> tuple[Path, str]:
    package = Path(claude_guard.__file__).parent
    return package.parent, package.name


@pytest.fixture(scope="module")
def found() -> list[Import]:
    return imports_of(*_tree())


def test_every_module_has_a_layer() -> None:
    assert all(layer_of(m) is not None for m in module_files(*_tree()))
    # Unplaced, a module is held to the core's rules.
    assert layer_of("claude_guard._not_yet_placed") == "core"
    assert layer_of("claude_guard._cli_new") == "tool" and layer_of("claude_guard.pii._new") == "protection"


def test_imports_follow_the_layers(found: list[Import]) -> None:
    assert violations(found) == []


def test_no_import_cycles(found: list[Import]) -> None:
    # Lazy imports count (a function-level import still ties two modules); type-only ones do not.
    assert cycles(found) == []


def test_the_protections_hold_no_framework_code(found: list[Import]) -> None:
    # The other rules would catch these too; this names the moves that made them hold.
    framework_users = sorted({imp.importer for imp in found if imp.target.split(".")[0] in FRAMEWORKS})
    assert set(framework_users) <= {
        "claude_guard.fastapi",
        "claude_guard.litestar",
        "claude_guard.reference_app",
        "claude_guard._cli_dashboard",
        "claude_guard.cli",
        "claude_guard.testing._server",
    }, framework_users


_IMPORT_EVERYTHING_BELOW_THE_FACES = """
import importlib, pkgutil, sys
import claude_guard
from claude_guard import ClaudeGuard, GuardSettings
below = {BELOW}
for info in pkgutil.walk_packages(claude_guard.__path__, prefix="claude_guard."):
    if info.name in below:
        importlib.import_module(info.name)
ClaudeGuard(settings=GuardSettings())
print(sorted({{m.split(".")[0] for m in sys.modules}} & {FRAMEWORKS}))
"""


def test_importing_everything_below_the_faces_loads_no_framework() -> None:
    # What the scan says, at run time: the core, the protections and the assembly, imported and built.
    below = sorted(m for m in module_files(*_tree()) if layer_of(m) in ("core", "protection", "assembly"))
    code = _IMPORT_EVERYTHING_BELOW_THE_FACES.format(BELOW=set(below), FRAMEWORKS=set(FRAMEWORKS))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "claude_guard.pii._middleware" in below and "claude_guard.guard" in below


# -- the scanner sees what it must ---------------------------------------------------------------------------

PLANTED = {
    "pkg/__init__.py": "from .guard import Guard\n",
    "pkg/guard.py": (
        "from starlette.requests import Request\n"  # the assembly, at import time: refused
        "from .prot import Policy\n"
        "from .face import Depends\n"  # a framework face at import time: refused
        "def install():\n"
        "    from . import face\n"  # lazily: allowed
    ),
    "pkg/face.py": "from fastapi import Depends\nfrom .guard import Guard\n",
    "pkg/core.py": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .face import Depends\n"  # type-only, still refused
        "from .prot import Policy\n"  # the core imports a protection
    ),
    "pkg/prot/__init__.py": "from ._policy import Policy\n",
    "pkg/prot/_policy.py": (
        "from ..core import x\n"
        "from ..other import thing\n"  # another protection
        "def dependency():\n"
        "    import litestar.di\n"  # a lazy framework import
        "    from ..upstream import MessagesProxy\n"  # the gateway face, by name
        "    from . import _cycle\n"
    ),
    "pkg/prot/_cycle.py": "def f():\n    from ._policy import Policy\n",
    "pkg/other.py": "",
    "pkg/upstream.py": "",
}
PLANTED_LAYERS = {
    "pkg": "assembly",
    "pkg.guard": "assembly",
    "pkg.face": "face",
    "pkg.core": "core",
    "pkg.upstream": "core",
    "pkg.prot": "protection",
    "pkg.other": "protection",
}


def _planted(tmp_path: Path) -> list[Import]:
    for name, text in PLANTED.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return imports_of(tmp_path, "pkg")


def test_the_scanner_finds_planted_violations(tmp_path: Path) -> None:
    found = _planted(tmp_path)
    broken = violations(
        found, PLANTED_LAYERS, frozenset({("pkg.upstream", "MessagesProxy")}), frozenset({"pkg.face"})
    )
    rendered = "\n".join(broken)
    assert "pkg.guard:1 imports starlette.requests (Request): the assembly imports no framework" in rendered
    assert "pkg.guard:3 imports pkg.face (Depends): the assembly imports no framework" in rendered
    assert "pkg.core:3 type-only imports pkg.face (Depends): the core imports nothing above" in rendered
    assert "pkg.core:4 imports pkg.prot (Policy): the core imports no protection" in rendered
    assert "pkg.prot._policy:2 imports pkg.other (thing): a protection (pkg.prot) imports no" in rendered
    assert "pkg.prot._policy:4 lazy imports litestar.di: the protection imports no web framework" in rendered
    assert "pkg.prot._policy:5 lazy imports pkg.upstream (MessagesProxy): the gateway face" in rendered
    assert len(broken) == 7, rendered
    # The face may use its framework and the guard; the guard may reach the face lazily.
    assert not any(line.startswith(("pkg.face", "pkg.guard:5")) for line in broken), rendered
    # Lazy imports count (the guard reaches the face inside a function); type-only ones do not (core → face).
    assert cycles(found, "pkg") == [
        ["pkg.core", "pkg.prot", "pkg.prot._cycle", "pkg.prot._policy"],
        ["pkg.face", "pkg.guard"],
    ]


def test_the_scanner_reads_the_real_tree(found: list[Import]) -> None:
    # A scanner that read nothing would pass every rule: it must see imports it knows are there.
    seen = {(i.importer, i.target, i.lazy) for i in found}
    assert ("claude_guard.guard", "claude_guard.fastapi", True) in seen
    assert ("claude_guard.fastapi", "starlette.requests", False) in seen
    assert ("claude_guard.ratelimit", "claude_guard.ratelimit._engine", False) in seen
    assert set(LAYERS.values()) == {"core", "protection", "assembly", "face", "tool"}
