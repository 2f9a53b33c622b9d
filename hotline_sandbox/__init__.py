"""Local Asterisk sandbox for development and integration tests.

The sandbox runs a real Asterisk (a distribution one when the host has
Asterisk >= 18, otherwise Debian sid's Asterisk 22 in a cached chroot) with the
configuration rendered from ``dialplans/*.tmpl``, plus loopback SIP peers for
SIPp.  The public API is :mod:`hotline_sandbox.api`; the command line is
``python -m hotline_sandbox up|down|status|restart`` (also ``hotline sandbox ...``).
"""

from hotline_sandbox.errors import SandboxError
from hotline_sandbox.settings import SandboxSettings
from hotline_sandbox.state import SandboxState

__all__ = ["SandboxError", "SandboxSettings", "SandboxState"]
