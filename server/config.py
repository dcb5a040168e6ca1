"""The YAML configuration: work streams, queues, agents and engine settings.

Loading checks everything before the server starts and refuses a bad file with the file, the
line, the key and the reason, e.g.::

    centre.yaml:14: work_streams[0].channel: 'vioce' is not one of chat, voice, sms, ...

Unknown keys are refused too, so a misspelt option never silently means its default.
"""

from __future__ import annotations

import datetime
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from switchboard.actors.domain.classification import ClassificationRule, Outputs, Ruleset
from switchboard.actors.domain.hours import DAYS, OperatingHours, parse_period
from switchboard.actors.domain.model import (
    DEFAULT_AUTO_CLOSE,
    QUEUE_TYPE_OF_CHANNEL,
    AgentSpec,
    AssignmentMethod,
    CapacityProfile,
    Channel,
    ConversationState,
    DistributionMode,
    EngineSettings,
    Presence,
    PresenceAfter,
    ProfileReset,
    QueueSpec,
    QueueType,
    RouteRule,
    SkillMatching,
    WorkStream,
    WrapUp,
    frozen_map,
)
from switchboard.actors.domain.overflow import OverflowRule, OverflowThen, OverflowWhen
from switchboard.actors.domain.prioritisation import Bucket, BucketOrder
from switchboard.actors.domain.rings import Ring, RingSkills
from switchboard.actors.domain.routing import Condition, ConditionError, compile_condition
from switchboard.actors.domain.selection import AGENT_VARIABLES, RULE_ORDERS, SelectionRule

DEFAULT_OFFER_TIMEOUT_S = 120.0
MAX_ID = 128  # as in gRPC calls (switchboard.server.validation)
DEFAULT_PRESENCES = ("available", "busy")
MAX_RATING = 10


