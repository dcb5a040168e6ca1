"""Classification and routing outcomes over gRPC, and the journal's schema migration."""

from __future__ import annotations

import json
import sqlite3

from switchboard.server.storage import SCHEMA_VERSION

from tests.integration.support import CLOSED, Centre
from tests.unit.test_classification import CENTRE


async def test_classification_sets_priority_skills_and_attributes(harness) -> None:
    centre = await Centre.start(harness, CENTRE)
    response = await centre.submit(
        context={"tier": "gold", "language": "en"}, priority=1, required_skills={"english": 2}
    )
    assert response.queue_id == "vip"  # the route rule saw `outputs.priority`
    conversation = await centre.conversation(response.conversation_id)
    assert conversation.priority == 5
    assert dict(conversation.required_skills) == {"english": 4}  # the higher rating wins
    assert dict(conversation.attributes) == {"tier": "gold"}
    kinds = [e.kind for e in conversation.timeline]
    assert kinds[:4] == ["submitted", "classified", "routed", "queued"]
    classified = conversation.timeline[1].detail
    assert "ruleset 'tier': rule 'gold' set priority 5" in classified
    assert "ruleset 'language': rule 'english' set skill english >= 4" in classified


async def test_unclassified_work_keeps_what_the_gateway_sent(harness) -> None:
    centre = await Centre.start(harness, CENTRE)
    response = await centre.submit(context={"tier": "bronze", "language": "de"}, priority=3)
    assert response.queue_id == "general"
    conversation = await centre.conversation(response.conversation_id)
    assert conversation.priority == 3
    assert dict(conversation.attributes) == {}
    assert "no rule matched" in conversation.timeline[1].detail


async def test_a_journal_of_schema_1_is_migrated_and_still_read(harness, tmp_path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:
        old.executescript("""
            CREATE TABLE timeline (conversation_id TEXT NOT NULL, at REAL NOT NULL,
                kind TEXT NOT NULL, detail TEXT NOT NULL, queue_id TEXT NOT NULL,
                agent_id TEXT NOT NULL);
            CREATE TABLE conversations (id TEXT PRIMARY KEY, work_stream_id TEXT NOT NULL,
                channel TEXT NOT NULL, customer_id TEXT NOT NULL,
                customer_attributes TEXT NOT NULL, context TEXT NOT NULL,
                priority INTEGER NOT NULL, required_skills TEXT NOT NULL,
                queue_id TEXT NOT NULL, state TEXT NOT NULL, agent_id TEXT NOT NULL,
                close_reason TEXT NOT NULL, created_at REAL NOT NULL);
            PRAGMA user_version = 1;
        """)
        old.execute(
            "INSERT INTO conversations VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                "old1",
                "chat",
                "chat",
                "c9",
                "{}",
                json.dumps({"tier": "gold"}),
                5,
                "{}",
                "vip",
                "closed",
                "a1",
                "closed_by_agent",
                900.0,
            ),
        )
        old.execute(
            "INSERT INTO timeline VALUES (?,?,?,?,?,?)",
            ("old1", 900.0, "submitted", "submitted to work stream chat", "", ""),
        )
    centre = await Centre.start(harness, CENTRE, db=str(db))
    conversation = await centre.conversation("old1")
    assert conversation.state == CLOSED
    assert dict(conversation.context) == {"tier": "gold"}
    assert dict(conversation.attributes) == {}
    assert [e.kind for e in conversation.timeline] == ["submitted"]
    await harness.stop()
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


SPLIT = """
work_streams:
  - id: chat
    channel: chat
    route:
      - name: share
        when: 'context.topic == "sales"'
        split: [{queue: a, percent: 70}, {queue: b, percent: 30}]
    fallback_queue: c
queues: [{id: a}, {id: b, overflow: [{when: {work_item_limit: 3}, then: {assign_anyway: true}}]}, {id: c}]
"""


async def test_a_split_shares_work_out_in_proportion(harness) -> None:
    centre = await Centre.start(harness, SPLIT)
    queues = [(await centre.submit(context={"topic": "sales"})).queue_id for _ in range(20)]
    assert queues.count("a") == 14 and queues.count("b") == 6
    assert "aa" in "".join(queues) and "bbb" not in "".join(queues)  # interleaved, not in runs
    routed = (
        (
            await centre.conversation(
                (await centre.submit(context={"topic": "sales"})).conversation_id
            )
        )
        .timeline[1]
        .detail
    )
    assert "split a 70%, b 30%" in routed


def test_split_percentages_must_add_up() -> None:
    import pytest
    from switchboard.server.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="add up to 90"):
        parse_config(SPLIT.replace("percent: 30", "percent: 20"), "c.yaml")
    with pytest.raises(ConfigError, match="two or more different queues"):
        parse_config(SPLIT.replace("queue: b, percent: 30", "queue: a, percent: 30"), "c.yaml")
