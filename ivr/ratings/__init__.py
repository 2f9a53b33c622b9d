"""Post-call rating (好差评, issue 14) and the follow-up (回访) of every bad rating.

``settings`` is the ``survey:`` section of routing_rules.yaml (imported by the schema);
``parser`` turns keys or words into a level; ``workdays`` computes due dates in working
days; ``store`` keeps ratings and follow-ups (SQLite, 0600); ``service`` answers the
dialplan's ``survey`` AGI request and records the ``HotlineRating`` user event;
``feature`` registers it all with the core; ``report`` computes satisfaction.
"""
