"""The controller as a real subprocess (``hotline run``), for integration tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ivr.core.callstore import CallRecord, CallStoreReader


class ControllerProcess:
    """Starts, stops and kills ``hotline run``; reads its call store."""

    def __init__(self, config_dir: Path, run_dir: Path, log_path: Path,
                 at: str | None = None, agi_port: int = 4573,
                 extra_env: dict[str, str] | None = None, log_level: str = "DEBUG",
                 extra_args: tuple[str, ...] = ()) -> None:
        self.config_dir = config_dir
        self.run_dir = run_dir
        self.log_path = log_path
        self.at = at
        self.agi_port = agi_port
        self.extra_env = extra_env or {}
        self.extra_args = extra_args
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.calls = CallStoreReader(run_dir / "calls.db")

    def start(self, timeout_s: float = 15.0) -> None:
        """Start and wait until the FastAGI port accepts and AMI is connected."""
        command = [sys.executable, "-m", "ivr.cli.main", "run", "--config", str(self.config_dir),
                   "--agi-port", str(self.agi_port), "--log-level", self.log_level]
        if self.at:
            command += ["--at", self.at]
        command += list(self.extra_args)
        # the AMI login comes from extra_env (HOTLINE_AMI_*), never from a state file
        env = {**os.environ, "HOTLINE_RUN_DIR": str(self.run_dir), **self.extra_env}
        env.pop("HOTLINE_AMI_FROM_SANDBOX", None)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"controller exited: {self.log_tail()}")
            if self._port_open() and "AMI connected" in self._log_since(offset):
                return
            time.sleep(0.05)
        raise TimeoutError(f"controller not ready in {timeout_s}s: {self.log_tail()}")

    def _port_open(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.agi_port)) == 0

    def _log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the controller's log."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def wait_for_step(self, step: str, timeout_s: float = 20.0,
                      **match: Any) -> tuple[CallRecord, dict[str, Any]]:
        """Wait until some call in the store has ``step`` whose fields match ``match``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in self.calls.records():
                for entry in record.steps:
                    if entry["step"] == step and all(entry.get(k) == v for k, v in match.items()):
                        return record, entry
            time.sleep(0.05)
        raise TimeoutError(f"no '{step}' step matching {match} in {self.calls.path}; "
                           f"controller log:\n{self.log_tail()}")

    def new_queued_call(self, before: set[str], timeout_s: float = 20.0) -> str:
        """The id of the latest call, not in ``before``, that has reached a queue."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            fresh = [r.call_id for r in self.calls.records()
                     if r.call_id not in before and r.first("queued")]
            if fresh:
                return fresh[-1]
            time.sleep(0.05)
        raise AssertionError(f"the call never queued; {self.log_tail()}")

    def call_for(self, number: str, timeout_s: float = 20.0) -> CallRecord:
        """The most recent call to ``number`` whose hangup has been recorded."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            calls = [r for r in self.calls.records()
                     if (r.first("decided") or {}).get("number") == number and r.first("hangup")]
            if calls:
                return calls[-1]
            time.sleep(0.05)
        raise TimeoutError(f"no completed call to {number}; log:\n{self.log_tail()}")
