"""The composition root: which features the engine runs, in registration order.

A feature that needs another's service comes after it (transfers file work orders;
listening plans itself into routing's decisions).
"""

from __future__ import annotations

from agent_pool.feature import register as acd
from agent_pool.tracker import AcdTracker
from ivr.callbacks.feature import register as register_callbacks
from ivr.calls.feature import register as routing
from ivr.core.features import Core, Feature, Register
from ivr.listening.feature import register as listening
from ivr.metrics.feature import register as metrics
from ivr.mqtt.feature import register as mqtt
from ivr.quality.feature import register as quality
from ivr.ratings.feature import register as ratings
from ivr.transfers.feature import register as transfers
from ivr.web.feature import register as web
from ivr.workorders.feature import register as workorders


def callbacks(core: Core) -> Feature:
    """Callbacks dial with the agents the ACD sees free (its tracker, passed in here:
    features never import the ACD)."""
    return register_callbacks(core, core.need(AcdTracker))


FEATURES: tuple[Register, ...] = (
    routing,
    listening,
    acd,
    workorders,
    transfers,
    mqtt,
    callbacks,
    quality,
    ratings,
    metrics,
    web,
)
