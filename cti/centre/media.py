"""Media of the call centre: call recordings and voicemail messages as WAV files.

A recording takes the G.711 audio of a call's trunk channel as the board
taps it, both directions (what the caller says, what the caller hears), one
tick at a time, and writes a stereo WAV: left the caller, right the centre
side (agent, IVR prompts, music on hold). Voicemail is mono, the caller only.
Prompts and music on hold are played from :mod:`cti.centre.prompts`.

The WAV is written as the call goes: about a second of audio is held, then
appended (one small write), and the RIFF and ``data`` sizes in the header are
rewritten to cover what is on disk. So memory does not grow with the length of
a call, and a process killed mid-call leaves a WAV that players read up to the
last second written (RIFF sizes: the WAVE file format, RIFF chunks of Microsoft's
Multimedia Programming Interface and Data Specifications 1.0).

The tick never touches the disk (ARCHITECTURE rule 8): it hands each second's G.711 to
one writer thread for all recordings (:class:`cti.centre.diskwriter.DiskWriter`), which opens
the file once, decodes, appends, rewrites the header, closes and removes, in order per
file. Its queue is bounded in bytes; when it is full the newest block of a recording is
dropped, counted (``Recording.dropped_frames``, the writer's ``dropped_*``) and written
as silence of its length, so the file keeps the call's time. ``close()`` returns the path
at once; the file is complete when the writer gets to it (:func:`flush` waits for that).
A failed write ends that recording only (``error``; logged on ``cti.media``).
"""
from __future__ import annotations

import array
import logging
import os
import struct
import time

from cti.centre.diskwriter import DiskWriter, flush_all
from drivers.codecs import alaw_decode, ulaw_decode

__all__ = ["Recording", "decode_law", "FLUSH_FRAMES", "flush", "default_writer"]

log = logging.getLogger("cti.media")

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


#: seconds between two warnings of audio dropped as the writer was behind
DROP_LOG_INTERVAL = 10.0
_dropped_since = 0                  # frames dropped since the last warning
_drop_logged = float("-inf")


class _WavFile:
    """The file side of a recording: run by the disk writer's thread only, never the tick.

    Opened once; each block is decoded, written at its place and the header's two sizes
    rewritten to cover it. A gap (audio the tick dropped as the writer's queue was full)
    is left as a hole in the file, which reads as zeros: silence of the same length, so
    the two sides and the call's time stay in step."""

    def __init__(self, path: str, law: str, channels: int):
        self.path = path
        self.law = law
        self.channels = channels
        self.fd: int | None = None
        self.frames = 0                 # frames covered by the header
        self.error: str | None = None   # set once; later jobs of this file do nothing

    def __repr__(self) -> str:
        return f"<recording {self.path}>"

    def _pwrite(self, data: bytes, offset: int) -> None:
        os.pwrite(self.fd, data, offset)

    def open(self) -> None:
        if self.error is not None:
            return
        # the customers' voices: the server user's alone (issue #16), whatever the umask
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._pwrite(_wav_header(self.channels, 0), 0)

    def append(self, rx: bytes, tx: bytes, n: int, gap: int) -> None:
        """``n`` frames: the caller's ``rx`` and the centre's ``tx`` G.711 (either shorter
        than ``n``: ended with silence), after ``gap`` frames that were dropped."""
        if self.error is not None or self.fd is None:
            return
        if gap:
            self._gap(gap)
        if n:
            if self.channels == 2:
                # interleaved as G.711 bytes, then decoded in one call (an interleave of
                # 16-bit arrays by slices costs four times as much, all of it holding the GIL)
                both = bytearray(2 * n)
                both[0:2 * len(rx):2] = rx
                both[1:2 * len(tx):2] = tx
                pcm = decode_law(both, self.law)
                # a side shorter than n is ended with silence (A-law has no character for 0)
                if len(rx) < n:
                    pcm[2 * len(rx)::2] = array.array("h", bytes(2 * (n - len(rx))))
                if len(tx) < n:
                    pcm[2 * len(tx) + 1::2] = array.array("h", bytes(2 * (n - len(tx))))
            else:
                pcm = decode_law(rx, self.law)
                pcm.extend([0] * (n - len(pcm)))
            if struct.pack("=h", 1) != struct.pack("<h", 1):   # pragma: no cover - big-endian
                pcm.byteswap()
            self._pwrite(pcm.tobytes(), _HEADER + self.frames * 2 * self.channels)
            self.frames += n
        self._sizes()

    def _gap(self, frames: int) -> None:
        self.frames += frames
        # the hole reads as zeros; extending the file makes a gap at the end one too
        os.ftruncate(self.fd, _HEADER + self.frames * 2 * self.channels)
        global _dropped_since, _drop_logged
        _dropped_since += frames
        now = time.monotonic()
        if now - _drop_logged >= DROP_LOG_INTERVAL:
            # a disk that stays slow drops a block of every call each second: one line
            # now and then, not one per block
            log.warning("recordings: %.1f s of audio dropped since the last report (the "
                        "disk writer behind; written as silence), %s the latest",
                        _dropped_since / RATE, self.path)
            _dropped_since, _drop_logged = 0, now

    def _sizes(self) -> None:
        # the sizes cover what is on disk: a process killed now leaves a readable WAV (the
        # whole header in one write: one system call, one wait for the GIL after it)
        self._pwrite(_wav_header(self.channels, self.frames * 2 * self.channels), 0)

    def close(self, gap: int) -> None:
        """Final sizes, then fsync before the descriptor goes: the CDR names this file, and
        a power cut (not a kill -9: the page cache outlives the process) must not leave it
        empty. It runs on the writer's thread, so it costs the writer time, never the tick."""
        if self.fd is None:
            return
        try:
            if gap and self.error is None:
                self._gap(gap)
                self._sizes()
            if self.error is None:
                os.fsync(self.fd)
        finally:
            os.close(self.fd)
            self.fd = None

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def fail(self, e: BaseException) -> None:
        """A write failed: this recording ends here (the file is closed; what it holds
        stays readable up to the last header rewrite), the others go on."""
        first = self.error is None
        if first:
            self.error = f"{self.path}: {getattr(e, 'strerror', None) or e}"
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None
        if first:
            log.error("recording ended: %s", self.error,
                      exc_info=None if isinstance(e, OSError) else e)


