"""The ratings feature: the ``survey`` AGI script, the ``HotlineRating`` user event, and
the publisher of follow-ups closed from the command line."""

from __future__ import annotations

import asyncio

from ivr.core.events import FollowUpClosed
from ivr.core.features import AmiSubscription, Core, Feature
from ivr.core.supervisor import TaskSpec
from ivr.ratings.service import SurveyService
from ivr.ratings.store import RatingStore

#: how often closures written by ``hotline followups done`` are published on the stream
CLOSURE_POLL_S = 1.0


def register(core: Core) -> Feature:
    """Ratings: one AGI script, one queued AMI consumer, one closure publisher."""
    store = RatingStore(core.run_dir.ratings_db)
    service = SurveyService(core.current, core.clock, core.steps, store,
                            core.prompts.sound_name, core.stream.publish)
    core.provide(RatingStore, store)
    core.provide(SurveyService, service)

    async def closures() -> None:
        last = await asyncio.to_thread(store.last_closure)
        while True:
            await asyncio.sleep(CLOSURE_POLL_S)
            for seq, item in await asyncio.to_thread(store.closures_after, last):
                last = seq
                core.stream.publish(FollowUpClosed(
                    at=item.closed_at or core.clock.now(), followup_id=item.id,
                    call_id=item.call_id, group=item.group, note=item.note or "",
                    by=item.closed_by))

    return Feature(
        name="ratings",
        agi_scripts={"survey": service.handle_agi},
        ami=(AmiSubscription(frozenset({"UserEvent"}), queued=service.on_ami),),
        tasks=(TaskSpec("followup-closures", closures),),
        on_stop=store.close,
    )
