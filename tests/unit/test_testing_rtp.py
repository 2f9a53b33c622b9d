"""The RTP test party: G.711, RTP/RFC 4733 framing, tone detection, and calls on loopback."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from testkit.rtp import (
    AGENT_HZ,
    CALLER_HZ,
    SUBCENTER_HZ,
    RtpPacket,
    RtpParty,
    encode_event,
    event_code,
    goertzel_power,
    noise_floor_db,
    parse_event,
    parse_rtp,
    tone,
    tone_level_db,
    ulaw_decode,
    ulaw_encode,
)

ALL_TONES = (CALLER_HZ, AGENT_HZ, SUBCENTER_HZ)
FORBIDDEN_PORTS = {5060, 5038, 4573, *range(5171, 5195)}


def free_udp_port() -> int:
    """A UDP port on loopback nobody holds right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in FORBIDDEN_PORTS:
            return port


# --- G.711 and tones ---------------------------------------------------------------------------

def test_ulaw_known_values() -> None:
    assert ulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == b"\xff\x80\x00"
    assert ulaw_decode(b"\xff\x7f\x80\x00").tolist() == [0, 0, 32124, -32124]


def test_ulaw_round_trip_error_is_small() -> None:
    pcm = np.arange(-32768, 32768, 7, dtype=np.int16)
    back = ulaw_decode(ulaw_encode(pcm)).astype(np.int32)
    error = np.abs(back - pcm.astype(np.int32))
    assert len(ulaw_encode(pcm)) == len(pcm)
    assert error.max() <= 1100  # largest segment step /2, plus clipping above 32124
    small = np.abs(pcm.astype(np.int32)) < 100
    assert error[small].max() <= 4
    assert (error / np.maximum(np.abs(pcm.astype(np.int32)), 1))[~small].max() < 0.07
    signal = tone(CALLER_HZ, 400, level_dbfs=-12).astype(np.float64)
    noise = ulaw_decode(ulaw_encode(signal.astype(np.int16))) - signal
    assert 10 * np.log10(np.sum(signal**2) / np.sum(noise**2)) > 35  # G.711's ~38 dB


def test_tone_level_and_goertzel() -> None:
    signal = tone(1000, 400, level_dbfs=-12)
    assert len(signal) == 3200
    assert tone_level_db(signal, 1000) == pytest.approx(-12, abs=0.2)
    assert tone_level_db(signal, 1820) < -100
    assert 10 * np.log10(goertzel_power(signal, 1000)) == pytest.approx(-12, abs=0.2)
    assert goertzel_power(signal, 560) < 1e-6
    through_ulaw = ulaw_decode(ulaw_encode(signal))
    assert tone_level_db(through_ulaw, 1000) == pytest.approx(-12, abs=0.5)
    assert tone_level_db(through_ulaw, 1000) - noise_floor_db(through_ulaw) > 40


def test_party_tones_survive_mixing_without_ghosts() -> None:
    mixed = tone(CALLER_HZ, 400).astype(np.int32) + tone(AGENT_HZ, 400)
    heard = ulaw_decode(ulaw_encode(np.clip(mixed, -32768, 32767)))
    assert tone_level_db(heard, CALLER_HZ) > -13
    assert tone_level_db(heard, AGENT_HZ) > -13
    assert tone_level_db(heard, SUBCENTER_HZ) < -50  # intermodulation stays far below -40 dBFS


# --- RTP and RFC 4733 --------------------------------------------------------------------------

def test_rtp_build_parse_round_trip() -> None:
    packet = RtpPacket(0, 65535, 0xFFFFFFF0, 0xDEADBEEF, True, b"\xff" * 160)
    raw = packet.to_bytes()
    assert raw[:2] == b"\x80\x80"
    assert len(raw) == 172
    assert parse_rtp(raw) == packet


