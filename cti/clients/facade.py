"""The typed facade of the client library, for integrators (issue #15 item 3):
``client.calls.transfer(call, to, data={...})`` rather than
``client.request("call.transfer", call=call, to=to, data={...})``.

One small class per concern, reached as an attribute of :class:`cti.clients.client.Client`
(and of :class:`~cti.clients.client.Requester`); the same classes on
:class:`~cti.clients.client.AsyncRequester` return awaitables (``await
requester.calls.transfer(...)``). Each method is one operation of the server's registry
(cti/server/registry.py): its parameters are the operation's arguments by name (``from``,
a Python keyword, is ``ani``), required ones positional, the others keyword-only with the
server's defaults; it returns the result as a dict. docs/protocol.md describes every
result. tests/clients/test_facade.py checks that every operation has its method and that the
parameters match the registry's arguments, so the facade cannot drift from the server.
"""
from __future__ import annotations

from typing import Any, Generic, Sequence, TypeVar

__all__ = ["Operations", "CONCERNS", "facade_name", "Board", "Spans", "Channels", "Sim", "Pri",
           "Trace", "Agents", "Queues", "Calls", "Campaigns", "Dnc", "Reports", "Server",
           "Keys"]

R = TypeVar("R")

#: An operation's prefix -> the attribute of its concern on a client; the operations
#: without a prefix (``ping``, ``snapshot``, ``replay``, ``shutdown``) are ``server``'s.
CONCERNS = {"board": "board", "span": "spans", "channel": "channels", "sim": "sim",
            "pri": "pri", "trace": "trace", "agent": "agents", "queue": "queues",
            "call": "calls", "campaign": "campaigns", "dnc": "dnc", "report": "reports",
            "server": "server", "key": "keys"}

#: Operation arguments that are Python keywords -> the parameter's name.
PARAMETER = {"from": "ani"}


def facade_name(op: str) -> tuple[str, str]:
    """``call.transfer`` -> ``("calls", "transfer")``: the concern attribute and the method."""
    prefix, dot, rest = op.partition(".")
    if not dot:
        return "server", op
    return CONCERNS[prefix], rest


class _Concern(Generic[R]):
    """A concern's operations over a requester: anything with ``call(op, args)``
    (a :class:`~cti.clients.client.Client` returns the result, an
    :class:`~cti.clients.client.AsyncRequester` a coroutine of it)."""

    def __init__(self, requester: Any):
        self._requester = requester

    def _op(self, op: str, args: dict[str, Any]) -> R:
        # None is "not given": the server applies its default, as Client.request does
        return self._requester.call(op, {k: v for k, v in args.items() if v is not None})


class Board(_Concern[R]):
    """The board: ``board.list``, ``board.show``."""

    def list(self) -> R:
        """The boards: ``{boards: [{name, backend, tick_ms, spans, ports, alarms, ...}]}``."""
        return self._op("board.list", {})

    def show(self) -> R:
        """The board summary with ``span_status`` and ``port_status``."""
        return self._op("board.show", {})


class Spans(_Concern[R]):
    """E1 spans: status, alarms, error counters, loopbacks, BERT, R2 blocking and trace."""

    def show(self, span: int) -> R:
        """A span's status, counters and ``channels``."""
        return self._op("span.show", {"span": span})

    def alarms(self, span: int) -> R:
        """``{span, alarms, in_sync, loopback}``."""
        return self._op("span.alarms", {"span": span})

    def counters(self, span: int, *, reset: bool = False) -> R:
        """``{span, counters, reset}``; with ``reset`` zeroed after being read."""
        return self._op("span.counters", {"span": span, "reset": reset})

    def loopback(self, span: int, mode: str) -> R:
        """Set a loopback on our end: ``off``, ``local``, ``line``, ``payload``."""
        return self._op("span.loopback", {"span": span, "mode": mode})

    def block(self, span: int, *, timeslot: int | None = None) -> R:
        """Block a circuit (``timeslot``, or the whole span) of an R2 span."""
        return self._op("span.block", {"span": span, "timeslot": timeslot})

    def unblock(self, span: int, *, timeslot: int | None = None) -> R:
        """Unblock a circuit (``timeslot``, or the whole span) of an R2 span."""
        return self._op("span.unblock", {"span": span, "timeslot": timeslot})

    def r2trace(self, span: int, *, call: int | None = None) -> R:
        """The R2 signalling trace of the recent calls of a span (or of one ``call``)."""
        return self._op("span.r2trace", {"span": span, "call": call})

    def bert(self, span: int, *, action: str = "status") -> R:
        """Bit error rate test, 2^15-1 (O.151): ``start``, ``stop`` or ``status``."""
        return self._op("span.bert", {"span": span, "action": action})


