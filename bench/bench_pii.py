"""PII redaction benchmark: claude_guard's Redactor against plain Presidio, event-loop lag, and recall and
precision per type on the project's held-out corpus beside detect-secrets (credentials) and plain Presidio
(PII), measured in the same run.

Run: ``.venv/bin/python bench/bench_pii.py`` (prints a Markdown report). With ``BENCH_BASELINE_SRC`` (the
``src`` of an earlier tree, from ``git archive <commit> src``), the default executor's event-loop lag is also
measured on that tree, alternating with this one.
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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from claude_guard.messages import iter_text_segments
from claude_guard.pii import PIIConfig, PIIEngine, Redactor
from claude_guard.pii._engine import _lemma_pipeline
from claude_guard.pii._output import OutputScanner
from data.secrets_corpus import Corpus, Sample, body_of, corpus, redacted_spans

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
) -> tuple[float, float, float]:
    """Lag p99 and max (ms) of a 1 ms ticker while ``concurrent`` redactions run at once, ``rounds`` times;
    then the event-loop thread's CPU per request (µs, ``thread_time``) over the same rounds without the
    ticker: what the loop itself spends on a request, the part of the lag that no scheduler causes."""
    lags: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t - 0.001) * 1000)

    await asyncio.gather(*(redactor.redact(body, principal=f"p{i}") for i in range(concurrent)))  # warm
    tick = asyncio.create_task(ticker())
    for _ in range(rounds):
        await asyncio.gather(*(redactor.redact(body, principal=f"p{i}") for i in range(concurrent)))
    done = True
    await tick
    lags.sort()
    cpu = time.thread_time()
    for _ in range(rounds):
        await asyncio.gather(*(redactor.redact(body, principal=f"p{i}") for i in range(concurrent)))
    per_request = (time.thread_time() - cpu) / (rounds * concurrent) * 1e6
    return lags[int(len(lags) * 0.99) - 1], lags[-1], per_request


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
    print(
        "The machine may be shared with other jobs (it was for the figures below: eight helpers on two CPUs):"
        " absolute times are noisy; the ratios are of things measured side by side in this run.\n"
    )
    analyzer, anonymizer = plain_presidio()
    config = PIIConfig(
        hmac_key="bench", phone_regions=("US",), workers=2, timeout=60, max_pending=256, executor="thread"
    )
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

    await prefilter_section()

    print("\nEvent-loop lag while 8 PII-heavy (10 KB) redactions run at once (1 ms ticker); loop CPU is the")
    print("event-loop thread's own CPU per request (`thread_time`, the pool's workers not counted):\n")
    print("| executor | workers | lag p99 (ms) | lag max (ms) | loop CPU µs per request |")
    print("|---|---|---|---|---|")
    variants: list[tuple[str, dict[str, Any], float | None]] = [
        ("thread (the previous default)", {"executor": "thread"}, None),
        ("thread, 1 ms GIL switch interval (process-wide setting)", {"executor": "thread"}, 0.001),
        ("process, every text through the pool", {"executor": "process", "inline_chars": 0}, None),
        ("default: process, small clean texts inline", {}, None),
    ]
    for label, options, interval in variants:
        p99, worst, cpu_us = await lag_row(options, interval)
        print(f"| {label} | 2 | {p99:.2f} | {worst:.2f} | {cpu_us:.0f} |")
    lag_before_after()

    print("\nStreamed output scanning (redact), 4 KB of output with 16 entities, 12-character deltas:\n")
    print("| output_hold | analyses | scan time (ms, total) | most characters held |")
    print("|---|---|---|---|")
    output = labeled_text(16, 4096)[0]
    for hold in (64, 128, 256):
        scan_engine = PIIEngine(PIIConfig(hmac_key="bench", phone_regions=("US",), output_hold=hold))
        elapsed, analyses, held = await output_scan_stream(scan_engine, output, 12)
        print(f"| {hold} | {analyses} | {elapsed:.1f} | {held} |")
        scan_engine.close()

    await corpus_comparison(redactor, analyzer)
    redactor.close()


async def lag_row(options: dict[str, Any], interval: float | None = None) -> tuple[float, float, float]:
    engine = PIIEngine(PIIConfig(hmac_key="bench", phone_regions=("US",), workers=2, timeout=60, **options))
    r = Redactor(engine=engine)
    previous = sys.getswitchinterval()
    if interval is not None:
        sys.setswitchinterval(interval)
    try:
        return await loop_lag(r, messages_body(10 * 1024, 40), concurrent=8, rounds=5)
    finally:
        sys.setswitchinterval(previous)
        r.close()


def lag_before_after(repeats: int = 3) -> None:
    """The default executor's lag on the tree of ``BENCH_BASELINE_SRC`` (its ``src``, e.g. from
    ``git archive main src``) and on this one, each in a fresh process, alternating ``repeats`` times."""
    import json
    import subprocess

    baseline = os.environ.get("BENCH_BASELINE_SRC")
    if not baseline:
        return
    here = str(Path(__file__).resolve().parent.parent / "src")
    rows: dict[str, list[list[float]]] = {"before": [], "after": []}
    for _ in range(repeats):
        for name, src in (("before", baseline), ("after", here)):
            env = {**os.environ, "PYTHONPATH": src, "BENCH_BASELINE_SRC": ""}
            done = subprocess.run(
                [sys.executable, __file__, "--lag-json"], env=env, capture_output=True, text=True, check=True
            )
            rows[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\nThe default executor before (`BENCH_BASELINE_SRC`) and after, each in a fresh process, {repeats} "
        f"times alternating (median of the runs; 1-minute load average {load:.1f} at the end):\n"
    )
    print("| tree | lag p99 (ms) | lag max (ms) | loop CPU µs per request |")
    print("|---|---|---|---|")
    for name, runs in rows.items():
        p99, worst, cpu_us = (statistics.median(column) for column in zip(*runs, strict=True))
        print(f"| {name} | {p99:.2f} | {worst:.2f} | {cpu_us:.0f} |")


# -- The prefilter: Presidio calls and time per 1 KB prompt ----------------------------------------------

CLEAN_PROMPT = (
    "Summarise the attached incident notes for the on-call channel. The outage began at 09:12 UTC on 2 June "
    "when the queue workers lost their database connections; retries piled up until the autoscaler added 3 "
    "nodes. Error rates peaked at 14% for about 20 minutes, then fell back under 1% after the rollback of "
    "release 2024.06. Please list the follow-ups by owner and keep it under 200 words. "
) * 3
PII_PROMPT = (
    "Customer Ada wrote from ada.lovelace@example.com and asked us to call her back on +1 415 555 0132; "
    "her order ships to the warehouse at 10.20.30.40. "
)


def prompt_body(text: str) -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}


async def per_request(redactor: Redactor, body: dict[str, Any], n: int) -> tuple[float, float, float]:
    """Median wall ms, CPU ms (every thread of this process) and Presidio calls per redaction."""
    analyzer = redactor.engine._analyzer
    calls = analyzer.presidio_calls if analyzer is not None else 0
    walls = []
    cpu = time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        await redactor.redact(body, principal="bench")
        walls.append(time.perf_counter() - t)
    cpu_ms = (time.process_time() - cpu) / n * 1000
    made = (analyzer.presidio_calls - calls) / n if analyzer is not None else float("nan")
    return statistics.median(walls) * 1000, cpu_ms, made


async def prefilter_section() -> None:
    clean = prompt_body(CLEAN_PROMPT[:1024])
    pii = prompt_body((CLEAN_PROMPT[:700] + PII_PROMPT)[:1024])
    base = {"hmac_key": "bench", "phone_regions": ("US",), "workers": 2, "timeout": 60}
    thread = Redactor(engine=PIIEngine(PIIConfig(**base, executor="thread")))
    default = Redactor(engine=PIIEngine(PIIConfig(**base)))
    analyzer = thread.engine._analyzer
    assert analyzer is not None
    light = thread.engine._light
    print(
        "\nThe prefilter before Presidio, 1 KB prompts (one user message), thread pool unless said; CPU is "
        "every thread of this process (the pool's work included), Presidio calls per request:\n"
    )
    print("| prompt | engine | Presidio calls | ms per request (median) | CPU ms per request |")
    print("|---|---|---|---|---|")
    for name, body in (("no PII (prose, times, numbers)", clean), ("PII (e-mail, phone, IP)", pii)):
        rows = []
        analyzer.use_prefilter, thread.engine._light = False, None
        rows.append(("no prefilter, every text through the pool", await per_request(thread, body, 200)))
        analyzer.use_prefilter, thread.engine._light = True, light
        rows.append(("prefilter, small clean texts inline", await per_request(thread, body, 200)))
        wall, _, _ = await per_request(default, body, 200)
        rows.append(("default: process pool, prefilter, inline", (wall, float("nan"), float("nan"))))
        for engine_name, (wall, cpu, calls) in rows:
            calls_text = "–" if calls != calls else f"{calls:.1f}"
            cpu_text = "– (workers not counted)" if cpu != cpu else f"{cpu:.2f}"
            print(f"| {name} | {engine_name} | {calls_text} | {wall:.2f} | {cpu_text} |")
    thread.close()
    default.close()


# -- Recall and precision per type on the held-out corpus ------------------------------------------------

Span = tuple[int, int, int]  # (block, start, end)
PRESIDIO_PII = ["EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "PHONE_NUMBER", "IP_ADDRESS"]


async def ours_spans(redactor: Redactor, blocks: tuple[str, ...]) -> list[Span]:
    result = await redactor.redact(body_of(blocks), principal="bench")
    content = result.body["messages"][0]["content"]
    return [
        (i, start, end)
        for i, block in enumerate(blocks)
        for _, start, end in redacted_spans(block, content[i]["text"], result.mapping)
    ]


def detect_secrets_spans(blocks: tuple[str, ...]) -> list[Span]:
    # detect-secrets scans lines and reports secret values (often a part: "ghp" for a GitHub token); each
    # reported value is located in its line.
    from detect_secrets.core.scan import scan_line

    out = []
    for i, block in enumerate(blocks):
        offset = 0
        for line in block.splitlines(keepends=True):
            for secret in scan_line(line.rstrip("\r\n")):
                value = secret.secret_value or ""
                at = line.find(value) if value else -1
                if at >= 0:
                    out.append((i, offset + at, offset + at + len(value)))
            offset += len(line)
    return out


def presidio_spans(analyzer: Any, blocks: tuple[str, ...]) -> list[Span]:
    return [
        (i, r.start, r.end)
        for i, block in enumerate(blocks)
        for r in analyzer.analyze(text=block, language="en", entities=PRESIDIO_PII)
    ]


def _touches(span: Span, labels: tuple[Span, ...]) -> bool:
    return any(b == span[0] and s < span[2] and span[1] < e for b, s, e in labels)


def tally(samples: list[tuple[Sample | None, list[Span]]], *, full: bool) -> tuple[dict[str, list[int]], int]:
    """Per kind [detected, missed, findings touching the value, findings elsewhere in the sample]; and the
    findings on look-alikes. ``full``: a value counts as detected only when every character is covered
    (claude_guard); else any overlap counts (generous to the line-based tools)."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    lookalike_findings = 0
    for sample, spans in samples:
        if sample is None:
            lookalike_findings += len(spans)
            continue
        row = per[sample.kind]
        labels = sample.spans
        if full:
            hit = all(
                all(any(i == b and s <= x < e for i, s, e in spans) for x in range(start, end))
                for b, start, end in labels
            )
        else:
            hit = any(_touches(span, labels) for span in spans)
        row[0 if hit else 1] += 1
        for span in spans:
            row[2 if _touches(span, labels) else 3] += 1
    return per, lookalike_findings


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}" if d else "–"


