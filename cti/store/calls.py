"""The store's record of calls: CDRs, the queue log (Asterisk's), the agent log,
recordings, voicemail, trunk occupancy and the exchange's counts. :class:`CallsMixin` holds
:class:`cti.store.sqlite.Store`'s methods for these tables (see there why a mixin).
"""
from __future__ import annotations

import json
import math
import sqlite3
from typing import Any, Iterator

from cti.store.checks import MAX_TEXT, _data_size, _int, _num, _span, _str, _unknown

#: How an inbound (or outbound) call ended; exactly one per CDR.
OUTCOMES = (
    "answered",         # an agent (or the called party) answered
    "abandoned_queue",  # the caller hung up while waiting in a queue
    "abandoned_ivr",    # the caller hung up in the IVR menus
    "abandoned_ring",   # the caller hung up while an agent's phone rang
    "no_ivr_port",      # no free IVR port to answer the call
    "congestion",       # trunk congestion (all channels busy, Q.850 cause 34)
    "timeout",          # queue timeout with nowhere to overflow to
    "voicemail",        # the caller left (or was sent to) voicemail
    "callback",         # the caller left a number for a callback
    "failed",           # anything else that went wrong
    "busy",             # outbound/internal: the called party was busy
    "no_answer",        # outbound/internal: nobody answered
    "vacant",           # outbound: no such number (Q.850 cause 1, 22, 28)
    "interrupted",      # in flight when the server stopped; closed at its restart (cause 41)
)
DIRECTIONS = ("in", "out", "internal")

#: Asterisk's queue_log event names (app_queue, "Queue Logs" in the Asterisk docs).
QUEUE_EVENTS = frozenset({
    "ABANDON", "ADDMEMBER", "AGENTCALLED", "AGENTDUMP", "AGENTLOGIN", "AGENTLOGOFF",
    "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF", "ATTENDEDTRANSFER", "BLINDTRANSFER",
    "COMPLETEAGENT", "COMPLETECALLER", "CONFIGRELOAD", "CONNECT", "DID", "ENTERQUEUE",
    "EXITEMPTY", "EXITWITHKEY", "EXITWITHTIMEOUT", "INFO", "PAUSE", "PAUSEALL", "PENALTY",
    "QUEUESTART", "REMOVEMEMBER", "RINGCANCELED", "RINGNOANSWER", "SYSCOMPAT", "TRANSFER",
    "UNPAUSE", "UNPAUSEALL",
    # and the ACD's own (cti/centre/acd.py): a refused join, and a call taken out without a key
    "JOINEMPTY", "FULL", "REMOVED",
})


_CDR_FIELDS = ("call_id", "direction", "trunk", "ani", "dnis", "start", "answer", "end",
               "duration", "billsec", "outcome", "cause", "queue", "agent", "ivr_path", "wait",
               "wrapup", "data", "recording", "survey", "reason", "time_limit")
_CDR_INSERT = ("INSERT INTO cdr (" + ", ".join(f'"{c}"' for c in _CDR_FIELDS) + ") VALUES ("
               + ", ".join("?" * len(_CDR_FIELDS)) + ")")


