"""`no-pii` and `no-leak` over 10,000-character outputs, graded as the runner grades them (the
assertion's value parsed, every kind scanned in one compiled pass, each candidate checked).

Outputs: a support answer (prose with an email, a phone number, order ids, dates and amounts);
a data-heavy one (a table of orders, amounts, dates and times: digits everywhere, the scanner's
worst case); and for `no-leak`, a 10,000-character output checked against a 4,000-character
system text. The figure is the median of 300 runs, with the best beside it.

Run by hand: python benchmarks/bench_pii.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from promptvc.evals.assertions import Observed, grade, parse_assertion  # noqa: E402

SIZE = 10_000
RUNS = 300
TARGET_MS = 1.0

SENTENCES = [
    "Thanks for reaching out about order ORD-2024-118833.",
    "Your refund of $129.99 was issued on 2024-11-03 and should arrive within 5-7 business days.",
    "If it has not arrived by 15.11.2024, write to help@acme-support.example.com.",
    "You can also call us on +1 (415) 555-0100 between 9:00 and 17:30.",
    "The tracking number 1Z999AA10123456784 shows the parcel left the depot at 06:42.",
    "Version 4.2.1 of the app shows the refund under Account > Orders > #118833.",
    "We are sorry for the wait, and we have added a 10% voucher to your account.",
    "Returns are accepted within 30 days of delivery, as our policy says.",
]


def support_answer(rng: random.Random) -> str:
    parts, size = [], 0
    while size < SIZE:
        sentence = rng.choice(SENTENCES)
        parts.append(sentence)
        size += len(sentence) + 1
    return " ".join(parts)[:SIZE]


def data_heavy(rng: random.Random) -> str:
    rows, size = [], 0
    while size < SIZE:
        row = (
            f"| {rng.randint(100000, 999999)} | {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}."
            f"2024 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} | {rng.randint(1, 999)}."
            f"{rng.randint(0, 99):02d} | {rng.randint(1, 40)} items |"
        )
        rows.append(row)
        size += len(row) + 1
    return "\n".join(rows)[:SIZE]


def timed_ms(spec: dict, seen: Observed) -> tuple[float, float, str]:
    assertion = parse_assertion(spec, where="bench", path="bench.yaml")
    grade(assertion, seen)  # compile once, as the first case of a run does
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = grade(assertion, seen)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), result.reason


def line(label: str, median: float, best: float, reason: str) -> None:
    verdict = "ok" if median < TARGET_MS else "MISSED"
    print(f"  {label:<44} {median:6.3f} ms (best {best:.3f})  target < {TARGET_MS} ms: {verdict}")
    print(f"    {reason[:100]}")


def main() -> None:
    rng = random.Random(7)
    system = " ".join(
        f"Rule {i}: answer questions about topic {i * 13} politely and cite the policy."
        for i in range(60)
    )[:4000]
    print(f"no-pii and no-leak over {SIZE:,}-character outputs ({RUNS} runs each)")
    for label, text in (
        ("no-pii, a support answer", support_answer(rng)),
        ("no-pii, a data-heavy answer", data_heavy(rng)),
    ):
        line(label, *timed_ms({"type": "no-pii"}, Observed(text, {}, "c")))
    answer = support_answer(rng)
    line(
        "no-leak system (4,000-char system text)",
        *timed_ms({"type": "no-leak"}, Observed(answer, {}, "c", system=system)),
    )


if __name__ == "__main__":
    main()
