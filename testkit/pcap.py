"""RTP audio as a pcap file, for SIPp's ``play_pcap_audio`` (a SIPp call that speaks).

SIPp replays the UDP payloads of a capture to the far end's media address, paced by the
capture's timestamps. :func:`write_rtp_pcap` turns 8 kHz 16-bit mono PCM into such a
capture: G.711 µ-law (payload type 0), 20 ms per packet, Ethernet/IPv4/UDP framing.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from testkit.rtp import FRAME_SAMPLES, PT_PCMU, RtpPacket, ulaw_encode

_PCAP_MAGIC = 0xA1B2C3D4
_LINKTYPE_ETHERNET = 1
_SRC_IP = bytes([127, 0, 0, 1])
_DST_IP = bytes([127, 0, 0, 1])


def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def _frame(payload: bytes, src_port: int, dst_port: int, ident: int) -> bytes:
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0, 64, 17, 0,
                         _SRC_IP, _DST_IP)
    header = header[:10] + struct.pack("!H", _ipv4_checksum(header)) + header[12:]
    ethernet = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ethernet + header + udp


def rtp_pcap(pcm: bytes, src_port: int = 6000, dst_port: int = 7000, seed: int = 0) -> bytes:
    """The capture of ``pcm`` (8 kHz 16-bit mono) sent as PCMU RTP, one packet per 20 ms."""
    if len(pcm) % 2:
        raise ValueError("PCM must be whole 16-bit samples")
    rng = random.Random(seed)
    ssrc, seq0, ts0 = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
    out = bytearray(struct.pack("<IHHiIII", _PCAP_MAGIC, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET))
    frame_bytes = FRAME_SAMPLES * 2
    padded = pcm + bytes(-len(pcm) % frame_bytes)
    for index in range(len(padded) // frame_bytes):
        chunk = padded[index * frame_bytes:(index + 1) * frame_bytes]
        packet = RtpPacket(PT_PCMU, (seq0 + index) & 0xFFFF,
                           (ts0 + index * FRAME_SAMPLES) & 0xFFFFFFFF, ssrc, index == 0,
                           ulaw_encode(struct.unpack(f"<{FRAME_SAMPLES}h", chunk)))
        frame = _frame(packet.to_bytes(), src_port, dst_port, index)
        micros = index * 20_000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame),
                           len(frame))
        out += frame
    return bytes(out)


def write_rtp_pcap(pcm: bytes, path: Path) -> Path:
    """Write :func:`rtp_pcap` of ``pcm`` to ``path``."""
    path.write_bytes(rtp_pcap(pcm))
    return path
