"""The queue's selection options in the YAML file: custom selection rules, widening rings
and prioritisation buckets load as documented, and a malformed entry is refused with the
file, the line, the key and the reason."""

from __future__ import annotations

import pytest
from switchboard.actors.domain.model import AssignmentMethod
from switchboard.actors.domain.prioritisation import BucketOrder
from switchboard.actors.domain.rings import Ring, RingSkills
from switchboard.server.config import parse_config

from tests.unit.test_config import line_of, refused

BASE = """\
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
queues:
  - id: q1
    members: [a1]
{queue}
agents:
  - id: a1
    attributes: {{site: leeds, senior: true, floor: 3}}
"""


def with_queue(lines: str) -> str:
    """BASE with `lines` (YAML, indented as keys of queue q1) added to the queue."""
    return BASE.format(queue="\n".join(f"    {line}" for line in lines.strip().splitlines()))


# --- agent attributes ------------------------------------------------------------------


def test_agent_attributes_load_as_text_and_default_to_none() -> None:
    config = parse_config(with_queue(""), "centre.yaml")
    (agent,) = config.agents
    assert dict(agent.attributes) == {"site": "leeds", "senior": "true", "floor": "3"}
    text = with_queue("").replace("    attributes: {site: leeds, senior: true, floor: 3}\n", "")
    assert dict(parse_config(text).agents[0].attributes) == {}


@pytest.mark.parametrize(
    ("attributes", "key", "reason"),
    [
        ("[leeds]", "agents[0].attributes", "must map names to plain values, got a list"),
        ("{site: [a, b]}", "agents[0].attributes.site", "must be text, a number or true/false"),
        ("{site: }", "agents[0].attributes.site", "got nothing"),
    ],
)
def test_malformed_agent_attributes_are_refused(attributes: str, key: str, reason: str) -> None:
    text = with_queue("").replace("{site: leeds, senior: true, floor: 3}", attributes)
    refused(text, key, line_of(text, "attributes:"), reason)


# --- custom selection rules --------------------------------------------------------------

CUSTOM = """
method: custom
selection:
  - {name: seniors, when: 'agent.attributes.senior == "true"', order: most_idle}
  - name: leeds
    when: 'agent.attributes.site == "leeds" && agent.skills.billing >= 3'
    order: round_robin
  - {name: anyone, when: 'true'}
"""


def test_selection_rules_load_in_order_with_their_sort() -> None:
    (queue,) = parse_config(with_queue(CUSTOM)).queues
    assert queue.method is AssignmentMethod.CUSTOM
    assert [(r.name, r.order) for r in queue.selection] == [
        ("seniors", AssignmentMethod.MOST_IDLE),
        ("leeds", AssignmentMethod.ROUND_ROBIN),
        ("anyone", AssignmentMethod.HIGHEST_CAPACITY),  # the default order
    ]


@pytest.mark.parametrize(
    ("queue", "key", "needle", "reason"),
    [
        (
            "method: custom",
            "queues[0].method",
            "method: custom",
            "method custom needs `selection`",
        ),
        (
            "method: custom\nselection: []",
            "queues[0].selection",
            "selection: []",
            "method custom needs `selection`",
        ),
        (
            "method: round_robin\nselection: [{name: a, when: 'true'}]",
            "queues[0].selection",
            "selection:",
            "selection rules need `method: custom`",
        ),
        (
            "method: custom\nselection: [{name: a, when: 'context.x == \"1\"'}]",
            "queues[0].selection[0].when",
            "selection:",
            "rule 'a': unknown variable context (conditions may use agent)",
        ),
        (
            "method: custom\nselection: [{name: a, when: 'agent.skills.x >='}]",
            "queues[0].selection[0].when",
            "selection:",
            "rule 'a': Syntax error",
        ),
        (
            "method: custom\nselection: [{name: a, when: 'true', order: closest_skill_match}]",
            "queues[0].selection[0].order",
            "selection:",
            "'closest_skill_match' is not one of highest_capacity, round_robin, most_idle",
        ),
        (
            "method: custom\nselection: [{name: a, when: 'true', ordr: most_idle}]",
            "queues[0].selection[0].ordr",
            "selection:",
            "unknown key (did you mean 'order'?)",
        ),
        (
            "method: custom\nselection: [{when: 'true'}]",
            "queues[0].selection[0]",
            "selection:",
            "name is required",
        ),
        (
            "method: custom\nselection: [{name: a, when: 'true'}, {name: a, when: 'false'}]",
            "queues[0].selection[1].name",
            "selection:",
            "'a' is already used by queues[0].selection[0]",
        ),
        (
            "method: custom\nselection: {name: a, when: 'true'}",
            "queues[0].selection",
            "selection:",
            "must be a list, got a mapping",
        ),
    ],
)
def test_malformed_selection_rules_are_refused(
    queue: str, key: str, needle: str, reason: str
) -> None:
    text = with_queue(queue)
    refused(text, key, line_of(text, needle), reason)


def test_a_selection_rule_on_its_own_lines_is_refused_on_its_line() -> None:
    text = with_queue(CUSTOM.replace("agent.skills.billing >= 3", "agent.skills.billing >= "))
    refused(
        text, "queues[0].selection[1].when", line_of(text, "when: 'agent.attributes.site"), "leeds"
    )


# --- widening rings ------------------------------------------------------------------------

RINGS = """
rings:
  - {after_s: 0, min_rating: 8}
  - {after_s: 30, any_rating: true}
  - {after_s: 60.5, any_member: true}
"""


