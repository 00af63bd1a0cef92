"""Prompt files: WAV files in one directory, played to callers as G.711 A-law.

A prompt is named by its file's stem: ``welcome`` is ``<dir>/welcome.wav``. Any WAV
sox reads will do (any rate, channels, sample size, A-law or mu-law); files that are not
already 8 kHz mono (16-bit PCM or A-law) are converted with ``sox`` when first loaded.
:meth:`PromptLibrary.load` returns the prompt as A-law characters (even bits inverted,
as sent on an E1 timeslot; G.711 table 1a), ready for a channel's play buffer, one byte
per 125 us sample, and caches it until the file changes.

:func:`make_default_prompts` renders the set the default IVR flow and the ACD's
announcements use (:data:`DEFAULT_PROMPTS`) with espeak-ng, sox turning its 22.05 kHz
output into 8 kHz mono 16-bit WAV; music on hold (``moh``) is a 20 s phrase of plucked
notes from ``sox synth``. Without espeak-ng every spoken prompt becomes a sox tone (one
frequency per prompt, as long as the words would take) and the result says so; without
sox as well the tones are written by Python. Tones are single sines under 700 Hz, so
no prompt can look like a DTMF digit (two tones, one from each Q.23 group) to a
detector listening during barge-in.

Numbers are read from fragments: :func:`say_number` (``123`` -> one hundred twenty
three) and :func:`say_digits` (``"0571"`` -> zero five seven one) return prompt names.

This module does file and process I/O; it belongs to the shells (the media layer,
``make demo``), never to a sans-I/O core.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import tempfile
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable, Mapping

__all__ = [
    "PromptError",
    "PromptLibrary",
    "MadePrompts",
    "DEFAULT_PROMPTS",
    "DIGIT_PROMPTS",
    "MOH",
    "MOH_SECONDS",
    "TTS_PREFIX",
    "RATE",
    "make_default_prompts",
    "say_number",
    "say_digits",
    "valid_prompt_name",
]

RATE = 8000                 # G.711: 8000 samples/s, one A-law character each
MOH = "moh"                 # music on hold
MOH_SECONDS = 20
TTS_PREFIX = "tts:"         # a "prompt" that is text to synthesise (the IVR's `say` as="text")
MAX_TTS_TEXT = 1000         # characters of one text to speak

DIGIT_PROMPTS = tuple(f"digit_{i}" for i in range(10))

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
          "seventeen", "eighteen", "nineteen")
_TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy",
         80: "eighty", 90: "ninety"}
_SCALES = ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"))

#: name -> the words espeak-ng speaks. The IVR flows and the ACD's announcements refer
#: to these names; a site records its own voice under the same names.
DEFAULT_PROMPTS: dict[str, str] = {
    "welcome": "Welcome to the shopping channel.",
    "menu": "For order status, press 1. For sales, press 2. To leave a message, press 3. "
            "For a callback, press 4.",
    "enter_order": "Please enter your order number, followed by the hash key.",
    "order_not_found": "Sorry, we could not find that order.",
    "order_status": "Your order is",
    "order_status_pending": "waiting to be processed.",
    "order_status_processing": "being prepared.",
    "order_status_shipped": "on its way.",
    "order_status_delivered": "delivered.",
    "order_status_cancelled": "cancelled.",
    "your_points": "You have",
    "points": "points.",
    **{f"digit_{i}": w for i, w in enumerate(_ONES)},
    **{f"num_{10 + i}": w for i, w in enumerate(_TEENS)},
    **{f"num_{n}": w for n, w in _TENS.items()},
    "hundred": "hundred",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "minus": "minus",
    "point": "point",
    "star": "star",
    "hash": "hash",
    "position": "Your position in the queue is",
    "estimated_wait": "The estimated wait is",
    "minutes": "minutes.",
    "seconds": "seconds.",
    "agents_busy": "All our agents are busy.",
    "please_hold": "Please hold.",
    "goodbye": "Thank you for calling. Goodbye.",
    "invalid": "Sorry, that is not a valid choice.",
    "no_input": "Sorry, we did not receive your choice.",
    "voicemail_greeting": "Please leave your message after the tone, then hang up.",
    "callback_confirm": "To be called back on the number you are calling from, press 1. "
                        "Or enter another number, followed by the hash key.",
    "callback_thanks": "Thank you. We will call you back soon.",
    "peak_busy": "All our agents are busy with the calls about our offer on television. "
                 "We can call you back as soon as the rush is over.",
    "callback_offer": "To be called back, press 1. To wait for an agent, stay on the line.",
    "survey": "Before you go, please rate this call: press 1 for poor, up to 5 for "
              "excellent.",
    # an agent at its phone (cti/centre/phones.py: the feature codes, the login dialogue)
    "enter_agent": "Please enter your agent number, followed by the hash key.",
    "enter_pin": "Please enter your PIN, followed by the hash key.",
    "logged_in": "You are logged in.",
    "login_failed": "Login failed.",
    "locked": "Your account is locked. Please call your supervisor.",
    "extension_taken": "Another agent is logged in at this phone.",
    "logged_out": "You are logged out.",
    "agent_ready": "You are ready for calls.",
    "agent_not_ready": "You are not ready for calls.",
    "no_agent": "No agent is logged in at this phone.",
}

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class PromptError(Exception):
    """A prompt that cannot be found, read or made; the message names it and its file."""


def valid_prompt_name(name: str) -> bool:
    """A name that stays inside the prompt directory (no separators, no leading dot)."""
    return isinstance(name, str) and bool(_NAME.match(name)) and ".." not in name


# ---------------------------------------------------------------------------------
# Numbers as prompt fragments

def _below_thousand(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [f"digit_{n // 100}", "hundred"]
        n %= 100
    if n >= 20:
        out.append(f"num_{n - n % 10}")
        n %= 10
        if n:
            out.append(f"digit_{n}")
    elif n >= 10:
        out.append(f"num_{n}")
    elif n or not out:
        out.append(f"digit_{n}")
    return out


def say_number(n: int | float | str | Decimal) -> list[str]:
    """The prompt names that read ``n`` as a value: 42 -> num_40 digit_2; 1005 -> digit_1
    thousand digit_5; -3 -> minus digit_3; "12.50" -> num_12 point digit_5 digit_0 (the
    fraction is read digit by digit, as written). Up to 999,999,999,999; ValueError
    beyond that or for something that is not a number."""
    if isinstance(n, bool):
        raise ValueError(f"not a number: {n!r}")
    if isinstance(n, float):
        if not math.isfinite(n):
            raise ValueError(f"not a finite number: {n!r}")
        text = repr(n)
    else:
        text = str(n).strip()
    try:
        Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {n!r}") from None
    m = re.fullmatch(r"([+-]?)(\d*)(?:\.(\d*))?", text)
    if not m or not (m.group(2) or m.group(3)):
        raise ValueError(f"not a number as digits: {n!r}")
    sign, whole, frac = m.group(1), int(m.group(2) or "0"), m.group(3) or ""
    if whole >= 10 ** 12:
        raise ValueError(f"too large to read as a value: {n!r}")
    out = ["minus"] if sign == "-" and (whole or frac.strip("0")) else []
    if whole == 0:
        out.append("digit_0")
    for scale, word in _SCALES:
        if whole >= scale:
            out += _below_thousand(whole // scale) + [word]
            whole %= scale
    if whole:
        out += _below_thousand(whole)
    if frac:
        out.append("point")
        out += [f"digit_{c}" for c in frac]
    return out


def say_digits(s: str | int) -> list[str]:
    """The prompt names that read ``s`` character by character: digits, ``*`` (star),
    ``#`` (hash), ``.`` (point), ``-`` (minus); other characters (spaces, ``+``) are
    skipped."""
    names = {"*": "star", "#": "hash", ".": "point", "-": "minus"}
    out = []
    for c in str(s):
        if c in "0123456789":
            out.append(f"digit_{c}")
        elif c in names:
            out.append(names[c])
    return out


# ---------------------------------------------------------------------------------
# WAV reading

@dataclass(frozen=True)
class _Wav:
    fmt: int            # 1 PCM, 6 A-law, 7 mu-law, 0xFFFE extensible
    channels: int
    rate: int
    bits: int
    data: bytes


def _read_wav(path: Path) -> _Wav:
    """The fmt and data chunks of a RIFF/WAVE file (enough to take the common 8 kHz files
    without a subprocess; anything odd goes to sox)."""
    raw = path.read_bytes()
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise PromptError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8:pos + 8 + size]
        if cid == b"fmt " and len(body) >= 16:
            fmt = struct.unpack_from("<HHIIHH", body)
        elif cid == b"data":
            data = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise PromptError(f"{path}: WAV file without {'fmt' if fmt is None else 'data'} chunk")
    tag, channels, rate, _, _, bits = fmt
    return _Wav(tag, channels, rate, bits, data)


def _sox_to_linear(path: Path) -> bytes:
    """16-bit little-endian 8 kHz mono samples of any file sox reads."""
    if shutil.which("sox") is None:
        raise PromptError(f"{path}: not 8 kHz mono 16-bit or A-law, and sox (to convert it) "
                          "is not installed")
    try:
        p = subprocess.run(["sox", "-V1", _path_arg(path), "-t", "raw", "-r", str(RATE), "-c", "1",
                            "-e", "signed-integer", "-b", "16", "-L", "-"],
                           capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise PromptError(f"{path}: sox took too long to convert it") from None
    if p.returncode != 0:
        msg = p.stderr.decode(errors="replace").strip().splitlines()
        raise PromptError(f"{path}: sox cannot convert it: {msg[-1] if msg else p.returncode}")
    return p.stdout


def _linear_to_alaw(linear_le: bytes) -> bytes:
    from drivers.codecs import alaw_encode     # the C codec; imported when audio is needed
    if len(linear_le) % 2:
        linear_le = linear_le[:-1]
    return alaw_encode(linear_le)


def _file_to_alaw(path: Path) -> bytes:
    w = _read_wav(path)
    if w.channels == 1 and w.rate == RATE:
        if w.fmt == 6 and w.bits == 8:
            return bytes(w.data)
        if w.fmt == 1 and w.bits == 16:
            return _linear_to_alaw(w.data)
    return _linear_to_alaw(_sox_to_linear(path))


# ---------------------------------------------------------------------------------
# The library

class PromptLibrary:
    """The prompts of one directory, loaded as A-law and cached.

    ``load(name)`` re-reads a file whose size or modification time changed, so a
    prompt re-recorded on a running system is heard from the next play on; a cached
    prompt's file is looked at again at most every ``recheck`` seconds of ``clock``
    (the wall clock: a call centre plays prompts hundreds of times a second at a peak).
    ``load("tts:<text>")`` synthesises the text (espeak-ng; a tone without it) and keeps
    the last ``tts_cache`` such renderings. Loading runs sox or espeak-ng as a
    subprocess when needed: call it from the shell, ahead of the tick that plays it.
    """

    def __init__(self, directory: str | os.PathLike, *, tts_cache: int = 64,
                 voice: str = "en-us", speed: int = 150, recheck: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.directory = Path(directory)
        self.voice = voice
        self.speed = speed
        self.recheck = float(recheck)
        self._clock = clock
        # name -> ((mtime_ns, size), audio, path, when its file was last looked at)
        self._cache: dict[str, tuple[tuple[int, int], bytes, str, float]] = {}
        self._tts: OrderedDict[str, bytes] = OrderedDict()
        self._tts_cache = max(0, int(tts_cache))

    def path(self, name: str) -> Path:
        if not valid_prompt_name(name):
            raise PromptError(f"prompt {name!r}: not a valid prompt name "
                              "(letters, digits, '_', '-', '.'; no path)")
        return self.directory / f"{name}.wav"

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name.startswith(TTS_PREFIX):
            return True
        return valid_prompt_name(name) and self.path(name).is_file()

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.wav")
                      if p.is_file() and valid_prompt_name(p.stem))

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that have no file (for checking flows at start-up)."""
        return [n for n in names if n not in self]

    def load(self, name: str) -> bytes:
        """The prompt as A-law characters at 8 kHz (one byte per sample)."""
        if name.startswith(TTS_PREFIX):
            return self._load_tts(name[len(TTS_PREFIX):])
        hit = self._cache.get(name)
        now = self._clock()
        if hit is not None and now - hit[3] < self.recheck:
            return hit[1]
        # a cached prompt's file is still looked at (a prompt re-recorded is played
        # new), by its path string: pathlib's objects cost more than the stat itself
        path = hit[2] if hit is not None else str(self.path(name))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise PromptError(f"prompt {name!r}: no file {path}") from None
        key = (st.st_mtime_ns, st.st_size)
        if hit is not None and hit[0] == key:
            self._cache[name] = (key, hit[1], path, now)
            return hit[1]
        audio = _file_to_alaw(Path(path))
        self._cache[name] = (key, audio, path, now)
        return audio

    def duration(self, name: str) -> float:
        """Seconds the prompt plays."""
        return len(self.load(name)) / RATE

    def clear_cache(self) -> None:
        self._cache.clear()
        self._tts.clear()

    def _load_tts(self, text: str) -> bytes:
        hit = self._tts.get(text)
        if hit is not None:
            self._tts.move_to_end(text)
            return hit
        with tempfile.TemporaryDirectory(prefix="cti-tts-") as tmp:
            out = Path(tmp) / "tts.wav"
            if shutil.which("espeak-ng") and shutil.which("sox"):
                _speak(text, out, self.voice, self.speed)
            else:
                _write_tone_wav(out, _tone_freq(text), _speech_seconds(text))
            audio = _file_to_alaw(out)
        if self._tts_cache:
            self._tts[text] = audio
            while len(self._tts) > self._tts_cache:
                self._tts.popitem(last=False)
        return audio