class ConfigError(ValueError):
    def __init__(self, file: str, line: int | None, key: str, reason: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Config:
    source: str
    settings: EngineSettings
    streams: Mapping[str, WorkStream]
    queues: tuple[QueueSpec, ...]
    agents: tuple[AgentSpec, ...]


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        raise ConfigError(str(path), None, "", reason) from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError(
            source, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if node is None:
        raise ConfigError(source, None, "", "the file is empty")
    lines: dict[str, int] = {}
    data = _plain(node, "", lines, source)
    return _Reader(source, lines).config(data)


def _plain(node: yaml.Node, path: str, lines: dict[str, int], source: str) -> Any:
    """The node as plain Python data, remembering the line of every key path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                line = key_node.start_mark.line + 1
                raise ConfigError(source, line, path, f"keys must be text, got {key!r}")
            child = f"{path}.{key}" if path else key
            if key in result:
                raise ConfigError(source, key_node.start_mark.line + 1, child, "appears twice")
            result[key] = _plain(value_node, child, lines, source)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, f"{path}[{i}]", lines, source) for i, item in enumerate(node.value)]
    return _scalar(node)


_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed with it


def _scalar(node: yaml.Node) -> Any:
    """A scalar with the type safe_load would give it (int, float, bool, None, str)."""
    constructor = yaml.constructor.SafeConstructor()
    if node.tag == "tag:yaml.org,2002:str":
        return constructor.construct_scalar(node)
    return constructor.construct_object(node)


class _Reader:
    """Reads the plain data into domain values, failing with file, line, key and reason."""

    def __init__(self, source: str, lines: dict[str, int]) -> None:
        self.source = source
        self.lines = lines
        self.profiles: dict[str, CapacityProfile] = {}

    def fail(self, key: str, reason: str) -> ConfigError:
        """An error at `key`, on the line of the nearest enclosing key the file has."""
        probe = key
        while probe and probe not in self.lines:
            probe = _parent(probe)
        return ConfigError(self.source, self.lines.get(probe), key, reason)

    # --- generic readers -------------------------------------------------------------

    def mapping(self, value: Any, key: str, allowed: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping of keys to values, got {_kind(value)}")
        for name in value:
            if name not in allowed:
                hint = difflib.get_close_matches(name, sorted(allowed), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.fail(
                    _join(key, name),
                    f"unknown key{suggestion}; allowed here: {', '.join(sorted(allowed))}",
                )
        return value

    def listing(self, value: Any, key: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {_kind(value)}")
        return value

    def text(self, data: dict, name: str, key: str, default: str | None = None) -> str:
        value = data.get(name, default)
        where = _join(key, name)
        if value is None:
            raise self.fail(where if name in data else key, f"{name} is required")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"must be non-empty text, got {value!r}")
        return value

    def number(
        self,
        data: dict,
        name: str,
        key: str,
        default: float,
        *,
        minimum: float = 0,
        integer: bool = False,
    ) -> Any:
        value = data.get(name, default)
        where = _join(key, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(where, f"must be a finite number, got {value!r}")
        if integer and not float(value).is_integer():
            raise self.fail(where, f"must be a whole number, got {value!r}")
        if value < minimum:
            raise self.fail(where, f"must be at least {minimum:g}, got {value!r}")
        return int(value) if integer else float(value)

    def identifier(self, data: dict, name: str, key: str) -> str:
        """An id, held to the same rules as ids in gRPC calls so that it can be named there."""
        value = self.text(data, name, key)
        self.check_identifier(value, _join(key, name))
        return value

    def check_identifier(self, value: Any, key: str) -> None:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be non-empty text, got {value!r}")
        if len(value) > MAX_ID or not value.isprintable():
            raise self.fail(
                key, f"ids are 1-{MAX_ID} printable characters; got {len(value)}: {value[:40]!r}"
            )

    def flag(self, data: dict, name: str, key: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(_join(key, name), f"must be true or false, got {value!r}")
        return value

    def choice(self, data: dict, name: str, key: str, enum: type, default: Any) -> Any:
        value = data.get(name, default)
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(e.value for e in enum)
            raise self.fail(_join(key, name), f"{value!r} is not one of {options}") from None

    def unique_ids(self, items: list, key: str) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            item_id = item.get("id") if isinstance(item, dict) else None
            if item_id in seen:
                raise self.fail(
                    f"{key}[{i}].id", f"{item_id!r} is already used by {key}[{seen[item_id]}]"
                )
            if isinstance(item_id, str):
                seen[item_id] = i

    # --- the document ----------------------------------------------------------------

    def config(self, data: Any) -> Config:
        top = self.mapping(
            data, "", {"settings", "capacity_profiles", "work_streams", "queues", "agents"}
        )
        settings = self.settings(top.get("settings") or {}, "settings")
        profile_items = self.listing(top.get("capacity_profiles"), "capacity_profiles")
        self.unique_ids(profile_items, "capacity_profiles")
        for i, item in enumerate(profile_items):
            profile = self.profile(item, f"capacity_profiles[{i}]", None)
            self.profiles[profile.id] = profile
        queue_items = self.listing(top.get("queues"), "queues")
        if not queue_items:
            raise self.fail("queues" if "queues" in top else "", "at least one queue is required")
        self.unique_ids(queue_items, "queues")
        queues = tuple(self.queue(q, f"queues[{i}]") for i, q in enumerate(queue_items))
        self.check_overflow_targets(queues)
        queue_by_id = {q.id: q for q in queues}
        stream_items = self.listing(top.get("work_streams"), "work_streams")
        if not stream_items:
            raise self.fail(
                "work_streams" if "work_streams" in top else "",
                "at least one work stream is required",
            )
        self.unique_ids(stream_items, "work_streams")
        streams = {}
        for i, item in enumerate(stream_items):
            stream = self.stream(item, f"work_streams[{i}]", queue_by_id)
            streams[stream.id] = stream
        agent_items = self.listing(top.get("agents"), "agents")
        self.unique_ids(agent_items, "agents")
        agents = tuple(
            self.agent(a, f"agents[{i}]", queue_by_id, settings) for i, a in enumerate(agent_items)
        )
        agent_ids = {a.id for a in agents}
        for i, queue in enumerate(queues):
            for j, member in enumerate(queue.members):
                if member not in agent_ids:
                    raise self.fail(
                        f"queues[{i}].members[{j}]",
                        f"unknown agent {member!r}: list it under agents",
                    )
        return Config(self.source, settings, streams, queues, agents)

    def settings(self, data: Any, key: str) -> EngineSettings:
        data = self.mapping(
            data,
            key,
            {
                "decline_limit",
                "after_missed_offer",
                "after_reject",
                "default_agent_capacity",
                "reconnect_grace_s",
                "timezone",
                "custom_presences",
            },
        )
        customs = data.get("custom_presences") or {}
        customs_key = _join(key, "custom_presences")
        if not isinstance(customs, dict):
            raise self.fail(customs_key, f"must map names to base presences, got {_kind(customs)}")
        custom_presences = {}
        for name in customs:
            self.check_identifier(name, _join(customs_key, str(name)))
            base = self.choice(customs, name, customs_key, Presence, None)
            if base is Presence.INACTIVE:
                raise self.fail(_join(customs_key, name), "inactive is set only by the engine")
            custom_presences[name] = base
        zone = self.text(data, "timezone", key, "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                _join(key, "timezone"),
                f"unknown time zone {zone!r} (IANA names, e.g. Europe/Paris)",
            ) from None
        return EngineSettings(
            decline_limit=self.number(data, "decline_limit", key, 3, minimum=1, integer=True),
            after_missed_offer=self.choice(
                data, "after_missed_offer", key, PresenceAfter, "inactive"
            ),
            after_reject=self.choice(data, "after_reject", key, PresenceAfter, "keep"),
            reconnect_grace_s=self.number(data, "reconnect_grace_s", key, 150, minimum=0),
            default_agent_capacity=self.number(
                data, "default_agent_capacity", key, 1, minimum=1, integer=True
            ),
            timezone=zone,
            custom_presences=frozen_map(custom_presences),
        )

    def queue(self, data: Any, key: str) -> QueueSpec:
        data = self.mapping(
            data,
            key,
            {
                "id",
                "type",
                "priority",
                "method",
                "members",
                "overflow",
                "hours",
                "selection",
                "rings",
                "prioritisation",
            },
        )
        members = self.listing(data.get("members"), _join(key, "members"))
        for j, member in enumerate(members):
            if not isinstance(member, str):
                raise self.fail(f"{key}.members[{j}]", f"must be an agent id, got {member!r}")
        if len(set(members)) != len(members):
            raise self.fail(_join(key, "members"), "lists an agent twice")
        hours = None
        if data.get("hours") is not None:
            hours = self.hours(data["hours"], _join(key, "hours"))
        overflow = tuple(
            self.overflow_rule(rule, f"{key}.overflow[{j}]", hours)
            for j, rule in enumerate(self.listing(data.get("overflow"), _join(key, "overflow")))
        )
        method = self.choice(data, "method", key, AssignmentMethod, "highest_capacity")
        return QueueSpec(
            id=self.identifier(data, "id", key),
            type=self.choice(data, "type", key, QueueType, "messaging"),
            priority=self.number(data, "priority", key, 1, minimum=0, integer=True),
            method=method,
            members=tuple(members),
            overflow=overflow,
            hours=hours,
            selection=self.selection(data, key, method),
            rings=self.rings(data.get("rings"), _join(key, "rings")),
            prioritisation=self.prioritisation(
                data.get("prioritisation"), _join(key, "prioritisation")
            ),
        )

    def prioritisation(self, data: Any, key: str) -> tuple[Bucket, ...]:
        items = self.listing(data, key)
        self.unique_names(items, key, "name")
        return tuple(self.bucket(item, f"{key}[{j}]") for j, item in enumerate(items))

    def bucket(self, data: Any, key: str) -> Bucket:
        data = self.mapping(data, key, {"name", "when", "order"})
        name = self.text(data, "name", key)
        condition = self.condition(data, key, name)
        order = self.choice(data, "order", key, BucketOrder, "priority_then_age")
        return Bucket(name, condition, order)

    def rings(self, data: Any, key: str) -> tuple[Ring, ...]:
        """Widening rings: the first starts at 0 s, each later one strictly later."""
        rings: list[Ring] = []
        for j, item in enumerate(self.listing(data, key)):
            ring = self.ring(item, f"{key}[{j}]")
            where = f"{key}[{j}].after_s"
            if not rings and ring.after_s != 0:
                raise self.fail(
                    where, "the first ring must start at 0 s (it applies to work as it arrives)"
                )
            if rings and ring.after_s <= rings[-1].after_s:
                raise self.fail(
                    where,
                    f"must be later than the ring before it ({rings[-1].after_s:g} s), "
                    f"got {ring.after_s:g}",
                )
            rings.append(ring)
        return tuple(rings)

    def ring(self, data: Any, key: str) -> Ring:
        kinds = {k.value for k in RingSkills}
        data = self.mapping(data, key, {"after_s", *kinds})
        if "after_s" not in data:
            raise self.fail(key, "after_s is required (seconds waited before the ring applies)")
        after_s = self.number(data, "after_s", key, 0, minimum=0)
        given = [k for k in data if k in kinds]
        if len(given) != 1:
            raise self.fail(
                key,
                "give exactly one of min_rating: N, any_rating: true, any_member: true"
                + (f" (got {', '.join(given)})" if given else ""),
            )
        kind = RingSkills(given[0])
        if kind is RingSkills.MIN_RATING:
            rating = self.number(data, "min_rating", key, 0, minimum=0, integer=True)
            if rating > MAX_RATING:
                raise self.fail(_join(key, "min_rating"), f"ratings go from 0 to {MAX_RATING}")
            return Ring(after_s, kind, rating)
        if data[kind.value] is not True:
            raise self.fail(_join(key, kind.value), f"write `{kind.value}: true`")
        return Ring(after_s, kind)

    def selection(self, data: dict, key: str, method: AssignmentMethod) -> tuple:
        """Selection rules: given exactly when the method is custom."""
        where = _join(key, "selection")
        items = self.listing(data.get("selection"), where)
        if method is not AssignmentMethod.CUSTOM:
            if items:
                raise self.fail(where, "selection rules need `method: custom`")
            return ()
        if not items:
            raise self.fail(
                where if "selection" in data else _join(key, "method"),
                "method custom needs `selection`: a list of {name, when, order} rules",
            )
        self.unique_names(items, where, "name")
        return tuple(self.selection_rule(item, f"{where}[{j}]") for j, item in enumerate(items))

    def selection_rule(self, data: Any, key: str) -> SelectionRule:
        data = self.mapping(data, key, {"name", "when", "order"})
        name = self.text(data, "name", key)
        condition = self.condition(data, key, name, AGENT_VARIABLES)
        orders = {o.value: o for o in RULE_ORDERS}
        value = data.get("order", "highest_capacity")
        if not isinstance(value, str) or value not in orders:
            raise self.fail(_join(key, "order"), f"{value!r} is not one of {', '.join(orders)}")
        return SelectionRule(name, condition, orders[value])

    def hours(self, data: Any, key: str) -> OperatingHours:
        data = self.mapping(data, key, {"timezone", "weekly", "holidays"})
        zone_name = self.text(data, "timezone", key)
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                _join(key, "timezone"), f"unknown time zone {zone_name!r} (e.g. Europe/London)"
            ) from None
        weekly_key = _join(key, "weekly")
        weekly_data = self.mapping(data.get("weekly"), weekly_key, set(DAYS))
        if not any(weekly_data.values()):
            raise self.fail(weekly_key, "opens on no day: give at least one period")
        weekly = {}
        for day, periods in weekly_data.items():
            parsed = []
            for j, text in enumerate(self.listing(periods, _join(weekly_key, day))):
                try:
                    parsed.append(parse_period(str(text)))
                except ValueError as exc:
                    raise self.fail(f"{weekly_key}.{day}[{j}]", str(exc)) from None
            weekly[DAYS.index(day)] = tuple(sorted(parsed))
        holidays = set()
        for j, day in enumerate(self.listing(data.get("holidays"), _join(key, "holidays"))):
            try:
                holidays.add(datetime.date.fromisoformat(str(day)))
            except ValueError:
                raise self.fail(
                    f"{key}.holidays[{j}]", f"{day!r} is not a date like 2026-12-25"
                ) from None
        return OperatingHours(zone, weekly, frozenset(holidays))

    def overflow_rule(self, data: Any, key: str, hours: OperatingHours | None) -> OverflowRule:
        data = self.mapping(data, key, {"when", "then"})
        when_key, then_key = _join(key, "when"), _join(key, "then")
        if "when" not in data or "then" not in data:
            raise self.fail(key, "an overflow rule needs `when` and `then`")
        when = self.mapping(data["when"], when_key, {w.value for w in OverflowWhen})
        then = self.mapping(data["then"], then_key, {t.value for t in OverflowThen})
        if len(when) != 1 or len(then) != 1:
            raise self.fail(
                key, "give exactly one condition under `when` and one action under `then`"
            )
        ((condition, value),) = when.items()
        ((action, argument),) = then.items()
        rule = {"when": OverflowWhen(condition), "then": OverflowThen(action)}
        if rule["when"] is OverflowWhen.WORK_ITEM_LIMIT:
            rule["limit"] = self.number(when, condition, when_key, 0, minimum=0, integer=True)
        elif rule["when"] in (OverflowWhen.ESTIMATED_WAIT, OverflowWhen.WAITED):
            rule["limit"] = self.number(when, condition, when_key, 0, minimum=0)
        elif value is not True:
            raise self.fail(_join(when_key, condition), "write `outside_hours: true`")
        elif hours is None:
            raise self.fail(_join(when_key, condition), "the queue has no `hours` to be outside of")
        if rule["then"] is OverflowThen.TRANSFER:
            self.check_identifier(argument, _join(then_key, action))
            rule["target"] = argument
        elif rule["then"] is OverflowThen.END:
            if not isinstance(argument, str) or not argument.strip():
                raise self.fail(
                    _join(then_key, action), "give the reason the channel can tell the customer"
                )
            rule["reason"] = argument
        elif argument is not True:
            raise self.fail(_join(then_key, action), f"write `{action}: true`")
        return OverflowRule(**rule)

    def check_overflow_targets(self, queues: tuple[QueueSpec, ...]) -> None:
        by_id = {q.id: q for q in queues}
        for i, queue in enumerate(queues):
            for j, rule in enumerate(queue.overflow):
                if rule.then in (OverflowThen.CALLBACK, OverflowThen.VOICEMAIL) and (
                    queue.type is not QueueType.VOICE
                ):
                    raise self.fail(
                        f"queues[{i}].overflow[{j}].then.{rule.then.value}",
                        f"a {rule.then.value} is for voice queues; "
                        f"{queue.id!r} is a {queue.type.value} queue",
                    )
                if rule.then is not OverflowThen.TRANSFER:
                    continue
                where = f"queues[{i}].overflow[{j}].then.transfer_to"
                target = by_id.get(rule.target)
                if target is None:
                    raise self.fail(where, f"unknown queue {rule.target!r}")
                if target.id == queue.id:
                    raise self.fail(where, "a queue cannot overflow into itself")
                if target.type is not queue.type:
                    raise self.fail(
                        where,
                        f"queue {target.id!r} is a {target.type.value} queue; "
                        f"{queue.id!r} is {queue.type.value}",
                    )

    def stream(self, data: Any, key: str, queues: dict[str, QueueSpec]) -> WorkStream:
        data = self.mapping(
            data,
            key,
            {
                "id",
                "channel",
                "mode",
                "cost",
                "allowed_presences",
                "offer_timeout_s",
                "auto_accept",
                "skill_matching",
                "wrap_up",
                "auto_close",
                "classify",
                "route",
                "fallback_queue",
                "capacity_profile",
                "affinity",
            },
        )
        stream_id = self.identifier(data, "id", key)
        profiles = self.profile_names(data.get("capacity_profile"), _join(key, "capacity_profile"))
        if "channel" not in data:
            raise self.fail(
                key, "channel is required (one of " + ", ".join(c.value for c in Channel) + ")"
            )
        channel = self.choice(data, "channel", key, Channel, None)
        mode = self.choice(data, "mode", key, DistributionMode, "push")
        if channel is Channel.VOICE and mode is DistributionMode.PICK:
            raise self.fail(_join(key, "mode"), "voice work is push only: agents cannot pick calls")
        presences = self.listing(
            data.get("allowed_presences", list(DEFAULT_PRESENCES)), _join(key, "allowed_presences")
        )
        allowed = set()
        for j, name in enumerate(presences):
            try:
                allowed.add(Presence(name))
            except ValueError:
                options = ", ".join(p.value for p in Presence)
                raise self.fail(
                    f"{key}.allowed_presences[{j}]", f"{name!r} is not one of {options}"
                ) from None
        if not allowed:
            raise self.fail(_join(key, "allowed_presences"), "must allow at least one presence")
        unreachable = allowed & {Presence.OFFLINE, Presence.INACTIVE}
        if unreachable:
            names = ", ".join(sorted(p.value for p in unreachable))
            raise self.fail(
                _join(key, "allowed_presences"),
                f"{names}: nobody is there to answer work offered to such agents",
            )
        wrap = data.get("wrap_up", "always")
        if wrap not in ("always", "none") and (
            isinstance(wrap, bool) or not isinstance(wrap, int | float) or wrap < 0
        ):
            raise self.fail(_join(key, "wrap_up"), f"must be always, none or seconds, got {wrap!r}")
        fallback = self.text(data, "fallback_queue", key)
        self.queue_of_type(fallback, _join(key, "fallback_queue"), channel, queues)
        route_items = self.listing(data.get("route"), _join(key, "route"))
        self.unique_names(route_items, f"{key}.route", "name")
        rules = tuple(
            self.route_rule(r, f"{key}.route[{j}]", channel, queues)
            for j, r in enumerate(route_items)
        )
        ruleset_items = self.listing(data.get("classify"), _join(key, "classify"))
        self.unique_names(ruleset_items, f"{key}.classify", "ruleset")
        rulesets = tuple(
            self.ruleset(r, f"{key}.classify[{j}]") for j, r in enumerate(ruleset_items)
        )
        return WorkStream(
            id=stream_id,
            channel=channel,
            mode=mode,
            # Work measured by capacity profiles needs no units unless it says so.
            cost=self.number(
                data, "cost", key, 0 if profiles else 1, minimum=0 if profiles else 1, integer=True
            ),
            profiles=profiles,
            affinity=self.flag(data, "affinity", key, False),
            allowed_presences=frozenset(allowed),
            offer_timeout_s=self.number(
                data, "offer_timeout_s", key, DEFAULT_OFFER_TIMEOUT_S, minimum=1
            ),
            auto_accept=self.flag(data, "auto_accept", key, False),
            skill_matching=self.choice(data, "skill_matching", key, SkillMatching, "none"),
            wrap_up=WrapUp.parse(wrap),
            auto_close=self.auto_close(data.get("auto_close"), _join(key, "auto_close"), channel),
            route_rules=rules,
            fallback_queue_id=fallback,
            rulesets=rulesets,
        )

    def auto_close(self, data: Any, key: str, channel: Channel) -> Mapping:
        timeouts = dict(DEFAULT_AUTO_CLOSE[channel])
        if data is None:
            return frozen_map(timeouts)
        names = {s.value for s in ConversationState} - {"closed"}
        data = self.mapping(data, key, names)
        for name in data:
            seconds = self.number(data, name, key, 0)
            state = ConversationState(name)
            if seconds == 0:
                timeouts.pop(state, None)  # 0 turns the default off
            else:
                timeouts[state] = seconds
        return frozen_map(timeouts)

    def unique_names(self, items: list, key: str, field: str) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            name = item.get(field) if isinstance(item, dict) else None
            if isinstance(name, str) and name in seen:
                raise self.fail(
                    f"{key}[{i}].{field}",
                    f"{name!r} is already used by {key}[{seen[name]}]: the timeline names "
                    "rules, so names must tell them apart",
                )
            if isinstance(name, str):
                seen[name] = i

    def condition(
        self, data: dict, key: str, name: str, variables: Mapping | None = None
    ) -> Condition:
        source = self.text(data, "when", key)
        try:
            if variables is None:
                return compile_condition(source)
            return compile_condition(source, variables)
        except ConditionError as exc:
            raise self.fail(_join(key, "when"), f"rule {name!r}: {exc}") from None

    def ruleset(self, data: Any, key: str) -> Ruleset:
        data = self.mapping(data, key, {"ruleset", "rules"})
        name = self.text(data, "ruleset", key)
        items = self.listing(data.get("rules"), _join(key, "rules"))
        if not items:
            raise self.fail(
                _join(key, "rules") if "rules" in data else key,
                f"ruleset {name!r} needs at least one rule",
            )
        self.unique_names(items, f"{key}.rules", "name")
        return Ruleset(
            name,
            tuple(self.classification_rule(r, f"{key}.rules[{j}]") for j, r in enumerate(items)),
        )

    def classification_rule(self, data: Any, key: str) -> ClassificationRule:
        data = self.mapping(data, key, {"name", "when", "set"})
        name = self.text(data, "name", key)
        condition = self.condition(data, key, name)
        set_key = _join(key, "set")
        if "set" not in data:
            raise self.fail(key, f"rule {name!r}: set is required (what the rule decides)")
        sets = self.mapping(
            data["set"],
            set_key,
            {"priority", "severity", "skills", "attributes", "capacity_profile"},
        )
        if not sets:
            raise self.fail(set_key, f"rule {name!r} sets nothing")
        skills = {}
        skills_data = sets.get("skills") or {}
        if not isinstance(skills_data, dict):
            raise self.fail(_join(set_key, "skills"), "must map skill names to ratings")
        for skill in skills_data:
            self.check_identifier(skill, _join(set_key, f"skills.{skill}"))
            skills[skill] = self.number(
                skills_data, skill, _join(set_key, "skills"), 0, minimum=0, integer=True
            )
            if skills[skill] > MAX_RATING:
                raise self.fail(
                    _join(set_key, f"skills.{skill}"), f"ratings go from 0 to {MAX_RATING}"
                )
        attributes = sets.get("attributes") or {}
        if not isinstance(attributes, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float | bool)
            for k, v in attributes.items()
        ):
            raise self.fail(_join(set_key, "attributes"), "must map names to plain values")
        return ClassificationRule(
            name,
            condition,
            Outputs(
                priority=self.number(sets, "priority", set_key, 0, minimum=-1000, integer=True)
                if "priority" in sets
                else None,
                severity=self.number(sets, "severity", set_key, 0, minimum=0, integer=True)
                if "severity" in sets
                else None,
                skills=frozen_map(skills),
                attributes=frozen_map({k: str(v) for k, v in attributes.items()}),
                capacity_profiles=self.profile_names(
                    sets["capacity_profile"], _join(set_key, "capacity_profile")
                )
                if "capacity_profile" in sets
                else None,
            ),
        )

    def route_rule(self, data: Any, key: str, channel: Channel, queues: dict) -> RouteRule:
        data = self.mapping(data, key, {"name", "when", "queue", "split"})
        name = self.text(data, "name", key)
        condition = self.condition(data, key, name)
        if ("queue" in data) == ("split" in data):
            raise self.fail(
                key, f"rule {name!r}: queue is required (or a `split` over queues), not both"
            )
        if "queue" in data:
            queue_id = self.text(data, "queue", key)
            self.queue_of_type(queue_id, _join(key, "queue"), channel, queues)
            return RouteRule(name=name, condition=condition, queue_id=queue_id)
        split_key = _join(key, "split")
        shares = []
        for j, share in enumerate(self.listing(data["split"], split_key)):
            share_key = f"{split_key}[{j}]"
            share = self.mapping(share, share_key, {"queue", "percent"})
            queue_id = self.text(share, "queue", share_key)
            self.queue_of_type(queue_id, _join(share_key, "queue"), channel, queues)
            percent = self.number(share, "percent", share_key, 0, minimum=1, integer=True)
            shares.append((queue_id, percent))
        if len({q for q, _ in shares}) != len(shares) or len(shares) < 2:
            raise self.fail(split_key, "a split names two or more different queues")
        if sum(p for _, p in shares) != 100:
            raise self.fail(split_key, f"percents add up to {sum(p for _, p in shares)}, not 100")
        return RouteRule(name=name, condition=condition, queue_id="", split=tuple(shares))

    def queue_of_type(self, queue_id: str, key: str, channel: Channel, queues: dict) -> None:
        queue = queues.get(queue_id)
        if queue is None:
            raise self.fail(key, f"unknown queue {queue_id!r}; queues are {', '.join(queues)}")
        needed = QUEUE_TYPE_OF_CHANNEL[channel]
        if queue.type is not needed:
            raise self.fail(
                key,
                f"queue {queue_id!r} is a {queue.type.value} queue; {channel.value} work "
                f"may only go to {needed.value} queues",
            )

    def agent(
        self, data: Any, key: str, queues: dict[str, QueueSpec], settings: EngineSettings
    ) -> AgentSpec:
        data = self.mapping(
            data,
            key,
            {"id", "name", "capacity", "skills", "queues", "capacity_profiles", "attributes"},
        )
        agent_id = self.identifier(data, "id", key)
        skills_data = data.get("skills") or {}
        skills_key = _join(key, "skills")
        if not isinstance(skills_data, dict):
            raise self.fail(
                skills_key, f"must map skill names to ratings, got {_kind(skills_data)}"
            )
        skills = {}
        for skill in skills_data:
            self.check_identifier(skill, _join(skills_key, str(skill)))
            skills[skill] = self.number(skills_data, skill, skills_key, 0, minimum=0, integer=True)
            if skills[skill] > MAX_RATING:
                raise self.fail(_join(skills_key, skill), f"ratings go from 0 to {MAX_RATING}")
        queue_ids = self.listing(data.get("queues"), _join(key, "queues"))
        for j, queue_id in enumerate(queue_ids):
            if queue_id not in queues:
                raise self.fail(f"{key}.queues[{j}]", f"unknown queue {queue_id!r}")
        return AgentSpec(
            id=agent_id,
            name=self.text(data, "name", key, agent_id),
            capacity=self.number(
                data, "capacity", key, settings.default_agent_capacity, minimum=1, integer=True
            ),
            skills=frozen_map(skills),
            queue_ids=tuple(queue_ids),
            attributes=self.attributes(data.get("attributes"), _join(key, "attributes")),
            profiles=self.agent_profiles(data.get("capacity_profiles"), key),
        )

    # --- capacity profiles -----------------------------------------------------------

    def profile(self, data: Any, key: str, base: CapacityProfile | None) -> CapacityProfile:
        """A profile; with `base`, an agent's override of some of its fields."""
        data = self.mapping(data, key, {"id", "limit", "reset", "blocking"})
        profile_id = self.identifier(data, "id", key)
        if base is None and "limit" not in data:
            raise self.fail(key, "limit is required (work items at once, or per day)")
        return CapacityProfile(
            id=profile_id,
            limit=self.number(
                data, "limit", key, base.limit if base else 1, minimum=1, integer=True
            ),
            reset=self.choice(
                data, "reset", key, ProfileReset, base.reset.value if base else "immediate"
            ),
            blocking=self.flag(data, "blocking", key, base.blocking if base else True),
        )

    def profile_names(self, value: Any, key: str) -> tuple[str, ...]:
        """The profiles a work stream consumes: one id or a list of them."""
        names = [value] if isinstance(value, str) else self.listing(value, key)
        for j, name in enumerate(names):
            where = key if isinstance(value, str) else f"{key}[{j}]"
            if name not in self.profiles:
                known = ", ".join(self.profiles) or "none are defined"
                raise self.fail(
                    where, f"unknown capacity profile {name!r} (capacity_profiles: {known})"
                )
        if len(set(names)) != len(names):
            raise self.fail(key, "lists a capacity profile twice")
        return tuple(names)

    def agent_profiles(self, value: Any, key: str) -> Mapping:
        """An agent's profiles: ids, or `{id, limit, ...}` to override the profile for them."""
        key = _join(key, "capacity_profiles")
        found: dict[str, CapacityProfile] = {}
        for j, item in enumerate(self.listing(value, key)):
            where = f"{key}[{j}]"
            profile_id = item.get("id") if isinstance(item, dict) else item
            if profile_id not in self.profiles:
                known = ", ".join(self.profiles) or "none are defined"
                raise self.fail(
                    where, f"unknown capacity profile {profile_id!r} (capacity_profiles: {known})"
                )
            if profile_id in found:
                raise self.fail(where, f"capacity profile {profile_id!r} is listed twice")
            base = self.profiles[profile_id]
            found[profile_id] = base if isinstance(item, str) else self.profile(item, where, base)
        return frozen_map(found)

    def attributes(self, data: Any, key: str) -> Mapping:
        """Names to plain values, kept as text (as CEL conditions compare them)."""
        if data is None:
            return frozen_map()
        if not isinstance(data, dict):
            raise self.fail(key, f"must map names to plain values, got {_kind(data)}")
        for name, value in data.items():
            if isinstance(value, dict | list) or value is None:
                raise self.fail(
                    _join(key, name), f"must be text, a number or true/false, got {_kind(value)}"
                )
        return frozen_map({name: _text(value) for name, value in data.items()})


def _parent(key: str) -> str:
    cut = max(key.rfind("."), key.rfind("["))
    return key[:cut] if cut > 0 else ""


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _text(value: Any) -> str:
    """A plain YAML value as the text a person wrote: true, not True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


__all__ = ["Config", "ConfigError", "load_config", "parse_config"]
