"""Running a caller through a flow: :class:`IvrSession` and the events it emits.

:class:`IvrSession` runs one call through one flow, h11/aioquic style: the centre passes
inputs (``start``, ``digit``, ``prompt_done``, ``lookup_result``, ``handle_timer``,
``hangup``) with ``now`` and takes events from ``next_event()``: :class:`Play`,
:class:`StopPlay`, :class:`Lookup`, :class:`DataChanged`, and exactly one of the
outcomes :class:`Route`, :class:`Voicemail`, :class:`Callback`, :class:`Hangup`,
:class:`AbandonedInIvr` (the second of the four places calls are lost, PRODUCT.md).

Prompts and digits: a prompt with barge-in stops at the first digit (the session emits
:class:`StopPlay`; no ``prompt_done`` is expected for it) and the digit counts; a digit
during a prompt without barge-in is discarded. A digit that stops a ``play`` or ``say``
is kept as type-ahead for the next menu, collect or callback node, which then skips its
prompt. Timers run from the end of the prompt: ``timeout`` for the first digit,
``interdigit`` between digits. After the last retry a node goes to ``on_fail`` or the
session hangs up (reason ``retries_exhausted``).

:class:`IvrSession` is about 400 lines and kept whole: every node type is a branch of the
same few steps (enter, prompt played, digit, complete, fail) over one session's state
(phase, timer, attempt, type-ahead, data); split by node type, that state would be
shared across classes instead of read in one place.
"""
from __future__ import annotations

import copy
import enum
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping

from cti.centre.ivr.flow import (
    _TEMPLATE, DTMF_DIGITS, BranchNode, CallbackNode, CollectNode, Flow, HangupNode,
    LookupNode, MenuNode, Node, PlayNode, QueueNode, SayNode, SetNode, VoicemailNode,
    _InputNode,
)
from cti.centre.prompts import TTS_PREFIX, say_digits, say_number

MAX_STEPS = 100                      # nodes entered for one input before the flow is a loop
MAX_TYPEAHEAD = 32


@dataclass(frozen=True)
class IvrEvent:
    pass


@dataclass(frozen=True)
class Play(IvrEvent):
    """Play these prompts in turn, then report ``prompt_done``. ``interruptible``: a
    digit stops it (barge-in). A name starting ``tts:`` is text to synthesise.
    ``play_id`` numbers the session's plays (1, 2, ...); passing it back to
    ``prompt_done`` makes a late report for a stopped prompt harmless."""
    prompts: tuple[str, ...]
    interruptible: bool
    play_id: int = field(default=0, compare=False)


@dataclass(frozen=True)
class StopPlay(IvrEvent):
    """Stop the prompt now (the caller barged in); no ``prompt_done`` is expected."""


@dataclass(frozen=True)
class Lookup(IvrEvent):
    """Look ``value`` up in ``table`` by ``key_column``; answer with ``lookup_result``."""
    table: str
    key_column: str
    value: str


@dataclass(frozen=True)
class DataChanged(IvrEvent):
    data: dict


@dataclass(frozen=True)
class Route(IvrEvent):
    """The call leaves the IVR for a queue; ``by_area``: the centre picks the queue by
    the ANI's prefix (``queue`` is None)."""
    queue: str | None
    data: dict
    by_area: bool = False


@dataclass(frozen=True)
class Voicemail(IvrEvent):
    box: str
    data: dict


@dataclass(frozen=True)
class Callback(IvrEvent):
    """The caller asked to be called back on ``number``; the centre keeps the request
    for ``queue``, plays ``prompt`` (the thanks) and clears the call."""
    number: str
    queue: str | None
    data: dict
    prompt: str | None = None


@dataclass(frozen=True)
class Hangup(IvrEvent):
    """The IVR ends the call: play ``prompt`` (if any), then clear."""
    reason: str
    prompt: str | None


@dataclass(frozen=True)
class AbandonedInIvr(IvrEvent):
    """The caller hung up in the IVR; ``path`` is the nodes visited (loss point 2)."""
    path: tuple[str, ...]


OUTCOMES = (Route, Voicemail, Callback, Hangup, AbandonedInIvr)


class _Phase(enum.Enum):
    IDLE = "idle"            # not started
    PLAYING = "playing"      # a node's prompt is playing
    INPUT = "input"          # waiting for digits
    LOOKUP = "lookup"        # waiting for lookup_result
    ENDED = "ended"


_MISSING = object()


