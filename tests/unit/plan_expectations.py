"""What the five regional plans say a call should meet, as plain data.

Each row is ``(region, number, local_date, mode, phase, target_kind)``, drawn from the
plan texts in ``shared/seeds`` and the dates encoded in ``merger_catalogue.yaml``
(whose comments cite the plan item behind every date).  Window edges are covered:
the day before a transition starts, its first and last day, and the cancellation
day; for dual-number and sub-center lines the day their 12345 handling starts.

Semantics (the routing engine's vocabulary):

* mode: main (12345) | whole_merge | dual_number | sub_center | emergency
  (110/119/120/122 reaching the hotline trunk: a diverted non-emergency call) | unknown
* phase: active | transition | cancelled | not_yet_merged
* target kind: queue | expert | kept_seats | subcenter | legacy

Dates the plans do not state follow the one rule of docs/catalogue.md ("Unstated
dates"): a deadline starts the new handling the day after it, and a whole-merge window
of unstated length runs to the plan's "一个号码服务" deadline (year end 2021 for Anhui,
Chenzhou and Inner Mongolia).  Before a sub-center's start date its own seats answer
(``legacy``); a dual line before its date has no legacy endpoint in the shipped
configuration and falls back to 12345.

Deliberately absent: kept-seats rows (Fujian's 附件1, which splits kept and cancelled
seats, is not in the seed text, so no line has kept seats).

This module imports nothing from ``ivr``: it is the independent statement of the plans.
"""

from __future__ import annotations

Row = tuple[str, str, str, str, str, str]

# The counts each plan states (Sichuan states none: its list's entries, counting the
# "locally created lines" entry as one whole-merge item; Fujian: 二（一）, 13 + 5
# whole merge, 14 − 5 dual, 5 sub-centers).
REGION_COUNTS: dict[str, dict[str, int]] = {
    "anhui": {"whole_merge": 14, "dual_number": 14, "sub_center": 5},
    "chenzhou": {"whole_merge": 26, "dual_number": 12, "sub_center": 6},
    "fujian": {"whole_merge": 18, "dual_number": 9, "sub_center": 5},
    "sichuan": {"whole_merge": 14, "dual_number": 14, "sub_center": 5},
    "inner_mongolia": {"whole_merge": 14, "dual_number": 14, "sub_center": 5},
}

