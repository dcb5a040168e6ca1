"""The YAML loader: a good file loads with its defaults, a bad one is refused with the file,
the line, the key and a reason a person can act on.

A refusal the loader gets wrong today is written for the right behaviour and marked as a
strict expected failure whose reason starts with BUG.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from switchboard.actors.domain.model import (
    AssignmentMethod,
    Channel,
    ConversationState,
    DistributionMode,
    Presence,
    PresenceAfter,
    QueueType,
    SkillMatching,
)
from switchboard.actors.domain.routing import decide_queue, route_variables
from switchboard.server.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1}
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line of `text` containing `needle`."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(found) >= occurrence, f"{needle!r} is not in the test's YAML"
    return found[occurrence - 1]


def refused(text: str, key: str, line: int | None, *mentions: str) -> ConfigError:
    """`text` must be refused at `key` on `line`, with a message naming `mentions`."""
    text = textwrap.dedent(text)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "centre.yaml")
    error = info.value
    message = str(error)
    assert (error.key, error.line) == (key, line), message
    assert error.file == "centre.yaml"
    where = f"centre.yaml:{line}" if line else "centre.yaml"
    assert message.startswith(f"{where}: {key}: " if key else f"{where}: "), message
    assert error.reason and error.reason in message
    for text_ in mentions:
        assert text_ in message, f"{text_!r} is not in {message!r}"
    return error


def with_stream_option(option: str) -> str:
    """GOOD with one more line in the work stream, after `channel`."""
    return GOOD.replace("    channel: chat\n", f"    channel: chat\n    {option}\n")


# --- files that load ------------------------------------------------------------------


def test_the_bank_example_loads() -> None:
    config = load_config(REPO / "examples" / "bank" / "switchboard.yaml")
    assert config.source.endswith("switchboard.yaml")
    (stream,) = config.streams.values()
    assert (stream.id, stream.channel, stream.mode) == (
        "bank-voice",
        Channel.VOICE,
        DistributionMode.PUSH,
    )
    assert stream.offer_timeout_s == 20
    assert not stream.wrap_up.blocks_until_close and stream.wrap_up.seconds == 0
    assert stream.fallback_queue_id == "retail"
    assert [r.name for r in stream.route_rules] == [
        "internet-banking",
        "english-speakers",
        "stock-exchange",
        "prospects",
        "retail-banking",
    ]
    queues = {q.id: q for q in config.queues}
    assert set(queues) == {"retail", "english", "internet", "stocks", "prospects"}
    assert all(q.type is QueueType.VOICE for q in queues.values())
    assert queues["english"].method is AssignmentMethod.ROUND_ROBIN
    assert config.agents == ()
    assert config.settings.after_missed_offer is PresenceAfter.INACTIVE
    # Its rules, compiled at load, route the bank's call types.
    for call_type, queue in [
        ("PE", "english"),
        ("TT", "retail"),
        ("NE", "stocks"),
        ("XX", "retail"),
    ]:
        variables = route_variables(stream.id, {"type": call_type}, "", {}, 0)
        assert decide_queue(stream, variables).queue_id == queue, call_type


def test_a_minimal_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "centre.yaml"
    path.write_text(GOOD)
    config = load_config(path)
    stream = config.streams["chat"]
    assert stream.mode is DistributionMode.PUSH
    assert stream.cost == 1
    assert stream.allowed_presences == {Presence.AVAILABLE, Presence.BUSY}
    assert stream.offer_timeout_s == 120
    assert stream.wrap_up.blocks_until_close
    assert stream.skill_matching is SkillMatching.NONE
    assert not stream.auto_accept
    assert dict(stream.auto_close) == {ConversationState.OPEN: 1200, ConversationState.WRAP_UP: 900}
    (queue,) = config.queues
    assert (queue.type, queue.priority, queue.method, queue.members) == (
        QueueType.MESSAGING,
        1,
        AssignmentMethod.HIGHEST_CAPACITY,
        ("a1",),
    )
    (agent,) = config.agents
    assert (agent.id, agent.name, agent.capacity, dict(agent.skills)) == ("a1", "a1", 1, {})
    settings = config.settings
    assert (
        settings.decline_limit,
        settings.after_missed_offer,
        settings.after_reject,
        settings.default_agent_capacity,
    ) == (3, PresenceAfter.INACTIVE, PresenceAfter.KEEP, 1)


def test_auto_close_overrides_and_zero_turns_a_default_off() -> None:
    config = parse_config(with_stream_option("auto_close: {open: 60, wrap_up: 0, waiting: 3600}"))
    assert dict(config.streams["chat"].auto_close) == {
        ConversationState.OPEN: 60,
        ConversationState.WAITING: 3600,
    }


# --- unknown keys ---------------------------------------------------------------------


def test_an_unknown_key_is_refused_with_a_suggestion() -> None:
    text = with_stream_option("ofer_timeout_s: 5")
    error = refused(
        text,
        "work_streams[0].ofer_timeout_s",
        line_of(text, "ofer_timeout_s"),
        "unknown key",
        "did you mean 'offer_timeout_s'?",
        "allowed here:",
        "fallback_queue",
    )
    assert "offer_timeout_s" in error.reason


@pytest.mark.parametrize(
    ("text", "key", "needle", "hint"),
    [
        (
            "settings:\n  decline_limt: 2\n" + GOOD,
            "settings.decline_limt",
            "decline_limt",
            "'decline_limit'",
        ),
        (
            GOOD.replace("{id: q1, members", "{id: q1, memebers"),
            "queues[0].memebers",
            "memebers",
            "'members'",
        ),
        (
            GOOD.replace("{id: a1}", "{id: a1, skils: {x: 1}}"),
            "agents[0].skils",
            "skils",
            "'skills'",
        ),
        (GOOD + "agent:\n  - {id: a2}\n", "agent", "agent:", "'agents'"),
        (
            with_stream_option("auto_close: {opne: 5}"),
            "work_streams[0].auto_close.opne",
            "opne",
            "'open'",
        ),
        (
            with_stream_option("route:\n      - {name: r, when: 'true', queue: q1, wehn: x}"),
            "work_streams[0].route[0].wehn",
            "wehn",
            "'when'",
        ),
    ],
    ids=["settings", "queue", "agent", "top-level", "auto-close", "route-rule"],
)
def test_unknown_keys_are_refused_everywhere(text: str, key: str, needle: str, hint: str) -> None:
    refused(text, key, line_of(text, needle), "unknown key", f"did you mean {hint}?")


def test_an_unknown_key_with_no_close_match_lists_what_is_allowed() -> None:
    text = GOOD + "zzz: 1\n"
    error = refused(
        text,
        "zzz",
        line_of(text, "zzz"),
        "unknown key; allowed here: agents, capacity_profiles, queues, settings, work_streams",
    )
    assert "did you mean" not in str(error)


def test_a_key_given_twice_is_refused() -> None:
    text = with_stream_option("channel: sms")
    refused(text, "work_streams[0].channel", line_of(text, "channel: sms"), "appears twice")


def test_keys_must_be_text() -> None:
    text = GOOD.replace("{id: a1}", "{id: a1, 5: x}")
    refused(text, "agents[0]", line_of(text, "5: x"), "keys must be text", "5")


# --- wrong types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "key", "reason"),
    [
        (
            "offer_timeout_s: soon",
            "work_streams[0].offer_timeout_s",
            "must be a number, got 'soon'",
        ),
        ("offer_timeout_s: true", "work_streams[0].offer_timeout_s", "must be a number, got True"),
        ("cost: 1.5", "work_streams[0].cost", "must be a whole number, got 1.5"),
        ("cost: 0", "work_streams[0].cost", "must be at least 1, got 0"),
        ("offer_timeout_s: 0", "work_streams[0].offer_timeout_s", "must be at least 1"),
        (
            "auto_accept: yes please",
            "work_streams[0].auto_accept",
            "must be true or false, got 'yes please'",
        ),
        (
            "wrap_up: sometimes",
            "work_streams[0].wrap_up",
            "must be always, none or seconds, got 'sometimes'",
        ),
        ("wrap_up: -5", "work_streams[0].wrap_up", "must be always, none or seconds, got -5"),
        ("wrap_up: true", "work_streams[0].wrap_up", "got True"),
        (
            "allowed_presences: available",
            "work_streams[0].allowed_presences",
            "must be a list, got text",
        ),
        ("allowed_presences: []", "work_streams[0].allowed_presences", "at least one presence"),
        ("route: {name: r}", "work_streams[0].route", "must be a list, got a mapping"),
        ("auto_close: {open: -1}", "work_streams[0].auto_close.open", "must be at least 0"),
        ("auto_close: 60", "work_streams[0].auto_close", "must be a mapping"),
    ],
)
def test_work_stream_values_of_the_wrong_type_are_refused(
    option: str, key: str, reason: str
) -> None:
    text = with_stream_option(option)
    refused(text, key, line_of(text, option.split(":")[0] + ":"), reason)


@pytest.mark.parametrize(
    ("agent", "key", "reason"),
    [
        ("{id: a1, capacity: 2.5}", "agents[0].capacity", "must be a whole number, got 2.5"),
        ("{id: a1, capacity: true}", "agents[0].capacity", "must be a number, got True"),
        ("{id: a1, capacity: 0}", "agents[0].capacity", "must be at least 1, got 0"),
        (
            "{id: a1, skills: [french]}",
            "agents[0].skills",
            "must map skill names to ratings, got a list",
        ),
        (
            "{id: a1, skills: {french: high}}",
            "agents[0].skills.french",
            "must be a number, got 'high'",
        ),
        ("{id: a1, skills: {french: 11}}", "agents[0].skills.french", "ratings go from 0 to 10"),
        ("{id: a1, skills: {french: -1}}", "agents[0].skills.french", "must be at least 0"),
        ("{id: 5}", "agents[0].id", "must be non-empty text, got 5"),
        ("{id: ''}", "agents[0].id", "must be non-empty text"),
        ("{name: nobody}", "agents[0]", "id is required"),
        ("a1", "agents[0]", "must be a mapping of keys to values, got text"),
    ],
)
def test_agent_values_of_the_wrong_type_are_refused(agent: str, key: str, reason: str) -> None:
    text = GOOD.replace("members: [a1]", "members: []").replace("{id: a1}", agent)
    refused(text, key, line_of(text, agent), reason)


@pytest.mark.parametrize(
    ("text", "key", "needle", "reason"),
    [
        ("- a\n- b\n", "", "- a", "must be a mapping of keys to values, got a list"),
        ("just text\n", "", "just text", "must be a mapping of keys to values, got text"),
        (
            "work_streams: {id: x}\nqueues: [{id: q1}]\n",
            "work_streams",
            "work_streams",
            "must be a list, got a mapping",
        ),
        (
            "settings: [1]\n" + GOOD,
            "settings",
            "settings",
            "must be a mapping of keys to values, got a list",
        ),
        (
            "settings:\n  decline_limit: 0\n" + GOOD,
            "settings.decline_limit",
            "decline_limit",
            "must be at least 1, got 0",
        ),
        (
            "settings:\n  default_agent_capacity: two\n" + GOOD,
            "settings.default_agent_capacity",
            "default_agent_capacity",
            "must be a number",
        ),
        (
            GOOD.replace("members: [a1]", "members: a1"),
            "queues[0].members",
            "members: a1",
            "must be a list, got text",
        ),
        (
            GOOD.replace("members: [a1]", "members: [a1, 7]"),
            "queues[0].members[1]",
            "members:",
            "must be an agent id, got 7",
        ),
        (
            GOOD.replace("{id: q1, members", "{id: q1, priority: -1, members"),
            "queues[0].priority",
            "priority",
            "must be at least 0, got -1",
        ),
        (
            GOOD.replace("{id: q1, members", "{id: q1, priority: high, members"),
            "queues[0].priority",
            "priority",
            "must be a number, got 'high'",
        ),
        ("queues: [{id: q1}]\n", "", "queues", "at least one work stream is required"),
        ("work_streams: []\n", "", "work_streams", "at least one queue is required"),
        ("work_streams: []\nqueues: []\n", "queues", "queues", "at least one queue is required"),
    ],
    ids=[
        "top-level-list",
        "top-level-text",
        "streams-mapping",
        "settings-list",
        "decline-limit",
        "default-capacity",
        "members-text",
        "member-number",
        "priority-negative",
        "priority-text",
        "no-streams",
        "no-queues",
        "empty-queues",
    ],
)
def test_other_values_of_the_wrong_type_are_refused(
    text: str, key: str, needle: str, reason: str
) -> None:
    refused(text, key, line_of(text, needle), reason)


# --- unknown names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "needle", "reason"),
    [
        (
            GOOD.replace("channel: chat", "channel: vioce"),
            "work_streams[0].channel",
            "vioce",
            "'vioce' is not one of chat, voice, sms, social, email, record, custom",
        ),
        (
            with_stream_option("mode: shove"),
            "work_streams[0].mode",
            "shove",
            "'shove' is not one of push, pick",
        ),
        (
            GOOD.replace("{id: q1, members", "{id: q1, method: fastest, members"),
            "queues[0].method",
            "fastest",
            "'fastest' is not one of highest_capacity, round_robin, most_idle",
        ),
        (
            with_stream_option("allowed_presences: [available, lunch]"),
            "work_streams[0].allowed_presences[1]",
            "lunch",
            "'lunch' is not one of available, busy, busy_dnd, away, offline, inactive",
        ),
        (
            GOOD.replace("{id: q1, members", "{id: q1, type: phone, members"),
            "queues[0].type",
            "phone",
            "'phone' is not one of messaging, voice, record",
        ),
        (
            with_stream_option("skill_matching: fuzzy"),
            "work_streams[0].skill_matching",
            "fuzzy",
            "'fuzzy' is not one of none, exact, closest",
        ),
        (
            "settings:\n  after_missed_offer: sleep\n" + GOOD,
            "settings.after_missed_offer",
            "sleep",
            "'sleep' is not one of keep, inactive, busy_dnd",
        ),
    ],
    ids=[
        "channel",
        "mode",
        "method",
        "presence",
        "queue-type",
        "skill-matching",
        "after-missed-offer",
    ],
)
def test_unknown_names_are_refused_with_the_choices(
    text: str, key: str, needle: str, reason: str
) -> None:
    refused(text, key, line_of(text, needle), reason)


def test_voice_cannot_be_picked() -> None:
    text = GOOD.replace("channel: chat", "channel: voice\n    mode: pick").replace(
        "{id: q1,", "{id: q1, type: voice,"
    )
    refused(text, "work_streams[0].mode", line_of(text, "mode: pick"), "voice", "push only")


@pytest.mark.parametrize(
    ("text", "key", "needle", "reason"),
    [
        (
            GOOD.replace("fallback_queue: q1", "fallback_queue: q2"),
            "work_streams[0].fallback_queue",
            "fallback_queue",
            "unknown queue 'q2'; queues are q1",
        ),
        (
            with_stream_option("route:\n      - {name: r, when: 'true', queue: q7}"),
            "work_streams[0].route[0].queue",
            "q7",
            "unknown queue 'q7'",
        ),
        (
            GOOD.replace("{id: a1}", "{id: a1, queues: [q1, q9]}"),
            "agents[0].queues[1]",
            "q9",
            "unknown queue 'q9'",
        ),
    ],
    ids=["fallback", "route-rule", "agent-queues"],
)
def test_unknown_queues_are_refused(text: str, key: str, needle: str, reason: str) -> None:
    refused(text, key, line_of(text, needle), reason)


def test_an_unknown_agent_in_members_is_refused() -> None:
    text = GOOD.replace("members: [a1]", "members: [a1, zed]")
    refused(text, "queues[0].members[1]", line_of(text, "zed"), "unknown agent 'zed'", "agents")


def test_an_agent_listed_twice_in_members_is_refused() -> None:
    text = GOOD.replace("members: [a1]", "members: [a1, a1]")
    refused(text, "queues[0].members", line_of(text, "members"), "lists an agent twice")


@pytest.mark.parametrize(
    ("text", "key", "first", "duplicate"),
    [
        (GOOD.replace("queues:\n", "queues:\n  - {id: q1}\n"), "queues[1].id", "queues[0]", "'q1'"),
        (
            GOOD.replace("agents:\n", "agents:\n  - {id: a1, capacity: 2}\n"),
            "agents[1].id",
            "agents[0]",
            "'a1'",
        ),
        (
            GOOD.replace(
                "queues:\n", "  - {id: chat, channel: sms, fallback_queue: q1}\nqueues:\n"
            ),
            "work_streams[1].id",
            "work_streams[0]",
            "'chat'",
        ),
    ],
    ids=["queues", "agents", "work-streams"],
)
def test_duplicate_ids_are_refused(text: str, key: str, first: str, duplicate: str) -> None:
    index = int(key.split("[")[1].split("]")[0])
    section = key.split("[")[0]
    lines = [i for i, line in enumerate(text.splitlines(), 1) if line.startswith("  - ")]
    section_start = line_of(text, f"{section}:")
    items = [i for i in lines if i > section_start]
    refused(text, key, items[index], f"{duplicate} is already used by {first}")


# --- route rules ----------------------------------------------------------------------


def test_a_rule_with_a_syntax_error_is_refused_with_its_position() -> None:
    text = with_stream_option("route:\n      - {name: gold, when: 'context.tier == ', queue: q1}")
    error = refused(
        text,
        "work_streams[0].route[0].when",
        line_of(text, "name: gold"),
        "rule 'gold'",
        "Syntax error",
        "at line 1, column 17",
    )
    assert "expecting" in error.reason


def test_a_multi_line_rule_reports_the_line_inside_the_expression() -> None:
    text = with_stream_option(
        "route:\n"
        "      - name: two-lines\n"
        "        when: |\n"
        '          context.a == "x" &&\n'
        "          context.b == )\n"
        "        queue: q1"
    )
    refused(
        text,
        "work_streams[0].route[0].when",
        line_of(text, "when: |"),
        "rule 'two-lines'",
        "at line 2, column",
    )


def test_a_rule_using_an_unknown_variable_is_refused() -> None:
    text = with_stream_option("route:\n      - {name: gold, when: 'tier == \"gold\"', queue: q1}")
    refused(
        text,
        "work_streams[0].route[0].when",
        line_of(text, "name: gold"),
        "rule 'gold'",
        "unknown variable tier",
        "context, customer, outputs, priority, work_stream",
    )


def test_a_route_rule_whose_types_cannot_work_is_refused() -> None:
    text = with_stream_option(
        "route:\n"
        "      - {name: ok, when: 'context.language == \"en\"', queue: q1}\n"
        "      - name: urgent\n"
        "        when: 'priority == \"high\"'\n"
        "        queue: q1"
    )
    error = refused(
        text,
        "work_streams[0].route[1].when",
        line_of(text, "when: 'priority"),
        "rule 'urgent'",
        '== compares values of one type, but priority is an int and "high" is a string',
        "at line 1, column 10",
    )
    assert "string(priority)" in error.reason  # what to write instead


def test_a_classification_rule_whose_types_cannot_work_is_refused() -> None:
    text = with_stream_option(
        "classify:\n"
        "      - ruleset: language\n"
        "        rules:\n"
        "          - name: english\n"
        "            when: |\n"
        "              has(context.language) &&\n"
        "                context.language > 3\n"
        "            set: {skills: {english: 1}}"
    )
    refused(
        text,
        "work_streams[0].classify[0].rules[0].when",
        line_of(text, "when: |"),
        "rule 'english'",
        "context.language is a string and 3 is an int",
        "int(context.language)",
        "at line 2, column 20",
    )


def test_a_condition_that_is_not_true_or_false_is_refused() -> None:
    text = with_stream_option("route:\n      - {name: sum, when: 'priority + 1', queue: q1}")
    refused(
        text,
        "work_streams[0].route[0].when",
        line_of(text, "name: sum"),
        "rule 'sum'",
        "a condition must give true or false, but priority + 1 gives an int",
    )


def test_a_rule_needs_a_name_a_condition_and_a_queue() -> None:
    text = with_stream_option("route:\n      - {name: r, when: 'true'}")
    refused(text, "work_streams[0].route[0]", line_of(text, "name: r"), "queue is required")
    text = with_stream_option("route:\n      - {name: r, queue: q1}")
    refused(text, "work_streams[0].route[0]", line_of(text, "name: r"), "when is required")
    text = with_stream_option("route:\n      - {name: r, when: '  ', queue: q1}")
    refused(
        text, "work_streams[0].route[0].when", line_of(text, "name: r"), "must be non-empty text"
    )


@pytest.mark.parametrize("where", ["rule", "fallback"])
def test_routing_to_a_queue_of_the_wrong_type_is_refused(where: str) -> None:
    text = GOOD.replace("queues:\n", "queues:\n  - {id: phones, type: voice}\n")
    if where == "rule":
        text = text.replace(
            "    fallback_queue: q1\n",
            "    fallback_queue: q1\n    route:\n      - {name: r, when: 'true', queue: phones}\n",
        )
        key, needle = "work_streams[0].route[0].queue", "queue: phones"
    else:
        text = text.replace("fallback_queue: q1", "fallback_queue: phones")
        key, needle = "work_streams[0].fallback_queue", "fallback_queue"
    refused(
        text,
        key,
        line_of(text, needle),
        "queue 'phones' is a voice queue",
        "chat work may only go to messaging queues",
    )


def test_email_must_go_to_a_record_queue() -> None:
    text = GOOD.replace("channel: chat", "channel: email")
    refused(
        text,
        "work_streams[0].fallback_queue",
        line_of(text, "fallback_queue"),
        "queue 'q1' is a messaging queue",
        "email work may only go to record queues",
    )


# --- files that are not YAML, or not there --------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_file_is_refused(text: str) -> None:
    refused(text, "", None, "the file is empty")


def test_an_empty_document_is_refused() -> None:
    refused("---\n", "", 2, "must be a mapping of keys to values, got nothing")


def test_invalid_yaml_is_refused_with_the_line() -> None:
    text = GOOD.replace("  - {id: a1}", "  - {id: a1\n")
    refused(text, "", line_of(text, "{id: a1") + 2, "not valid YAML")
    text = "queues:\n\t- id: q1\n"
    refused(text, "", 2, "not valid YAML", "cannot start any token")
    text = GOOD.replace("    channel: chat\n", "    channel: chat\n   mode: push\n")
    error = refused(text, "", line_of(text, "mode: push"), "not valid YAML")
    assert error.line == 4


def test_a_missing_file_is_refused_with_its_name(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "centre.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    error = info.value
    assert (error.file, error.line, error.key) == (str(missing), None, "")
    assert str(error) == f"{missing}: cannot read the file (No such file or directory)"
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "centre.yaml"
    path.write_bytes(b"queues: [{id: \xff\xfe}]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert "UTF-8" in str(info.value)


def test_the_line_points_at_the_key_in_a_longer_file() -> None:
    text = textwrap.dedent("""\
        # A centre with a comment on top.
        settings:
          decline_limit: 2

        work_streams:
          - id: chat
            channel: chat
            fallback_queue: q1
          - id: mail
            channel: email
            fallback_queue: inbox
            offer_timeout_s: -3
        queues:
          - {id: q1}
          - {id: inbox, type: record}
        """)
    refused(text, "work_streams[1].offer_timeout_s", 12, "must be at least 1, got -3")


# --- what the loader lets through today and should not --------------------------------


@pytest.mark.parametrize("name", ["5", "[x, y]", "{a: 1}"])
def test_an_agent_name_must_be_text(name: str) -> None:
    text = GOOD.replace("{id: a1}", f"{{id: a1, name: {name}}}")
    refused(text, "agents[0].name", line_of(text, "name:"), "must be non-empty text")


@pytest.mark.parametrize(
    ("agent", "key"),
    [
        ("{id: " + "a" * 129 + "}", "agents[0].id"),
        ('{id: "a\\n1"}', "agents[0].id"),
        ("{id: a1, skills: {'': 3}}", "agents[0].skills"),
    ],
    ids=["too-long", "newline", "empty-skill-name"],
)
def test_ids_follow_the_api_rules(agent: str, key: str) -> None:
    text = GOOD.replace("members: [a1]", "members: []").replace("{id: a1}", agent)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "centre.yaml")
    assert info.value.key.startswith(key)
    assert info.value.line == line_of(text, agent)


@pytest.mark.parametrize("option", ["offer_timeout_s: .nan", "auto_close: {open: .nan}"])
def test_not_a_number_is_refused(option: str) -> None:
    text = with_stream_option(option)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "centre.yaml")
    assert info.value.line == line_of(text, option.split(":")[0] + ":")
    assert "nan" in str(info.value).lower()


def test_a_missing_channel_is_reported_as_required() -> None:
    text = GOOD.replace("    channel: chat\n", "")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "centre.yaml")
    assert info.value.key in ("work_streams[0]", "work_streams[0].channel")
    assert info.value.line == line_of(text, "id: chat")
    assert "channel is required" in str(info.value)


PROFILES = """\
capacity_profiles:
  - {id: total, limit: 3, reset: end_of_day}
  - {id: hot, limit: 1}
