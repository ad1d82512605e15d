"""An audit sink that keeps what it is given, for tests that read the records a request produced."""

from __future__ import annotations

from collections.abc import Sequence

from claude_guard.audit import AuditRecord


class ListSink:
    name = "list"

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    async def write(self, records: Sequence[AuditRecord]) -> None:
        self.records.extend(records)

    async def aclose(self) -> None:
        return None
