"""The callback feature: callers promised a call back are kept in a durable store."""

from __future__ import annotations

import asyncio

from ivr.ami.codec import AmiMessage
from ivr.callbacks.store import CallbackStore
from ivr.core.features import AmiSubscription, Core, Feature

REQUEST_EVENT = "HotlineCallbackRequest"


def register(core: Core) -> Feature:
    """Callbacks: the dialplan's ``HotlineCallbackRequest`` becomes a stored request."""
    store = CallbackStore(core.run_dir.callbacks_db)

    async def requested(event: AmiMessage) -> None:
        if event.get("UserEvent") != REQUEST_EVENT:
            return
        call_id = event.get("CallId") or event.get("Uniqueid")
        await asyncio.to_thread(store.add, call_id, event.get("CallerIDNum"), event.get("Skill"),
                                core.clock.now())

    return Feature(
        name="callbacks",
        ami=(AmiSubscription(frozenset({"UserEvent"}), queued=requested),),
        on_stop=store.close,
    )
