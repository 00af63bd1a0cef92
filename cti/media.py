"""Media of the call centre: call recordings and voicemail messages as WAV files.

A recording takes the G.711 audio of a call's trunk channel as the board
taps it, both directions (what the caller says, what the caller hears), one
tick at a time, and writes a stereo WAV: left the caller, right the centre
side (agent, IVR prompts, music on hold). Voicemail is mono, the caller only.
Prompts and music on hold are played from :mod:`cti.prompts`.
"""
from __future__ import annotations

import array
import os
import wave
from dataclasses import dataclass, field

from drivers.codecs import alaw_decode, ulaw_decode

__all__ = ["Recording", "decode_law"]


def decode_law(data: bytes, law: str) -> array.array:
    raw = ulaw_decode(data) if law == "ulaw" else alaw_decode(data)
    a = array.array("h")
    a.frombytes(raw)
    return a


@dataclass
class Recording:
    """A recording in progress; ``stereo``: caller left, centre right."""

    path: str
    law: str = "alaw"
    stereo: bool = True
    max_seconds: float | None = None
    rx: bytearray = field(default_factory=bytearray)   # what the caller says (we receive)
    tx: bytearray = field(default_factory=bytearray)   # what the caller hears (we send)

    @property
    def seconds(self) -> float:
        return max(len(self.rx), len(self.tx)) / 8000.0

    @property
    def full(self) -> bool:
        return self.max_seconds is not None and self.seconds >= self.max_seconds

    def add(self, data: bytes, sent: bool) -> None:
        if self.full:
            return
        (self.tx if sent else self.rx).extend(data)

    def close(self) -> str:
        """Write the WAV (8 kHz, 16-bit) and return its path."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        rx = decode_law(bytes(self.rx), self.law)
        with wave.open(self.path, "wb") as w:
            w.setframerate(8000)
            w.setsampwidth(2)
            if not self.stereo:
                w.setnchannels(1)
                w.writeframes(rx.tobytes())
                return self.path
            tx = decode_law(bytes(self.tx), self.law)
            n = max(len(rx), len(tx))
            rx.extend([0] * (n - len(rx)))
            tx.extend([0] * (n - len(tx)))
            both = array.array("h", [0] * (2 * n))
            both[0::2] = rx
            both[1::2] = tx
            w.setnchannels(2)
            w.writeframes(both.tobytes())
        return self.path
