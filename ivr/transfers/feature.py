"""The transfer feature: three-way, blind and emergency transfers of live calls."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.core.events import WorkOrderCreated
from ivr.core.features import AmiSubscription, Core, Feature
from ivr.transfers.api import TransferApi, TransferFeatureCodes
from ivr.transfers.events import TransferEventAdapter
from ivr.transfers.registry import TransferRegistry
from ivr.transfers.service import TransferService
from ivr.workorders import WorkOrder, WorkOrderStore


@dataclass(frozen=True)
class Transfers:
    """The feature's parts, wired once (the controller and the unit tests use this)."""

    registry: TransferRegistry
    service: TransferService
    events: TransferEventAdapter
    api: TransferApi
    codes: TransferFeatureCodes


def build(core: Core) -> Transfers:
    """Wire the transfer service, its AMI adapter, the control API and the feature codes."""
    registry = TransferRegistry()
    service = TransferService(core.ami, core.current, core.clock, core.steps, registry,
                              core.calls)

    def filed(order: WorkOrder) -> None:
        core.stream.publish(WorkOrderCreated(
            at=order.created_at, order_id=order.id, call_id=order.call_id, target=order.target,
            department=order.department, reason=order.reason))

    def stop_ringing(call_id: str) -> None:
        """The agent keyed * while the target rang: hang up the target leg."""
        async def cancel() -> None:
            await service.cancel(call_id, agent_back=False)

        core.spawn(cancel(), f"xfer-cancel-{call_id}")

    events = TransferEventAdapter(registry, core.steps, core.clock,
                                  core.need(WorkOrderStore),  # type: ignore[type-abstract]
                                  core.calls, on_workorder=filed, on_cancel_request=stop_ringing)
    return Transfers(registry, service, events, TransferApi(service),
                     TransferFeatureCodes(service, core.spawn))


def register(core: Core) -> Feature:
    """Transfers: control-API operations, ``xfer/`` feature codes, AMI events → steps."""
    parts = build(core)
    return Feature(
        name="transfers",
        agi_scripts={"xfer/": parts.codes.handle},
        ami=(AmiSubscription(TransferEventAdapter.EVENTS, queued=parts.events.handle),),
        control_ops={op: parts.api.handle for op in TransferApi.OPERATIONS},
    )
