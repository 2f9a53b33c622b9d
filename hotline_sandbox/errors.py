"""Errors raised by the sandbox."""


class SandboxError(RuntimeError):
    """The sandbox could not be prepared, started, queried or stopped."""