class Channels(_Concern[R]):
    """Channels (``"1/5"``, ``"fxs/3"``): state, tones, listening."""

    def show(self, channel: str) -> R:
        """A timeslot's signalling, or a port's hook and ring state."""
        return self._op("channel.show", {"channel": channel})

    def tone(self, channel: str, *, freq: float | None = None, dtmf: str | None = None,
            tone: str | None = None, capture: bool = False, freq2: float = 0, level: float = -10,
            ms: int = 1000) -> R:
        """Send a tone (``freq``, ``freq2``, ``level``, ``ms``), DTMF (``dtmf``) or a
        call-progress ``tone``; ``capture``: the reply brings what went out."""
        return self._op("channel.tone", {"channel": channel, "freq": freq, "dtmf": dtmf,
                                         "tone": tone, "capture": capture, "freq2": freq2,
                                         "level": level, "ms": ms})

    def listen(self, channel: str, *, direction: str = "rx", seconds: float = 1.0) -> R:
        """``seconds`` of a channel's audio (``direction`` ``rx`` or ``tx``), base64
        G.711 in ``audio``; the reply comes when they are heard."""
        return self._op("channel.listen", {"channel": channel, "direction": direction,
                                           "seconds": seconds})


class Sim(_Concern[R]):
    """The simulated world (``not_supported`` on a real board): faults on the virtual
    cables, the exchange's calls and traffic, far-end DTMF, the agents' phones."""

    def fault(self, span: int, *, los: bool | None = None, ais: bool | None = None,
            lof: bool | None = None, ber: float | None = None, code_errors: float | None = None,
            slip_ppm: float | None = None, clear: bool = False,
            direction: str | None = None) -> R:
        """Inject a fault on a span's virtual cable (``los``, ``ais``, ``lof``, ``ber``,
        ``code_errors``, ``slip_ppm``) or ``clear`` them."""
        return self._op("sim.fault", {"span": span, "los": los, "ais": ais, "lof": lof, "ber": ber,
                                      "code_errors": code_errors, "slip_ppm": slip_ppm,
                                      "clear": clear, "direction": direction})

    def loopback(self, span: int, mode: str) -> R:
        """A far-end loopback at the exchange: ``line``, ``payload``, ``off``."""
        return self._op("sim.loopback", {"span": span, "mode": mode})

    def stats(self, span: int) -> R:
        """The virtual cable's counts and faults, and the far end's span status."""
        return self._op("sim.stats", {"span": span})

    def call(self, span: int, to: str, *, ani: str = "", overlap: bool = False,
            hangup_after: float | None = None) -> R:
        """The exchange offers a call on a PRI span from ``ani`` (Q.931 calling number)
        to ``to``: ``{span, exchange_call, congested, state}``."""
        return self._op("sim.call", {"from": ani, "span": span, "to": to, "overlap": overlap,
                                     "hangup_after": hangup_after})

    def hangup(self, span: int, call: int, *, cause: int = 16) -> R:
        """The exchange's caller hangs up ``call`` with ``cause``."""
        return self._op("sim.hangup", {"span": span, "call": call, "cause": cause})

    def calls(self) -> R:
        """The exchange's counts: offered, congested, answered, cleared by cause."""
        return self._op("sim.calls", {})

    def traffic(self, *, profile: str = "steady", rate: float = 20.0, peak: float = 300.0,
            seconds: float = 120.0, seed: int = 1, agents_login: bool = True) -> R:
        """Callers on the exchange and agents at their phones, on line time
        (``profile`` ``steady``, ``tv_peak``, ``peak`` or ``stop``)."""
        return self._op("sim.traffic", {"profile": profile, "rate": rate, "peak": peak,
                                        "seconds": seconds, "seed": seed,
                                        "agents_login": agents_login})

    def dtmf(self, channel: str, digits: str) -> R:
        """The far end keys DTMF ``digits`` on a channel (a caller in the IVR)."""
        return self._op("sim.dtmf", {"channel": channel, "digits": digits})

    def phone(self, port: int, action: str, *, digits: str | None = None) -> R:
        """An agent's phone on an FXS ``port``: ``lift``, ``hangup``, ``flash``, ``dial``
        (``digits``) or ``status``: ``{port, action, ringing, off_hook, caller_id}``."""
        return self._op("sim.phone", {"port": port, "action": action, "digits": digits})


