"""Media of the call centre: call recordings and voicemail messages as WAV files.

A recording takes the G.711 audio of a call's trunk channel as the board
taps it, both directions (what the caller says, what the caller hears), one
tick at a time, and writes a stereo WAV: left the caller, right the centre
side (agent, IVR prompts, music on hold). Voicemail is mono, the caller only.
Prompts and music on hold are played from :mod:`cti.prompts`.

The WAV is written as the call goes: about a second of audio is held, then
appended (one small write), and the RIFF and ``data`` sizes in the header are
rewritten to cover what is on disk. So memory does not grow with the length of
a call, and a process killed mid-call leaves a WAV that players read up to the
last second written (RIFF sizes: the WAVE file format, RIFF chunks of Microsoft's
Multimedia Programming Interface and Data Specifications 1.0).
"""
from __future__ import annotations

import array
import os
import struct

from drivers.codecs import alaw_decode, ulaw_decode

__all__ = ["Recording", "decode_law", "FLUSH_FRAMES"]

RATE = 8000
#: frames held before they are appended to the file (and the header rewritten): 1 s
FLUSH_FRAMES = RATE
_HEADER = 44            # RIFF, fmt (PCM, 16 bytes) and data chunk headers


def decode_law(data: bytes, law: str) -> array.array:
    raw = ulaw_decode(data) if law == "ulaw" else alaw_decode(data)
    a = array.array("h")
    a.frombytes(raw)
    return a


def _wav_header(channels: int, data_bytes: int) -> bytes:
    """A canonical 44-byte PCM WAV header: 8 kHz, 16-bit, ``channels``."""
    align = 2 * channels
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, RATE, RATE * align, align, 16)
            + b"data" + struct.pack("<I", data_bytes))


class Recording:
    """A recording in progress, written to ``path`` as it is made; ``stereo``: caller left,
    centre right (mono: the caller only).

    ``add`` takes a tick's G.711 bytes of one direction; ``pause``/``resume`` stop and
    restart what is kept (the paused time is left out); ``close`` completes the file and
    returns its path; ``discard`` removes it (a call whose recording is not kept)."""

    def __init__(self, path: str, law: str = "alaw", stereo: bool = True,
                 max_seconds: float | None = None):
        self.path = path
        self.law = law
        self.stereo = stereo
        self.max_seconds = max_seconds
        self.paused = False
        self._rx = bytearray()          # what the caller says (we receive), not yet written
        self._tx = bytearray()          # what the caller hears (we send), not yet written
        self._frames = 0                # frames on disk
        self._fd: int | None = None
        self._closed = False
        self.error: str | None = None   # the file could not be written (disk full, ...)
        self._opened = False

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1

    @property
    def seconds(self) -> float:
        held = max(len(self._rx), len(self._tx)) if self.stereo else len(self._rx)
        return (self._frames + held) / RATE

    @property
    def full(self) -> bool:
        return self.max_seconds is not None and self.seconds >= self.max_seconds

    def add(self, data: bytes, sent: bool) -> None:
        # every tick of every recorded call comes here: the common case is one extend
        if self.paused or self._closed or (self.max_seconds is not None and self.full):
            return
        if sent:
            if not self.stereo:
                return
            buf, other = self._tx, self._rx
        else:
            buf, other = self._rx, self._tx
        buf += data
        if len(buf) >= FLUSH_FRAMES and (not self.stereo or len(other) >= FLUSH_FRAMES
                                         or len(buf) >= 2 * FLUSH_FRAMES):
            self._flush(pad=False)

    def pause(self) -> None:
        """Stop keeping audio; what was held is written, the two sides evened with silence
        so that they stay in step when it resumes."""
        if not self.paused:
            self._flush(pad=True)
            self.paused = True

    def resume(self) -> None:
        self.paused = False

    def close(self) -> str | None:
        """Write what is held, complete the header and return the path (None: no file could
        be made; ``error`` says why)."""
        if not self._closed:
            self._flush(pad=True)
        if not self._closed:
            try:
                self._open()
                os.close(self._fd)
            except OSError as e:
                self.error = f"{self.path}: {e.strerror or e}"
            self._fd = None
            self._closed = True
        return self.path if self._opened else None

    def discard(self) -> None:
        """Close and remove the file: the call's recording is not kept."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._closed = True
        self._rx.clear()
        self._tx.clear()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    # -- the file
    def _open(self) -> None:
        if self._fd is None:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self._opened = True
            os.write(self._fd, _wav_header(self.channels, 0))

    def _flush(self, pad: bool) -> None:
        try:
            self._append(pad)
        except OSError as e:
            # a disk that fails ends this recording, not the call (nor the tick it ran in)
            self.error = f"{self.path}: {e.strerror or e}"
            self._rx.clear()
            self._tx.clear()
            self._closed = True
            if self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = None

    def _append(self, pad: bool) -> None:
        """Append the frames both sides have (all of them with ``pad``: the shorter side
        filled with silence; else, the longer side filled only past a second's lead) and
        rewrite the header's sizes."""
        rx, tx = self._rx, self._tx
        if self.stereo:
            lead = abs(len(rx) - len(tx))
            n = max(len(rx), len(tx)) if pad or lead >= FLUSH_FRAMES else min(len(rx), len(tx))
        else:
            n = len(rx)
        if n == 0:
            return
        self._open()
        left = decode_law(bytes(rx[:n]), self.law)
        left.extend([0] * (n - len(left)))
        if self.stereo:
            right = decode_law(bytes(tx[:n]), self.law)
            right.extend([0] * (n - len(right)))
            both = array.array("h", bytes(4 * n))
            both[0::2] = left
            both[1::2] = right
            pcm = both
        else:
            pcm = left
        if struct.pack("=h", 1) != struct.pack("<h", 1):   # pragma: no cover - big-endian
            pcm.byteswap()
        del rx[:n]
        del tx[:n]
        os.write(self._fd, pcm.tobytes())
        self._frames += n
        # the sizes cover what is on disk: a process killed now leaves a readable WAV
        data = self._frames * 2 * self.channels
        os.pwrite(self._fd, struct.pack("<I", 36 + data), 4)
        os.pwrite(self._fd, struct.pack("<I", data), 40)
