"""Strict schema validation of a located YAML document with pydantic models."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from ivr.config.errors import ConfigError
from ivr.config.yamlsrc import LocatedDocument

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every configuration model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def validate_document(doc: LocatedDocument, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Validate ``doc`` against ``model``; raise :class:`ConfigError` with located problems."""
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path = [p for p in err["loc"] if isinstance(p, str | int)]
            message = _FRIENDLY.get(err["type"], err["msg"])
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            if err["type"] not in _FRIENDLY and "input" in err and not isinstance(
                err["input"], dict | list
            ):
                message = f"{message} (got {err['input']!r})"
            problems.append(doc.problem(path, message))
        raise ConfigError(problems) from exc


def _ip_address(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("an IP address to listen on (127.0.0.1 by default)") from None
    return value


#: An address a server of the engine listens on (metrics, web): an IP address, not a name.
ListenAddress = Annotated[str, AfterValidator(_ip_address)]