class Pri(_Concern[R]):
    """ISDN calls on our PRI spans at the signalling level (Q.931)."""

    def list(self) -> R:
        """Our PRI calls and D-channels."""
        return self._op("pri.list", {})

    def place(self, span: int, to: str, *, ani: str = "", timeslot: int | None = None) -> R:
        """Call out on a span to ``to`` from ``ani`` (``timeslot``: exclusive)."""
        return self._op("pri.place", {"from": ani, "span": span, "to": to, "timeslot": timeslot})

    def answer(self, span: int, call: int) -> R:
        """Answer an offered call (Q.931 CONNECT)."""
        return self._op("pri.answer", {"span": span, "call": call})

    def reject(self, span: int, call: int, *, cause: int = 21) -> R:
        """Reject an offered call with a Q.850 ``cause``."""
        return self._op("pri.reject", {"span": span, "call": call, "cause": cause})

    def hangup(self, span: int, call: int, *, cause: int = 16) -> R:
        """Clear a call (DISCONNECT) with a Q.850 ``cause``."""
        return self._op("pri.hangup", {"span": span, "call": call, "cause": cause})


class Trace(_Concern[R]):
    """Q.921 frames of a span published as ``trace.lapd`` events (``cti trace``)."""

    def start(self, span: int, *, seconds: float = 60.0) -> R:
        """Publish a span's Q.921 frames for ``seconds`` of line time."""
        return self._op("trace.start", {"span": span, "seconds": seconds})

    def stop(self, span: int) -> R:
        """Stop a span's trace."""
        return self._op("trace.stop", {"span": span})


class Agents(_Concern[R]):
    """Agents: log in and out, ready and not ready, do not disturb, forwarding."""

    def login(self, agent: str, *, extension: int | None = None) -> R:
        """Log an agent in (at ``extension``, an FXS port; default its own): its status."""
        return self._op("agent.login", {"agent": agent, "extension": extension})

    def logout(self, agent: str) -> R:
        """Log an agent out: its status."""
        return self._op("agent.logout", {"agent": agent})

    def ready(self, agent: str) -> R:
        """The agent takes ACD calls: its status."""
        return self._op("agent.ready", {"agent": agent})

    def not_ready(self, agent: str, *, reason: str = "") -> R:
        """The agent takes no ACD calls, for ``reason``: its status."""
        return self._op("agent.not_ready", {"agent": agent, "reason": reason})

    def show(self, agent: str) -> R:
        """An agent's status: ``{agent, state, reason, call, extension, ...}``."""
        return self._op("agent.show", {"agent": agent})

    def list(self) -> R:
        """Every agent's status: ``{agents: [...]}``."""
        return self._op("agent.list", {})

    def dnd(self, agent: str, *, on: bool = True) -> R:
        """Do not disturb (``on``): no ACD calls, transfers refused."""
        return self._op("agent.dnd", {"agent": agent, "on": on})

    def forward(self, agent: str, *, to: str = "") -> R:
        """Transfers to the agent go to ``to`` (an agent or ``queue:NAME``; empty: stop)."""
        return self._op("agent.forward", {"agent": agent, "to": to})


class Queues(_Concern[R]):
    """ACD queues: waiting calls, agents, longest wait, EWT."""

    def show(self, queue: str) -> R:
        """One queue: waiting calls with positions and waits, agents, longest wait, EWT."""
        return self._op("queue.show", {"queue": queue})

    def list(self) -> R:
        """Every queue: ``{queues: [...]}``."""
        return self._op("queue.list", {})


