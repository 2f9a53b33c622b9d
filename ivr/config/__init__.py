"""Loading and validating the YAML files an admin edits."""

from ivr.config.errors import ConfigError, ConfigProblem
from ivr.config.yamlsrc import LocatedDocument, load_located

__all__ = ["ConfigError", "ConfigProblem", "LocatedDocument", "load_located"]
