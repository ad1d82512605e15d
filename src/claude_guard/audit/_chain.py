"""Tamper evidence for the audit log: every record linked to the one before it by a keyed hash.

Each writer (one `AuditLogger`, so one process) keeps its own chain: a random chain id, a sequence number and
the MAC of its previous record. A record's ``chain`` field is ``{"id", "seq", "prev", "mac"}`` where
``mac`` is HMAC-SHA256 under ``CLAUDE_GUARD_AUDIT_KEY`` of the record's canonical JSON with ``mac`` left
out. Chains per writer need no coordination between replicas (the stream and the SQLite file accept writes
in any order), and the verifier checks each chain on its own.

Editing a record breaks its MAC; deleting one leaves a gap in its chain's sequence; reordering or splicing
breaks a ``prev``. Erasure and retention stay possible: after deleting, the logger writes a *tombstone* record
whose ``chain.covers`` lists every gap they left, ``[chain id, first seq, last seq, MAC of the last]``, so the
record after a gap still verifies against the MAC of the one erased before it. The tombstone holds sequence
numbers and MACs only: nothing of what was erased. Limits (documented in docs/operations.md): a chain's last
records can be cut without a trace until its writer adds another record, and a whole chain can be removed.

Standard library ``hmac`` and ``hashlib``: there is no maintained library for hash-chained logs to prefer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError

__all__ = ["AuditChain", "ChainProblem", "VerifyReport", "canonical", "compute_covers", "verify_chain"]

Cover = tuple[str, int, int, str]
"""A gap left by erasure or retention: chain id, first and last missing sequence numbers, MAC of the last."""


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's MAC covers: its JSON with sorted keys and no ``chain.mac``."""
    data = dict(record)
    chain = data.get("chain")
    if isinstance(chain, Mapping):
        data["chain"] = {k: v for k, v in chain.items() if k != "mac"}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(key: bytes, record: Mapping[str, Any]) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


class AuditChain:
    """One writer's chain: links each record dict to the previous one (thread-safe, in submission order).

    Example:
        >>> chain = AuditChain(b"k" * 32)
        >>> first = chain.link({"request_id": "req_1"})
        >>> second = chain.link({"request_id": "req_2"})
        >>> second["chain"]["prev"] == first["chain"]["mac"], second["chain"]["seq"]
        (True, 1)
        >>> verify_chain([("1", first), ("2", second)], b"k" * 32).ok
        True
    """

    def __init__(self, key: bytes, *, chain_id: str | None = None) -> None:
        if len(key) < 16:
            raise ConfigurationError("the audit chain key must be at least 16 bytes")
        self._key = key
        self.chain_id = chain_id or os.urandom(8).hex()
        self._seq = 0
        self._prev = ""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AuditChain(id={self.chain_id!r}, seq={self._seq})"

    def link(self, record: Mapping[str, Any], *, covers: Sequence[Cover] = ()) -> dict[str, Any]:
        """``record`` with its ``chain`` field; ``covers`` makes it a tombstone of erased gaps."""
        with self._lock:
            chain: dict[str, Any] = {"id": self.chain_id, "seq": self._seq, "prev": self._prev}
            if covers:
                chain["covers"] = [list(c) for c in covers]
            linked = {**record, "chain": chain}
            chain["mac"] = _mac(self._key, linked)
            self._seq += 1
            self._prev = chain["mac"]
            return linked


def _link_of(record: Mapping[str, Any]) -> tuple[str, int, str, str] | None:
    chain = record.get("chain")
    if not isinstance(chain, Mapping):
        return None
    cid, seq, prev, mac = chain.get("id"), chain.get("seq"), chain.get("prev"), chain.get("mac")
    if not (isinstance(cid, str) and isinstance(seq, int) and isinstance(prev, str) and isinstance(mac, str)):
        return None
    return cid, seq, prev, mac


def _covers_of(record: Mapping[str, Any]) -> list[Cover]:
    chain = record.get("chain")
    raw = chain.get("covers") if isinstance(chain, Mapping) else None
    found: list[Cover] = []
    for item in raw if isinstance(raw, list) else ():
        if (
            isinstance(item, list)
            and len(item) == 4
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and isinstance(item[2], int)
            and isinstance(item[3], str)
        ):
            found.append((item[0], item[1], item[2], item[3]))
    return found


