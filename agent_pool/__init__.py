"""The ACD: skill-based distribution of calls to 12345 agents.

Until it lands, queue and expert targets ring ``agents.default_dial`` from
``routing_rules.yaml`` (see ``ivr.routing.decision``); the decision already
carries the skill and priority the ACD will use.
"""