def check_cdr(record: dict) -> tuple:
    """Validate a CDR dict; returns the row's values in :data:`_CDR_FIELDS` order.

    ``duration`` defaults to end - start and ``billsec`` to end - answer (0 when the
    call was never answered).
    """
    _unknown("cdr", record, _CDR_FIELDS)
    r = record.get
    call_id = _str("cdr.call_id", r("call_id"), none=False)
    direction = _str("cdr.direction", r("direction"), none=False, choices=DIRECTIONS)
    start = _num("cdr.start", r("start"), none=False)
    end = _num("cdr.end", r("end"), none=False)
    if end < start:
        raise ValueError(f"cdr.end: {end!r} is before cdr.start {start!r}")
    answer = _num("cdr.answer", r("answer"))
    if answer is not None and not start <= answer <= end:
        raise ValueError(f"cdr.answer: {answer!r} is not between start {start!r} and end {end!r}")
    duration = _num("cdr.duration", r("duration"), min=0)
    duration = end - start if duration is None else duration
    billsec = _num("cdr.billsec", r("billsec"), min=0)
    if billsec is None:
        billsec = end - answer if answer is not None else 0.0
    outcome = _str("cdr.outcome", r("outcome"), none=False, choices=OUTCOMES)
    data = r("data")
    if data is not None:
        if not isinstance(data, dict):
            raise ValueError(f"cdr.data: must be a dict (the attached data), got "
                             f"{type(data).__name__}")
        try:
            data = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"cdr.data: not JSON-able ({e})") from None
        _data_size("cdr.data", data)
    ivr_path = r("ivr_path")
    if isinstance(ivr_path, (list, tuple)):
        if not all(isinstance(p, str) for p in ivr_path):
            raise ValueError("cdr.ivr_path: must be a string or a list of strings")
        ivr_path = "/".join(ivr_path)
    return (
        call_id, direction,
        _str("cdr.trunk", r("trunk")), _str("cdr.ani", r("ani")), _str("cdr.dnis", r("dnis")),
        start, answer, end, duration, billsec, outcome,
        _int("cdr.cause", r("cause"), min=0, max=127),
        _str("cdr.queue", r("queue")), _str("cdr.agent", r("agent")),
        _str("cdr.ivr_path", ivr_path, max_len=4 * MAX_TEXT),
        _num("cdr.wait", r("wait"), min=0), _num("cdr.wrapup", r("wrapup"), min=0),
        data, _str("cdr.recording", r("recording")),
        _int("cdr.survey", r("survey"), min=1, max=5),
        _str("cdr.reason", r("reason")), _num("cdr.time_limit", r("time_limit"), min=0),
    )


_TRUNK_SAMPLE_INSERT = "INSERT INTO trunk_samples (time, span, busy, total) VALUES (?,?,?,?)"


def _trunk_sample_row(time, span, busy, total) -> tuple:
    """One trunk_samples row, checked: busy of total channels of ``span`` from ``time``."""
    t = _num("trunk_samples.time", time, none=False)
    s = _span("trunk_samples.span", span)
    total = _int("trunk_samples.total", total, none=False, min=0)
    return t, s, _int("trunk_samples.busy", busy, none=False, min=0, max=total), total


