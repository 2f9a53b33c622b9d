"""The topic tree, built and parsed in one place (docs/events.md lists every topic).

```
<prefix>/<region>/status                          retained, QoS 1, also the last will
<prefix>/<region>/call/<call-id>/<event>          QoS 0
<prefix>/<region>/agent/<agent-id>/state          retained, QoS 1
<prefix>/<region>/queue/<skill>/stats             retained, QoS 1, at most once a second
<prefix>/<region>/controller/task                 QoS 1 (a supervised task restarted)
<prefix>/<region>/workorder/<dept>/<id>           QoS 1, resent until acknowledged
<prefix>/<region>/workorder/<dept>/<id>/reply     QoS 1, the hotline's answer to an ack/status
<prefix>/<region>/escalation/<dept>/<id>          QoS 1, retained; unacknowledged too long
<prefix>/<region>/department/<dept>/ack           QoS 1, written by the department
<prefix>/<region>/department/<dept>/status        QoS 1, written by the department
<prefix>/<region>/followup/<group>/<id>           QoS 1, a bad rating's follow-up (回访) opened/done
<prefix>/<region>/recording/disk                  retained, QoS 1, the recordings store's low-disk state
<prefix>/<region>/audit/<action>                  QoS 1, an audit entry (monitoring, export, deletion)
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

QOS_EVENT = 0
QOS_STATE = 1

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


@lru_cache(maxsize=256)
def _step_level(step: str) -> str:
    return level(step)


def level(value: str) -> str:
    """One topic level: anything but letters, digits, ``_ . -`` becomes ``_`` (no ``/+#``)."""
    cleaned = _UNSAFE.sub("_", value)
    return cleaned or "_"


@dataclass(frozen=True)
class Topics:
    """Every topic of one deployment: ``Topics("hotline", "sichuan")``."""

    prefix: str
    region: str

    @cached_property
    def root(self) -> str:
        return f"{self.prefix}/{level(self.region)}"

    @property
    def status(self) -> str:
        return f"{self.root}/status"

    def call(self, call_id: str, event: str) -> str:
        return self.call_prefix(call_id) + self.step_level(event)

    def call_prefix(self, call_id: str) -> str:
        """``<root>/call/<call-id>/``: a call's topics but the last level (the publisher
        keeps it per call)."""
        return f"{self.root}/call/{level(call_id)}/"

    @staticmethod
    def step_level(step: str) -> str:
        """A step's topic level (step names are few: remembered)."""
        return _step_level(step)

    @property
    def calls(self) -> str:
        """Subscription filter for every call event."""
        return f"{self.root}/call/+/+"

    def agent_state(self, agent_id: str) -> str:
        return f"{self.root}/agent/{level(agent_id)}/state"

    def queue_stats(self, skill: str) -> str:
        return f"{self.root}/queue/{level(skill)}/stats"

    @property
    def task(self) -> str:
        return f"{self.root}/controller/task"

    def workorder(self, department: str, order_id: str) -> str:
        return f"{self.root}/workorder/{level(department)}/{level(order_id)}"

    def workorders(self, department: str) -> str:
        """Subscription filter: a department's orders and the replies to it."""
        return f"{self.root}/workorder/{level(department)}/#"

    def reply(self, department: str, order_id: str) -> str:
        return f"{self.workorder(department, order_id)}/reply"

    def escalation(self, department: str, order_id: str) -> str:
        return f"{self.root}/escalation/{level(department)}/{level(order_id)}"

    def followup(self, group: str, followup_id: str) -> str:
        """A follow-up (回访) of a bad rating, for a supervisor group (ivr/ratings)."""
        return f"{self.root}/followup/{level(group)}/{level(followup_id)}"

    @property
    def recording_disk(self) -> str:
        """The recordings store's low-disk state (ivr/quality), retained."""
        return f"{self.root}/recording/disk"

    def audit(self, action: str) -> str:
        """An audit entry of quality control (ivr/quality): ``monitor_start``, ``export`` …"""
        return f"{self.root}/audit/{level(action)}"

    def ack(self, department: str) -> str:
        return f"{self.root}/department/{level(department)}/ack"

    def department_status(self, department: str) -> str:
        return f"{self.root}/department/{level(department)}/status"

    @property
    def department_inbox(self) -> str:
        """Subscription filter: every department's acks and status updates (the hotline's)."""
        return f"{self.root}/department/+/+"

    def parse_department(self, topic: str) -> tuple[str, str] | None:
        """``(department, "ack"|"status")`` for a department topic, else None."""
        head = f"{self.root}/department/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head):].split("/")
        if len(parts) != 2 or parts[1] not in ("ack", "status") or not parts[0]:
            return None
        return parts[0], parts[1]

    def parse_workorder(self, topic: str) -> tuple[str, str, str] | None:
        """``(department, order id, "order"|"reply")`` for a work-order topic, else None."""
        head = f"{self.root}/workorder/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head):].split("/")
        if len(parts) == 2:
            return parts[0], parts[1], "order"
        if len(parts) == 3 and parts[2] == "reply":
            return parts[0], parts[1], "reply"
        return None
