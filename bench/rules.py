"""What a routing decision costs: classification and route-to-queue over real calls.

    python bench/rules.py [--repeat 5] [--show 12]

For every queued call of the bank's day it builds what the gateway would send, then times
(in process, no gRPC) the bank configuration's classification rulesets plus its route rules,
and a heavier synthetic rule set of 20 rules using every kind of clause (comparisons, in,
contains, prefix/suffix, regex, numbers, booleans, missing values). Prints microseconds per
decision (median of --repeat passes), what loading each configuration costs (every condition
compiled and type-checked), how the real calls were routed, and (--show N) the decision of
every (day's length / N)-th call with its reasons, as its timeline would record them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from switchboard.actors.domain.classification import classify
from switchboard.actors.domain.routing import decide_queue, route_variables
from switchboard.clients.replay.bankday import load_day
from switchboard.server.config import parse_config

REPO = Path(__file__).resolve().parents[1]
DAY = REPO / "examples" / "bank" / "anonbank-1999-08-01.csv"
BANK = REPO / "examples" / "bank" / "switchboard.yaml"

HEAVY_RULES = "\n".join(
    f"      - {{name: r{i}, when: '{clause}', queue: q{i % 4}}}"
    for i, clause in enumerate(
        [
            'context.type == "XX"',
            'context.type in ["AA", "BB", "CC"]',
            'has(context.lang) && context.lang == "fr"',
            'context.vru_line.startsWith("ZZ")',
            'context.vru_line.endsWith("99")',
            'context.vru_line.matches("^AB[0-9]{3}7$")',
            "int(context.bank_priority) > 5",
            'customer.id.contains("vip")',
            "priority >= 100",
            'customer.attributes.tier == "gold"',
            'has(customer.attributes.tier) && customer.attributes.tier == "gold"',
            '!(context.type in ["PS", "PE", "IN", "NE", "NW", "TT"])',
            "size(context) > 10",
            'context.type == "NE" && int(context.bank_priority) == 2 && customer.id != ""',
            'context.type == "IN" || context.type == "NW" && priority > 50',
            'work_stream == "other"',
            "has(outputs.priority) && outputs.priority > 3",
            'context.vru_line.matches("^AA0[0-9]+$") && context.type == "TT"',
            'double(context.bank_priority) > 1.5 && context.type == "PE"',
            'context.type == "PS"',
        ]
    )
)
HEAVY = f"""
work_streams:
  - id: heavy
    channel: voice
    route:
{HEAVY_RULES}
    fallback_queue: q0
queues: [{{id: q0, type: voice}}, {{id: q1, type: voice}}, {{id: q2, type: voice}},
         {{id: q3, type: voice}}]
"""


def decide(stream, call) -> str:
    return explain(stream, call)[0]


def explain(stream, call) -> tuple[str, list[str]]:
    """The queue for `call` and the reasons, as the conversation's timeline records them."""
    context = {
        "type": call.call_type,
        "bank_priority": str(call.file_priority),
        "vru_line": call.key.split("/")[0],
    }
    # As Centre.submit does it: one CEL context, filled in by classification.
    variables = route_variables(stream.id, context, call.customer_id, {}, 0)
    classification = classify(stream.rulesets, variables)
    outputs = classification.outputs
    if outputs.priority is not None:
        variables.add_variable("priority", outputs.priority)
    decision = decide_queue(stream, variables)
    return decision.queue_id, [*classification.trace, *decision.trace]


def time_per_call(stream, calls, repeat: int) -> float:
    passes = []
    for _ in range(repeat):
        started = time.perf_counter()
        for call in calls:
            decide(stream, call)
        passes.append((time.perf_counter() - started) / len(calls))
    return statistics.median(passes) * 1e6


def load_ms(text: str, source: str, repeat: int) -> float:
    """Milliseconds to read a configuration, its conditions compiled and type-checked."""
    passes = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(20):
            parse_config(text, source)
        passes.append((time.perf_counter() - started) / 20)
    return statistics.median(passes) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--show", type=int, default=0, help="explain N calls spread over the day")
    args = parser.parse_args()
    calls = load_day(DAY).calls
    bank = parse_config(BANK.read_text(), str(BANK)).streams["bank-voice"]
    heavy = parse_config(HEAVY, "heavy.yaml").streams["heavy"]
    bank_us = time_per_call(bank, calls, args.repeat)
    heavy_us = time_per_call(heavy, calls, args.repeat)
    print(f"{len(calls)} real calls, median of {args.repeat} passes, in process")
    print(f"bank configuration (2 rulesets + 5 route rules): {bank_us:6.1f} µs per decision")
    print(f"20 route rules, every kind of clause:          {heavy_us:6.1f} µs per decision")
    bank_ms = load_ms(BANK.read_text(), str(BANK), args.repeat)
    heavy_ms = load_ms(HEAVY, "heavy.yaml", args.repeat)
    print(f"loading the bank configuration (7 conditions):  {bank_ms:6.2f} ms")
    print(f"loading the 20-rule configuration:              {heavy_ms:6.2f} ms")
    routed = Counter(decide(bank, call) for call in calls)
    print("bank routing of the day:", ", ".join(f"{q} {n}" for q, n in routed.most_common()))
    for call in calls[:: max(1, len(calls) // args.show)] if args.show else []:
        queue, reasons = explain(bank, call)
        print(f"\n{call.key}  type {call.call_type}, bank priority {call.file_priority} -> {queue}")
        for reason in reasons:
            print(f"    {reason}")


if __name__ == "__main__":
    main()
