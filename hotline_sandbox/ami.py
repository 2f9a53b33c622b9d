"""A minimal blocking AMI client: just enough to boot and stop the sandbox.

Blocking sockets (not asyncio) so the sandbox API works the same from a
script, from a synchronous test and from inside a running event loop.  The
controller has its own, full AMI client; this one only logs in, waits for
``FullyBooted`` and sends ``Command`` actions.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from types import TracebackType

from hotline_sandbox.errors import SandboxError
from ivr.ami.codec import AmiBanner, AmiMessage, AmiParser, AmiProtocolError, encode_action


class AmiError(SandboxError):
    """The AMI refused, closed or did not answer in time."""


class AmiSession:
    """One logged-in AMI connection (use as a context manager).

    Blocking socket I/O around the project's sans-I/O codec (:mod:`ivr.ami.codec`).
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._parser = AmiParser()
        self._pending: list[AmiMessage] = []
        self._action_id = 0
        self.banner = ""
        while not self.banner:
            for frame in self._feed():
                if isinstance(frame, AmiBanner):
                    self.banner = frame.text
                else:
                    self._pending.append(frame)

    def __enter__(self) -> AmiSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket (without Logoff)."""
        self._sock.close()

    def _feed(self) -> list[AmiBanner | AmiMessage]:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise AmiError("AMI closed the connection")
        try:
            return self._parser.feed(chunk)
        except AmiProtocolError as exc:
            raise AmiError(str(exc)) from exc

    def read_message(self) -> AmiMessage:
        """The next message (response or event)."""
        while not self._pending:
            self._pending.extend(f for f in self._feed() if isinstance(f, AmiMessage))
        return self._pending.pop(0)

    def send(self, action: str, **fields: str) -> str:
        """Send an action; returns its ActionID."""
        self._action_id += 1
        action_id = f"sandbox-{self._action_id}"
        self._sock.sendall(encode_action(action, action_id, fields))
        return action_id

    def request(self, action: str, **fields: str) -> AmiMessage:
        """Send an action and return its response (events in between are dropped)."""
        action_id = self.send(action, **fields)
        while True:
            message = self.read_message()
            if message.action_id == action_id and "Response" in message:
                return message

    def login(self, user: str, secret: str) -> list[AmiMessage]:
        """Log in; returns the events that arrived before the response."""
        action_id = self.send("Login", Username=user, Secret=secret, Events="system")
        early: list[AmiMessage] = []
        while True:
            message = self.read_message()
            if message.action_id == action_id and "Response" in message:
                if message["Response"] != "Success":
                    raise AmiError(f"AMI login refused: {message.get('Message')}")
                return early
            early.append(message)

    def command(self, command: str) -> str:
        """Run a CLI command through the ``Command`` action; its output."""
        response = self.request("Command", Command=command)
        if response.get("Response") not in ("Success", "Follows"):
            raise AmiError(f"AMI Command {command!r} failed: {response.get('Message')}")
        return "\n".join(response.get_all("Output"))

    def logoff(self) -> None:
        """Say goodbye (errors ignored: the server may already be gone)."""
        with contextlib.suppress(OSError, AmiError):
            self.request("Logoff")


def wait_fully_booted(
    host: str,
    port: int,
    user: str,
    secret: str,
    timeout: float,
    alive: Callable[[], bool],
) -> float:
    """Wait until the AMI answers and Asterisk reports ``FullyBooted``.

    *alive* is polled while waiting; when it turns false (Asterisk exited)
    the wait ends early with :class:`AmiError`.  Returns the seconds waited.
    """
    started = time.monotonic()
    deadline = started + timeout
    last_error = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AmiError(
                f"Asterisk did not report FullyBooted within {timeout:.0f} s ({last_error})"
            )
        if not alive():
            raise AmiError("Asterisk exited during start-up")
        try:
            with AmiSession(host, port, timeout=min(remaining, 2.0)) as session:
                for event in session.login(user, secret):
                    if event.get("Event") == "FullyBooted":
                        session.logoff()
                        return time.monotonic() - started
                while time.monotonic() < deadline:
                    try:
                        event = session.read_message()
                    except TimeoutError:
                        if not alive():
                            raise AmiError("Asterisk exited during start-up") from None
                        continue
                    if event.get("Event") == "FullyBooted":
                        session.logoff()
                        return time.monotonic() - started
        except AmiError as exc:
            if "refused" in str(exc):
                raise
            last_error = str(exc)
        except OSError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)


def run_command(
    host: str, port: int, user: str, secret: str, command: str, timeout: float = 5.0
) -> str:
    """Log in, run one CLI command through AMI, log off; the command's output."""
    with AmiSession(host, port, timeout=timeout) as session:
        session.login(user, secret)
        output = session.command(command)
        session.logoff()
        return output