def compute_covers(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]) -> list[Cover]:
    """The gaps that survive in ``after`` (the log once records were deleted), each with the MAC of its last
    missing record, known from ``before`` (the log before deleting) or from earlier tombstones."""
    known: dict[tuple[str, int], str] = {}
    highest: dict[str, int] = {}
    for record in before:
        link = _link_of(record)
        if link is not None:
            known[(link[0], link[1])] = link[3]
            highest[link[0]] = max(highest.get(link[0], -1), link[1])
        for cid, _, last, mac in _covers_of(record):
            known.setdefault((cid, last), mac)
            highest[cid] = max(highest.get(cid, -1), last)
    seqs: dict[str, list[int]] = {cid: [] for cid in highest}
    for record in after:
        link = _link_of(record)
        if link is not None:
            seqs.setdefault(link[0], []).append(link[1])
    covers: list[Cover] = []
    for cid, numbers in seqs.items():
        expected = 0
        # A gap at a chain's end counts too: its writer's next record (this tombstone, say) follows it.
        ends = [*sorted(set(numbers)), highest.get(cid, -1) + 1]
        for seq in ends:
            if seq > expected and (cid, seq - 1) in known:
                covers.append((cid, expected, seq - 1, known[(cid, seq - 1)]))
            expected = max(expected, seq + 1)
    return covers


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One broken link: where (the sink's locator: a row number or a stream entry id) and what."""

    locator: str
    kind: str
    """``altered`` (MAC mismatch), ``missing`` (a gap no tombstone covers), ``broken_link`` (``prev`` is
    not the previous record's MAC), ``duplicate`` or ``unchained`` (no link, among chained records)."""
    detail: str
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify_chain` found."""

    records: int
    chains: int
    problems: list[ChainProblem] = field(default_factory=list)
    tombstones: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None


def verify_chain(entries: Iterable[tuple[str, Mapping[str, Any]]], key: bytes) -> VerifyReport:
    """Check every chain of a log given as ``(locator, record dict)`` in storage order.

    Problems are ordered by the time of the record they point at (the first broken link first).
    """
    rows = list(entries)
    problems: list[ChainProblem] = []
    chains: dict[str, list[tuple[int, str, Mapping[str, Any]]]] = {}
    covers: dict[tuple[str, int], tuple[int, str]] = {}
    unchained: list[tuple[str, Mapping[str, Any]]] = []
    authentic: set[str] = set()
    tombstones = 0
    for locator, record in rows:
        link = _link_of(record)
        if link is None:
            unchained.append((locator, record))
            continue
        if hmac.compare_digest(_mac(key, record), link[3]):
            authentic.add(locator)
            found = _covers_of(record)
            if found:
                tombstones += 1
            for cid, first, last, mac in found:
                # Only an authentic tombstone vouches for a gap; a later, wider one extends an earlier one.
                earlier = covers.get((cid, last))
                covers[(cid, last)] = (min(first, earlier[0]) if earlier else first, mac)
        chains.setdefault(link[0], []).append((link[1], locator, record))

    def when(record: Mapping[str, Any]) -> float:
        value = record.get("time")
        return float(value) if isinstance(value, int | float) else 0.0

    earliest = min((when(r) for group in chains.values() for _, _, r in group), default=None)
    for locator, record in unchained:
        if record.get("unreadable") is True:
            problems.append(ChainProblem(locator, "altered", "the record is not readable JSON"))
        elif earliest is not None and when(record) >= earliest:
            problems.append(ChainProblem(locator, "unchained", "a record without a chain link", when(record)))
    for cid, group in chains.items():
        group.sort(key=lambda item: item[0])
        expected_seq, expected_prev = 0, ""
        for seq, locator, record in group:
            link = _link_of(record)
            assert link is not None
            t = when(record)
            if seq < expected_seq:
                problems.append(ChainProblem(locator, "duplicate", f"chain {cid} seq {seq} appears twice", t))
                continue
            if seq > expected_seq:
                cover = covers.get((cid, seq - 1))
                if cover is not None and cover[0] <= expected_seq:
                    expected_prev = cover[1]
                else:
                    problems.append(
                        ChainProblem(
                            locator,
                            "missing",
                            f"chain {cid}: records {expected_seq}..{seq - 1} before this one are missing",
                            t,
                        )
                    )
                    expected_prev = link[2]  # resynchronise, so one gap is reported once
            if locator not in authentic:
                problems.append(ChainProblem(locator, "altered", f"chain {cid} seq {seq}: MAC mismatch", t))
            elif link[2] != expected_prev:
                problems.append(
                    ChainProblem(locator, "broken_link", f"chain {cid} seq {seq}: prev does not match", t)
                )
            expected_seq, expected_prev = seq + 1, link[3]
    problems.sort(key=lambda p: p.time)
    return VerifyReport(records=len(rows), chains=len(chains), problems=problems, tombstones=tombstones)
