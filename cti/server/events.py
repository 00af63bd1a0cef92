"""The event catalogue: every event type the server publishes on its PUB socket, with
the JSON Schema (draft 2020-12) of its payload (docs/protocol.md, "Events" and
"Call-centre events"; the generated contract is under docs/contract/).

Where they are made:

* the line (the board, its signalling stacks: drivers/board.py, drivers/sig/pri.py,
  r2span.py, analog.py), turned into bus events by ``Service.to_bus``: ``span.*``,
  ``channel.*``, ``board.events_lost``; their specifics are in ``data``;
* the server itself (cti/server/): ``trace.lapd``, ``trace.end``, ``server.error``,
  ``server.recovered``, ``server.reloaded`` and the ``call.cleared`` of an interrupted call (recovery.py);
* the call centre (cti/centre/): ``call.*`` (ECMA-269 CSTA names), ``agent.state``,
  ``voicemail.new``, ``campaign.*`` (campaigns.py), ``server.error`` of one failed call.

Every event has ``seq``, ``ts`` and ``type`` (:mod:`cti.server.bus`); a field whose value
is None is left out (``EventLog.append``), so a field that may be None is optional here,
not nullable. The schemas say what is always there (``required``) and the types of what
may be; they allow more fields (``additionalProperties``), so a new field never breaks a
client and the contract stays no stricter than what is sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cti.store.sqlite import OUTCOMES

__all__ = ["EventType", "EVENTS", "event_schema", "topic_of"]

_S = {"type": "string"}
_I = {"type": "integer"}
_N = {"type": "number"}
_B = {"type": "boolean"}
_O = {"type": "object"}
_STRS = {"type": "array", "items": _S}


def _obj(props: dict, required: tuple = ()) -> dict:
    s: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    return s


def _d(text: str, schema: dict) -> dict:
    """``schema`` with a description."""
    return dict(schema, description=text)


#: What every event has (cti.server.bus.EventLog.append).
COMMON = {
    "seq": _d("per server, from 1, gap-free across all topics", {"type": "integer", "minimum": 1}),
    "ts": _d("seconds since the epoch: the server's start plus the board's line time", _N),
}
SPAN = _d("the span number", {"type": "integer", "minimum": 1})
CHANNEL = _d('a timeslot "SPAN/TS" ("1/5"), or an analog port "fxs/N", "fxo/N"', _S)
LINE_CALL = _d("the signalling stack's call number on the span or port", _I)


@dataclass(frozen=True)
class EventType:
    """One event type: ``type`` (the event's ``type`` field), the ``topic`` it goes out
    on (the type itself, or a pattern over its fields: ``agent.{agent}.state``), a
    ``summary``, its ``fields`` beyond seq/ts/type (name -> JSON Schema, ``data``
    among them when it has one) and the names of those always present (``required``)."""

    type: str
    topic: str
    summary: str
    fields: dict = field(default_factory=dict)
    required: tuple[str, ...] = ()
    source: str = ""

    def schema(self) -> dict:
        """The JSON Schema of the whole event."""
        props = dict(COMMON, type={"const": self.type}, **self.fields)
        return {"title": self.type, "description": self.summary, "type": "object",
                "properties": props, "required": ["seq", "ts", "type", *self.required]}

    def topic_for(self, event: dict) -> str | None:
        """The topic ``event`` goes out on (None when a field of the pattern is missing)."""
        if "{" not in self.topic:
            return self.topic
        try:
            return self.topic.format(**event)
        except (KeyError, IndexError, ValueError):
            return None


EVENTS: dict[str, EventType] = {}


def _add(ev: EventType) -> None:
    if ev.type in EVENTS:
        raise ValueError(f"event type {ev.type} declared twice")
    EVENTS[ev.type] = ev


# --- the line ---------------------------------------------------------------------------

def _line(type_: str, summary: str, data: dict | None = None, data_required: tuple = (),
          where: str = "channel", source: str = "drivers/board.py") -> None:
    """A line event (Service.to_bus): ``where`` it happened (``span``, ``channel``,
    ``span channel``: both always there, ``channel span?``: a timeslot has a span, an
    analog port none), its specifics in ``data``."""
    fields: dict = {}
    required: list = []
    for w in where.split():
        name = w.rstrip("?")
        fields[name] = SPAN if name == "span" else CHANNEL
        if not w.endswith("?"):
            required.append(name)
    if data is not None:
        fields["data"] = _obj(data, data_required)
        required.append("data")
    _add(EventType(type_, type_, summary, fields, tuple(required), source))


_line("span.alarm", "The span's alarms changed (G.775 / G.706 conditions).",
      {"alarms": _d("the alarms now", _STRS), "raised": _STRS, "cleared": _STRS},
      ("alarms", "raised", "cleared"), where="span")
_line("channel.cas", "Received abcd bits of a CAS timeslot changed (G.704 5.1.3).",
      {"abcd": {"type": "integer", "minimum": 0, "maximum": 15}}, ("abcd",),
      where="span channel")
_line("channel.hook", "An FXS port's phone went off or on hook.", {"off_hook": _B},
      ("off_hook",))
_line("channel.flash", "An FXS port's phone flashed the hook.", {"ms": _I}, ("ms",))
_line("channel.ring", "Ringing voltage on an FXO port began or ended.", {"on": _B}, ("on",))
_line("channel.polarity", "An FXO port's line polarity changed.", {"reversed": _B},
      ("reversed",))
_line("channel.battery", "Loop current on an FXO port appeared or dropped.", {"on": _B},
      ("on",))
_line("channel.tone_done", "A tone, a played buffer, DTMF digits or an FSK burst ran out.",
      {"played": _B, "what": {"enum": ["tone", "play", "dtmf", "fsk"]}}, ("played", "what"),
      where="channel span?")
_line("channel.dtmf", "A DTMF digit heard (Q.24 limits), while the channel's detector runs.",
      {"digit": _S}, ("digit",), where="channel span?")
_line("channel.mfc", "An MFC R2 signal (Q.441) began (1..15) or ceased (0).",
      {"digit": {"type": "integer", "minimum": 0, "maximum": 15}, "backward": _B},
      ("digit", "backward"), where="channel span?")
_line("channel.tone", "What the call-progress detector hears now: dial, ringback, busy, "
      "congestion, unknown, voice, silence, or answer (voice after ringback).",
      {"tone": _S}, ("tone",), where="channel span?")
_line("channel.fsk", "Characters an FSK receiver decoded (caller ID), base64.",
      {"data": _d("base64", _S)}, ("data",), where="channel span?")
_line("channel.voice", "Voice activity on the channel changed.",
      {"active": _B, "level_dbm0": _N}, ("active", "level_dbm0"), where="channel span?")
_line("board.events_lost", "The board's event queue overflowed.", {"count": _I}, ("count",),
      where="")

# a PRI span (drivers/sig/pri.py) and an R2 span (drivers/sig/r2span.py); the B-channel
# may not be chosen yet (a SETUP without a channel: no channel)
_PRI = "drivers/sig/pri.py"
_line("channel.offered", "An incoming call (Q.931 SETUP; R2: the seizure and its digits).",
      {"call": LINE_CALL, "ani": _S, "dnis": _S, "sending_complete": _B,
       "presentation": _I, "redirecting": {"type": ["string", "null"]},
       "category": _d("R2: the calling party's category (KA / group II)", _I),
       "kd": _d("R2, China No.1: KD", {"type": ["integer", "null"]})},
      ("call", "ani", "dnis", "sending_complete", "presentation", "redirecting"),
      where="span channel?", source=_PRI)
_line("channel.digits", "More called-number digits in overlap receiving (Q.931 INFORMATION).",
      {"call": LINE_CALL, "digits": _S, "sending_complete": _B},
      ("call", "digits", "sending_complete"), where="span channel?", source=_PRI)
_line("channel.proceeding", "The call out goes on (Q.931 CALL PROCEEDING).",
      {"call": LINE_CALL}, ("call",), where="span channel?", source=_PRI)
_line("channel.alerting", "The far end rings (Q.931 ALERTING).",
      {"call": LINE_CALL}, ("call",), where="span channel?", source=_PRI)
_line("channel.answered", "The call is active (Q.931 CONNECT / CONNECT ACKNOWLEDGE; on an "
      "analog port, drivers/sig/analog.py, with how it was answered).",
      {"call": LINE_CALL, "how": _d("analog: off_hook, seized, polarity, voice, glare", _S)},
      ("call",), where="channel? span?", source=_PRI)
_line("channel.cleared", "The call is gone and its B-channel free (Q.850 cause).",
      {"call": LINE_CALL, "cause": _I, "cause_text": _S, "remote": _B},
      ("call", "cause", "cause_text", "remote"), where="span channel?", source=_PRI)
_line("span.dchannel_up", "Q.921 multiple-frame operation established.",
      {"reestablished": _B}, ("reestablished",), where="span", source=_PRI)
_line("span.dchannel_down", "Q.921 multiple-frame operation lost.",
      {"reason": _S}, ("reason",), where="span", source=_PRI)
_line("span.restart", "B-channels returned to idle by RESTART (Q.931 5.5; [] is all); on "
      "an R2 span, every circuit back to idle after a server start.",
      {"timeslots": {"type": "array", "items": _I}, "remote": _B}, ("timeslots", "remote"),
      where="span", source=_PRI)
_line("channel.blocked", "The far end blocked the circuit (R2, Q.421 table 1).",
      where="span channel", source="drivers/sig/r2span.py")
_line("channel.unblocked", "The far end unblocked the circuit (R2).",
      where="span channel", source="drivers/sig/r2span.py")

# the analog ports' call events (drivers/sig/analog.py AnalogCallEvent: channel.<event>)
_AN = "drivers/sig/analog.py"
_line("channel.line_off_hook", "FXS: the phone went off hook on an idle line (a new call); "
      "this and the other analog call events come from the state machines of "
      "drivers/sig/analog.py, when they are attached to the port.",
      {"call": LINE_CALL}, ("call",), source=_AN)
_line("channel.digits_collected", "FXS: the dialled number, and why collection ended.",
      {"call": LINE_CALL, "digits": _S,
       "reason": {"enum": ["terminator", "max", "map", "nomatch", "timeout"]}},
      ("call", "digits", "reason"), source=_AN)
_line("channel.call_offered", "FXO: an incoming call, with the caller ID captured.",
      {"call": LINE_CALL, "ani": {"type": ["string", "null"]},
       "name": {"type": ["string", "null"]}, "glare": _B},
      ("call", "ani", "name", "glare"), source=_AN)
_line("channel.call_progress", "FXO: the call-progress detector heard a tone on a call out.",
      {"call": LINE_CALL, "tone": _S}, ("call", "tone"), source=_AN)
_line("channel.disconnected", "An analog port's call is over.",
      {"call": LINE_CALL, "reason": _S}, ("call", "reason"), source=_AN)
_line("channel.hook_flash", "FXS: the agent flashed the hook during a call.",
      {"call": LINE_CALL, "ms": _I}, ("call", "ms"), source=_AN)

# --- the server ---------------------------------------------------------------------------

_SV = "cti/server/"
_add(EventType("trace.lapd", "trace.lapd",
               "A Q.921 frame of a traced span (no FCS, base64), only while a trace runs on "
               "the span (trace.start; `cti trace` writes them to a pcap).",
               {"span": SPAN, "channel": CHANNEL,
                "data": _obj({"dir": {"enum": ["rx", "tx"]}, "network_side": _B,
                              "frame": _d("base64", _S)}, ("dir", "network_side", "frame"))},
               ("span", "channel", "data"), _SV))
_add(EventType("trace.end", "trace.end", "The trace's time on the span is up.",
               {"span": SPAN}, ("span",), _SV))
_add(EventType("server.error", "server.error",
               "A failure the server lived through: one call (``call_id``, then cleared "
               "with cause 41), a line event, a request, the store's commit; never a "
               "traceback (that is in HOME/log/cti.log).",
               {"where": _d("the event or request being handled: CallOffered, "
                            "acd.Connected, request.transfer, line.SpanAlarm, "
                            "store.commit...", _S),
                "error": _d("the exception's type", _S),
                "message": {"type": "string", "maxLength": 200},
                "call_id": _S, "span": SPAN, "channel": CHANNEL,
                "rows": _d("store.commit: kept for the next commit, or rolled back", _S)},
               ("where", "error", "message"), "cti/server/, cti/centre/"))
_add(EventType("server.recovered", "server.recovered",
               "The server started: what it closed and restored of its last run "
               "(docs/protocol.md, Restart; failed: rows it could not read, left out and "
               "logged).",
               {"server": _S, "boot": _I, "interrupted": _I, "agents_restored": _I,
                "agents_logged_out": _I, "failed": _I},
               ("server", "boot", "interrupted", "agents_restored", "agents_logged_out",
                "failed"), "cti/server/recovery.py"))
_NAMES = _d("names (agent ids, queue and flow names, DNIS, settings)", _STRS)
_CHANGES = _obj({"added": _NAMES, "removed": _NAMES, "changed": _NAMES})
_add(EventType("server.reloaded", "server.reloaded",
               "``cti reload`` applied the configuration file: what changed by kind (agents "
               "leaving once their call ends, queues draining until their calls have left) "
               "and what only a restart applies (not applied).",
               {"source": _d("the file, or <default>", _S),
                "needs_restart": _d("configuration keys changed in the file, not applied: "
                                    "board.spans, server.home, ...", _STRS),
                "changed": _d("something was applied", _B),
                "agents": _obj({"added": _NAMES, "removed": _NAMES, "changed": _NAMES,
                                "leaving": _NAMES}),
                "queues": _obj({"added": _NAMES, "removed": _NAMES, "changed": _NAMES,
                                "draining": _NAMES}),
                "flows": _CHANGES, "routing": _CHANGES,
                "settings": _obj({"changed": _NAMES})},
               ("source", "needs_restart", "changed"), "cti/server/reload.py"))

# --- the call centre ----------------------------------------------------------------------

_CALL_FIELDS = {
    "call_id": _d("<server>-<boot>-<n>; CALL.consult for a consultation", _S),
    "ani": _S, "dnis": _S,
    "channel": _d('the trunk: "1/5", "fxo/9" ("1/-" before a call out has its channel)', _S),
    "state": _d("offered, ivr, queued, delivered, established, held, cleared, ...", _S),
    "queue": _S, "agent": _S,
    "data": _d("the attached data, which travels with the call", _O),
}
_CALL_REQUIRED = ("call_id", "ani", "dnis", "channel", "state")
_CC = "cti/centre/"


def _call(event: str, summary: str, extra: dict | None = None, required: tuple = ()) -> None:
    t = f"call.{event}"
    _add(EventType(t, t, summary, dict(_CALL_FIELDS, **(extra or {})),
                   _CALL_REQUIRED + required, _CC))


_AGENT = _d("an agent id", _S)
_EWT = _d("the estimated wait, seconds", _N)
_call("offered", "A call arrives on a trunk (data.customer when the ANI is a known "
      "customer: the screen pop).")
_call("queued", "The call joins an ACD queue.", required=("queue",))
_call("delivered", "An agent's phone rings (a consultation: call_id CALL.consult, with "
      "consult_of and from_agent).",
      {"extension": _d("the FXS port", _I), "customer": _O, "consult_of": _S,
       "from_agent": _AGENT}, ("agent", "extension"))
_call("established", "The agent answered; the trunk and the phone are switched through.",
      {"extension": _I, "wait": _d("seconds in the queue", _N), "consult_of": _S,
       "from_agent": _AGENT}, ("extension",))
_call("ring_no_answer", "An agent's phone rang out (the agent is paused; the call goes on).",
      {"agent_rna": _AGENT})
_call("transferred", "Blind or consultative transfer.",
      {"from_agent": _AGENT, "to": _S, "consultative": _B}, ("to",))
_call("diverted", "To voicemail, a callback, another queue.",
      {"to": _d("voicemail:BOX, callback, queue:NAME", _S), "number": _S, "reason": _S},
      ("to",))
_call("dissuaded", "Peak dissuasion: the queue's estimated wait is over its dissuade_ewt; "
      "the caller hears the dissuasion flow instead of joining (mode offer or impose), then "
      "call.diverted to callback or, offered and declined, call.queued.",
      {"ewt": _EWT, "mode": {"enum": ["offer", "impose"]}}, ("queue", "ewt", "mode"))
_call("failed", "Not served at all (no IVR port: the second loss point, reason "
      "no_ivr_port) or handling it failed (reason error, cause 41: see server.error).",
      {"cause": _I, "reason": _d("no_ivr_port, error", _S)}, ("cause", "reason"))
_call("cleared", "The call is over; its CDR is already in SQLite.",
      {"cause": _I, "outcome": {"enum": list(OUTCOMES)}, "recording": _S,
       "reason": _d("why the centre cleared it: time_limit (cti/centre/timelimits.py)", _S)},
      ("outcome",))
_call("time_warning", "The call nears its time limit: the warning tone sounds to both sides; "
      "at the limit the centre clears it.",
      {"limit": _d("the limit, seconds from the answer", _N),
       "left": _d("seconds left", _N),
       "source": _d('what set the limit: "queue NAME", "agent ID", "campaign NAME"', _S)},
      ("limit", "left", "source"))
_call("held", "The call is held (music on hold).")
_call("retrieved", "The held call is back.")
_call("announced", "Position and estimated wait told over music on hold.",
      {"position": _I, "ewt": _EWT}, ("position", "ewt"))
_call("consulting", "Consultative transfer: the caller is held, the other agent rung.",
      {"to": _AGENT}, ("to",))
_call("consulted", "The consulted agent answered.", {"to": _AGENT}, ("to",))
_call("consult_ended", "The consultation ended; back to the caller.", {"to": _AGENT},
      ("to",))
_SUP = {"supervisor": _AGENT, "mode": {"enum": ["monitor", "whisper", "barge", "conference"]}}
_call("supervised", "A supervisor monitors or whispers.", _SUP, ("supervisor", "mode"))
_call("conferenced", "A supervisor barges in or joins.", _SUP, ("supervisor", "mode"))
_call("supervisor_left", "The supervisor left.", {"supervisor": _AGENT}, ("supervisor",))
_call("picked_up", "A colleague took the ringing call.", {"by": _AGENT}, ("by",))
_call("originated", "Click-to-dial: the agent's phone rings.", {"extension": _I})
_call("dialling", "Click-to-dial: the number is dialled.")
_call("network_reached", "Click-to-dial: the far end rings.")
_call("survey", "The after-call survey: the agent hung up on an answered call of a surveyed "
      "queue ([centre] survey); the caller hears the survey prompt and may key 1..5 within "
      "survey_timeout seconds; the call then clears and the CDR's survey holds the key (NULL: "
      "none, or the caller hung up).")

_add(EventType("agent.state", "agent.{agent}.state", "Every agent state change.",
               {"agent": _AGENT,
                "state": {"enum": ["logged_out", "ready", "not_ready", "ringing", "busy",
                                   "wrapup"]},
                "reason": _S}, ("agent", "state"), _CC))
_add(EventType("voicemail.new", "voicemail.{box}", "A message was left.",
               {"box": _S, "call_id": _S, "ani": _S, "path": _S, "seconds": _N},
               ("box", "call_id", "ani", "path", "seconds"), _CC))

_DK = "cti/server/ops/desk.py"
_add(EventType("msg.received", "msg.received",
               "A direct message to an agent (msg.send); only the recipient's desk gets it "
               "(desk.<agent>.msg.received), and it waits in the inbox (msg.list).",
               {"agent": _d("the recipient", _AGENT), "id": _I, "sender": _S, "text": _S},
               ("agent", "id", "sender", "text"), _DK))
_add(EventType("msg.waiting", "msg.waiting",
               "An agent logged in with unread messages in its inbox (msg.list).",
               {"agent": _AGENT, "unread": _I}, ("agent", "unread"), _DK))

_CP = "cti/centre/campaigns.py"
_CAMPAIGN = {"campaign": _S, "record": _d("the record's id", _I), "number": _S,
             "agent": _AGENT}
_add(EventType("campaign.dial", "campaign.{campaign}",
               "The dialer places a call for an agent (progressive: the agent was free; "
               "preview: the agent chose to).", _CAMPAIGN,
               ("campaign", "record", "number", "agent"), _CP))
_add(EventType("campaign.attempt", "campaign.{campaign}",
               "An attempt's call-progress result, already in SQLite: answered, busy "
               "(Q.850 17), no_answer (18, 19 or our own timer), congestion (34 and the "
               "like), vacant (1), failed.",
               dict(_CAMPAIGN, outcome={"enum": ["answered", "busy", "no_answer",
                                                 "congestion", "vacant", "failed"]},
                    cause=_d("Q.850", _I), call_id=_S),
               ("campaign", "record", "number", "outcome"), _CP))
_add(EventType("campaign.record", "campaign.{campaign}", "A record's final state.",
               dict(_CAMPAIGN, state={"enum": ["done", "failed", "dnc", "skipped"]},
                    attempts=_I, outcome=_S),
               ("campaign", "record", "number", "state", "attempts"), _CP))
_add(EventType("campaign.finished", "campaign.{campaign}",
               "Every record of the campaign is final.", {"campaign": _S}, ("campaign",),
               _CP))
_add(EventType("campaign.preview", "agent.{agent}.preview",
               "A preview record for the agent's desktop.",
               {"campaign": _S, "agent": _AGENT,
                "record": _obj({"id": _I, "number": _S, "name": {"type": ["string", "null"]},
                                "data": _O, "attempts": _I}, ("id", "number"))},
               ("campaign", "agent", "record"), _CP))


def event_schema(type_: str) -> dict:
    """The JSON Schema of events of type ``type_`` (KeyError: not in the catalogue)."""
    return EVENTS[type_].schema()


def topic_of(event: dict) -> str | None:
    """The topic ``event`` goes out on, from the catalogue (None: unknown type)."""
    et = EVENTS.get(event.get("type"))
    return et.topic_for(event) if et is not None else None
