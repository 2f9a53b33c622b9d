"""Quality control (issue 15): call recording with retention, and the audit trail.

``settings`` is the ``recording:`` section of routing_rules.yaml (imported by the schema);
``store`` the recordings index and audit (SQLite, 0600); ``recording`` the planner,
tracker, retention sweep and disk guard; ``feature`` registers it all with the core.
"""