class Calls(_Concern[R]):
    """Calls in the centre: answer, transfer (blind and consultative), hold, supervise,
        pick up, record, hang up, click-to-dial."""

    def list(self) -> R:
        """The calls now and the centre's counters: ``{calls: [...], counters}``."""
        return self._op("call.list", {})

    def show(self, call: str) -> R:
        """One call: ``{call_id, state, trunk, ani, dnis, queue, agent, data, start}``."""
        return self._op("call.show", {"call": call})

    def hangup(self, call: str) -> R:
        """Clear a call (``CALL.consult``: the consultation only): ``{call_id, state}``."""
        return self._op("call.hangup", {"call": call})

    def transfer(self, call: str, to: str, *, data: dict[str, Any] | None = None) -> R:
        """Blind transfer to ``to`` (an agent, or ``queue:NAME``), ``data`` merged into
        the call's attached data: ``{call_id, to, data}``."""
        return self._op("call.transfer", {"call": call, "to": to, "data": data})

    def hold(self, call: str) -> R:
        """Hold a call (the caller hears music on hold)."""
        return self._op("call.hold", {"call": call})

    def retrieve(self, call: str) -> R:
        """Take a held call back."""
        return self._op("call.retrieve", {"call": call})

    def supervise(self, call: str, supervisor: str, *, mode: str = "monitor") -> R:
        """A ``supervisor`` joins a call: ``monitor``, ``whisper``, ``barge`` or
        ``conference``; asked again, the mode changes."""
        return self._op("call.supervise", {"call": call, "supervisor": supervisor, "mode": mode})

    def consult(self, call: str, to: str) -> R:
        """Hold the caller and ring agent ``to``: ``{call_id, consult, to}``."""
        return self._op("call.consult", {"call": call, "to": to})

    def transfer_complete(self, call: str, *, data: dict[str, Any] | None = None) -> R:
        """The consulted agent takes the caller (consultative transfer)."""
        return self._op("call.transfer_complete", {"call": call, "data": data})

    def answer(self, call: str, *, agent: str | None = None) -> R:
        """Answer a call ringing an agent's phone (``agent``: which, when it rings
        several): ``{call_id, extension}``."""
        return self._op("call.answer", {"call": call, "agent": agent})

    def pickup(self, call: str, agent: str) -> R:
        """``agent`` takes a call ringing another agent's phone."""
        return self._op("call.pickup", {"call": call, "agent": agent})

    def record(self, call: str, *, on: bool = True) -> R:
        """Record this call (``on``) whatever the queue's policy."""
        return self._op("call.record", {"call": call, "on": on})

    def make(self, agent: str, to: str, *, span: int | None = None) -> R:
        """Click-to-dial: the agent's phone rings, then ``to`` is called out."""
        return self._op("call.make", {"agent": agent, "to": to, "span": span})


class Campaigns(_Concern[R]):
    """Outbound campaigns (progressive, preview) and their records."""

    def create(self, campaign: str, *, mode: str = "progressive",
               agents: Sequence[str] | None = None, rules: dict[str, Any] | None = None,
               no_answer_timeout: float | None = None,
               agent_answer_timeout: float | None = None) -> R:
        """A new campaign (stopped): its status."""
        return self._op("campaign.create", {"campaign": campaign, "mode": mode, "agents": agents,
                                            "rules": rules, "no_answer_timeout": no_answer_timeout,
                                            "agent_answer_timeout": agent_answer_timeout})

    def load(self, campaign: str, records: Sequence[dict[str, Any]]) -> R:
        """Add ``records`` (``{number, name?, data?}``): ``{campaign, loaded, records,
        refused, refused_count}``."""
        return self._op("campaign.load", {"campaign": campaign, "records": records})

    def start(self, campaign: str) -> R:
        """Start dialling: the status."""
        return self._op("campaign.start", {"campaign": campaign})

    def pause(self, campaign: str) -> R:
        """Dial nothing new: the status."""
        return self._op("campaign.pause", {"campaign": campaign})

    def stop(self, campaign: str) -> R:
        """Stop dialling: the status."""
        return self._op("campaign.stop", {"campaign": campaign})

    def show(self, campaign: str) -> R:
        """The status with ``records_list`` and ``attempts_list``."""
        return self._op("campaign.show", {"campaign": campaign})

    def list(self) -> R:
        """Every campaign: ``{campaigns: [...], reserved}``."""
        return self._op("campaign.list", {})

    def next(self, campaign: str, agent: str) -> R:
        """Preview: the next record held for ``agent``: ``{campaign, agent, record}``."""
        return self._op("campaign.next", {"campaign": campaign, "agent": agent})

    def dial(self, agent: str) -> R:
        """Preview: dial the record shown to ``agent``."""
        return self._op("campaign.dial", {"agent": agent})

    def skip(self, agent: str) -> R:
        """Preview: skip the record shown to ``agent``."""
        return self._op("campaign.skip", {"agent": agent})


