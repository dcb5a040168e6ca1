"""Classification: rulesets that run in order before routing and set the work's outputs.

In each ruleset the first rule whose condition holds sets its outputs (priority, severity,
required skills, any attribute); later rulesets, and the route-to-queue rules, see what
earlier ones set as the CEL variable `outputs`. A rule that cannot be decided (a missing
value, a wrong type) is recorded and its ruleset sets nothing: work is never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cel
from switchboard.actors.domain.model import EMPTY_MAP, frozen_map
from switchboard.actors.domain.routing import Condition, ConditionFailed


@dataclass(frozen=True, slots=True)
class Outputs:
    """What classification decided. None / empty: not set by any rule."""

    priority: int | None = None
    severity: int | None = None
    skills: Mapping = field(default_factory=lambda: EMPTY_MAP)  # skill -> minimum rating
    attributes: Mapping = field(default_factory=lambda: EMPTY_MAP)  # name -> text
    capacity_profiles: tuple[str, ...] | None = None  # replaces the work stream's

    def then(self, later: Outputs) -> Outputs:
        """These outputs overridden by a later rule's (skills and attributes are merged)."""
        return Outputs(
            priority=later.priority if later.priority is not None else self.priority,
            severity=later.severity if later.severity is not None else self.severity,
            skills=frozen_map({**self.skills, **later.skills}),
            attributes=frozen_map({**self.attributes, **later.attributes}),
            capacity_profiles=later.capacity_profiles
            if later.capacity_profiles is not None
            else self.capacity_profiles,
        )

    def as_variable(self) -> dict:
        """The CEL value `outputs`: only what was set, so `has(outputs.priority)` works."""
        value: dict = {"skills": dict(self.skills), "attributes": dict(self.attributes)}
        if self.priority is not None:
            value["priority"] = self.priority
        if self.severity is not None:
            value["severity"] = self.severity
        if self.capacity_profiles is not None:
            value["capacity_profiles"] = list(self.capacity_profiles)
        return value

    def describe(self) -> str:
        parts = []
        if self.priority is not None:
            parts.append(f"priority {self.priority}")
        if self.severity is not None:
            parts.append(f"severity {self.severity}")
        parts += [f"skill {name} >= {rating}" for name, rating in self.skills.items()]
        parts += [f"{name} = {value!r}" for name, value in self.attributes.items()]
        if self.capacity_profiles is not None:
            parts.append(f"capacity profiles {', '.join(self.capacity_profiles) or 'none'}")
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True, slots=True)
class ClassificationRule:
    name: str
    condition: Condition
    sets: Outputs


@dataclass(frozen=True, slots=True)
class Ruleset:
    name: str
    rules: tuple[ClassificationRule, ...]


@dataclass(frozen=True, slots=True)
class Classification:
    outputs: Outputs
    trace: tuple[str, ...]


UNCLASSIFIED = Classification(Outputs(), ())


def classify(rulesets: tuple[Ruleset, ...], variables: Mapping | cel.Context) -> Classification:
    """Run the rulesets in order over `variables` (everything but `outputs`).

    Given a `cel.Context`, it is reused and left holding the final `outputs`: building a
    context costs ~17 µs, replacing one variable in it ~5 µs, evaluating a rule ~0.3 µs.
    """
    if not rulesets:
        return UNCLASSIFIED
    context = variables if isinstance(variables, cel.Context) else cel.Context(dict(variables))
    outputs = Outputs()
    context.add_variable("outputs", outputs.as_variable())
    trace: list[str] = []
    for ruleset in rulesets:
        for rule in ruleset.rules:
            try:
                matched = rule.condition.holds(context)
            except ConditionFailed as exc:
                trace.append(
                    f"ruleset {ruleset.name!r}: rule {rule.name!r} failed ({exc}); "
                    "the ruleset sets nothing"
                )
                break
            if matched:
                outputs = outputs.then(rule.sets)
                context.add_variable("outputs", outputs.as_variable())
                trace.append(
                    f"ruleset {ruleset.name!r}: rule {rule.name!r} set {rule.sets.describe()}"
                )
                break
        else:
            if ruleset.rules:
                trace.append(f"ruleset {ruleset.name!r}: no rule matched")
    return Classification(outputs, tuple(trace))
