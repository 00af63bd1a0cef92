"""LAPD traces as pcap files that Wireshark and tshark dissect (link type 177).

Sans-I/O: functions return bytes; the caller writes them. Each record is
the LINUX_LAPD pseudo-header (16 bytes, big-endian: packet type 4 when we
sent the frame, 0 when we received it; ARPHRD_LAPD 0x20FD; address length
1; address byte 1 when we are the network side; protocol 0x0030) followed
by the Q.921 frame without its FCS.
"""
from __future__ import annotations

import struct

__all__ = ["LINKTYPE_LINUX_LAPD", "pcap_header", "lapd_record"]

LINKTYPE_LINUX_LAPD = 177
_ARPHRD_LAPD = 0x20FD
_ETH_P_LAPD = 0x0030
_SENT, _RECEIVED = 4, 0


def pcap_header(snaplen: int = 65535) -> bytes:
    """The pcap global header (microsecond timestamps, native magic written big-endian)."""
    return struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_LINUX_LAPD)


def lapd_record(ts: float, frame: bytes, *, sent: bool, network_side: bool) -> bytes:
    """One pcap record: a LAPD frame (no FCS) seen at ``ts`` (seconds since the epoch)."""
    if not isinstance(frame, (bytes, bytearray)) or len(frame) < 3:
        raise ValueError(f"a LAPD frame has at least 3 octets (address, control): {frame!r}")
    addr = bytes([1 if network_side else 0]) + bytes(7)
    pseudo = struct.pack(">HHH8sH", _SENT if sent else _RECEIVED, _ARPHRD_LAPD, 1, addr,
                         _ETH_P_LAPD)
    body = pseudo + bytes(frame)
    sec = int(ts)
    usec = int(round((ts - sec) * 1e6))
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    return struct.pack(">IIII", sec, usec, len(body), len(body)) + body