_writer: DiskWriter | None = None


def default_writer() -> DiskWriter:
    """The process's writer of recordings (one thread for all of them)."""
    global _writer
    if _writer is None:
        _writer = DiskWriter(name="cti-recordings")
    return _writer


def flush(timeout: float | None = None) -> bool:
    """Wait until every recording's writes queued so far are on disk (shutdown, tests);
    False if ``timeout`` seconds were not enough."""
    return flush_all(timeout)


class Recording:
    """A recording in progress, written to ``path`` as it is made; ``stereo``: caller left,
    centre right (mono: the caller only).

    ``add`` takes a tick's G.711 bytes of one direction; ``pause``/``resume`` stop and
    restart what is kept (the paused time is left out); ``close`` completes the file and
    returns its path; ``discard`` removes it (a call whose recording is not kept). The
    file work is queued to ``writer`` (the process's one by default)."""

    def __init__(self, path: str, law: str = "alaw", stereo: bool = True,
                 max_seconds: float | None = None, writer: DiskWriter | None = None):
        self.path = path
        self.law = law
        self.stereo = stereo
        self.max_seconds = max_seconds
        self.paused = False
        self._rx = bytearray()          # what the caller says (we receive), not yet queued
        self._tx = bytearray()          # what the caller hears (we send), not yet queued
        self._frames = 0                # frames handed to the writer (or dropped: silence)
        self._gap = 0                   # frames dropped since the last block the writer took
        self._closed = False
        self.dropped_frames = 0
        self.writer = writer or default_writer()
        self._file = _WavFile(path, law, self.channels)
        # opened now, by the thread: a bad directory is known long before the call clears
        self.writer.submit(self._file, "open")

    @property
    def error(self) -> str | None:
        """Why the file could not be written (disk full, ...), once the writer met it."""
        return self._file.error

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
        """Queue what is held and the file's completion; return the path at once (None: the
        writer already found that no file can be made; ``error`` says why). The file is
        complete once the writer has got to it (``flush``). The open is queued when the
        recording starts, so a bad directory is known by then; a write that fails after
        this (the disk filling in the last second) leaves the named file short, logged."""
        if not self._closed:
            self._flush(pad=True)
        if not self._closed:
            self._closed = True
            self.writer.submit(self._file, "close", (self._gap,))
            self._gap = 0
        return None if self._file.error is not None else self.path

    def discard(self) -> None:
        """Close and remove the file: the call's recording is not kept."""
        self._closed = True
        self._rx.clear()
        self._tx.clear()
        self.writer.submit(self._file, "discard")

    def _flush(self, pad: bool) -> None:
        """Hand the frames both sides have to the writer (all of them with ``pad``: the
        shorter side filled with silence; else, the longer side filled only past a second's
        lead). A block the writer's queue has no room for is dropped: its frames become
        silence in the file (the writer is told with the next block or the close)."""
        rx, tx = self._rx, self._tx
        if self._file.error is not None:
            # the writer could not write this file: the recording ends here
            rx.clear()
            tx.clear()
            self._closed = True
            return
        if self.stereo:
            lead = abs(len(rx) - len(tx))
            n = max(len(rx), len(tx)) if pad or lead >= FLUSH_FRAMES else min(len(rx), len(tx))
        else:
            n = len(rx)
        if n == 0:
            return
        a, b = bytes(rx[:n]), (bytes(tx[:n]) if self.stereo else b"")
        del rx[:n]
        del tx[:n]
        self._frames += n
        if self.writer.submit(self._file, "append", (a, b, n, self._gap), len(a) + len(b)):
            self._gap = 0
        else:
            self._gap += n
            self.dropped_frames += n
