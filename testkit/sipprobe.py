"""A minimal SIP caller that times a call: INVITE -> 200 OK -> first RTP packet.

SIPp reports response times but not when the far end's audio starts; this probe
does both, sending 20 ms of silence every 20 ms like a real phone (Asterisk's
Answer() waits for the caller's first frame).
"""

from __future__ import annotations

import os
import random
import socket
import struct
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class CallTiming:
    """Milliseconds from sending the INVITE."""

    to_200_ms: float
    to_first_audio_ms: float | None


def _invite(number: str, host: str, port: int, lport: int, rtp_port: int,
            call_id: str, tag: str, branch: str) -> bytes:
    sdp = (f"v=0\r\no=probe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           f"m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    return (f"INVITE sip:{number}@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch={branch}\r\n"
            f"From: <sip:13800138000@127.0.0.1:{lport}>;tag={tag}\r\n"
            f"To: <sip:{number}@{host}:{port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:probe@127.0.0.1:{lport}>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}").encode()


def _header(message: str, name: str) -> str:
    for line in message.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def _sdp_port(message: str) -> int:
    for line in message.split("\r\n"):
        if line.startswith("m=audio "):
            return int(line.split()[1])
    raise ValueError("no audio in SDP")


def timed_call(number: str, host: str = "127.0.0.1", port: int = 5060,
               timeout_s: float = 10.0) -> CallTiming:
    """Place one call, measure, hang up."""
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    rtp.bind(("127.0.0.1", 0))
    lport, rtp_port = sip.getsockname()[1], rtp.getsockname()[1]
    call_id = f"probe-{os.getpid()}-{random.getrandbits(48):x}"
    tag, branch = f"t{random.getrandbits(32):x}", f"z9hG4bK{random.getrandbits(48):x}"
    start = time.perf_counter()
    sip.sendto(_invite(number, host, port, lport, rtp_port, call_id, tag, branch), (host, port))
    sip.settimeout(timeout_s)
    while True:
        message = sip.recv(65535).decode(errors="replace")
        status = message.split(" ", 2)[1] if message.startswith("SIP/2.0") else ""
        if status == "200":
            to_200 = (time.perf_counter() - start) * 1000
            break
        if status and status[0] in "3456":
            raise RuntimeError(f"call to {number} failed: {message.splitlines()[0]}")
    to_tag = _header(message, "To")
    remote_rtp = (host, _sdp_port(message))
    contact = _header(message, "Contact").strip("<>").split(";")[0] or f"sip:{number}@{host}:{port}"
    ack = (f"ACK {contact} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lport};branch={branch}a\r\n"
           f"From: <sip:13800138000@127.0.0.1:{lport}>;tag={tag}\r\nTo: {to_tag}\r\n"
           f"Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    sip.sendto(ack.encode(), (host, port))
    first_audio = None
    rtp.settimeout(0.02)
    seq = 0
    deadline = time.perf_counter() + timeout_s
    while first_audio is None and time.perf_counter() < deadline:
        header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, 0x1234)
        rtp.sendto(header + b"\xff" * 160, remote_rtp)
        seq += 1
        try:
            packet = rtp.recv(2048)
        except TimeoutError:
            continue
        if packet and any(b != 0xFF for b in packet[12:]):
            first_audio = (time.perf_counter() - start) * 1000
    bye = (f"BYE {contact} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lport};branch={branch}b\r\n"
           f"From: <sip:13800138000@127.0.0.1:{lport}>;tag={tag}\r\nTo: {to_tag}\r\n"
           f"Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    sip.sendto(bye.encode(), (host, port))
    sip.settimeout(2.0)
    try:
        sip.recv(65535)
    except TimeoutError:
        pass
    sip.close()
    rtp.close()
    return CallTiming(to_200, first_audio)
