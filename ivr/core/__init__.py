"""The engine's core: what every feature builds on and that never imports a feature.

The core is this package plus the protocol codecs and adapters (:mod:`ivr.agi`,
:mod:`ivr.ami`, :mod:`ivr.control`), the configuration (:mod:`ivr.config`,
:mod:`ivr.catalogue`, :mod:`ivr.routing.rules`), the clock (:mod:`ivr.clock`) and the
prompt library (:mod:`ivr.prompts`).  ``tests/unit/test_core_boundaries.py`` enforces
that none of them imports a feature package.
"""