def test_rtp_parse_skips_csrc_extension_and_padding() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 101, 7, 1234, 42)
    csrc = struct.pack("!I", 99)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    raw = header + csrc + extension + b"\x01\x02\x03\x04" + b"\x00\x00\x03"
    packet = parse_rtp(raw)
    assert (packet.payload_type, packet.seq, packet.timestamp, packet.ssrc) == (101, 7, 1234, 42)
    assert not packet.marker
    assert packet.payload == b"\x01\x02\x03\x04"


@pytest.mark.parametrize("junk", [b"", b"\x80\x00\x00", b"\x40" + b"\x00" * 20, b"GET / HTTP/1.1\r\n\r\n",
                                  struct.pack("!BBHII", 0x8F, 0, 0, 0, 0) + b"\x00" * 8,
                                  struct.pack("!BBHII", 0xA0, 0, 0, 0, 0) + b"\x00\x00\x09"])
def test_rtp_parse_rejects_junk(junk: bytes) -> None:
    with pytest.raises(ValueError):
        parse_rtp(junk)


def test_telephone_event_encode_parse() -> None:
    assert [event_code(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert event_code("a") == 12
    with pytest.raises(ValueError):
        event_code("X")
    raw = encode_event("#", end=True, duration=1280, volume=10)
    assert raw == bytes([11, 0x80 | 10]) + (1280).to_bytes(2, "big")
    event = parse_event(raw)
    assert (event.event, event.end, event.volume, event.duration, event.digit) == (11, True, 10, 1280, "#")
    assert event.to_bytes() == raw
    assert not parse_event(encode_event(5, end=False, duration=160)).end
    with pytest.raises(ValueError):
        parse_event(b"\x01\x02")


# --- parties on loopback -----------------------------------------------------------------------

def test_two_parties_hear_each_other_and_nothing_else() -> None:
    with RtpParty(AGENT_HZ) as agent, RtpParty(CALLER_HZ, remote=("127.0.0.1", agent.port)) as caller:
        since = caller.mark()
        assert agent.wait_for_tone(CALLER_HZ, timeout_s=3, since=since), agent.tone_levels(ALL_TONES)
        assert caller.wait_for_tone(AGENT_HZ, timeout_s=3, since=since), caller.tone_levels(ALL_TONES)
        assert agent.remote == ("127.0.0.1", caller.port)  # learnt from the first packet
        time.sleep(0.9)
        assert agent.hears(CALLER_HZ, since=since)
        assert not agent.hears(AGENT_HZ, since=since)  # its own tone does not come back
        assert not agent.hears(SUBCENTER_HZ, since=since)
        assert not caller.hears(SUBCENTER_HZ, since=since)
        levels = caller.tone_levels(ALL_TONES, since=since)
        assert levels[AGENT_HZ] > -14 and levels[SUBCENTER_HZ] < -50, levels
        packets = caller.packets_received(since)
        assert 35 <= packets <= 80  # about one per 20 ms


def test_silent_party_sends_silence_and_is_not_heard() -> None:
    with RtpParty(None) as quiet, RtpParty(CALLER_HZ, remote=("127.0.0.1", quiet.port)) as caller:
        time.sleep(1.0)
        assert caller.packets_received() > 20
        assert not any(caller.hears(f) for f in ALL_TONES)
        assert not caller.received_audio().any()


def test_party_waits_for_the_far_end_before_sending() -> None:
    with RtpParty(AGENT_HZ) as lonely:
        with pytest.raises(TimeoutError):
            lonely.send_dtmf("1", duration_ms=40, gap_ms=0, timeout_s=0.2)
        assert lonely.remote is None and lonely.sent == 0
        with RtpParty(None) as far:
            lonely.connect("127.0.0.1", far.port)
            lonely.send_dtmf("1", duration_ms=40, gap_ms=0)
            assert far.wait_for_dtmf("1", timeout_s=1) and far.wait_for_tone(AGENT_HZ, timeout_s=2)


def test_dtmf_sent_as_rfc4733_is_received() -> None:
    with RtpParty(AGENT_HZ) as agent, RtpParty(CALLER_HZ, remote=("127.0.0.1", agent.port)) as caller:
        assert agent.wait_for_tone(CALLER_HZ, timeout_s=3)
        caller.send_dtmf("*81")
        assert agent.wait_for_dtmf("*81", timeout_s=2), agent.received_dtmf()
        assert agent.received_dtmf() == "*81"
        assert caller.received_dtmf() == ""


def test_dtmf_packets_follow_rfc4733() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(2)
        with RtpParty(CALLER_HZ, remote=sink.getsockname()) as caller:
            caller.send_dtmf("5", duration_ms=100, gap_ms=40)
            deadline = time.monotonic() + 1.0
            packets = []
            while time.monotonic() < deadline:
                packets.append(parse_rtp(sink.recv(2048)))
    events = [p for p in packets if p.payload_type == 101]
    assert len(events) == 4 + 3  # 4 progress packets (20 ms each), then the end packet three times
    assert events[0].marker and not any(p.marker for p in events[1:])
    assert len({p.timestamp for p in events}) == 1 and len({p.ssrc for p in packets}) == 1
    parsed = [parse_event(p.payload) for p in events]
    assert [e.duration for e in parsed] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in parsed] == [False] * 4 + [True] * 3
    assert {e.digit for e in parsed} == {"5"}
    seqs = [p.seq for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    first = packets.index(events[0])
    after = next(p for p in packets[first:] if p.payload_type == 0)
    assert after.timestamp - events[0].timestamp == 5 * 160  # the clock ran on under the event
    assert not ulaw_decode(after.payload).any()  # silence in the gap, then the tone again
    later = packets[packets.index(after) + 2:]
    assert any(ulaw_decode(p.payload).any() for p in later if p.payload_type == 0)


def test_sending_is_paced_by_the_clock() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(2)
        with RtpParty(CALLER_HZ, remote=sink.getsockname()):
            sink.recv(2048)
            start = time.monotonic()
            count = 0
            while time.monotonic() - start < 1.0:
                sink.recv(2048)
                count += 1
    assert 45 <= count <= 55


# --- a real SIPp call between two RTP parties -------------------------------------------------

def require_sipp() -> None:
    """Skip without SIPp, except under CI where it must be there."""
    if shutil.which("sipp") is None:
        if os.environ.get("CI") == "true" or os.environ.get("HOTLINE_REQUIRE_INTEGRATION") == "1":
            pytest.fail("sipp is not installed under CI (tools/bootstrap installs sip-tester)", pytrace=False)
        pytest.skip("sipp is not installed (tools/bootstrap installs Debian's sip-tester)")


def test_sipp_call_advertises_the_rtp_parties(tmp_path: Path) -> None:
    require_sipp()
    from testkit.sipp import rtp_answering_peer, rtp_call

    with RtpParty(AGENT_HZ) as agent, RtpParty(CALLER_HZ, remote=("127.0.0.1", agent.port)) as caller:
        uas_port = free_udp_port()
        uas = rtp_answering_peer(uas_port, tmp_path, agent.port, timeout_s=8)
        try:
            time.sleep(0.3)  # let the UAS bind before the INVITE
            uac = rtp_call("12345", tmp_path, caller.port, scenario="rtp_caller_hangup.xml",
                           sip_port=uas_port, hold_ms=1500, timeout_s=8, local_port=free_udp_port())
            try:
                assert uac.wait(15) == 0, uac.describe()
            finally:
                uac.stop()
            assert uas.wait(15) == 0, uas.describe()
        finally:
            uas.stop()
        assert caller.packets_received() > 20 and agent.packets_received() > 20
        assert agent.hears(CALLER_HZ) and caller.hears(AGENT_HZ)
    offer, answer = uac.messages(), uas.messages()
    for log, port in ((offer, caller.port), (answer, agent.port)):
        assert f"m=audio {port} RTP/AVP 0 101" in log
        assert "a=rtpmap:101 telephone-event/8000" in log and "c=IN IP4 127.0.0.1" in log
    assert "BYE sip:12345@" in offer and "SIP/2.0 200 OK" in offer