async def corpus_comparison(redactor: Redactor, analyzer: Any) -> None:
    from detect_secrets.settings import default_settings

    held: Corpus = corpus("held_out")
    texts: list[tuple[Sample | None, tuple[str, ...]]] = [(s, s.blocks) for s in held.samples]
    texts += [(None, (text,)) for _, text in held.lookalikes]
    ours = [(sample, await ours_spans(redactor, blocks)) for sample, blocks in texts]
    with default_settings():
        theirs_ds = [(sample, detect_secrets_spans(blocks)) for sample, blocks in texts]
    theirs_presidio = [(sample, presidio_spans(analyzer, blocks)) for sample, blocks in texts]
    o, o_look = tally(ours, full=True)
    d, d_look = tally(theirs_ds, full=False)
    p, p_look = tally(theirs_presidio, full=False)
    values = {s.kind: 0 for s in held.samples}
    for s in held.samples:
        values[s.kind] += 1
    print(
        f"\nHeld-out corpus (tests/data/secrets_corpus.py, seed {SEED_NOTE}): {len(held.samples)} texts "
        f"holding a value (5 values per type, each in 8 placements for credentials, 6 for PII: prose, code, "
        f"config, log, JSON tool result, split across two blocks, zero-width character inside, base64) and "
        f"{len(held.lookalikes)} look-alike texts. Recall: claude_guard counts a value found only when every "
        "character of it is redacted; detect-secrets and Presidio get any overlap (they report lines or "
        "parts). Precision: findings touching the value over all findings in that type's texts.\n"
    )
    tools = ("claude_guard", "detect-secrets", "plain Presidio")
    print("| family | type | texts | " + " | ".join(f"{t} recall % | {t} precision %" for t in tools) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for family in ("credential", "pii"):
        kinds = list(dict.fromkeys(s.kind for s in held.samples if s.family == family))
        for kind in kinds:
            a, b_, c = o[kind], d[kind], p[kind]
            # detect-secrets is the reference for credentials, Presidio for PII; "n/a" for the other family.
            ds = (
                f"{_pct(b_[0], b_[0] + b_[1])} | {_pct(b_[2], b_[2] + b_[3])}"
                if family == "credential"
                else "n/a | n/a"
            )
            pr = f"{_pct(c[0], c[0] + c[1])} | {_pct(c[2], c[2] + c[3])}" if family == "pii" else "n/a | n/a"
            print(
                f"| {family} | {kind} | {values[kind]} | "
                f"{_pct(a[0], a[0] + a[1])} | {_pct(a[2], a[2] + a[3])} | {ds} | {pr} |"
            )
    for family in ("credential", "pii"):
        kinds = {s.kind for s in held.samples if s.family == family}

        def total(t: dict[str, list[int]], kinds: set[str] = kinds) -> tuple[str, str]:
            found = sum(t[k][0] for k in kinds)
            missed = sum(t[k][1] for k in kinds)
            good = sum(t[k][2] for k in kinds)
            bad = sum(t[k][3] for k in kinds)
            return _pct(found, found + missed), _pct(good, good + bad)

        (r1, p1), (r2, p2), (r3, p3) = total(o), total(d), total(p)
        n = sum(values[k] for k in kinds)
        ds = f"{r2} | {p2}" if family == "credential" else "n/a | n/a"
        pr = f"{r3} | {p3}" if family == "pii" else "n/a | n/a"
        print(f"| {family} | **all** | {n} | **{r1}** | **{p1}** | {ds} | {pr} |")
    print(
        f"\nFindings on the {len(held.lookalikes)} look-alike texts (UUIDs, hashes, git SHAs, base64 images, "
        f"versions, order numbers, ids, environment references): claude_guard {o_look}, detect-secrets "
        f"{d_look} (each reported value counts; most are its high-entropy plugins), plain Presidio {p_look}. "
        "The corpus and the recognizers were written by the same team: read these as a regression floor, not "
        "as recall on secrets written by others."
    )


SEED_NOTE = "14, held-out seed 1414"


if __name__ == "__main__":
    if sys.argv[1:] == ["--lag-json"]:
        import json

        print(json.dumps(list(asyncio.run(lag_row({})))))
    else:
        asyncio.run(main())
