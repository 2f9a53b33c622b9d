"""Work-order delivery rules, without I/O: who an order is for, when to resend, when to escalate.

An order is addressed to the first department that claims, in this order:

1. its transfer target (``departments.<id>.targets``: ``subcenter-12366``);
2. its line: the catalogue line's 责任单位 (``units``) or the line number (``lines``);
3. its classification's domain (``domains``);
4. ``mqtt.default_department``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ivr.catalogue.lookup import find_line
from ivr.config.engine import EngineConfig
from ivr.mqtt.settings import Delivery, MqttRules
from ivr.workorders.model import WorkOrder


def resolve_department(order: WorkOrder, rules: MqttRules,
                       config: EngineConfig | None = None) -> tuple[str, str] | None:
    """``(department id, why)`` for an order, or None when nobody claims it."""
    departments = rules.departments
    for dept_id, dept in departments.items():
        if order.target in dept.targets:
            return dept_id, f"target {order.target}"
    if order.line:
        unit = None
        if config is not None and config.region in config.catalogue.regions:
            match = find_line(config.catalogue, config.region, order.line)
            unit = match.department if match is not None else None
        for dept_id, dept in departments.items():
            if unit and unit in dept.units:
                return dept_id, f"line {order.line} 责任单位 {unit}"
        for dept_id, dept in departments.items():
            if order.line in dept.lines:
                return dept_id, f"line {order.line}"
    domain = (order.classification or {}).get("domain")
    if domain:
        for dept_id, dept in departments.items():
            if domain in dept.domains:
                return dept_id, f"domain {domain}"
    if rules.default_department is not None:
        return rules.default_department, "default department"
    return None


def resend_delay(attempts: int, policy: Delivery) -> float:
    """Seconds before the next delivery after ``attempts`` deliveries (1, 2, …): the initial
    delay doubling each time, capped at ``resend_max_s``."""
    if attempts < 1:
        return 0.0
    exponent = min(attempts - 1, 32)
    return float(min(policy.resend_initial_s * (2 ** exponent), policy.resend_max_s))


def next_attempt(now: datetime, attempts: int, policy: Delivery) -> datetime:
    """When the order is due again after its ``attempts``-th delivery at ``now``."""
    return now + timedelta(seconds=resend_delay(attempts, policy))


def escalation_due(created_at: datetime, escalated_at: datetime | None, now: datetime,
                   policy: Delivery) -> bool:
    """Whether an unacknowledged order should be escalated now (once)."""
    return escalated_at is None and (now - created_at).total_seconds() >= policy.escalate_after_s
