"""PII redaction benchmark: claude_guard's Redactor against plain Presidio, event-loop lag, precision/recall.

Run: ``.venv/bin/python bench/bench_pii.py`` (prints a Markdown report).
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import statistics
import string
import time
from collections import defaultdict
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from claude_guard.messages import iter_text_segments
from claude_guard.pii import OutputScanner, PIIConfig, PIIEngine, Redactor
from claude_guard.pii._engine import _lemma_pipeline, merge_findings

RNG = random.Random(6)


def _digits(n: int) -> str:
    return "".join(RNG.choice(string.digits) for _ in range(n))


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _luhn(prefix: str) -> str:
    return next(prefix + c for c in string.digits if _luhn_ok(prefix + c))


def _grouped(number: str) -> str:
    # One number, shown in groups of four (draw it once: a comprehension would draw one per group).
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


GENERATORS: dict[str, Any] = {
    "EMAIL_ADDRESS": lambda: f"{RNG.choice(['ada', 'bo', 'chen', 'dara'])}.{_digits(3)}@example.com",
    "PHONE_NUMBER": lambda: f"+1 415-555-{_digits(4)}",
    "CREDIT_CARD": lambda: _grouped(_luhn("4111" + _digits(11))),
    "US_SSN": lambda: f"{RNG.randint(100, 665)}-{RNG.randint(10, 99)}-{RNG.randint(1000, 9999)}",
    "IP_ADDRESS": lambda: f"10.{RNG.randint(0, 255)}.{RNG.randint(0, 255)}.{RNG.randint(1, 254)}",
    "AWS_ACCESS_KEY": lambda: (
        "AKIA" + "".join(RNG.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    ),
    "ANTHROPIC_API_KEY": lambda: (
        "sk-ant-api03-"
        + "".join(RNG.choice(string.ascii_letters + string.digits + "_-") for _ in range(93))
        + "AA"
    ),
    "JWT": lambda: (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi"
        + "".join(RNG.choice(string.ascii_letters) for _ in range(20))
        + "."
        + "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(43))
    ),
}
TEMPLATES = {
    "EMAIL_ADDRESS": "Please write to {} about the invoice.",
    "PHONE_NUMBER": "You can call me on {} after five.",
    "CREDIT_CARD": "My card number is {} and it expires soon.",
    "US_SSN": "Her social security number is {} for the form.",
    "IP_ADDRESS": "The server at {} keeps timing out.",
    "AWS_ACCESS_KEY": "The deploy uses access key {} in production.",
    "ANTHROPIC_API_KEY": "I pasted my key {} by mistake.",
    "JWT": "The session token was {} yesterday.",
}
FILLER = (
    "The quarterly report covers revenue, churn and the roadmap for the next release. "
    "We discussed the migration plan and agreed to revisit the timeline on Monday. "
)


def labeled_text(n_entities: int, target_chars: int) -> tuple[str, list[tuple[str, int, int]]]:
    parts: list[str] = []
    labels: list[tuple[str, int, int]] = []
    position = 0
    entities = list(GENERATORS)
    while position < target_chars:
        if len(labels) < n_entities:
            entity = entities[len(labels) % len(entities)]
            value = GENERATORS[entity]()
            sentence = TEMPLATES[entity].format(value) + " "
            start = position + sentence.index(value)
            labels.append((entity, start, start + len(value)))
        else:
            sentence = FILLER
        parts.append(sentence)
        position += len(sentence)
    return "".join(parts), labels


def messages_body(target_bytes: int, n_entities: int) -> dict[str, Any]:
    # A conversation: system, several turns, a tool result: several segments to analyse.
    per = target_bytes // 5
    texts = [labeled_text(max(1, n_entities // 5), per)[0] for _ in range(5)]
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 512,
        "system": texts[0],
        "messages": [
            {"role": "user", "content": texts[1]},
            {"role": "assistant", "content": texts[2]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": texts[3]}]},
            {"role": "user", "content": texts[4]},
        ],
    }


def plain_presidio() -> tuple[Any, Any]:
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_anonymizer import AnonymizerEngine

    class Blank(SpacyNlpEngine):  # type: ignore[misc]
        def load(self) -> None:
            self.nlp = {"en": _lemma_pipeline(spacy, "en")}

    nlp = Blank(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    return AnalyzerEngine(nlp_engine=nlp, registry=registry), AnonymizerEngine()


def plain_redact(analyzer: Any, anonymizer: Any, body: dict[str, Any]) -> None:
    for segment in iter_text_segments(body):
        results = analyzer.analyze(text=segment.text, language="en")
        anonymizer.anonymize(text=segment.text, analyzer_results=results)


def timed(fn: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


async def loop_lag(
    redactor: Redactor, body: dict[str, Any], concurrent: int, rounds: int
) -> tuple[float, float]:
    lags: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t - 0.001) * 1000)

    tick = asyncio.create_task(ticker())
    for _ in range(rounds):
        await asyncio.gather(*(redactor.redact(body, principal=f"p{i}") for i in range(concurrent)))
    done = True
    await tick
    lags.sort()
    return lags[int(len(lags) * 0.99) - 1], lags[-1]


def precision_recall(
    find: Any, corpus: list[tuple[str, list[tuple[str, int, int]]]]
) -> dict[str, tuple[float, float]]:
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    for text, labels in corpus:
        predicted = find(text)
        for entity, start, end in labels:
            if any(p[0] == entity and p[1] < end and start < p[2] for p in predicted):
                tp[entity] += 1
            else:
                fn[entity] += 1
        for entity, start, end in predicted:
            if entity in GENERATORS and not any(
                lab[0] == entity and lab[1] < end and start < lab[2] for lab in labels
            ):
                fp[entity] += 1
    out = {}
    for entity in GENERATORS:
        p = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else 0.0
        r = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else 0.0
        out[entity] = (p, r)
    return out


def cpu_model() -> str:
    cpu = platform.processor() or "?"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            cpu = next((ln.split(":", 1)[1].strip() for ln in info if "model name" in ln), cpu)
    return cpu


async def output_scan_stream(engine: PIIEngine, text: str, delta: int) -> tuple[float, int, int]:
    """Redact-mode scanning of ``text`` in ``delta``-character pieces: total ms, analyses, most held."""
    scanner = OutputScanner(engine, mode="redact")
    analyses = 0
    analyze = engine.analyze

    async def counted(text: str, *, timeout: float | None = None) -> Any:
        nonlocal analyses
        analyses += 1
        return await analyze(text, timeout=timeout)

    engine.analyze = counted  # type: ignore[method-assign]
    try:
        text_scanner = scanner.text_scanner()
        held = 0
        t = time.perf_counter()
        for start in range(0, len(text), delta):
            await text_scanner.feed(text[start : start + delta])
            held = max(held, text_scanner.held)
        await text_scanner.flush()
        elapsed = (time.perf_counter() - t) * 1000
    finally:
        del engine.analyze
    return elapsed, analyses, held


async def main() -> None:
    cpu = cpu_model()
    print(f"Machine: {os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}\n")
    analyzer, anonymizer = plain_presidio()
    config = PIIConfig(hmac_key="bench", phone_regions=("US",), workers=2)
    redactor = Redactor(engine=PIIEngine(config))

    print("| body | entities | plain Presidio (ms, median) | claude_guard (ms, median) | ratio |")
    print("|---|---|---|---|---|")
    for size, entities in ((1024, 8), (10 * 1024, 40)):
        body = messages_body(size, entities)
        plain_ms = timed(lambda body=body: plain_redact(analyzer, anonymizer, body), 15)
        samples = []
        for _ in range(15):
            t = time.perf_counter()
            await redactor.redact(body, principal="bench")
            samples.append(time.perf_counter() - t)
        ours_ms = statistics.median(samples) * 1000
        print(
            f"| {size // 1024} KB | {entities} | {plain_ms:.1f} | {ours_ms:.1f} | {ours_ms / plain_ms:.2f} |"
        )

    print("\nEvent-loop lag while 8 PII-heavy (10 KB) redactions run at once (1 ms ticker):\n")
    print("| executor | workers | lag p99 (ms) | lag max (ms) |")
    print("|---|---|---|---|")
    heavy = messages_body(10 * 1024, 40)
    for executor in ("thread", "process"):
        engine = PIIEngine(PIIConfig(hmac_key="bench", phone_regions=("US",), workers=2, executor=executor))
        r = Redactor(engine=engine)
        p99, worst = await loop_lag(r, heavy, concurrent=8, rounds=5)
        print(f"| {executor} | 2 | {p99:.2f} | {worst:.2f} |")
        r.close()

    print("\nStreamed output scanning (redact), 4 KB of output with 16 entities, 12-character deltas:\n")
    print("| output_hold | analyses | scan time (ms, total) | most characters held |")
    print("|---|---|---|---|")
    output = labeled_text(16, 4096)[0]
    for hold in (64, 128, 256):
        scan_engine = PIIEngine(PIIConfig(hmac_key="bench", phone_regions=("US",), output_hold=hold))
        elapsed, analyses, held = await output_scan_stream(scan_engine, output, 12)
        print(f"| {hold} | {analyses} | {elapsed:.1f} | {held} |")
        scan_engine.close()

    corpus = [labeled_text(8, 600) for _ in range(60)]
    ours = precision_recall(
        lambda t: [(f.entity, f.start, f.end) for f in merge_findings(redactor.engine.analyze_sync(t))],
        corpus,
    )
    theirs = precision_recall(
        lambda t: [(r.entity_type, r.start, r.end) for r in analyzer.analyze(text=t, language="en")], corpus
    )
    n = sum(len(labels) for _, labels in corpus)
    print(f"\nPrecision / recall on the synthetic corpus (60 texts, {n} labeled spans, seed 6):\n")
    print("| entity | claude_guard P | claude_guard R | plain Presidio P | plain Presidio R |")
    print("|---|---|---|---|---|")
    for entity in GENERATORS:
        (p1, r1), (p2, r2) = ours[entity], theirs[entity]
        print(f"| {entity} | {p1:.2f} | {r1:.2f} | {p2:.2f} | {r2:.2f} |")
    redactor.close()


if __name__ == "__main__":
    asyncio.run(main())