def _get_path(data: Mapping, key: str) -> Any:
    cur: Any = data
    for part in key.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _set_path(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    cur = data
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    cur[parts[-1]] = value


class IvrSession:
    """One call in one flow (sans-I/O: ``now`` in, events out, no clock).

    The centre drives it::

        s = IvrSession(flow, call_id, ani, dnis, data)
        s.start(now)
        ... s.digit(now, "1"); s.prompt_done(now); s.handle_timer(now) when
            now >= s.get_timer(); s.lookup_result(now, record); s.hangup(now)
        while (ev := s.next_event()) is not None: ...

    Inputs after the session ended are ignored; a digit that is not a DTMF key
    raises ValueError (the caller's bug, not the line's).
    """

    def __init__(self, flow: Flow, call: str, ani: str, dnis: str, data: dict | None = None):
        self.flow = flow
        self.call = call
        self.ani = ani or ""
        self.dnis = dnis or ""
        self._data: dict = copy.deepcopy(dict(data or {}))
        self._events: deque[IvrEvent] = deque()
        self._path: list[str] = []
        self._node: Node | None = None
        self._phase = _Phase.IDLE
        self._interruptible = False
        self._deadline: float | None = None
        self._timer_kind = ""
        self._entry = ""
        self._attempt = 0
        self._last_digits = ""
        self._typeahead: list[str] = []
        self._outcome: IvrEvent | None = None
        self._steps = 0
        self._started = False
        self._play_id = 0

    # -- properties ------------------------------------------------------------
    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self._path)

    @property
    def data(self) -> dict:
        return self._data

    @property
    def node(self) -> str | None:
        """The current node's name."""
        return self._node.name if self._node else None

    @property
    def ended(self) -> bool:
        return self._phase is _Phase.ENDED

    @property
    def outcome(self) -> IvrEvent | None:
        """The one Route/Voicemail/Callback/Hangup/AbandonedInIvr, once emitted."""
        return self._outcome

    @property
    def digits(self) -> str:
        """The digits last entered at a collect or callback node."""
        return self._last_digits

    # -- inputs ----------------------------------------------------------------
    def start(self, now: float) -> None:
        if self._started or self._phase is _Phase.ENDED:
            return
        self._started = True
        start = self.flow.start
        self._run(now, lambda: start)

    def digit(self, now: float, d: str) -> None:
        if not isinstance(d, str) or len(d) != 1 or d not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF key: {d!r}")
        if self._phase is _Phase.PLAYING:
            if not self._interruptible:
                return
            self._stop_play()
            if isinstance(self._node, _InputNode):
                self._phase = _Phase.INPUT
                self._run(now, lambda: self._input_digit(now, d))
            else:
                if len(self._typeahead) < MAX_TYPEAHEAD:
                    self._typeahead.append(d)
                self._run(now, lambda: self._played(now))
        elif self._phase is _Phase.INPUT:
            self._run(now, lambda: self._input_digit(now, d))

    def prompt_done(self, now: float, play_id: int | None = None) -> None:
        """The current prompt finished. With ``play_id`` (from :class:`Play`), a report
        for any other play is ignored."""
        if self._phase is not _Phase.PLAYING:
            return
        if play_id is not None and play_id != self._play_id:
            return
        self._interruptible = False
        if isinstance(self._node, _InputNode):
            self._phase = _Phase.INPUT
            self._arm(now, self._node.timeout, "first")
        else:
            self._run(now, lambda: self._played(now))

    def lookup_result(self, now: float, record: Mapping | None) -> None:
        if self._phase is not _Phase.LOOKUP:
            return
        node = self._node
        assert isinstance(node, LookupNode)
        self._disarm()
        if record is None:
            self._run(now, lambda: node.missing)
            return
        _set_path(self._data, node.store_as, copy.deepcopy(dict(record)))
        self._emit(DataChanged(copy.deepcopy(self._data)))
        self._run(now, lambda: node.found)

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        kind = self._timer_kind
        self._disarm()
        if self._phase is _Phase.INPUT:
            node = self._node
            if kind == "first" and isinstance(node, CallbackNode) and node.ani_on_no_input \
                    and self.ani:
                # an imposed callback: silence confirms the caller's own number
                self._run(now, lambda: self._complete(now, timed_out=True))
            elif kind == "first":
                self._run(now, lambda: self._fail(now, no_input=True))
            else:
                self._run(now, lambda: self._complete(now, timed_out=True))
        elif self._phase is _Phase.LOOKUP:
            node = self._node
            assert isinstance(node, LookupNode)
            self._run(now, lambda: node.missing)

    def hangup(self, now: float) -> None:
        """The caller left while in the IVR."""
        if self._phase is _Phase.ENDED:
            return
        self._stop_play(emit=False)
        self._end(AbandonedInIvr(self.path))

    def next_event(self) -> IvrEvent | None:
        return self._events.popleft() if self._events else None

    # -- machinery -------------------------------------------------------------
    def _emit(self, ev: IvrEvent) -> None:
        self._events.append(ev)

    def _end(self, outcome: IvrEvent) -> None:
        self._disarm()
        self._phase = _Phase.ENDED
        self._outcome = outcome
        self._typeahead.clear()
        self._emit(outcome)

    def _arm(self, now: float, seconds: float, kind: str) -> None:
        self._deadline = now + seconds
        self._timer_kind = kind

    def _disarm(self) -> None:
        self._deadline = None
        self._timer_kind = ""

    def _play(self, prompts: tuple[str, ...], interruptible: bool) -> None:
        self._disarm()
        self._phase = _Phase.PLAYING
        self._interruptible = interruptible
        self._play_id += 1
        self._emit(Play(tuple(prompts), interruptible, self._play_id))

    def _stop_play(self, emit: bool = True) -> None:
        if self._phase is _Phase.PLAYING:
            if emit:
                self._emit(StopPlay())
            self._interruptible = False

    def _run(self, now: float, step) -> None:
        """Run one input's step; a node name it returns is entered (and so on)."""
        self._steps = 0
        nxt = step()
        if nxt is not None and self._phase is not _Phase.ENDED:
            self._goto(now, nxt)

    def _goto(self, now: float, name: str | None) -> None:
        while name is not None and self._phase is not _Phase.ENDED:
            self._steps += 1
            if self._steps > MAX_STEPS:
                self._end(Hangup("flow_loop", self.flow.fail_prompt))
                return
            name = self._enter(now, self.flow.nodes[name])

    def _ref(self, ref: str) -> Any:
        if ref == "ani":
            return self.ani
        if ref == "dnis":
            return self.dnis
        if ref == "digits":
            return self._last_digits
        return _get_path(self._data, ref)

    def _enter(self, now: float, node: Node) -> str | None:
        """Enter ``node``; returns the next node to enter at once, or None to wait."""
        self._path.append(node.name)
        self._node = node
        self._disarm()
        self._phase = _Phase.IDLE
        if isinstance(node, PlayNode):
            if not node.prompts:
                return node.next
            self._play(node.prompts, node.barge_in)
            return None
        if isinstance(node, _InputNode):
            return self._begin_input(now, node)
        if isinstance(node, LookupNode):
            value = self._ref(node.key)
            if value is _MISSING or value is None or value == "" or isinstance(value, dict):
                return node.missing
            self._phase = _Phase.LOOKUP
            self._arm(now, node.timeout, "lookup")
            self._emit(Lookup(node.table, node.column, str(value)))
            return None
        if isinstance(node, SayNode):
            parts = self._say_parts(node)
            if parts is None:
                return node.missing if node.missing is not None else node.next
            if not parts:
                return node.next
            self._play(parts, node.barge_in)
            return None
        if isinstance(node, (QueueNode, VoicemailNode)):
            if node.prompts:
                self._play(node.prompts, False)
                return None
            self._leave(node)
            return None
        if isinstance(node, SetNode):
            value = self._ref(node.source) if node.source is not None else node.value
            if value is _MISSING:
                value = None
            _set_path(self._data, node.key, copy.deepcopy(value))
            self._emit(DataChanged(copy.deepcopy(self._data)))
            return node.next
        if isinstance(node, BranchNode):
            value = self._ref(node.key)
            if value is _MISSING or value is None:
                return node.default
            if isinstance(value, bool):
                value = "true" if value else "false"
            return node.cases.get(str(value), node.default)
        if isinstance(node, HangupNode):
            self._end(Hangup(node.reason, node.prompt))
            return None
        raise AssertionError(f"unknown node {node!r}")

    def _played(self, now: float) -> str | None:
        """The prompt of a play, say, queue or voicemail node finished (or was cut)."""
        node = self._node
        self._phase = _Phase.IDLE
        if isinstance(node, (PlayNode, SayNode)):
            return node.next
        if isinstance(node, (QueueNode, VoicemailNode)):
            self._leave(node)
        return None

    def _leave(self, node: QueueNode | VoicemailNode) -> None:
        data = copy.deepcopy(self._data)
        if isinstance(node, QueueNode):
            self._end(Route(node.queue, data, node.by_area))
        else:
            self._end(Voicemail(node.box, data))

    def _say_parts(self, node: SayNode) -> tuple[str, ...] | None:
        """The prompts a say node plays, or None when its value is missing."""
        if node.mode == "text":
            missing = False

            def sub(m: re.Match) -> str:
                nonlocal missing
                v = self._ref(m.group(1))
                if v is _MISSING or v is None:
                    missing = True
                    return ""
                return str(v)
            text = _TEMPLATE.sub(sub, node.text or "")
            if missing:
                return None
            return node.before + (TTS_PREFIX + text,) + node.after
        value = self._ref(node.value or "")
        if value is _MISSING or value is None or value == "" or isinstance(value, (dict, list)):
            return None
        if node.mode == "number":
            try:
                parts = say_number(value)
            except ValueError:
                return None
        elif node.mode == "digits":
            parts = say_digits(value)
            if not parts:
                return None
        else:
            word = str(value).strip().lower().replace(" ", "_")
            if not word or not re.match(r"^[a-z0-9_.\-]+$", node.prefix.lower() + word):
                return None
            parts = [node.prefix + word]
        return node.before + tuple(parts) + node.after

    # -- digit input (menu, collect, callback) ---------------------------------
    def _begin_input(self, now: float, node: _InputNode) -> str | None:
        self._attempt = 0
        self._entry = ""
        if self._typeahead:
            self._phase = _Phase.INPUT
            while self._typeahead and self._phase is _Phase.INPUT and self._node is node:
                d = self._typeahead.pop(0)
                nxt = self._input_digit(now, d)
                if nxt is not None:
                    return nxt
            if self._phase is not _Phase.INPUT or self._node is not node:
                self._typeahead.clear()
            return None
        return self._prompt_input(now, node, node.prompts)

    def _prompt_input(self, now: float, node: _InputNode, prompts: tuple[str, ...]
                      ) -> str | None:
        self._entry = ""
        if prompts:
            self._play(prompts, node.barge_in)
        else:
            self._phase = _Phase.INPUT
            self._arm(now, node.timeout, "first")
        return None

    def _input_digit(self, now: float, d: str) -> str | None:
        node = self._node
        assert isinstance(node, _InputNode)
        if isinstance(node, MenuNode):
            term = "#" if node.digits > 1 and "#" not in "".join(node.branches) else ""
            if term and d == term:
                return self._complete(now, timed_out=False)
            self._entry += d
            if len(self._entry) >= node.digits:
                return self._complete(now, timed_out=False)
        else:
            assert isinstance(node, (CollectNode, CallbackNode))
            if node.terminator and d == node.terminator:
                return self._complete(now, timed_out=False, terminated=True)
            self._entry += d
            if len(self._entry) >= node.max_digits:
                return self._complete(now, timed_out=False)
        self._arm(now, node.interdigit, "interdigit")
        return None

    def _complete(self, now: float, timed_out: bool, terminated: bool = False) -> str | None:
        """The entry is finished (max length, terminator, or interdigit timeout)."""
        node = self._node
        entry, self._entry = self._entry, ""
        self._disarm()
        if isinstance(node, MenuNode):
            target = node.branches.get(entry)
            if target is None:
                return self._fail(now, no_input=not entry)
            self._typeahead.clear()
            return target
        if isinstance(node, CollectNode):
            if len(entry) < node.min_digits:
                return self._fail(now, no_input=not entry and not terminated)
            self._last_digits = entry
            _set_path(self._data, node.store_as, entry)
            self._emit(DataChanged(copy.deepcopy(self._data)))
            return node.next
        assert isinstance(node, CallbackNode)
        if (entry == node.confirm and (timed_out or terminated)) or \
                (not entry and node.ani_on_no_input and self.ani):
            # the confirm key, or (imposed callback) nothing at all: the caller's own number
            number = self.ani
        elif len(entry) >= node.min_digits:
            number = entry
            self._last_digits = entry
        else:
            number = ""
        if not number:
            return self._fail(now, no_input=not entry and not terminated)
        self._end(Callback(number, node.queue, copy.deepcopy(self._data), node.thanks))
        return None

    def _fail(self, now: float, no_input: bool) -> str | None:
        """A wrong or missing entry: try again, or give up after the last retry."""
        node = self._node
        assert isinstance(node, _InputNode)
        self._typeahead.clear()
        self._attempt += 1
        if self._attempt > node.retries:
            if node.on_fail is not None:
                return node.on_fail
            self._end(Hangup("retries_exhausted", self.flow.fail_prompt))
            return None
        lead = node.no_input if no_input else node.invalid
        return self._prompt_input(now, node, lead + node.prompts)
