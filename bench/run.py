"""Run every benchmark (``bench/bench_*.py``) and write their sections to docs/benchmarks.md.

    .venv/bin/python bench/run.py                 # all of them
    .venv/bin/python bench/run.py gateway ledger  # some of them (the others keep their last section)

Each benchmark prints one markdown section starting with a ``## `` heading; figures are ratios of things
measured side by side in one run, so they stay comparable across machines. Text written by hand after a
section's closing marker stays where it is.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "benchmarks.md"

sys.path.insert(0, str(HERE))
from _harness import machine  # noqa: E402

TITLES = {
    "gateway": "Gateway pass-through",
    "ledger": "Cost meter: reserve and settle",
    "pii": "PII redaction",
    "ratelimit": "Rate limits",
    "validation": "Prompt validation",
    "walker": "Request walker",
}

INTRO = """# Benchmarks

Run them all with `.venv/bin/python bench/run.py` (or name some: `bench/run.py gateway ratelimit`); each
section below is rewritten by its benchmark. Every figure compares things measured side by side in the same
run on the same machine, so read the ratios rather than the absolute numbers. Nothing here is asserted by the
test suite: speed is shown here, correctness there.
"""


def sections(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in re.finditer(r"^<!-- bench:(\w+) -->\n(.*?)^<!-- /bench:\1 -->\n", text, re.M | re.S):
        found[match.group(1)] = match.group(2)
    return found


def notes(text: str) -> dict[str, str]:
    """What was written by hand after each section's closing marker, up to the next section: it is kept
    when the section is measured again (it reads the figures, so check it still says what they show)."""
    found: dict[str, str] = {}
    for match in re.finditer(r"^<!-- /bench:(\w+) -->\n(.*?)(?=^<!-- bench:\w+ -->\n|\Z)", text, re.M | re.S):
        if match.group(2).strip():
            found[match.group(1)] = match.group(2)
    return found


def main(argv: list[str]) -> int:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    wanted = argv or available
    unknown = set(wanted) - set(available)
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    old, kept = sections(current), notes(current)
    env = dict(os.environ)
    failed = []
    for name in wanted:
        print(f"running bench_{name}.py ...", file=sys.stderr, flush=True)
        result = subprocess.run(
            [sys.executable, str(HERE / f"bench_{name}.py")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-4000:], file=sys.stderr)
            failed.append(name)
            continue
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
        text = result.stdout.strip()
        if not text.startswith("## "):
            text = f"## {TITLES.get(name, name)}\n\n{text}"
        old[name] = f"{text}\n\n_Measured {stamp} on {machine()}._\n\n"
    body = "".join(
        f"<!-- bench:{name} -->\n{old[name]}<!-- /bench:{name} -->\n{kept.get(name, '')}"
        for name in sorted(old)
    )
    DOC.write_text(INTRO + "\n" + body, encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
