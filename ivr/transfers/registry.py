"""The transfers this controller started or learnt about, by id and by call."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime

from ivr.core.callstore import CallStore
from ivr.routing.rules import OnFailure
from ivr.transfers.model import ResolvedTarget, TargetKind, Transfer, TransferMode, TransferState

log = logging.getLogger(__name__)


class TransferRegistry:
    """In-memory index; the call store is the durable record (``transfer_*`` steps)."""

    def __init__(self, keep: int = 5000) -> None:
        self._keep = keep
        self._by_id: OrderedDict[str, Transfer] = OrderedDict()
        self._by_call: dict[str, str] = {}

    def add(self, transfer: Transfer) -> None:
        """Remember a transfer (the newest one of its call wins)."""
        self._by_id[transfer.id] = transfer
        self._by_call[transfer.call_id] = transfer.id
        while len(self._by_id) > self._keep:
            _, old = self._by_id.popitem(last=False)
            if self._by_call.get(old.call_id) == old.id:
                del self._by_call[old.call_id]

    def get(self, transfer_id: str) -> Transfer | None:
        """A transfer by id."""
        return self._by_id.get(transfer_id)

    def for_call(self, call_id: str) -> Transfer | None:
        """The newest transfer of a call."""
        transfer_id = self._by_call.get(call_id)
        return self._by_id.get(transfer_id) if transfer_id else None

    def all(self) -> list[Transfer]:
        """Newest first."""
        return list(reversed(self._by_id.values()))


async def recover(records: CallStore, registry: TransferRegistry, call_id: str,
                  transfer_id: str = "") -> Transfer | None:
    """A transfer started before a controller restart, rebuilt from the call store's steps
    (the newest of the call unless ``transfer_id`` says which) and registered again."""
    record = await records.get(call_id)
    steps = record.steps if record else []
    requested = [s for s in steps if s["step"] == "transfer_requested"
                 and (not transfer_id or s.get("transfer") == transfer_id)]
    if not requested:
        if transfer_id:
            log.warning("transfer %s of call %s is unknown to this controller", transfer_id, call_id)
        return None
    step = requested[-1]
    transfer_id = step["transfer"]
    last_state = next((s.get("state") for s in reversed(steps)
                       if s.get("transfer") == transfer_id and s.get("state")), None)
    emergency = step["target_kind"] == TargetKind.EMERGENCY.value
    # journals written before on_failure/description were recorded: the old assumption
    on_failure = step.get("on_failure") or (OnFailure.RETURN if emergency else OnFailure.WORKORDER)
    target = ResolvedTarget(
        name=step["target"], kind=TargetKind(step["target_kind"]), dial=step["dial"], answer_s=0,
        description=step.get("description") or "", backup_dial=step.get("backup_dial"),
        on_failure=OnFailure(on_failure))
    transfer = Transfer(
        id=transfer_id, call_id=call_id, target=target, mode=TransferMode(step["mode"]),
        requested_at=datetime.fromisoformat(step["at"]), requested_by=step.get("by", "?"),
        caller_channel=step.get("caller_channel", ""), agent_channel=step.get("agent"),
        agent_id=step.get("agent_id"),
        summary=step.get("summary", ""),
        state=TransferState(last_state) if last_state else TransferState.DIALLING)
    registry.add(transfer)
    log.info("transfer %s of call %s recovered from the call store (%s)", transfer_id, call_id,
             transfer.state.value)
    return transfer
