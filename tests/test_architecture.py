"""Properties of the package as a whole: it imports without POSIX-only modules, its version has one source,
and configuration errors are ValueErrors."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

import claude_guard
from claude_guard.errors import ConfigurationError, GuardError

_HIDE_FCNTL = """
import sys

class NoFcntl:
    def find_spec(self, name, path=None, target=None):
        if name == "fcntl":
            raise ModuleNotFoundError("No module named 'fcntl' (hidden by the test)")
        return None

sys.modules.pop("fcntl", None)
sys.meta_path.insert(0, NoFcntl())
import claude_guard, claude_guard.guard, claude_guard.keys
from claude_guard import ClaudeGuard, GuardSettings
ClaudeGuard(settings=GuardSettings())
try:
    import fcntl
except ModuleNotFoundError:
    print("imported without fcntl")
"""


def test_the_package_imports_without_fcntl() -> None:
    done = subprocess.run([sys.executable, "-c", _HIDE_FCNTL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported without fcntl"


def test_the_version_comes_from_the_distribution() -> None:
    assert claude_guard.__version__ == version("claude-guard")


def test_configuration_errors_are_value_errors() -> None:
    from claude_guard import GuardSettings

    with pytest.raises(ValueError, match="CLAUDE_GUARD_ENV"):
        GuardSettings(environment="prod")  # type: ignore[arg-type]
    assert issubclass(ConfigurationError, GuardError)
