"""Classification rulesets, as pure functions and as the configuration loader reads them."""

from __future__ import annotations

import textwrap

import pytest
from switchboard.actors.domain.classification import (
    ClassificationRule,
    Outputs,
    Ruleset,
    classify,
)
from switchboard.actors.domain.model import frozen_map
from switchboard.actors.domain.routing import base_variables, compile_condition
from switchboard.server.config import ConfigError, parse_config


def rule(name: str, when: str, **sets: object) -> ClassificationRule:
    return ClassificationRule(
        name,
        compile_condition(when),
        Outputs(**{k: frozen_map(v) if isinstance(v, dict) else v for k, v in sets.items()}),
    )


TIER = Ruleset(
    "tier",
    (
        rule("gold", 'context.tier == "gold"', priority=5, attributes={"tier": "gold"}),
        rule("silver", 'context.tier == "silver"', priority=2),
    ),
)
LANGUAGE = Ruleset(
    "language", (rule("english", 'context.language == "en"', skills={"english": 4}),)
)
# Sees what the first ruleset decided.
ESCALATION = Ruleset(
    "escalation",
    (
        rule(
            "gold-complaint",
            'has(outputs.priority) && outputs.priority >= 5 && context.topic == "complaint"',
            severity=3,
            skills={"retention": 6},
        ),
    ),
)


def run(context: dict, *rulesets: Ruleset):
    return classify(rulesets, base_variables("chat", context, "c1", {}, 0))


@pytest.mark.parametrize(
    ("context", "priority", "severity", "skills", "attributes"),
    [
        (
            {"tier": "gold", "language": "en", "topic": "complaint"},
            5,
            3,
            {"english": 4, "retention": 6},
            {"tier": "gold"},
        ),
        ({"tier": "gold", "language": "fr", "topic": "billing"}, 5, None, {}, {"tier": "gold"}),
        ({"tier": "silver", "language": "en", "topic": "complaint"}, 2, None, {"english": 4}, {}),
        ({"tier": "bronze", "language": "de", "topic": "x"}, None, None, {}, {}),
    ],
    ids=["gold-complaint", "gold-other", "silver", "nothing"],
)
def test_rulesets_run_in_order_and_see_earlier_outputs(
    context: dict, priority: int | None, severity: int | None, skills: dict, attributes: dict
) -> None:
    outcome = run(context, TIER, LANGUAGE, ESCALATION)
    assert outcome.outputs.priority == priority
    assert outcome.outputs.severity == severity
    assert dict(outcome.outputs.skills) == skills
    assert dict(outcome.outputs.attributes) == attributes
    assert len(outcome.trace) == 3


def test_the_first_matching_rule_of_a_ruleset_wins() -> None:
    both = Ruleset("both", (rule("first", "true", priority=1), rule("second", "true", priority=9)))
    assert run({}, both).outputs.priority == 1


def test_a_failing_rule_stops_its_ruleset_only() -> None:
    outcome = run({"language": "en"}, TIER, LANGUAGE)  # no tier: `context.tier` is missing
    assert outcome.outputs.priority is None
    assert dict(outcome.outputs.skills) == {"english": 4}
    assert "failed" in outcome.trace[0] and "tier" in outcome.trace[0]
    assert "english" in outcome.trace[1]


def test_later_rulesets_override_earlier_values() -> None:
    again = Ruleset("override", (rule("lower", "true", priority=1, skills={"english": 2}),))
    outputs = run({"tier": "gold", "language": "en"}, TIER, LANGUAGE, again).outputs
    assert outputs.priority == 1
    assert dict(outputs.skills) == {"english": 2}


CENTRE = textwrap.dedent("""\
    work_streams:
      - id: chat
        channel: chat
        classify:
          - ruleset: tier
            rules:
              - {name: gold, when: 'context.tier == "gold"', set: {priority: 5, attributes: {tier: gold}}}
          - ruleset: language
            rules:
              - {name: english, when: 'context.language == "en"', set: {skills: {english: 4}}}
        route:
          - {name: vip, when: 'has(outputs.priority) && outputs.priority >= 5', queue: vip}
        fallback_queue: general
    queues: [{id: general}, {id: vip}]
    """)


def test_the_loader_reads_rulesets() -> None:
    stream = parse_config(CENTRE, "c.yaml").streams["chat"]
    assert [r.name for r in stream.rulesets] == ["tier", "language"]
    assert stream.rulesets[0].rules[0].sets.priority == 5


GOLD_SETS = "set: {priority: 5, attributes: {tier: gold}}"


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (", " + GOLD_SETS, "", "set is required"),
        (GOLD_SETS, "set: {colour: red}", "unknown key"),
        (GOLD_SETS, "set: {priority: -5000}", "at least -1000"),
        (GOLD_SETS, "set: {skills: {english: 11}}", "ratings go from 0 to 10"),
        (GOLD_SETS, "set: {}", "sets nothing"),
        ("'context.tier == \"gold\"'", "'tiers == \"gold\"'", "unknown variable tiers"),
    ],
    ids=["no-set", "unknown-output", "priority-range", "rating", "empty-set", "bad-condition"],
)
def test_the_loader_refuses_bad_rules(old: str, new: str, reason: str) -> None:
    assert old in CENTRE
    with pytest.raises(ConfigError) as info:
        parse_config(CENTRE.replace(old, new), "c.yaml")
    assert reason in str(info.value)
    assert info.value.line == 7
    assert info.value.key.startswith("work_streams[0].classify[0].rules[0]")


def test_rule_names_must_differ() -> None:
    text = CENTRE.replace("{name: english,", "{name: gold,").replace(
        "- ruleset: language", "- ruleset: tier"
    )
    with pytest.raises(ConfigError, match="already used"):
        parse_config(text, "c.yaml")


def test_the_bank_configuration_puts_priority_customers_ahead_and_english_to_speakers() -> None:
    from pathlib import Path

    from switchboard.server.config import load_config

    bank = Path(__file__).resolve().parents[2] / "examples" / "bank" / "switchboard.yaml"
    stream = load_config(bank).streams["bank-voice"]
    vip_english = classify(
        stream.rulesets, base_variables(stream.id, {"type": "PE", "bank_priority": "2"}, "", {}, 0)
    ).outputs
    assert vip_english.priority == 1
    assert dict(vip_english.skills) == {"english": 1}
    regular = classify(
        stream.rulesets, base_variables(stream.id, {"type": "PS", "bank_priority": "0"}, "", {}, 0)
    ).outputs
    assert regular.priority is None and dict(regular.skills) == {}