class CallsMixin:
    """CDRs, queue log, agent log, recordings, voicemail, trunk samples and exchange counts
    (a part of :class:`cti.store.sqlite.Store`: ``self.db``, its batch)."""

    def add_cdr(self, record: dict) -> int:
        """Write one call's CDR (committed on return); returns its row id.

        Fields: call_id (unique), direction (in/out/internal), start, end, outcome
        (:data:`OUTCOMES`) are required; trunk ("1/5", "fxo/9"), ani, dnis, answer,
        duration, billsec, cause (Q.850), queue, agent, ivr_path (a string, or a list
        of menu names joined with "/"), wait (seconds in queue), wrapup (seconds), data
        (the attached data, a dict), recording (a path) and survey (the caller's
        after-call rating, 1..5), reason (why the centre cleared it: "time_limit") and
        time_limit (the limit that applied, seconds) are optional.
        """
        values = check_cdr(record)
        try:
            return self.db.execute(_CDR_INSERT, values).lastrowid
        except sqlite3.IntegrityError as e:
            if "call_id" in str(e):
                raise ValueError(f"cdr.call_id: {values[0]!r} already has a CDR") from None
            raise  # pragma: no cover

    def set_cdr_wrapup(self, call_id: str, agent: str, seconds: float) -> bool:
        """The agent's wrap-up after the call, in seconds, on the call's CDR (written when
        the wrap-up ends, after the CDR itself). False when no CDR of that call names
        that agent (the call went on to another agent)."""
        call_id = _str("cdr.call_id", call_id, none=False)
        agent = _str("cdr.agent", agent, none=False)
        seconds = _num("cdr.wrapup", seconds, none=False, min=0)
        cur = self.db.execute("UPDATE cdr SET wrapup = ? WHERE call_id = ? AND agent = ?",
                              (seconds, call_id, agent))
        return cur.rowcount > 0

    def log_queue(self, time: float, call_id: str | None, queue: str | None,
                  agent: str | None, event: str, *data: Any) -> int:
        """One queue_log row, Asterisk style: data1..data5 are written as text."""
        t = _num("queue_log.time", time, none=False)
        call_id = _str("queue_log.call_id", call_id) or "NONE"
        queue = _str("queue_log.queue", queue) or "NONE"
        agent = _str("queue_log.agent", agent) or "NONE"
        event = _str("queue_log.event", event, none=False)
        if event not in QUEUE_EVENTS:
            raise ValueError(f"queue_log.event: {event!r} is not an Asterisk queue_log event")
        if len(data) > 5:
            raise ValueError(f"queue_log.data6: at most 5 data fields, got {len(data)}")
        fields = []
        for i, d in enumerate(data, 1):
            if d is None:
                fields.append(None)
            elif isinstance(d, bool) or not isinstance(d, (str, int, float)):
                raise ValueError(f"queue_log.data{i}: must be a string or a number, got {d!r}")
            elif isinstance(d, float):
                if not math.isfinite(d):
                    raise ValueError(f"queue_log.data{i}: must be finite, got {d!r}")
                fields.append(str(int(d)) if d == int(d) else repr(d))
            else:
                fields.append(str(d))
        fields += [None] * (5 - len(fields))
        return self.db.execute(
            "INSERT INTO queue_log (time, call_id, queue, agent, event, data1, data2, data3,"
            " data4, data5) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (t, call_id, queue, agent, event, *fields)).lastrowid

    def log_agent(self, time: float, agent: str, state: str, reason: str | None = None,
                  extension: str | None = None) -> int:
        """One agent state change (login, ready, not_ready with a reason, wrapup, logout)."""
        row = (_num("agent_log.time", time, none=False),
               _str("agent_log.agent", agent, none=False),
               _str("agent_log.state", state, none=False),
               _str("agent_log.reason", reason), _str("agent_log.extension", extension))
        return self.db.execute(
            "INSERT INTO agent_log (time, agent, state, reason, extension) VALUES (?,?,?,?,?)",
            row).lastrowid

    def add_recording(self, call_id: str, path: str, start: float, seconds: float,
                      channels: int = 1) -> int:
        row = (_str("recordings.call_id", call_id, none=False),
               _str("recordings.path", path, none=False),
               _num("recordings.start", start, none=False),
               _num("recordings.seconds", seconds, none=False, min=0),
               _int("recordings.channels", channels, none=False, min=1, max=2))
        return self.db.execute(
            "INSERT INTO recordings (call_id, path, start, seconds, channels) VALUES (?,?,?,?,?)",
            row).lastrowid

    def add_voicemail(self, box: str, path: str, time: float, seconds: float, *,
                      call_id: str | None = None, ani: str | None = None) -> int:
        row = (_str("voicemail.box", box, none=False), _str("voicemail.call_id", call_id),
               _str("voicemail.ani", ani), _str("voicemail.path", path, none=False),
               _num("voicemail.seconds", seconds, none=False, min=0),
               _num("voicemail.time", time, none=False))
        return self.db.execute(
            "INSERT INTO voicemail (box, call_id, ani, path, seconds, time) VALUES (?,?,?,?,?,?)",
            row).lastrowid

    def mark_voicemail_heard(self, id: int, heard: bool = True) -> None:
        _int("voicemail.id", id, none=False)
        if not isinstance(heard, bool):
            raise ValueError(f"voicemail.heard: must be true or false, got {heard!r}")
        cur = self.db.execute("UPDATE voicemail SET heard = ? WHERE id = ?", (int(heard), id))
        if cur.rowcount == 0:
            raise ValueError(f"voicemail.id: no message {id}")

    def trunk_sample(self, time: float, span: int | str, busy: int, total: int) -> int:
        """Trunk occupancy: from ``time`` on, ``busy`` of the span's ``total`` channels are
        in use (write one whenever the count changes; it holds until the next)."""
        row = _trunk_sample_row(time, span, busy, total)
        self._write_samples()                   # (after the batch's earlier samples)
        return self.db.execute(_TRUNK_SAMPLE_INSERT, row).lastrowid

    def trunk_samples_add(self, time: float, rows) -> None:
        """Several spans' samples at one ``time``: ``rows`` of (span, busy, total), each
        checked as :meth:`trunk_sample` checks one (all before any is written). Inside a
        :meth:`batch` they are written with the batch's other samples, in one statement
        as it ends (before it commits)."""
        values = [_trunk_sample_row(time, span, busy, total) for span, busy, total in rows]
        if not values:
            return
        if self._batch_depth:
            self._pending_samples += values
        else:
            with self.batch():
                self._pending_samples += values

    def exchange_count(self, time: float, span: int | str, offered: int, congested: int) -> int:
        """Counts the exchange reports for the period ending at ``time``: calls it
        offered towards the span and how many of them met congestion (all busy)."""
        t = _num("exchange_stats.time", time, none=False)
        s = _span("exchange_stats.span", span)
        offered = _int("exchange_stats.offered", offered, none=False, min=0)
        congested = _int("exchange_stats.congested", congested, none=False, min=0, max=offered)
        return self.db.execute(
            "INSERT INTO exchange_stats (time, span, offered, congested) VALUES (?,?,?,?)",
            (t, s, offered, congested)).lastrowid

    def cdr(self, call_id: str) -> dict | None:
        """The CDR of ``call_id`` (``data`` decoded), or None."""
        row = next(self.db.query("SELECT * FROM cdr WHERE call_id = ?", (call_id,)), None)
        return _decode_cdr(row) if row else None

    def cdrs(self, start: float, end: float, *, agent: str | None = None,
             limit: int | None = None) -> list[dict]:
        """CDRs of calls that started in [start, end), oldest first."""
        where, params = "start >= ? AND start < ?", [start, end]
        if agent is not None:
            where += " AND agent = ?"
            params.append(agent)
        sql = f"SELECT * FROM cdr WHERE {where} ORDER BY start, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_decode_cdr(r) for r in self.db.query(sql, params)]

    def agent_history(self, agent: str, limit: int = 20) -> list[dict]:
        """An agent's latest calls, newest first (the desktop's call history)."""
        return [_decode_cdr(r) for r in self.db.query(
            "SELECT * FROM cdr WHERE agent = ? ORDER BY start DESC, id DESC LIMIT ?",
            (agent, int(limit)))]

    def queue_log(self, start: float, end: float, event: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM queue_log WHERE time >= ? AND time < ?", [start, end]
        if event is not None:
            sql += " AND event = ?"
            params.append(event)
        return list(self.db.query(sql + " ORDER BY time, id", params))

    def queue_log_lines(self, start: float, end: float) -> Iterator[str]:
        """The queue log as Asterisk's text file: ``time|callid|queue|agent|event|data..``
        (trailing empty data fields dropped)."""
        for r in self.queue_log(start, end):
            data = [r[f"data{i}"] for i in range(1, 6)]
            while data and data[-1] is None:
                data.pop()
            t = r["time"]
            yield "|".join([str(int(t)) if t == int(t) else f"{t:.6f}", r["call_id"],
                            r["queue"], r["agent"], r["event"],
                            *("" if d is None else d for d in data)])

    def agent_log(self, agent: str | None = None) -> list[dict]:
        if agent is None:
            return list(self.db.query("SELECT * FROM agent_log ORDER BY time, id"))
        return list(self.db.query(
            "SELECT * FROM agent_log WHERE agent = ? ORDER BY time, id", (agent,)))

    def recordings(self, call_id: str) -> list[dict]:
        return list(self.db.query(
            "SELECT * FROM recordings WHERE call_id = ? ORDER BY start, id", (call_id,)))

    def voicemails(self, box: str, *, unheard: bool = False) -> list[dict]:
        sql = "SELECT * FROM voicemail WHERE box = ?" + (" AND heard = 0" if unheard else "")
        return list(self.db.query(sql + " ORDER BY time, id", (box,)))

    def exchange_stats(self, start: float, end: float) -> list[dict]:
        return list(self.db.query(
            "SELECT * FROM exchange_stats WHERE time >= ? AND time < ? ORDER BY time, id",
            (start, end)))

    def trunk_samples(self, start: float, end: float) -> list[dict]:
        """Samples in [start, end) plus, per span, the last one before ``start`` (the
        occupancy in force when the range begins)."""
        self._write_samples()
        before = self.db.query(
            "SELECT t.* FROM trunk_samples t JOIN (SELECT span, max(time) AS time FROM"
            " trunk_samples WHERE time < ? GROUP BY span) m ON t.span = m.span AND"
            " t.time = m.time ORDER BY t.time, t.id", (start,))
        last: dict[str, dict] = {}
        for r in before:  # ties at the same time: the later row wins
            last[r["span"]] = r
        inside = self.db.query(
            "SELECT * FROM trunk_samples WHERE time >= ? AND time < ? ORDER BY time, id",
            (start, end))
        return sorted(last.values(), key=lambda r: (r["time"], r["id"])) + list(inside)


def _decode_cdr(row: dict) -> dict:
    if row.get("data") is not None:
        row["data"] = json.loads(row["data"])
    return row