# ---------------------------------------------------------------------------------
# Making the default set

@dataclass(frozen=True)
class MadePrompts:
    """What :func:`make_default_prompts` did. ``engine`` is ``espeak-ng`` (speech),
    ``sox`` (tones: espeak-ng missing) or ``python`` (tones: sox missing too); ``note``
    says in a sentence what was used and what was missing."""
    directory: Path
    engine: str
    made: tuple[str, ...]
    kept: tuple[str, ...]
    note: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.made + self.kept))


def _speech_seconds(text: str) -> float:
    return max(0.4, min(8.0, 0.065 * len(text)))


def _tone_freq(name: str) -> int:
    """A frequency per prompt name, 300..660 Hz in 20 Hz steps: below the DTMF low group
    (697 Hz), and a lone sine is never a DTMF pair anyway."""
    return 300 + 20 * (sum(name.encode()) % 19)


def _run(cmd: list[str], what: str, stdin: bytes | None = None) -> bytes:
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise PromptError(f"{what}: {cmd[0]} took too long") from None
    if p.returncode != 0:
        msg = p.stderr.decode(errors="replace").strip().splitlines()
        raise PromptError(f"{what}: {cmd[0]} failed: {msg[-1] if msg else p.returncode}")
    return p.stdout


_SOX_OUT = ["-r", str(RATE), "-c", "1", "-e", "signed-integer", "-b", "16"]