class Dnc(_Concern[R]):
    """The do-not-call list, checked each time a number is dialled."""

    def add(self, number: str, *, reason: str | None = None) -> R:
        """Never call ``number``: ``{number, added}``."""
        return self._op("dnc.add", {"number": number, "reason": reason})

    def remove(self, number: str) -> R:
        """Take ``number`` off the list: ``{number, removed}``."""
        return self._op("dnc.remove", {"number": number})

    def list(self) -> R:
        """``{numbers: [{number, added, reason}]}``."""
        return self._op("dnc.list", {})


class Reports(_Concern[R]):
    """Reports from the store, answered off the tick."""

    def losses(self, *, start: float | None = None, end: float | None = None,
            interval: float = 3600.0, sla: float = 20.0, blocking: float = 0.01,
            service_level: float = 0.8, shrinkage: float = 0.0,
            max_abandon: float | None = None) -> R:
        """The loss report over ``start``..``end`` (epoch seconds): ``intervals``,
        ``totals``, ``peak``, ``patience``, ``advice`` (cti/store/report.py)."""
        return self._op("report.losses", {"start": start, "end": end, "interval": interval,
                                          "sla": sla, "blocking": blocking,
                                          "service_level": service_level, "shrinkage": shrinkage,
                                          "max_abandon": max_abandon})


class Server(_Concern[R]):
    """The server itself: liveness, snapshot, replay of events, pace, stats, shutdown."""

    def ping(self) -> R:
        """Liveness: ``{pong, instance, server, boot, pid, board, seq, line_time, ...}``;
        ``starting`` lists the spans not in service yet."""
        return self._op("ping", {})

    def snapshot(self) -> R:
        """The state of spans, ports and channels, current to ``seq``."""
        return self._op("snapshot", {})

    def replay(self, after: int, *, topics: Sequence[str] | None = None) -> R:
        """The events with ``seq > after`` (of the ``topics`` prefixes):
        ``{events, first_seq, last_seq}``; ``replay_gap`` when they left the ring."""
        return self._op("replay", {"after": after, "topics": topics})

    def speed(self, speed: float) -> R:
        """Run the board clock ``speed`` times real time from now on."""
        return self._op("server.speed", {"speed": speed})

    def stats(self) -> R:
        """How the server keeps up: tick lateness, overruns, requests, replies dropped."""
        return self._op("server.stats", {})

    def shutdown(self) -> R:
        """Stop the server: ``{stopping, seq}``."""
        return self._op("shutdown", {})


class Keys(_Concern[R]):
    """The clients' CurveZMQ keys (the right ``accounts``; ``cti admin key``)."""

    def issue(self, public: str, name: str, role: str, *, agent: str | None = None,
              scopes: Sequence[str] | None = None) -> R:
        """Record ``public`` (Z85) for the principal ``name`` of ``role``:
        ``{key, server_key, requests, events}`` (what the client's key file names)."""
        return self._op("key.issue", {"public": public, "name": name, "role": role,
                                      "agent": agent, "scopes": scopes})

    def revoke(self, key: str) -> R:
        """Revoke a key by name or public key: refused from its next request on."""
        return self._op("key.revoke", {"key": key})

    def list(self) -> R:
        """``{keys: [{public, name, role, agent, scopes, issued, revoked}]}``."""
        return self._op("key.list", {})


class Operations(Generic[R]):
    """The concerns as attributes: ``client.calls``, ``client.agents``, ... (mixed into
    the client classes; ``R`` is what their ``call`` returns)."""

    @property
    def board(self) -> Board[R]:
        return Board(self)

    @property
    def spans(self) -> Spans[R]:
        return Spans(self)

    @property
    def channels(self) -> Channels[R]:
        return Channels(self)

    @property
    def sim(self) -> Sim[R]:
        return Sim(self)

    @property
    def pri(self) -> Pri[R]:
        return Pri(self)

    @property
    def trace(self) -> Trace[R]:
        return Trace(self)

    @property
    def agents(self) -> Agents[R]:
        return Agents(self)

    @property
    def queues(self) -> Queues[R]:
        return Queues(self)

    @property
    def calls(self) -> Calls[R]:
        return Calls(self)

    @property
    def campaigns(self) -> Campaigns[R]:
        return Campaigns(self)

    @property
    def dnc(self) -> Dnc[R]:
        return Dnc(self)

    @property
    def reports(self) -> Reports[R]:
        return Reports(self)

    @property
    def server(self) -> Server[R]:
        return Server(self)

    @property
    def keys(self) -> Keys[R]:
        return Keys(self)
