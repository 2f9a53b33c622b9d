"""The callback feature: missed and abandoned callers are called back by the engine.

Entries come from the dialplan's offer when nobody is logged in (``HotlineCallbackRequest``),
from callers who hang up in the queue after ``callbacks.min_abandon_wait_s``
(``QueueCallerAbandon``); a caller's new call (``HotlinePromptsDone``) cancels their pending
entry.  The ``callbacks`` task plans and dials; ``callbacks.cancel`` / ``callbacks.list``
serve ``hotline callbacks``.
"""

from __future__ import annotations

from typing import Any

from ivr.callbacks.model import CallbackError
from ivr.callbacks.ports import AcdView
from ivr.callbacks.service import WAKE_EVENTS, CallbackService
from ivr.callbacks.store import CallbackStore
from ivr.control.protocol import error, ok
from ivr.core.features import AmiSubscription, Core, Feature
from ivr.core.supervisor import TaskSpec

EVENTS = frozenset({"UserEvent", "QueueCallerAbandon"}) | WAKE_EVENTS


def register(core: Core, acd: AcdView | None = None) -> Feature:
    """Callbacks: entries from AMI events, dialled with agents ``acd`` sees free."""
    store = CallbackStore(core.run_dir.callbacks_db)
    service = CallbackService(store, acd, core.ami, core.current, core.clock, core.steps,
                              core.prompts.sound_name)

    async def cancel(_op: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            entry = await service.cancel(int(args["id"]), by=str(args.get("by") or "cli"))
        except CallbackError as exc:
            return error(str(exc))
        except (KeyError, ValueError) as exc:
            return error(f"bad arguments for callbacks.cancel: {exc}")
        return ok(entry.to_json())

    async def resync(ami: Any) -> None:
        await service.resync(ami)

    core.provide(CallbackService, service)
    return Feature(
        name="callbacks",
        ami=(AmiSubscription(EVENTS, queued=service.handle),),
        control_ops={"callbacks.cancel": cancel},
        tasks=(TaskSpec("callbacks", service.run), TaskSpec("callbacks-watchdog",
                                                             service.watchdog)),
        on_ami_session=resync,
        on_stop=store.close,
    )