def _speak(text: str, out: Path, voice: str, speed: int) -> None:
    """espeak-ng (22.05 kHz) through sox to an 8 kHz mono 16-bit WAV, peaks at -3 dBFS."""
    # "--" ends the options: the text is spoken, even "-f/etc/os-release" (which would
    # otherwise make espeak-ng read that file aloud); NULs and control characters (which
    # argv cannot carry) become spaces, and a very long text is cut
    text = "".join(c if c.isprintable() else " " for c in text[:MAX_TTS_TEXT])
    wav = _run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", "--", text],
               f"speaking {text[:40]!r}")
    _run(["sox", "-V1", "-t", "wav", "-", *_SOX_OUT, _path_arg(out), "norm", "-3"],
         f"converting {out.name}", stdin=wav)


def _path_arg(p) -> str:
    """A file for a command line, absolute so that it never starts with '-' (an option)."""
    return os.path.abspath(os.fspath(p))


def _sox_tone(out: Path, freq: int, seconds: float) -> None:
    _run(["sox", "-V1", "-n", *_SOX_OUT, _path_arg(out), "synth", f"{seconds:.3f}", "sine", str(freq),
          "fade", "0.02", f"{seconds:.3f}", "0.05", "gain", "-10"], f"making {out.name}")


def _write_wav(out: Path, samples: array) -> None:
    data = samples.tobytes() if sys.byteorder == "little" else _swapped(samples)
    hdr = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1,
                      RATE, RATE * 2, 2, 16, b"data", len(data))
    out.write_bytes(hdr + data)


