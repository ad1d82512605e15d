"""No source file over 500 lines without a reason: its module docstring has a line starting with ``Size:``."""

from __future__ import annotations

import ast
from pathlib import Path

import claude_guard

PACKAGE = Path(claude_guard.__file__).parent
LIMIT = 500


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _gives_a_reason(path: Path) -> bool:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return any(line.strip().startswith("Size:") for line in docstring.splitlines())


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_a_file_over_the_limit_says_why() -> None:
    unexplained = [
        f"{_name(path)} ({_lines(path)} lines)"
        for path in _sources()
        if _lines(path) > LIMIT and not _gives_a_reason(path)
    ]
    assert not unexplained, f"split these, or give a 'Size:' line in the module docstring: {unexplained}"


def test_the_reason_is_read_from_the_docstring_only(tmp_path: Path) -> None:
    explained = tmp_path / "explained.py"
    explained.write_text('"""A module.\n\nSize: one table, kept whole.\n"""\n' + "x = 1\n" * (LIMIT + 1))
    in_a_comment = tmp_path / "comment.py"
    in_a_comment.write_text('"""A module."""\n# Size: not a docstring\n' + "x = 1\n" * (LIMIT + 1))
    assert _gives_a_reason(explained)
    assert not _gives_a_reason(in_a_comment)
    assert _lines(in_a_comment) > LIMIT
