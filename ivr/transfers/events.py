"""AMI events about transfers -> state, call-record steps and work orders.

Driven by the ``HotlineTransfer*`` user events of ``[hotline-xfer]``, the target leg's
DialBegin, and ConfBridge leave events.  After a controller restart a transfer it did
not start is rebuilt from the call store's ``transfer_requested`` step, so its outcome is
still recorded and its work order still written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ivr.ami.codec import AmiMessage
from ivr.clock import Clock
from ivr.core.callstore import CallStore
from ivr.core.events import StepRecorder
from ivr.routing.rules import OnFailure
from ivr.transfers.model import (
    IllegalTransferTransition,
    Outcome,
    TargetKind,
    Transfer,
    TransferMode,
    TransferState,
    outcome_of_dialstatus,
)
from ivr.transfers.registry import TransferRegistry, recover
from ivr.transfers.service import LEG_SUFFIX, call_id_of_conference
from ivr.workorders import WorkOrder, WorkOrderStore

log = logging.getLogger(__name__)

WorkOrderHook = Callable[[WorkOrder], None]  # e.g. the MQTT notifier, later
CancelHook = Callable[[str], None]  # the agent keyed * while the target rang: call id


class TransferEventAdapter:
    """Records every step of every transfer against its call."""

    #: the AMI events this adapter consumes
    EVENTS = frozenset({"UserEvent", "DialBegin", "DialEnd", "ConfbridgeLeave", "Hangup"})

    def __init__(self, registry: TransferRegistry, journal: StepRecorder, clock: Clock,
                 workorders: WorkOrderStore, records: CallStore,
                 on_workorder: WorkOrderHook | None = None,
                 on_cancel_request: CancelHook | None = None) -> None:
        self._registry = registry
        self._journal = journal
        self._records = records
        self._clock = clock
        self._workorders = workorders
        self._on_workorder = on_workorder
        self._on_cancel_request = on_cancel_request

    async def handle(self, event: AmiMessage) -> None:
        """Feed every AMI event (in order: the adapter reads the call store when it must)."""
        name = event.event
        if name == "UserEvent" and event.get("UserEvent").startswith("HotlineTransfer"):
            await self._user_event(event)
        elif name == "DialBegin" and event.get("Uniqueid").endswith(LEG_SUFFIX):
            transfer = await self._find(event.get("Uniqueid").removesuffix(LEG_SUFFIX), "")
            if transfer is not None:
                self._step(transfer, "transfer_ringing", dest=event.get("DestChannel"))
        elif name == "DialEnd" and event.get("DialStatus") == "ANSWER":
            self._blind_answered(event)
        elif name == "ConfbridgeLeave":
            await self._left(event)
        elif name == "Hangup":
            transfer = self._registry.for_call(event.get("Uniqueid"))
            if transfer is not None and transfer.state is not TransferState.ENDED:
                self._move(transfer, TransferState.ENDED)
                self._step(transfer, "transfer_ended")

    def _blind_answered(self, event: AmiMessage) -> None:
        """A blind transfer is answered on the caller's own Dial: the target has the caller."""
        transfer = self._registry.for_call(event.get("Uniqueid"))
        if transfer is not None and transfer.mode is TransferMode.BLIND \
                and transfer.state is TransferState.DIALLING:
            transfer.outcome = Outcome.ANSWERED
            self._move(transfer, TransferState.HANDED_OVER)
            self._step(transfer, "transfer_answered", dest=event.get("DestChannel"))

    async def _user_event(self, event: AmiMessage) -> None:
        kind = event.get("UserEvent").removeprefix("HotlineTransfer")
        transfer = await self._find(event.get("TransferId"), event.get("CallId"))
        if transfer is None:
            return
        if kind == "Dialling":
            self._move(transfer, TransferState.DIALLING)
            self._step(transfer, "transfer_dialling", attempt=event.get("Attempt"),
                       dial=event.get("Dial"))
        elif kind == "Attempt":
            status = event.get("Status")
            self._step(transfer, "transfer_attempt", attempt=event.get("Attempt"), status=status,
                       outcome=outcome_of_dialstatus(status).value)
        elif kind == "Answered":
            transfer.outcome = Outcome.ANSWERED
            self._move(transfer, TransferState.THREE_WAY)
            self._step(transfer, "transfer_answered")
        elif kind == "Failed":
            await self._failed(transfer, event.get("Status"))
        elif kind == "Returned":
            self._move(transfer, TransferState.RETURNED)
            self._step(transfer, "transfer_returned", to=event.get("To"))
        elif kind == "CancelRequest":
            self._step(transfer, "transfer_cancel_requested", by="agent-phone")
            if self._on_cancel_request is not None:
                self._on_cancel_request(transfer.call_id)
        elif kind == "Hold":
            self._step(transfer, "transfer_hold")

    async def _failed(self, transfer: Transfer, status: str) -> None:
        outcome = outcome_of_dialstatus(status)
        transfer.outcome = outcome
        order = None
        if transfer.target.on_failure is OnFailure.WORKORDER and \
                transfer.target.kind is not TargetKind.EMERGENCY:
            order = await self._create_workorder(transfer, outcome)
            transfer.workorder_id = order.id
        self._step(transfer, "transfer_failed", status=status, outcome=outcome.value,
                   workorder=order.id if order else None)
        if order is not None and self._on_workorder is not None:
            self._on_workorder(order)

    async def _create_workorder(self, transfer: Transfer, outcome: Outcome) -> WorkOrder:
        record = await self._records.get(transfer.call_id)
        decided = (record.first("decided") if record else None) or {}
        speech = (record.first("classified") if record else None) or {}
        order = await asyncio.to_thread(
            self._workorders.create, call_id=transfer.call_id, created_at=self._clock.now(),
            target=transfer.target.name,
            target_kind=transfer.target.kind.value, reason=outcome.value, summary=transfer.summary,
            department=transfer.target.description or None, line=decided.get("number"),
            skill=decided.get("skill"), caller_masked=decided.get("caller"),
            classification=speech.get("classification"), transcript=speech.get("transcript"),
            agent=transfer.agent_id)
        log.info("work order %s for call %s: transfer %s to %s %s", order.id, transfer.call_id,
                 transfer.id, transfer.target.name, outcome.value)
        return order

    async def _left(self, event: AmiMessage) -> None:
        call_id = call_id_of_conference(event.get("Conference"))
        transfer = await self._find("", call_id) if call_id else None
        if transfer is None or transfer.state is not TransferState.THREE_WAY:
            return
        if event.get("Channel") == transfer.agent_channel:
            self._move(transfer, TransferState.HANDED_OVER)
            self._step(transfer, "transfer_agent_left")
        elif event.get("Uniqueid") == transfer.id:
            self._step(transfer, "transfer_target_left")

    async def _find(self, transfer_id: str, call_id: str) -> Transfer | None:
        """By id, else the call's newest transfer; from the call store if this controller
        did not start it (it was restarted since)."""
        transfer = self._registry.get(transfer_id) if transfer_id else \
            self._registry.for_call(call_id)
        if transfer is not None:
            return transfer
        if not call_id:
            return None
        return await recover(self._records, self._registry, call_id, transfer_id)

    def _move(self, transfer: Transfer, state: TransferState) -> None:
        try:
            transfer.move(state, self._clock.now())
        except IllegalTransferTransition as exc:
            log.warning("%s (event ignored)", exc)

    def _step(self, transfer: Transfer, step: str, **data: object) -> None:
        self._journal.append(transfer.call_id, step, self._clock.now(), transfer=transfer.id,
                             target=transfer.target.name, state=transfer.state.value, **data)
