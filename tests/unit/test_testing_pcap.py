"""The SIPp speech caller's capture: a pcap SIPp can replay as PCMU RTP, 20 ms per packet.

The capture is read back with a tiny independent parser (``struct`` only), so a framing
mistake in :mod:`testkit.pcap` shows up here rather than as a silent SIPp call.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from testkit.pcap import rtp_pcap, write_rtp_pcap
from testkit.rtp import tone, ulaw_decode

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = 0x0800
UDP = 17


@dataclass(frozen=True)
class Packet:
    """One captured frame, taken apart."""

    ts_us: int
    ip_header: bytes
    ip_total_length: int
    protocol: int
    src_port: int
    dst_port: int
    udp_length: int
    rtp_version: int
    marker: bool
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


@dataclass(frozen=True)
class Capture:
    magic: int
    version: tuple[int, int]
    snaplen: int
    linktype: int
    packets: list[Packet]


def parse_pcap(data: bytes) -> Capture:
    """A classic little-endian pcap of Ethernet/IPv4/UDP/RTP frames."""
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", data, 0)
    offset = 24
    packets: list[Packet] = []
    while offset < len(data):
        sec, usec, caplen, origlen = struct.unpack_from("<IIII", data, offset)
        offset += 16
        frame = data[offset:offset + caplen]
        assert len(frame) == caplen == origlen
        offset += caplen
        (ethertype,) = struct.unpack_from("!H", frame, 12)
        assert ethertype == ETHERTYPE_IPV4
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        (total_length,) = struct.unpack_from("!H", ip, 2)
        protocol = ip[9]
        src_port, dst_port, udp_length, _checksum = struct.unpack_from("!HHHH", ip, ihl)
        rtp = ip[ihl + 8:]
        first, second, seq, timestamp, ssrc = struct.unpack_from("!BBHII", rtp, 0)
        packets.append(Packet(sec * 1_000_000 + usec, ip[:ihl], total_length, protocol, src_port,
                              dst_port, udp_length, first >> 6, bool(second & 0x80), second & 0x7F,
                              seq, timestamp, ssrc, rtp[12:]))
    return Capture(magic, (major, minor), snaplen, linktype, packets)


def ones_complement_sum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def pcm_of(ms: int) -> bytes:
    return tone(440.0, ms, level_dbfs=-12.0).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def capture() -> Capture:
    return parse_pcap(rtp_pcap(pcm_of(200)))  # 10 packets


def test_global_header_is_a_classic_ethernet_pcap(capture: Capture) -> None:
    assert capture.magic == PCAP_MAGIC
    assert capture.version == (2, 4)
    assert capture.linktype == LINKTYPE_ETHERNET
    assert capture.snaplen >= 1500


def test_one_packet_per_20_ms_paced_by_capture_time(capture: Capture) -> None:
    assert len(capture.packets) == 10
    assert [p.ts_us for p in capture.packets] == [i * 20_000 for i in range(10)]


def test_rtp_headers_are_pcmu_with_consecutive_numbering(capture: Capture) -> None:
    packets = capture.packets
    assert {p.rtp_version for p in packets} == {2}
    assert {p.payload_type for p in packets} == {0}
    assert len({p.ssrc for p in packets}) == 1
    assert [(p.seq - packets[0].seq) & 0xFFFF for p in packets] == list(range(10))
    assert [(p.timestamp - packets[0].timestamp) & 0xFFFFFFFF for p in packets] == [
        160 * i for i in range(10)]
    assert [p.marker for p in packets] == [True] + [False] * 9


def test_udp_and_ip_lengths_and_the_ipv4_checksum(capture: Capture) -> None:
    for packet in capture.packets:
        assert packet.protocol == UDP
        assert (packet.src_port, packet.dst_port) == (6000, 7000)
        assert len(packet.payload) == 160
        assert packet.udp_length == 8 + 12 + 160
        assert packet.ip_total_length == 20 + packet.udp_length
        assert ones_complement_sum(packet.ip_header) == 0xFFFF, "bad IPv4 header checksum"


def test_payload_decodes_back_to_the_input_audio() -> None:
    samples = tone(440.0, 200, level_dbfs=-12.0)
    capture = parse_pcap(rtp_pcap(samples.astype("<i2").tobytes()))
    decoded = np.concatenate([ulaw_decode(p.payload) for p in capture.packets]).astype(np.int32)
    assert len(decoded) == len(samples)
    error = np.abs(decoded - samples.astype(np.int32))
    # G.711 quantisation: within a few percent of the sample's magnitude (and a few steps near 0).
    assert np.all(error <= np.abs(samples.astype(np.int32)) // 16 + 40), int(error.max())


def test_a_partial_last_frame_is_padded_with_silence() -> None:
    capture = parse_pcap(rtp_pcap(pcm_of(30)))  # 240 samples: one and a half packets
    assert len(capture.packets) == 2
    tail = ulaw_decode(capture.packets[1].payload)
    assert len(tail) == 160
    assert np.all(np.abs(tail[80:].astype(np.int32)) <= 8)  # the padding decodes to silence
    assert np.abs(tail[:80].astype(np.int32)).max() > 1000  # the tone's last 10 ms are kept


def test_odd_length_pcm_is_refused() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        rtp_pcap(bytes(321))


def test_empty_pcm_is_a_header_only_capture(tmp_path: Path) -> None:
    path = write_rtp_pcap(b"", tmp_path / "empty.pcap")
    capture = parse_pcap(path.read_bytes())
    assert capture.magic == PCAP_MAGIC
    assert capture.packets == []