def test_rings_load_in_order() -> None:
    (queue,) = parse_config(with_queue(RINGS)).queues
    assert queue.rings == (
        Ring(0, RingSkills.MIN_RATING, 8),
        Ring(30, RingSkills.ANY_RATING),
        Ring(60.5, RingSkills.ANY_MEMBER),
    )
    (plain,) = parse_config(with_queue("")).queues
    assert plain.rings == ()


@pytest.mark.parametrize(
    ("rings", "key", "line", "reason"),
    [
        ("rings: {after_s: 0}", "queues[0].rings", 1, "must be a list, got a mapping"),
        (
            "rings: [{after_s: 5, min_rating: 8}]",
            "queues[0].rings[0].after_s",
            1,
            "the first ring must start at 0 s",
        ),
        (
            "rings:\n- {after_s: 0, min_rating: 8}\n- {after_s: 0, any_member: true}",
            "queues[0].rings[1].after_s",
            3,
            "must be later than the ring before it (0 s), got 0",
        ),
        (
            "rings:\n- {after_s: 0, min_rating: 8}\n- {after_s: 60, any_rating: true}\n"
            "- {after_s: 30, any_member: true}",
            "queues[0].rings[2].after_s",
            4,
            "must be later than the ring before it (60 s), got 30",
        ),
        ("rings: [{min_rating: 8}]", "queues[0].rings[0]", 1, "after_s is required"),
        ("rings: [{after_s: -1, min_rating: 8}]", "queues[0].rings[0].after_s", 1, "at least 0"),
        ("rings: [{after_s: soon, any_member: true}]", "queues[0].rings[0].after_s", 1, "number"),
        (
            "rings: [{after_s: 0}]",
            "queues[0].rings[0]",
            1,
            "give exactly one of min_rating: N, any_rating: true, any_member: true",
        ),
        (
            "rings: [{after_s: 0, min_rating: 5, any_member: true}]",
            "queues[0].rings[0]",
            1,
            "(got min_rating, any_member)",
        ),
        ("rings: [{after_s: 0, min_rating: 11}]", "queues[0].rings[0].min_rating", 1, "0 to 10"),
        ("rings: [{after_s: 0, min_rating: 2.5}]", "queues[0].rings[0].min_rating", 1, "whole"),
        (
            "rings: [{after_s: 0, any_member: yes please}]",
            "queues[0].rings[0].any_member",
            1,
            "write `any_member: true`",
        ),
        (
            "rings: [{after_s: 0, any_members: true}]",
            "queues[0].rings[0].any_members",
            1,
            "unknown key (did you mean 'any_member'?)",
        ),
    ],
)
def test_malformed_rings_are_refused(rings: str, key: str, line: int, reason: str) -> None:
    text = with_queue(rings)
    first = line_of(text, "rings:")
    refused(text, key, first + line - 1, reason)


# --- prioritisation buckets ------------------------------------------------------------------

BUCKETS = """
prioritisation:
  - {name: gold, when: 'customer.attributes.tier == "gold"'}
  - {name: incidents, when: 'outputs.severity >= 3', order: severity_then_age}
  - {name: leads, when: 'context.kind == "lead"', order: newest}
"""


def test_prioritisation_buckets_load_in_order_with_their_sort() -> None:
    (queue,) = parse_config(with_queue(BUCKETS)).queues
    assert [(b.name, b.order) for b in queue.prioritisation] == [
        ("gold", BucketOrder.PRIORITY_THEN_AGE),  # the default order
        ("incidents", BucketOrder.SEVERITY_THEN_AGE),
        ("leads", BucketOrder.NEWEST),
    ]


@pytest.mark.parametrize(
    ("buckets", "key", "reason"),
    [
        ("prioritisation: {name: a}", "queues[0].prioritisation", "must be a list, got a mapping"),
        ("prioritisation: [{name: a}]", "queues[0].prioritisation[0]", "when is required"),
        ("prioritisation: [{when: 'true'}]", "queues[0].prioritisation[0]", "name is required"),
        (
            "prioritisation: [{name: a, when: 'agent.name == \"x\"'}]",
            "queues[0].prioritisation[0].when",
            "rule 'a': unknown variable agent (conditions may use context, customer, outputs",
        ),
        (
            "prioritisation: [{name: a, when: 'priority >'}]",
            "queues[0].prioritisation[0].when",
            "rule 'a': Syntax error",
        ),
        (
            "prioritisation: [{name: a, when: 'true', order: fifo}]",
            "queues[0].prioritisation[0].order",
            "'fifo' is not one of priority_then_age, age, severity_then_age, newest",
        ),
        (
            "prioritisation: [{name: a, when: 'true'}, {name: a, when: 'false'}]",
            "queues[0].prioritisation[1].name",
            "'a' is already used by queues[0].prioritisation[0]",
        ),
        (
            "prioritisation: [{name: a, when: 'true', sort: age}]",
            "queues[0].prioritisation[0].sort",
            "unknown key",
        ),
    ],
)
def test_malformed_prioritisation_is_refused(buckets: str, key: str, reason: str) -> None:
    text = with_queue(buckets)
    refused(text, key, line_of(text, "prioritisation:"), reason)


def test_a_misspelt_prioritisation_key_is_refused_with_a_suggestion() -> None:
    text = with_queue("prioritization: []")
    refused(text, "queues[0].prioritization", line_of(text, "prioritization"), "'prioritisation'")
