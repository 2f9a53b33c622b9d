"""Features plug into the core with one registration each.

A feature is a function ``register(core: Core) -> Feature`` that builds its services
from what the core passes in and declares what it owns:

- ``agi_scripts``: FastAGI script names it answers (``"route"``, ``"xfer/"`` for a prefix);
- ``ami``: the AMI events it consumes, with an inline handler (cheap, never blocks) or an
  async one (run in order by its own supervised consumer task);
- ``control_ops``: operations of the control API (``"transfer.start"``);
- ``tasks``: long-lived background tasks, run under the supervisor;
- ``restart_settings``: paths in ``routing_rules.yaml`` a reload may not change (they
  take effect after a restart);
- ``on_start`` (before the first call: bind a port, load a model), ``on_ami_session``
  (resync after every AMI login), ``on_reload`` (a new configuration
  was applied) and ``on_stop`` (close files).

The composition root is a list of these functions (:mod:`ivr.controller.app`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ivr.agi.server import AgiSession
from ivr.ami.codec import AmiMessage
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.core.events import CallSteps, EventStream
from ivr.core.rundir import RunDir
from ivr.core.supervisor import TaskSpec

if TYPE_CHECKING:
    from ivr.ami.client import AmiConnection
    from ivr.config.holder import ConfigHolder
    from ivr.core.callstore import CallStore
    from ivr.prompts.library import PromptLibrary

log = logging.getLogger(__name__)

AgiHandler = Callable[[AgiSession], Awaitable[None]]
ControlHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Spawn = Callable[[Coroutine[Any, Any, None], str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class AmiSubscription:
    """AMI events a feature consumes: ``events`` names them (``None``: every event)."""

    events: frozenset[str] | None
    inline: Callable[[AmiMessage], None] | None = None
    queued: Callable[[AmiMessage], Awaitable[None]] | None = None


@dataclass
class Feature:
    """What one feature registers with the core."""

    name: str
    agi_scripts: Mapping[str, AgiHandler] = field(default_factory=dict)
    ami: Sequence[AmiSubscription] = ()
    control_ops: Mapping[str, ControlHandler] = field(default_factory=dict)
    tasks: Sequence[TaskSpec] = ()
    restart_settings: Sequence[tuple[str, ...]] = ()
    on_start: Callable[[], Awaitable[None]] | None = None
    on_ami_session: Callable[[AmiConnection], Awaitable[None]] | None = None
    on_reload: Callable[[EngineConfig], Awaitable[None]] | None = None
    on_stop: Callable[[], None] | None = None


class MissingService(LookupError):
    """A feature needs a service no earlier feature provided."""


@dataclass
class Core:
    """What the core passes to every feature."""

    config: ConfigHolder
    clock: Clock
    stream: EventStream
    calls: CallStore
    run_dir: RunDir
    prompts: PromptLibrary
    ami: Callable[[], AmiConnection | None]
    spawn: Spawn
    services: dict[type[Any], Any] = field(default_factory=dict)

    @property
    def steps(self) -> CallSteps:
        """Where features record call steps (typed events on the stream)."""
        return CallSteps(self.stream)

    def current(self) -> EngineConfig:
        """The configuration in force now."""
        return self.config.current

    def provide(self, kind: type[T], service: T) -> None:
        """Offer a service to features registered later (e.g. the work-order store)."""
        self.services[kind] = service

    def need(self, kind: type[T]) -> T:
        """A service an earlier feature provided."""
        try:
            service: T = self.services[kind]
        except KeyError:
            raise MissingService(f"no feature provides {kind.__name__}; register its "
                                 "feature earlier in the list") from None
        return service


Register = Callable[[Core], Feature]


class DuplicateRegistration(ValueError):
    """Two features claim the same AGI script or control operation."""


@dataclass
class Registry:
    """Every feature's registration, merged into the dispatch tables the core uses."""

    features: list[Feature] = field(default_factory=list)
    agi: dict[str, AgiHandler] = field(default_factory=dict)
    control: dict[str, ControlHandler] = field(default_factory=dict)

    def add(self, feature: Feature) -> None:
        """Merge one feature; a script or operation claimed twice is an error."""
        for script, handler in feature.agi_scripts.items():
            if script in self.agi:
                raise DuplicateRegistration(f"AGI script {script!r} registered twice "
                                            f"(by {feature.name})")
            self.agi[script] = handler
        for op, handler2 in feature.control_ops.items():
            if op in self.control:
                raise DuplicateRegistration(f"control operation {op!r} registered twice "
                                            f"(by {feature.name})")
            self.control[op] = handler2
        self.features.append(feature)

    def agi_handler(self, script: str) -> AgiHandler | None:
        """The handler for a FastAGI script: an exact name, else the longest ``prefix/``."""
        name = script.strip("/")
        exact = self.agi.get(name)
        if exact is not None:
            return exact
        prefixes = [p for p in self.agi if p.endswith("/") and name.startswith(p)]
        return self.agi[max(prefixes, key=len)] if prefixes else None

    @property
    def restart_settings(self) -> list[tuple[str, ...]]:
        """Every setting a reload may not change."""
        return [path for f in self.features for path in f.restart_settings]

    @property
    def ami_events(self) -> frozenset[str] | None:
        """The AMI events any feature consumes (``None``: some feature wants them all)."""
        names: set[str] = set()
        for feature in self.features:
            for sub in feature.ami:
                if sub.events is None:
                    return None
                names |= sub.events
        return frozenset(names)

    def owners(self) -> list[dict[str, Any]]:
        """Who owns what: for ``docs/architecture.md`` and ``hotline check``."""
        return [{
            "feature": f.name,
            "agi": sorted(f.agi_scripts),
            "ami": sorted({e for s in f.ami for e in (s.events or {"*"})}),
            "control": sorted(f.control_ops),
            "tasks": [t.name for t in f.tasks],
            "restart_settings": [".".join(p) for p in f.restart_settings],
        } for f in self.features]
