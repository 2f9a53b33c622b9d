"""Running SIPp peers (callers, agent phones, sub-centers) as subprocesses.

Each peer gets its own signalling and media ports so stale retransmissions of an
earlier run never reach a later one, and its own trace directory, which is where
a failing test looks first.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "tools" / "sipp"


class SippMissingError(RuntimeError):
    """SIPp is not installed (Debian package ``sip-tester``)."""


def sipp_binary() -> str:
    """Path of the ``sipp`` executable."""
    path = shutil.which("sipp")
    if path is None:
        raise SippMissingError("sipp not found: install Debian's sip-tester (tools/bootstrap)")
    return path


_media_ports = itertools.count(20000 + (os.getpid() % 100) * 100, 4)
_local_ports = itertools.count(30000 + (os.getpid() % 100) * 100)


@dataclass
class SippPeer:
    """One running SIPp process."""

    name: str
    process: subprocess.Popen[bytes]
    trace_dir: Path
    started: float = field(default_factory=time.monotonic)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for SIPp to end; return its exit code (0: every call succeeded)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"SIPp still running after {timeout}s\n{self.describe()}") from None

    def stop(self) -> None:
        """Terminate if still running."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def messages(self) -> str:
        """Every SIP message SIPp logged (requires it to have ended)."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.trace_dir.glob("*_messages.log")))

    def errors(self) -> str:
        """SIPp's error log."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.trace_dir.glob("*_errors.log")))

    def describe(self) -> str:
        """Exit code, stderr tail and errors, for assertion messages."""
        return (f"{self.name}: rc={self.process.returncode}\n--- errors ---\n{self.errors()[-3000:]}"
                f"\n--- messages ---\n{self.messages()[-4000:]}")


def _start(name: str, args: list[str], trace_dir: Path) -> SippPeer:
    trace_dir.mkdir(parents=True, exist_ok=True)
    command = [sipp_binary(), *args, "-trace_err", "-trace_msg", "-nostdin"]
    process = subprocess.Popen(command, cwd=trace_dir, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return SippPeer(name, process, trace_dir)


def answering_peer(port: int, trace_dir: Path, scenario: str = "agent_answer.xml",
                   calls: int = 1, hold_ms: int = 1000, timeout_s: int = 60,
                   name: str | None = None) -> SippPeer:
    """A phone or trunk peer listening on ``port`` that handles ``calls`` calls."""
    args = ["-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
            "-mp", str(next(_media_ports)), "-m", str(calls), "-d", str(hold_ms),
            "-timeout", f"{timeout_s}s", "-timeout_error"]
    return _start(name or f"uas-{port}", args, trace_dir / (name or f"uas-{port}"))


def place_call(number: str, trace_dir: Path, caller: str = "13800138000",
               scenario: str = "caller_wait_bye.xml", sip_port: int = 5060,
               hold_ms: int = 3000, calls: int = 1, rate: float = 1.0,
               timeout_s: int = 60, name: str | None = None) -> SippPeer:
    """A PSTN caller on the trunk dialling ``number`` at the sandbox Asterisk."""
    label = name or f"uac-{number}"
    args = ["127.0.0.1:" + str(sip_port), "-sf", str(SCENARIOS / scenario), "-s", number,
            "-key", "caller", caller, "-i", "127.0.0.1", "-p", str(next(_local_ports)),
            "-mp", str(next(_media_ports)), "-m", str(calls), "-r", str(rate), "-d", str(hold_ms),
            "-timeout", f"{timeout_s}s", "-timeout_error", "-recv_timeout", f"{timeout_s * 1000}"]
    return _start(label, args, trace_dir / label)


def rtp_answering_peer(port: int, trace_dir: Path, rtp_port: int, scenario: str = "rtp_answer.xml",
                       hold_ms: int = 1000, timeout_s: int = 60, name: str | None = None,
                       extra: Sequence[str] = ()) -> SippPeer:
    """An answering peer (one call) whose SDP points at an RtpParty on ``rtp_port``."""
    label = name or f"rtp-uas-{port}"
    args = ["-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
            "-mp", str(next(_media_ports)), "-set", "rtpport", str(rtp_port), "-m", "1",
            "-d", str(hold_ms), "-timeout", f"{timeout_s}s", "-timeout_error", *extra]
    return _start(label, args, trace_dir / label)


def rtp_call(number: str, trace_dir: Path, rtp_port: int, scenario: str = "rtp_caller.xml",
             caller: str = "13800138000", sip_port: int = 5060, hold_ms: int = 3000,
             timeout_s: int = 60, name: str | None = None, local_port: int | None = None,
             extra: Sequence[str] = ()) -> SippPeer:
    """A caller (one call) dialling ``number`` whose SDP points at an RtpParty on ``rtp_port``."""
    label = name or f"rtp-uac-{number}"
    args = ["127.0.0.1:" + str(sip_port), "-sf", str(SCENARIOS / scenario), "-s", number,
            "-key", "caller", caller, "-i", "127.0.0.1",
            "-p", str(local_port if local_port is not None else next(_local_ports)),
            "-mp", str(next(_media_ports)), "-set", "rtpport", str(rtp_port), "-m", "1",
            "-d", str(hold_ms), "-timeout", f"{timeout_s}s", "-timeout_error",
            "-recv_timeout", f"{timeout_s * 1000}", *extra]
    return _start(label, args, trace_dir / label)


def speech_call(number: str, trace_dir: Path, pcm: bytes, caller: str = "13800138000",
                sip_port: int = 5060, timeout_s: int = 60, name: str | None = None) -> SippPeer:
    """A caller (one call) dialling ``number`` who says ``pcm`` (8 kHz 16-bit mono) once
    answered: SIPp plays it as PCMU RTP from a pcap (``speech_caller.xml``), then waits
    for the far end to hang up."""
    from testkit.pcap import write_rtp_pcap

    label = name or f"speech-uac-{number}"
    (trace_dir / label).mkdir(parents=True, exist_ok=True)
    write_rtp_pcap(pcm, trace_dir / label / "speech.pcap")
    args = ["127.0.0.1:" + str(sip_port), "-sf", str(SCENARIOS / "speech_caller.xml"),
            "-s", number, "-key", "caller", caller, "-i", "127.0.0.1",
            "-p", str(next(_local_ports)), "-mp", str(next(_media_ports)), "-m", "1",
            "-timeout", f"{timeout_s}s", "-timeout_error", "-recv_timeout", f"{timeout_s * 1000}"]
    return _start(label, args, trace_dir / label)
