"""The reference gateway, served with ``uvicorn app:app --app-dir examples/fastapi_app``.

Its wiring is one page: ``src/claude_guard/reference_app.py``. Configuration comes from the environment
(``CLAUDE_API_KEY`` or ``CLAUDE_API_KEY_FILE``, ``CLAUDE_API_URL``, ``CLAUDE_GUARD_STORAGE_URL``…).
"""

from __future__ import annotations

from typing import Any

from claude_guard.reference_app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # ``uvicorn app:app`` reads this attribute once per worker; importing the module for ``create_app``
    # alone needs no environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
