"""A channel, timeslot or analog port, for a technician (``cti channel``):
``channel.show``, ``channel.tone`` (a tone, DTMF or a call-progress tone sent, captured
if asked) and ``channel.listen`` (what the channel hears or sends, for line time). The
listens, the channels' taps and the tones to stop are :class:`Listens`, held by the
service as ``svc.listens``; a listen answers from a later tick."""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

from cti.server.ops.board import PORT_STATUS, TIMESLOT, port_status
from cti.server.registry import operation
from cti.server.schema import BOOL, CHANNEL, INT, NUM, STR, Arg, RequestError, obj

MAX_LISTEN_SECONDS = 60.0
MAX_LISTENS = 16             # channel.listen/tone captures at once (each holds its audio)
LISTEN_GRACE = 0.5           # line s past a listen's end before it answers with what it has

#: what a listen (or a tone's capture) answers with
HEARD = {"law": STR, "rate": INT, "seconds": NUM, "direction": STR, "complete": BOOL,
         "ended": BOOL, "audio": STR}


@operation("channel.show", rights=("read",), args={"channel": CHANNEL},
           result={"anyOf": [TIMESLOT, PORT_STATUS]},
           events=())
def channel_show(svc, a):
    """A timeslot's or port's state (with the R2 state on an R2 span). A timeslot: ``kind``
    bearer, dchan (TS16 of a PRI span) or cas, its ``signalling``, ``cas_rx``; a port
    (``fxs/N``, ``fxo/N``): ``kind`` fxs or fxo, ``hook`` on or off, ``ringing``, ``polarity``
    normal or reversed, ``battery``, ``connected``."""
    kind, obj, ch = svc.resolve_channel(a["channel"])
    if kind == "port":
        return port_status(svc, obj)
    out = ch.show()
    r2 = svc.r2.get(obj.number)
    if r2 is not None:
        # like `ftdm r2 status`: abcd sent and recognised, and the R2 state
        out["r2"] = r2.status()["channels"].get(ch.timeslot)
    return out


@operation("channel.tone", rights=("lines",), args={"channel": CHANNEL,
                                 "freq": Arg(float, lo=0, hi=4000),
                                 "dtmf": Arg(str, max_len=64, text="dtmf"),
                                 "tone": Arg(str, choices=("dial", "ringback", "busy",
                                                           "congestion")),
                                 "capture": Arg(bool, default=False),
                                 "freq2": Arg(float, default=0, lo=0, hi=4000),
                                 "level": Arg(float, default=-10, lo=-60, hi=3),
                                 "ms": Arg(int, default=1000, lo=1, hi=600_000)},
           result=obj({"channel": STR},
                      {"dtmf": STR, "tone": STR, "freq": NUM, "freq2": NUM,
                       "level": NUM, "ms": INT, **HEARD}),
           events=("channel.tone_done",), deferred=True)
def channel_tone(svc, a, rid=None, token=None):
    """A tone (``freq``), DTMF digits (``dtmf``) or a call-progress tone (``tone``); with
    ``capture`` the reply waits until it is over and carries what went out. ``freq`` in Hz with
    ``freq2``, ``level`` (dBm0) and ``ms``; DTMF 80 ms on and off (Q.23); ``tone`` of the
    board's tone set (dial, ringback, busy, congestion) for ``ms``. The reply says what was
    set; ``channel.tone_done`` follows. With ``capture`` the reply adds ``law``, ``rate``,
    ``seconds``, ``direction`` tx and ``audio``: what went out on the line (``cti channel tone
    --wav``)."""
    given = [k for k in ("freq", "dtmf", "tone") if a[k] is not None]
    if len(given) != 1:
        raise RequestError("bad_arg", "give one of freq, dtmf or tone" + (
            f" (not {' and '.join(given)})" if given else ""), "args")
    kind, obj, ch = svc.resolve_channel(a["channel"])
    target = ch if kind == "span" else obj
    result = {"channel": a["channel"]}
    if a["dtmf"] is not None:
        digits = a["dtmf"]
        if not digits or any(d not in "0123456789*#ABCDabcd" for d in digits):
            raise RequestError("bad_arg", f"{digits!r}: DTMF digits are 0-9 * # A-D",
                               "args.dtmf")
        seconds = 0.16 * len(digits)          # 80 ms on, 80 ms off (Q.23)
        start = lambda: target.dtmf(digits)   # noqa: E731
        result.update(dtmf=digits)
    elif a["tone"] is not None:
        seconds = a["ms"] / 1000.0
        start = lambda: target.progress_tone(a["tone"])   # noqa: E731
        svc.listens.stops.append((svc.line_time + seconds, lambda: target.progress_tone(None)))
        result.update(tone=a["tone"], ms=a["ms"])
    else:
        seconds = a["ms"] / 1000.0
        start = lambda: target.tone(a["freq"], a["freq2"], a["level"], a["ms"])  # noqa: E731
        result.update(freq=a["freq"], freq2=a["freq2"], level=a["level"], ms=a["ms"])
    if not a["capture"]:
        start()
        return result
    # tap what goes out first, so the capture starts with the signal
    listen = svc.listens.listen(a["channel"], "tx", seconds + 0.04, token, rid)
    listen.extra = result
    start()
    return None


@operation("channel.listen", rights=("lines",), args={"channel": CHANNEL,
                                   "direction": Arg(str, default="rx", choices=("rx", "tx")),
                                   "seconds": Arg(float, default=1.0, lo=0.001,
                                                  hi=MAX_LISTEN_SECONDS)},
           result=obj({"channel": STR, **HEARD}),
           events=(), deferred=True)
