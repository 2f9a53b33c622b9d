"""The routing feature: FastAGI ``route`` answers each call with a decision; the dialplan's
events about the call become its steps."""

from __future__ import annotations

import logging

from ivr.calls.events import CallEventAdapter
from ivr.calls.service import RouteAddition, RoutePlanner, RoutingService
from ivr.core.events import CallDecided
from ivr.core.features import AmiSubscription, Core, Feature
from ivr.routing.decision import CallFacts, Decision

#: read once at start-up: the FastAGI server's budget per request
RESTART_SETTINGS = (("timing", "decision_budget_ms"),)


log = logging.getLogger(__name__)


class RouteExtras:
    """What other features add to each routed call (listening and recording plan here):
    one :class:`RouteAddition` per feature, merged in registration order."""

    def __init__(self) -> None:
        self._planners: list[tuple[str, RoutePlanner]] = []

    def add(self, name: str, planner: RoutePlanner) -> None:
        """Register a planner under a feature's name."""
        self._planners.append((name, planner))

    def __call__(self, decision: Decision, facts: CallFacts, call_id: str) -> RouteAddition:
        variables: dict[str, str] = {}
        step: dict[str, object] = {}
        for name, planner in self._planners:
            try:
                added = planner(decision, facts, call_id)
            except Exception:  # one feature's bug costs the call that feature, not its route
                log.exception("call %s: the %s plan failed; routed without it", call_id, name)
                continue
            variables.update(added.variables)
            step.update(added.step)
        return RouteAddition(variables, step)


def register(core: Core) -> Feature:
    """Routing: ``route`` over FastAGI, call steps from the dialplan's AMI events."""
    extras = RouteExtras()
    core.provide(RouteExtras, extras)
    routing = RoutingService(core.current, core.clock, core.steps, core.prompts.sound_name,
                             extras=extras, link_caller=core.calls.link_caller,
                             durable=core.calls.flush)
    events = CallEventAdapter(core.steps, core.clock)
    # every routed call's hangup is recorded, even one that ends before any dialplan event
    core.stream.subscribe("routing-live-calls", lambda e: events.adopt(e.call_id),  # type: ignore[attr-defined]
                          (CallDecided,))
    return Feature(
        name="routing",
        agi_scripts={"route": routing.handle},
        ami=(AmiSubscription(CallEventAdapter.EVENTS, inline=events.handle),),
        restart_settings=RESTART_SETTINGS,
    )
