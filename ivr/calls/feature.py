"""The routing feature: FastAGI ``route`` answers each call with a decision; the dialplan's
events about the call become its steps."""

from __future__ import annotations

from ivr.calls.events import CallEventAdapter
from ivr.calls.service import ListenPlanner as RoutePlanner
from ivr.calls.service import RoutingService
from ivr.core.events import CallDecided
from ivr.core.features import AmiSubscription, Core, Feature
from ivr.routing.decision import CallFacts, Decision

#: read once at start-up: the FastAGI server's budget per request
RESTART_SETTINGS = (("timing", "decision_budget_ms"),)


class RouteExtras:
    """Extra channel variables other features add to a decision (listening plans itself here)."""

    def __init__(self) -> None:
        self._planners: list[tuple[str, RoutePlanner]] = []

    def add(self, name: str, planner: RoutePlanner) -> None:
        """Register a planner under a feature's name."""
        self._planners.append((name, planner))

    def __call__(self, decision: Decision, facts: CallFacts, call_id: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for _name, planner in self._planners:
            out.update(planner(decision, facts, call_id))
        return out


def register(core: Core) -> Feature:
    """Routing: ``route`` over FastAGI, call steps from the dialplan's AMI events."""
    extras = RouteExtras()
    core.provide(RouteExtras, extras)
    routing = RoutingService(core.current, core.clock, core.steps, core.prompts.sound_name,
                             listen=extras, link_caller=core.calls.link_caller,
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