EXPECTATIONS: list[Row] = [
    # ── Anhui 皖政办秘〔2021〕65号 ─────────────────────────────────────────────
    # Whole merge: 二（一）2 deadline 2021-10 end → window 2021-11-01..2021-12-31 (一:
    # 2021年底前 one number), cancelled from 2022-01-01 (assumed dates).
    ("anhui", "12396", "2021-10-31", "whole_merge", "not_yet_merged", "queue"),
    ("anhui", "12396", "2021-11-01", "whole_merge", "transition", "queue"),
    ("anhui", "12396", "2021-12-31", "whole_merge", "transition", "queue"),
    ("anhui", "12396", "2022-01-01", "whole_merge", "cancelled", "queue"),
    ("anhui", "96119", "2021-12-15", "whole_merge", "transition", "queue"),
    ("anhui", "12322", "2022-06-01", "whole_merge", "cancelled", "queue"),
    # 附件 一 第1项 "各级各部门设立的政务服务便民热线电话" (pattern, local schedule).
    ("anhui", "96123", "2021-10-31", "whole_merge", "not_yet_merged", "queue"),
    ("anhui", "96123", "2021-11-01", "whole_merge", "transition", "queue"),
    ("anhui", "96123", "2022-02-01", "whole_merge", "cancelled", "queue"),
    ("anhui", "5512345", "2021-12-01", "whole_merge", "transition", "queue"),
    # Utility partners (水电气热, routing_rules.yaml endpoints) are not local lines.
    ("anhui", "96777", "2022-03-01", "unknown", "active", "queue"),
    ("anhui", "96116", "2022-03-01", "unknown", "active", "queue"),
    ("anhui", "96069", "2021-12-01", "unknown", "active", "queue"),
    # Dual number from 2021-11-01; 设专家座席 on 12348, 12333, 12329, 12316, 12320 (the
    # expert seat from that date; before it, 12345 with the skill: no legacy endpoint).
    ("anhui", "12348", "2021-10-31", "dual_number", "not_yet_merged", "queue"),
    ("anhui", "12348", "2021-11-01", "dual_number", "active", "expert"),
    ("anhui", "12333", "2021-11-01", "dual_number", "active", "expert"),
    ("anhui", "12329", "2022-03-01", "dual_number", "active", "expert"),
    ("anhui", "12316", "2021-12-01", "dual_number", "active", "expert"),
    ("anhui", "12320", "2021-12-01", "dual_number", "active", "expert"),
    ("anhui", "12369", "2021-10-31", "dual_number", "not_yet_merged", "queue"),
    ("anhui", "12369", "2021-11-01", "dual_number", "active", "queue"),
    ("anhui", "12315", "2021-12-01", "dual_number", "active", "queue"),
    ("anhui", "12317", "2021-12-01", "dual_number", "active", "queue"),
    ("anhui", "12385", "2021-12-01", "dual_number", "active", "queue"),
    # Sub-centers from 2021-11-01.
    ("anhui", "12360", "2021-11-01", "sub_center", "active", "subcenter"),
    ("anhui", "12367", "2022-01-01", "sub_center", "active", "subcenter"),
    # 12325 is Inner Mongolia's only; Anhui does not list it.
    ("anhui", "12325", "2021-12-01", "unknown", "active", "queue"),
    ("anhui", "12345", "2021-12-01", "main", "active", "queue"),
    ("anhui", "110", "2021-12-01", "emergency", "active", "queue"),
    # ── Chenzhou 郴政办发〔2021〕22号 ──────────────────────────────────────────
    # 二（一）1 deadline 2021年11月 → window 2021-12-01..2021-12-31 (一: 2021年底前 one
    # number; the plan names no transition period), cancelled 2022-01-01 (assumed).
    ("chenzhou", "12300", "2021-11-30", "whole_merge", "not_yet_merged", "queue"),
    ("chenzhou", "12300", "2021-12-01", "whole_merge", "transition", "queue"),
    ("chenzhou", "12300", "2021-12-31", "whole_merge", "transition", "queue"),
    ("chenzhou", "12300", "2022-01-01", "whole_merge", "cancelled", "queue"),
    ("chenzhou", "12322", "2021-12-15", "whole_merge", "transition", "queue"),
    # 备注 已暂停服务: cancelled whatever the date.
    ("chenzhou", "12396", "2021-11-30", "whole_merge", "cancelled", "queue"),
    ("chenzhou", "12396", "2021-12-15", "whole_merge", "cancelled", "queue"),
    ("chenzhou", "12349", "2022-06-01", "whole_merge", "cancelled", "queue"),
    ("chenzhou", "12393", "2022-01-01", "whole_merge", "cancelled", "queue"),
    # 备注 已归并到12345: already merged, so in transition (prompt, then 12345) from any
    # date until the region cancels whole-merge numbers.
    ("chenzhou", "12336", "2021-10-01", "whole_merge", "transition", "queue"),
    ("chenzhou", "12312", "2021-12-15", "whole_merge", "transition", "queue"),
    ("chenzhou", "12336", "2022-01-01", "whole_merge", "cancelled", "queue"),
    ("chenzhou", "12301", "2022-01-01", "whole_merge", "cancelled", "queue"),
    # 备注 已归并到12315: mode stays whole_merge, phase by its own schedule, handled
    # like 12315 (dual number with an expert seat in Chenzhou) → expert.
    ("chenzhou", "12330", "2021-12-01", "whole_merge", "transition", "expert"),
    ("chenzhou", "12365", "2022-03-01", "whole_merge", "cancelled", "expert"),
    # 备注 由119兼职接听: never dialled to the 119 centre; 12345 takes it at every date
    # (no legacy endpoint in the shipped configuration).
    ("chenzhou", "96119", "2021-11-30", "whole_merge", "not_yet_merged", "queue"),
    ("chenzhou", "96119", "2021-12-01", "whole_merge", "transition", "queue"),
    ("chenzhou", "96119", "2022-03-01", "whole_merge", "cancelled", "queue"),
    # Locally created lines (河长制 96322, county/district mayor lines).
    ("chenzhou", "2912345", "2021-11-30", "whole_merge", "not_yet_merged", "queue"),
    ("chenzhou", "2912345", "2021-12-01", "whole_merge", "transition", "queue"),
    ("chenzhou", "2912345", "2022-03-01", "whole_merge", "cancelled", "queue"),
    ("chenzhou", "5212345", "2021-12-31", "whole_merge", "transition", "queue"),
    ("chenzhou", "96322", "2021-12-10", "whole_merge", "transition", "queue"),
    # Dual number from 2021-12-01; 设专家座席 on 12348, 12333, 12320, 12315 only.
    ("chenzhou", "12348", "2021-12-01", "dual_number", "active", "expert"),
    ("chenzhou", "12315", "2021-12-01", "dual_number", "active", "expert"),
    ("chenzhou", "12320", "2022-05-01", "dual_number", "active", "expert"),
    ("chenzhou", "12316", "2021-12-01", "dual_number", "active", "queue"),
    ("chenzhou", "12369", "2021-11-30", "dual_number", "not_yet_merged", "queue"),
    ("chenzhou", "12317", "2021-12-01", "dual_number", "active", "queue"),
    # Sub-centers from 2021-12-01: 12366 city-level, 12329 provincial (a dual line
    # nationally).
    ("chenzhou", "12366", "2021-12-01", "sub_center", "active", "subcenter"),
    ("chenzhou", "12329", "2021-12-01", "sub_center", "active", "subcenter"),
    ("chenzhou", "12360", "2022-01-01", "sub_center", "active", "subcenter"),
    # Before that date the sub-center's own seats answer, without 12345.
    ("chenzhou", "12366", "2021-11-30", "sub_center", "not_yet_merged", "legacy"),
    # Chenzhou lists its local lines one by one: no pattern, so 96123 is unknown.
    ("chenzhou", "96123", "2021-12-01", "unknown", "active", "queue"),
    ("chenzhou", "12345", "2021-12-01", "main", "active", "queue"),
    ("chenzhou", "119", "2021-12-01", "emergency", "active", "queue"),
    # ── Fujian 闽政办 (2021-10-12) ────────────────────────────────────────────
    # 二（二）1 11月底前完成归并 + 二（二）2 3个月过渡期 → 2021-12-01..2022-02-28,
    # cancelled 2022-03-01.
    ("fujian", "12396", "2021-11-30", "whole_merge", "not_yet_merged", "queue"),
    ("fujian", "12396", "2021-12-01", "whole_merge", "transition", "queue"),
    ("fujian", "12396", "2022-02-28", "whole_merge", "transition", "queue"),
    ("fujian", "12396", "2022-03-01", "whole_merge", "cancelled", "queue"),
    # Low-volume dual lines moved to whole merge (二（一）1).
    ("fujian", "12333", "2021-11-30", "whole_merge", "not_yet_merged", "queue"),
    ("fujian", "12333", "2021-12-01", "whole_merge", "transition", "queue"),
    ("fujian", "12333", "2022-03-01", "whole_merge", "cancelled", "queue"),
    ("fujian", "12319", "2022-01-01", "whole_merge", "transition", "queue"),
    ("fujian", "12318", "2022-02-28", "whole_merge", "transition", "queue"),
    ("fujian", "12350", "2022-03-01", "whole_merge", "cancelled", "queue"),
    ("fujian", "12393", "2022-02-28", "whole_merge", "transition", "queue"),
    # Remaining dual lines from 2021-12-01 (no kept seats or expert seats known).
    ("fujian", "12348", "2021-11-30", "dual_number", "not_yet_merged", "queue"),
    ("fujian", "12348", "2021-12-01", "dual_number", "active", "queue"),
    ("fujian", "12315", "2022-06-01", "dual_number", "active", "queue"),
    ("fujian", "12329", "2021-12-01", "dual_number", "active", "queue"),
    ("fujian", "12366", "2021-12-01", "sub_center", "active", "subcenter"),
    ("fujian", "12305", "2022-06-01", "sub_center", "active", "subcenter"),
    ("fujian", "12306", "2021-12-01", "unknown", "active", "queue"),
    ("fujian", "12345", "2021-12-01", "main", "active", "queue"),
    ("fujian", "120", "2021-12-01", "emergency", "active", "queue"),
    # ── Sichuan 川办发〔2021〕15号 ────────────────────────────────────────────
    # National lines: transition 6月1日—9月30日, 10月1日起注销.
    ("sichuan", "12396", "2021-05-31", "whole_merge", "not_yet_merged", "queue"),
    ("sichuan", "12396", "2021-06-01", "whole_merge", "transition", "queue"),
    ("sichuan", "12396", "2021-09-30", "whole_merge", "transition", "queue"),
    ("sichuan", "12396", "2021-10-01", "whole_merge", "cancelled", "queue"),
    ("sichuan", "96119", "2021-07-01", "whole_merge", "transition", "queue"),
    ("sichuan", "12365", "2021-10-01", "whole_merge", "cancelled", "queue"),
    # Locally created lines (pattern): 5月1日—7月31日, 8月1日起注销.
    ("sichuan", "96123", "2021-04-30", "whole_merge", "not_yet_merged", "queue"),
    ("sichuan", "96123", "2021-05-01", "whole_merge", "transition", "queue"),
    ("sichuan", "96123", "2021-07-31", "whole_merge", "transition", "queue"),
    ("sichuan", "96123", "2021-08-01", "whole_merge", "cancelled", "queue"),
    ("sichuan", "8312345", "2021-08-01", "whole_merge", "cancelled", "queue"),
    ("sichuan", "96777", "2021-08-01", "unknown", "active", "queue"),
    ("sichuan", "96116", "2021-06-01", "unknown", "active", "queue"),
    # Dual number: 10月16日起 all transfer to 12345; no expert seat named per line.
    ("sichuan", "12348", "2021-10-15", "dual_number", "not_yet_merged", "queue"),
    ("sichuan", "12348", "2021-10-16", "dual_number", "active", "queue"),
    ("sichuan", "12333", "2021-10-16", "dual_number", "active", "queue"),
    ("sichuan", "12317", "2021-12-01", "dual_number", "active", "queue"),
    # Sub-centers: transfer mechanism due 3月31日前 → from 2021-04-01.
    ("sichuan", "12360", "2021-03-31", "sub_center", "not_yet_merged", "legacy"),
    ("sichuan", "12360", "2021-04-01", "sub_center", "active", "subcenter"),
    ("sichuan", "12305", "2021-08-31", "sub_center", "active", "subcenter"),
    ("sichuan", "12367", "2021-10-16", "sub_center", "active", "subcenter"),
    ("sichuan", "12325", "2021-10-16", "unknown", "active", "queue"),
    ("sichuan", "12345", "2021-10-16", "main", "active", "queue"),
    ("sichuan", "122", "2021-11-01", "emergency", "active", "queue"),
    # ── Inner Mongolia 内政办发〔2021〕25号 ────────────────────────────────────
    # 四（二）归并优化阶段 9月底前 → window 2021-10-01..2021-12-31, cancelled 2022-01-01.
    ("inner_mongolia", "12325", "2021-09-30", "whole_merge", "not_yet_merged", "queue"),
    ("inner_mongolia", "12325", "2021-10-01", "whole_merge", "transition", "queue"),
    ("inner_mongolia", "12325", "2021-12-31", "whole_merge", "transition", "queue"),
    ("inner_mongolia", "12325", "2022-01-01", "whole_merge", "cancelled", "queue"),
    ("inner_mongolia", "12396", "2021-10-01", "whole_merge", "transition", "queue"),
    ("inner_mongolia", "96119", "2022-01-01", "whole_merge", "cancelled", "queue"),
    # Dual number from 2021-10-01; 设专家座席 on 12348, 12333, 12329, 12316, 12320, 12385.
    ("inner_mongolia", "12385", "2021-09-30", "dual_number", "not_yet_merged", "queue"),
    ("inner_mongolia", "12385", "2021-10-01", "dual_number", "active", "expert"),
    ("inner_mongolia", "12348", "2022-05-01", "dual_number", "active", "expert"),
    ("inner_mongolia", "12329", "2021-10-01", "dual_number", "active", "expert"),
    ("inner_mongolia", "12315", "2021-10-01", "dual_number", "active", "queue"),
    ("inner_mongolia", "12393", "2021-10-01", "dual_number", "active", "queue"),
    # Sub-centers from 2021-10-01 (12360: 呼和浩特海关、满洲里海关).
    ("inner_mongolia", "12360", "2021-10-01", "sub_center", "active", "subcenter"),
    ("inner_mongolia", "12366", "2021-12-01", "sub_center", "active", "subcenter"),
    # 二（一）1 locally created lines: a pattern (not one of the 33 counted items).
    ("inner_mongolia", "96123", "2021-09-30", "whole_merge", "not_yet_merged", "queue"),
    ("inner_mongolia", "96123", "2021-10-01", "whole_merge", "transition", "queue"),
    ("inner_mongolia", "2812345", "2022-01-01", "whole_merge", "cancelled", "queue"),
    ("inner_mongolia", "96777", "2022-01-01", "unknown", "active", "queue"),
    ("inner_mongolia", "12345", "2021-10-01", "main", "active", "queue"),
    ("inner_mongolia", "110", "2021-10-01", "emergency", "active", "queue"),
    ("inner_mongolia", "119", "2022-01-01", "emergency", "active", "queue"),
]