def _swapped(a: array) -> bytes:
    b = array("h", a)
    b.byteswap()
    return b.tobytes()


def _note(freq: float, seconds: float, amp: float) -> array:
    n = int(seconds * RATE)
    fade = min(160, n // 4)
    out = array("h", bytes(2 * n))
    for i in range(n):
        env = min(1.0, i / fade if fade else 1.0, (n - i) / fade if fade else 1.0)
        out[i] = int(amp * env * math.sin(2 * math.pi * freq * i / RATE))
    return out


def _write_tone_wav(out: Path, freq: int, seconds: float) -> None:
    _write_wav(out, _note(freq, seconds, 10000))


# C major arpeggio up and down, eight notes of 0.5 s: a 4 s phrase, played five times.
_MOH_NOTES = ("C4", "E4", "G4", "C5", "A4", "F4", "D4", "G4")
_MOH_HZ = (261.63, 329.63, 392.0, 523.25, 440.0, 349.23, 293.66, 392.0)


def _sox_moh(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="cti-moh-") as tmp:
        notes = []
        for i, note in enumerate(_MOH_NOTES):
            p = Path(tmp) / f"n{i}.wav"
            _run(["sox", "-V1", "-n", *_SOX_OUT, _path_arg(p), "synth", "0.5", "pluck", note,
                  "fade", "0.01", "0.5", "0.15", "gain", "-12"], "making music on hold")
            notes.append(_path_arg(p))
        phrase = Path(tmp) / "phrase.wav"
        _run(["sox", "-V1", *notes, _path_arg(phrase)], "making music on hold")
        repeats = MOH_SECONDS // 4 - 1
        _run(["sox", "-V1", _path_arg(phrase), _path_arg(out), "repeat", str(repeats),
              "trim", "0", f"{RATE * MOH_SECONDS}s"], "making music on hold")


def _python_moh(out: Path) -> None:
    phrase = array("h")
    for hz in _MOH_HZ:
        phrase.extend(_note(hz, 0.5, 6000))
    _write_wav(out, phrase * (MOH_SECONDS // 4))


def make_default_prompts(directory: str | os.PathLike, *, names: Iterable[str] | None = None,
                         texts: Mapping[str, str] | None = None, force: bool = False,
                         voice: str = "en-us", speed: int = 150) -> MadePrompts:
    """Render the default prompt set into ``directory`` (created if needed).

    ``texts`` adds or rewords prompts (name -> words); ``names`` limits the work to
    those names (``moh`` included); files already there are kept unless ``force``.
    Each file is written under a temporary name and renamed, so an interrupted run
    never leaves half a prompt. Every file is 8 kHz mono 16-bit PCM.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = dict(DEFAULT_PROMPTS)
    if texts:
        table.update(texts)
    wanted = list(table) + [MOH] if names is None else list(dict.fromkeys(names))
    for n in wanted:
        if not valid_prompt_name(n):
            raise PromptError(f"prompt {n!r}: not a valid prompt name")
        if n != MOH and n not in table:
            raise PromptError(f"prompt {n!r}: no words for it (give them in texts=)")
    have_sox = shutil.which("sox") is not None
    have_espeak = shutil.which("espeak-ng") is not None
    if have_sox and have_espeak:
        engine, note = "espeak-ng", "spoken prompts by espeak-ng, converted to 8 kHz by sox"
    elif have_sox:
        engine, note = "sox", ("espeak-ng is not installed: spoken prompts are sox tones "
                               "(install espeak-ng for speech)")
    else:
        engine, note = "python", ("sox is not installed" + ("" if have_espeak else
                                  " nor espeak-ng") + ": prompts are tones written by Python "
                                  "(install sox and espeak-ng for speech)")
    made, kept = [], []
    for n in wanted:
        out = directory / f"{n}.wav"
        if out.exists() and not force:
            kept.append(n)
            continue
        tmp = directory / f".{n}.tmp.wav"
        try:
            if n == MOH and n not in (texts or {}):
                (_sox_moh if have_sox else _python_moh)(tmp)
            elif engine == "espeak-ng":
                _speak(table[n], tmp, voice, speed)
            elif engine == "sox":
                _sox_tone(tmp, _tone_freq(n), _speech_seconds(table[n]))
            else:
                _write_tone_wav(tmp, _tone_freq(n), _speech_seconds(table[n]))
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                tmp.unlink()
        made.append(n)
    return MadePrompts(directory, engine, tuple(made), tuple(kept), note)