settings:
  custom_presences: {lunch: away}
work_streams:
  - {id: cases, channel: record, capacity_profile: [total, hot], fallback_queue: r1}
  - {id: chat, channel: chat, fallback_queue: q1, cost: 2, capacity_profile: hot}
queues:
  - {id: r1, type: record, members: [a1]}
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity_profiles: [total, {id: hot, limit: 4, blocking: false}]}
"""


def test_capacity_profiles_load_with_overrides_and_defaults() -> None:
    from switchboard.actors.domain.model import ProfileReset

    config = parse_config(PROFILES)
    cases, chat = config.streams["cases"], config.streams["chat"]
    assert (cases.profiles, cases.cost) == (("total", "hot"), 0)  # profiles only: no units
    assert (chat.profiles, chat.cost) == (("hot",), 2)
    profiles = config.agents[0].profiles
    assert profiles["total"].reset is ProfileReset.END_OF_DAY and profiles["total"].limit == 3
    hot = profiles["hot"]
    assert (hot.limit, hot.reset, hot.blocking) == (4, ProfileReset.IMMEDIATE, False)
    assert config.settings.custom_presences == {"lunch": Presence.AWAY}


@pytest.mark.parametrize(
    ("old", "new", "key", "needle", "reason"),
    [
        (
            "capacity_profile: [total, hot]",
            "capacity_profile: [total, cold]",
            "work_streams[0].capacity_profile[1]",
            "cold",
            "unknown capacity profile 'cold' (capacity_profiles: total, hot)",
        ),
        (
            "capacity_profile: [total, hot]",
            "capacity_profile: [hot, hot]",
            "work_streams[0].capacity_profile",
            "hot, hot",
            "lists a capacity profile twice",
        ),
        (
            "{id: hot, limit: 1}",
            "{id: hot}",
            "capacity_profiles[1]",
            "{id: hot}",
            "limit is required",
        ),
        (
            "{id: hot, limit: 1}",
            "{id: hot, limit: 0}",
            "capacity_profiles[1].limit",
            "limit: 0",
            "at least 1",
        ),
        (
            "limit: 3, reset: end_of_day",
            "limit: 3, reset: weekly",
            "capacity_profiles[0].reset",
            "weekly",
            "'weekly' is not one of immediate, end_of_day",
        ),
        (
            "capacity_profiles: [total,",
            "capacity_profiles: [tot,",
            "agents[0].capacity_profiles[0]",
            "tot,",
            "unknown capacity profile 'tot'",
        ),
        (
            "{lunch: away}",
            "{lunch: inactive}",
            "settings.custom_presences.lunch",
            "lunch",
            "set only by the engine",
        ),
        (
            "{lunch: away}",
            "{lunch: snacking}",
            "settings.custom_presences.lunch",
            "lunch",
            "'snacking' is not one of",
        ),
        (
            "custom_presences: {lunch: away}",
            "timezone: Mars/Olympus",
            "settings.timezone",
            "Mars",
            "unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_bad_capacity_profiles_and_presences_are_refused(
    old: str, new: str, key: str, needle: str, reason: str
) -> None:
    text = PROFILES.replace(old, new)
    refused(text, key, line_of(text, needle), reason)
