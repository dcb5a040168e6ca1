"""Custom selection: a queue's ordered rules over its agents' static facts.

Each rule is a CEL condition over one variable, `agent` (`id`, `name`, `skills` as a map of
ratings, `attributes` as a map of text), and the order in which the agents it matches are
offered work: highest capacity, round robin or most idle. The first rule that yields an
eligible agent wins; when none does, the work stays queued.

A condition only sees facts that change when the agent is reconfigured, never presence or
load, so a queue evaluates each rule once per member (when it joins or its facts change) and
keeps one sorted index per rule: a decision walks those indexes, it never evaluates a rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import cel
from switchboard.actors.domain.cel_types import INT, STRING, map_of, object_of
from switchboard.actors.domain.model import AgentView, AssignmentMethod
from switchboard.actors.domain.routing import Condition, ConditionFailed

# The one variable selection conditions see, and its type (for checking them at load).
AGENT_VARIABLES = {
    "agent": object_of(
        id=STRING, name=STRING, skills=map_of(STRING, INT), attributes=map_of(STRING, STRING)
    )
}

# The sort orders a rule may use: those whose order needs nothing from the work item.
RULE_ORDERS = (
    AssignmentMethod.HIGHEST_CAPACITY,
    AssignmentMethod.ROUND_ROBIN,
    AssignmentMethod.MOST_IDLE,
)


@dataclass(frozen=True, slots=True)
class SelectionRule:
    name: str
    condition: Condition  # compiled with AGENT_VARIABLES
    order: AssignmentMethod  # one of RULE_ORDERS


def facts(view: AgentView) -> tuple:
    """What selection rules may look at; when it is unchanged, so are their answers."""
    return (view.name, view.skills, view.attributes)


def agent_variables(view: AgentView) -> cel.Context:
    return cel.Context(
        {
            "agent": {
                "id": view.agent_id,
                "name": view.name,
                "skills": dict(view.skills),
                "attributes": dict(view.attributes),
            }
        }
    )


def rules_matched(rules: tuple[SelectionRule, ...], view: AgentView) -> tuple[int, ...]:
    """The positions of the rules `view` matches. A rule that cannot be decided for this
    agent (a missing attribute, say) does not match it: the agent is simply not selected by
    that rule, as a route rule that fails never picks its queue."""
    if not rules:
        return ()
    variables = agent_variables(view)
    matched = []
    for position, rule in enumerate(rules):
        try:
            if rule.condition.holds(variables):
                matched.append(position)
        except ConditionFailed:
            continue
    return tuple(matched)
