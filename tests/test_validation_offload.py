"""A long prompt is scanned off the event loop by the async path, with the same result as inline."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from claude_guard.errors import PromptBlockedError
from claude_guard.validation import PromptValidator, ValidationConfig
from claude_guard.validation._validator import _Evaluation, _Prepared

CORPUS = Path(__file__).resolve().parent / "data" / "injection_corpus.jsonl"


def _body(text: str) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}


def _watched(validator: PromptValidator, seen: list[tuple[int, int, int]], ticks: list[int]) -> None:
    """Record, per scan, its thread and the loop ticker's count when it started and ended."""
    scan = validator._scan

    def watched(prepared: _Prepared, meter: Any) -> _Evaluation:
        start = ticks[0]
        try:
            return scan(prepared, meter)
        finally:
            seen.append((threading.get_ident(), start, ticks[0]))

    validator._scan = watched  # type: ignore[method-assign]


async def _ticker(ticks: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        ticks[0] += 1
        await asyncio.sleep(0)


def test_a_long_prompt_is_scanned_on_a_thread_while_the_loop_runs() -> None:
    validator = PromptValidator(ValidationConfig(inline_chars=4096))
    seen: list[tuple[int, int, int]] = []
    ticks = [0]
    _watched(validator, seen, ticks)
    # Entity-encoded text is the slowest to scan per character (its decoder's candidates are rescanned).
    long_text = "".join(f"&#{32 + i % 90};" for i in range(40_000))

    async def main() -> int:
        loop_thread = threading.get_ident()
        stop = asyncio.Event()
        task = asyncio.create_task(_ticker(ticks, stop))
        await asyncio.sleep(0)
        await validator.validate_async(_body("Summarise the attached notes."), profile=None)
        await validator.validate_async(_body(long_text), profile=None)
        stop.set()
        await task
        return loop_thread

    loop_thread = asyncio.run(main())
    (short_thread, short_start, short_end), (long_thread, long_start, long_end) = seen
    assert short_thread == loop_thread and short_end == short_start  # inline: the loop waited for it
    assert long_thread != loop_thread
    assert long_end > long_start  # the loop went on ticking while the scan ran


def test_inline_and_threaded_scans_decide_alike() -> None:
    inline = PromptValidator(ValidationConfig(inline_chars=10**9))
    threaded = PromptValidator(ValidationConfig(inline_chars=0))
    with CORPUS.open(encoding="utf-8") as fh:  # the development part: attacks and look-alikes of every kind
        cases = [case for line in fh if (case := json.loads(line))["split"] == "dev"][::5]
    assert len(cases) > 300

    async def outcome(validator: PromptValidator, body: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
        try:
            result = await validator.validate_async(body, profile=None)
        except PromptBlockedError as exc:
            return "blocked", tuple(exc.rule_ids)
        return result.outcome, tuple(result.rule_ids)

    async def main() -> None:
        for case in cases:
            assert await outcome(inline, case["body"]) == await outcome(threaded, case["body"]), case["id"]

    asyncio.run(main())


def test_inline_chars_must_not_be_negative() -> None:
    from claude_guard.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="inline_chars"):
        ValidationConfig(inline_chars=-1)
