"""Classification and routing outcomes over gRPC, and the journal's schema migration."""

from __future__ import annotations

import json
import sqlite3

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
        assert check.execute("PRAGMA user_version").fetchone()[0] == 2
