"""A core for unit tests: the real event stream, call store and feature wiring, with the
configuration, clock and AMI port the test chooses (features are built by their own
``build``/``register``, never re-wired by hand in a test)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.config.engine import EngineConfig
from ivr.config.holder import ConfigHolder
from ivr.core.callstore import CallStore
from ivr.core.events import CallEvent, Event, EventStream
from ivr.core.features import Core
from ivr.core.rundir import RunDir
from ivr.prompts.library import PromptLibrary


@dataclass
class TestCore(Core):
    """A :class:`Core` whose configuration is whatever ``config()`` returns now, and that
    keeps what was spawned and published for the test to look at."""

    __test__ = False  # not a pytest class

    config_now: Callable[[], EngineConfig] | None = None
    spawned: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    published: list[Event] = field(default_factory=list)

    def current(self) -> EngineConfig:
        return self.config_now() if self.config_now is not None else self.config.current

    def run(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """``spawn``: run the work as a task the test can await."""
        self.spawned[name] = asyncio.get_running_loop().create_task(work, name=name)

    async def settle(self) -> None:
        """Wait for everything spawned so far."""
        await asyncio.gather(*self.spawned.values())

    async def drain(self) -> None:
        """Cancel what is still running (test teardown)."""
        for task in self.spawned.values():
            task.cancel()
        await asyncio.gather(*self.spawned.values(), return_exceptions=True)


def make_core(config: Callable[[], EngineConfig], calls: CallStore, clock: Any, run_dir: Path,
              ami: Callable[[], Any] = lambda: None) -> TestCore:
    """A core over an open call store; steps features record land in ``calls``."""
    stream = EventStream()
    stream.subscribe("call-store", calls.record, (CallEvent,))  # type: ignore[arg-type]
    core = TestCore(config=ConfigHolder(run_dir, loader=lambda _: config()), clock=clock,
                    stream=stream, calls=calls, run_dir=RunDir(run_dir),
                    prompts=PromptLibrary(run_dir / "recordings"), ami=ami,
                    spawn=lambda work, name: core.run(work, name), config_now=config)
    stream.subscribe("test", core.published.append)
    return core
