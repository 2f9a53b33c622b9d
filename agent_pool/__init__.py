"""The ACD: skill-based distribution of calls to 12345 agents.

Asterisk's app_queue rings and bridges; this package configures it (one queue per
skill, penalty bands from skill levels: ``skills.py``, ``asterisk_conf.py``),
changes membership for agents (``commands.py``, ``feature_codes.py``, ``cli.py``),
and follows Asterisk's events into agent states and queue metrics
(``state.py``, ``tracker.py``, ``metrics.py``). See docs/acd.md.
"""