def channel_listen(svc, a, rid=None, token=None):
    """What a channel hears (or sends) for some line time, as G.711 audio. ``audio``: base64 of
    G.711 bytes in ``law`` (the span's; analog ports are A-law), 8000 bytes a second,
    ``direction`` rx (what the channel hears) or tx (what it sends). The reply comes after
    ``seconds`` of line time (give the request a longer timeout); audio is never published as
    events. Several listens of one channel share one tap; at most 16 listens and captures at
    once (``busy`` beyond). ``complete`` false when less than asked came: ``ended`` true when
    the channel's tap went (the call on it ended), else the reply comes 0.5 s after the asked
    time with what was heard."""
    svc.listens.listen(a["channel"], a["direction"], a["seconds"], token, rid)
    return None


@dataclass
class _Listen:
    """A ``channel.listen`` in progress: collects the tapped audio of ``frames`` samples."""

    token: Any
    rid: Any
    key: tuple
    channel: str
    law: str
    frames: int
    until: float = math.inf     # line time: answer with what came, even if short
    buf: bytearray = field(default_factory=bytearray)
    extra: dict = field(default_factory=dict)     # more of the reply (channel.tone capture)
    ticks: int = 0                                # ticks it has waited
    had: int = 0                                  # len(buf) a tick ago


class Listens:
    """The listens and tone captures in progress (at most :data:`MAX_LISTENS`), the taps
    they hold on channels (several listens of one channel share one tap), and the
    call-progress tones to stop, in line time. The service feeds it each tick's audio
    (:meth:`audio`) and runs :meth:`tick`, which answers the listens that are done."""

    def __init__(self, svc):
        self.svc = svc
        self.active: list[_Listen] = []
        self.taps: dict[tuple, int] = {}
        self.stops: list[tuple[float, Any]] = []    # (line time, stop): tones to stop

    def __len__(self) -> int:
        return len(self.active)

    def listen(self, channel: str, direction: str, seconds: float, token, rid) -> _Listen:
        svc = self.svc
        kind, obj, ch = svc.resolve_channel(channel)
        if len(self.active) >= MAX_LISTENS:
            svc.stats.count("listens_refused")
            raise RequestError("busy", f"{len(self.active)} listens and captures are running "
                               f"(at most {MAX_LISTENS}): try again when one is done", "op")
        if kind == "span":
            key, law = (obj.number, ch.timeslot, direction), obj.law
        else:
            key, law = (0, obj.number, direction), "alaw"   # analog ports: A-law (hal_sim.c)
        frames = max(1, int(round(seconds * 8000)))
        lst = _Listen(token, rid, key, channel, law, frames,
                      until=svc.line_time + seconds + LISTEN_GRACE)
        self._tap(key)
        self.active.append(lst)
        return lst

    def audio(self, ev) -> None:
        """A tick's audio of one tapped channel, to the listens on it."""
        # span 0: timeslot is the port
        key = (ev.span, ev.timeslot, "tx" if ev.sent else "rx")
        for lst in self.active:
            if lst.key == key:
                lst.buf += ev.data

    def tick(self) -> list[tuple[Any, dict]]:
        """The listens that are done, answered (token, reply); the tones due, stopped."""
        svc = self.svc
        done = []
        for lst in list(self.active):
            # a tapped channel gives audio every tick; none (past the first ticks) means
            # its tap went with the call that held it (ended); a listen past its time and
            # grace (cti LISTEN_GRACE) answers too: with what came, never not at all
            lst.ticks += 1
            ended = lst.ticks > 2 and len(lst.buf) == lst.had
            lst.had = len(lst.buf)
            complete = len(lst.buf) >= lst.frames
            if complete or ended or svc.line_time >= lst.until:
                audio = bytes(lst.buf[:lst.frames])
                self.active.remove(lst)
                try:
                    self._untap(lst.key)
                    done.append((lst.token, svc._reply(lst.rid, dict(lst.extra, **{
                        "channel": lst.channel, "law": lst.law, "rate": 8000,
                        "seconds": len(audio) / 8000, "direction": lst.key[2],
                        "complete": complete, "ended": ended and not complete,
                        "audio": base64.b64encode(audio).decode(),
                    }))))
                except Exception as exc:
                    svc._server_error("listen", exc, channel=lst.channel)
                    done.append((lst.token, svc._error(lst.rid, RequestError(
                        "internal", f"{type(exc).__name__}: {exc}"))))
        for when, stop in list(self.stops):
            if svc.line_time >= when:
                self.stops.remove((when, stop))
                try:
                    stop()
                except Exception as exc:
                    svc._server_error("tone.stop", exc)
        return done

    def _tap_target(self, key: tuple):
        span, chan = key[:2]
        if span == 0:
            return self.svc.board.ports[chan]
        return self.svc.board.spans[span].channels[chan]

    def _retap(self, key: tuple) -> None:
        """Set the channel's taps to what the listens on it need (rx, tx or both)."""
        span, chan = key[:2]
        rx = self.taps.get((span, chan, "rx"), 0) > 0
        tx = self.taps.get((span, chan, "tx"), 0) > 0
        if self.svc.centre is not None and self.svc.centre.records_on(span, chan):
            rx = tx = True       # the centre's recording keeps both sides through a listen
        try:
            self._tap_target(key).tap(rx or tx, "both" if rx and tx else "tx" if tx else "rx")
        except Exception:  # pragma: no cover - best effort on the way out
            pass

    def _tap(self, key: tuple) -> None:
        self.taps[key] = self.taps.get(key, 0) + 1
        self._retap(key)

    def _untap(self, key: tuple) -> None:
        n = self.taps.get(key, 0) - 1
        if n <= 0:
            self.taps.pop(key, None)
        else:
            self.taps[key] = n
        self._retap(key)
