"""The typed facade of the client library, for integrators (issue #15 item 3):
``client.calls.transfer(call, to, data={...})`` rather than
``client.request("call.transfer", call=call, to=to, data={...})``.

One small class per concern, reached as an attribute of :class:`cti.clients.client.Client`
(and of :class:`~cti.clients.client.Requester`); the same classes on
:class:`~cti.clients.client.AsyncRequester` return awaitables (``await
requester.calls.transfer(...)``). Each method is one operation of the server's registry
(cti/server/registry.py): its parameters are the operation's arguments by name (``from``,
a Python keyword, is ``ani``), required ones positional, the others keyword-only with the
server's defaults; it returns the result, a plain dict at run time, typed for a type
checker as the operation's TypedDict of cti/clients/results.py (``-> CallTo``; an
:class:`~cti.clients.client.AsyncRequester`'s methods give ``Awaitable[CallTo]``: see
:func:`_typed`). tests/clients/test_facade.py checks that every operation has its method and that
the parameters match the registry's arguments, and tests/clients/test_facade_types.py that
every result's TypedDict has the keys of the operation's result schema, so the facade
cannot drift from the server.

The module is about 870 lines and kept whole: one thin method per operation (a hundred),
in one small class per concern, under the machinery they share (``_Concern``, ``_typed``);
a reader looks a method up by its concern's class, not by the file.
"""
from __future__ import annotations

from typing import (TYPE_CHECKING, Any, Awaitable, Callable, Concatenate, Generic, ParamSpec,
                    Sequence, TypeVar, overload)

from cti.clients.results import (AgentHistoryResult, BookDialResult, BookEntryResult,
                                 BookListResult, CallWrapupResult, CustomerResult,
                                 CustomerShowResult, MsgListResult, MsgSendResult)
from cti.clients.results import (Account, KeyIssueResult, KeyListResult,
                                 KeyRevokeResult, AdminAgentListResult, AdminAgentRemoveResult,
                                 AdminAuditResult, AdminGroupListResult,
                                 AdminGroupRemoveResult, AgentForwardResult, AuthLoginResult,
                                 Group, ReloadSummary, AgentListResult, AgentStatus,
                                 BoardListResult, BoardShowResult, CallAnswerResult,
                                 CallConsultResult, CallHangupResult, CallInfo, CallListResult,
                                 CallMakeResult, CallPickupResult, CallRecordResult,
                                 CallSuperviseResult, CallTo, Campaign, CampaignDialResult,
                                 CampaignListResult, CampaignLoadResult, CampaignNextResult,
                                 CampaignShowResult, CampaignSkipResult, ChannelListenResult,
                                 ChannelToneResult, DncAddResult, DncListResult,
                                 DncRemoveResult, PingResult, PortStatus, PriAnswerResult,
                                 PriListResult, QueueListResult, QueueStatus, ReplayResult,
                                 ReportLossesResult, ServerSpeedResult, ServerStats,
                                 ShutdownResult, SimCallResult, SimCallsResult, SimDtmfResult,
                                 SimFaultResult, SimHangupResult, SimLoopbackResult,
                                 SimPhoneResult, SimStatsResult, SimTrafficResult,
                                 SnapshotResult, SpanAlarmsResult, SpanBertResult,
                                 SpanBlockResult, SpanCall, SpanCallCause, SpanCountersResult,
                                 SpanLoopbackResult, SpanR2traceResult, SpanShowResult,
                                 Timeslot, TraceStartResult, TraceStopResult)

__all__ = ["Operations", "CONCERNS", "facade_name", "Board", "Spans", "Channels", "Sim", "Pri",
           "Trace", "Agents", "Queues", "Calls", "Campaigns", "Dnc", "Reports", "Server",
           "Admin", "Auth", "Keys", "Messages", "Book", "Customers", "op_name"]

R = TypeVar("R")

#: An operation's prefix -> the attribute of its concern on a client; the operations
#: without a prefix (``ping``, ``snapshot``, ``replay``, ``shutdown``) are ``server``'s.
CONCERNS = {"board": "board", "span": "spans", "channel": "channels", "sim": "sim",
            "pri": "pri", "trace": "trace", "agent": "agents", "queue": "queues",
            "call": "calls", "campaign": "campaigns", "dnc": "dnc", "report": "reports",
            "server": "server", "admin": "admin", "auth": "auth", "key": "keys",
            "msg": "messages", "book": "book", "customer": "customers"}

#: Operation arguments that are Python keywords -> the parameter's name.
PARAMETER = {"from": "ani"}


def facade_name(op: str) -> tuple[str, str]:
    """``call.transfer`` -> ``("calls", "transfer")``: the concern attribute and the method
    (``admin.agent.add`` -> ``("admin", "agent_add")``)."""
    prefix, dot, rest = op.partition(".")
    if not dot:
        return "server", op
    return CONCERNS[prefix], rest.replace(".", "_") if prefix == "admin" else rest


def op_name(attr: str, name: str) -> str:
    """The operation of the method ``name`` of the concern ``attr`` (facade_name reversed)."""
    prefix = [p for p, a in CONCERNS.items() if a == attr][0]
    if prefix == "admin":
        kind, _, rest = name.partition("_")
        return f"admin.{kind}.{rest}" if rest else f"admin.{kind}"
    return f"{prefix}.{name}"


P = ParamSpec("P")
T = TypeVar("T")


class _Method(Generic[P, T]):
    """What a type checker sees of a facade method (:func:`_typed`): on a concern over a
    requester whose ``call`` returns the result (``Client``: ``R`` is ``dict``) a method
    returning ``T``; over one whose ``call`` returns an awaitable (``AsyncRequester``) a
    method returning ``Awaitable[T]``. Python's types cannot map ``R`` over each
    method's own result (no higher kinds), hence this descriptor."""

    @overload
    def __get__(self, obj: None, owner: Any) -> _Method[P, T]: ...
    @overload
    def __get__(self, obj: _Concern[dict], owner: Any) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: _Concern[Awaitable[dict]], owner: Any) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: Any, owner: Any) -> Any: ...


if TYPE_CHECKING:
    def _typed(method: Callable[Concatenate[Any, P], T]) -> _Method[P, T]: ...
else:
    def _typed(method):
        """The method itself at run time: a type checker sees a :class:`_Method`."""
        return method


class _Concern(Generic[R]):
    """A concern's operations over a requester: anything with ``call(op, args)``
    (a :class:`~cti.clients.client.Client` returns the result, an
    :class:`~cti.clients.client.AsyncRequester` a coroutine of it)."""

    def __init__(self, requester: Any):
        self._requester = requester

    def _op(self, op: str, args: dict[str, Any]) -> Any:
        # None is "not given": the server applies its default, as Client.request does
        return self._requester.call(op, {k: v for k, v in args.items() if v is not None})


class Board(_Concern[R]):
    """The board: ``board.list``, ``board.show``."""

    @_typed
    def list(self) -> BoardListResult:
        """The boards: ``{boards: [{name, backend, tick_ms, spans, ports, alarms, ...}]}``."""
        return self._op("board.list", {})

    @_typed
    def show(self) -> BoardShowResult:
        """The board summary with ``span_status`` and ``port_status``."""
        return self._op("board.show", {})


class Spans(_Concern[R]):
    """E1 spans: status, alarms, error counters, loopbacks, BERT, R2 blocking and trace."""

    @_typed
    def show(self, span: int) -> SpanShowResult:
        """A span's status, counters and ``channels``."""
        return self._op("span.show", {"span": span})

    @_typed
    def alarms(self, span: int) -> SpanAlarmsResult:
        """``{span, alarms, in_sync, loopback}``."""
        return self._op("span.alarms", {"span": span})

    @_typed
    def counters(self, span: int, *, reset: bool = False) -> SpanCountersResult:
        """``{span, counters, reset}``; with ``reset`` zeroed after being read."""
        return self._op("span.counters", {"span": span, "reset": reset})

    @_typed
    def loopback(self, span: int, mode: str) -> SpanLoopbackResult:
        """Set a loopback on our end: ``off``, ``local``, ``line``, ``payload``."""
        return self._op("span.loopback", {"span": span, "mode": mode})

    @_typed
    def block(self, span: int, *, timeslot: int | None = None) -> SpanBlockResult:
        """Block a circuit (``timeslot``, or the whole span) of an R2 span."""
        return self._op("span.block", {"span": span, "timeslot": timeslot})

    @_typed
    def unblock(self, span: int, *, timeslot: int | None = None) -> SpanBlockResult:
        """Unblock a circuit (``timeslot``, or the whole span) of an R2 span."""
        return self._op("span.unblock", {"span": span, "timeslot": timeslot})

    @_typed
    def r2trace(self, span: int, *, call: int | None = None) -> SpanR2traceResult:
        """The R2 signalling trace of the recent calls of a span (or of one ``call``)."""
        return self._op("span.r2trace", {"span": span, "call": call})

    @_typed
    def bert(self, span: int, *, action: str = "status") -> SpanBertResult:
        """Bit error rate test, 2^15-1 (O.151): ``start``, ``stop`` or ``status``."""
        return self._op("span.bert", {"span": span, "action": action})


class Channels(_Concern[R]):
    """Channels (``"1/5"``, ``"fxs/3"``): state, tones, listening."""

    @_typed
    def show(self, channel: str) -> Timeslot | PortStatus:
        """A timeslot's signalling, or a port's hook and ring state."""
        return self._op("channel.show", {"channel": channel})

    @_typed
    def tone(self, channel: str, *, freq: float | None = None, dtmf: str | None = None,
            tone: str | None = None, capture: bool = False, freq2: float = 0, level: float = -10,
            ms: int = 1000) -> ChannelToneResult:
        """Send a tone (``freq``, ``freq2``, ``level``, ``ms``), DTMF (``dtmf``) or a
        call-progress ``tone``; ``capture``: the reply brings what went out."""
        return self._op("channel.tone", {"channel": channel, "freq": freq, "dtmf": dtmf,
                                         "tone": tone, "capture": capture, "freq2": freq2,
                                         "level": level, "ms": ms})

    @_typed
    def listen(self, channel: str, *, direction: str = "rx",
               seconds: float = 1.0) -> ChannelListenResult:
        """``seconds`` of a channel's audio (``direction`` ``rx`` or ``tx``), base64
        G.711 in ``audio``; the reply comes when they are heard."""
        return self._op("channel.listen", {"channel": channel, "direction": direction,
                                           "seconds": seconds})


class Sim(_Concern[R]):
    """The simulated world (``not_supported`` on a real board): faults on the virtual
    cables, the exchange's calls and traffic, far-end DTMF, the agents' phones."""

    @_typed
    def fault(self, span: int, *, los: bool | None = None, ais: bool | None = None,
            lof: bool | None = None, ber: float | None = None, code_errors: float | None = None,
            slip_ppm: float | None = None, clear: bool = False,
            direction: str | None = None) -> SimFaultResult:
        """Inject a fault on a span's virtual cable (``los``, ``ais``, ``lof``, ``ber``,
        ``code_errors``, ``slip_ppm``) or ``clear`` them."""
        return self._op("sim.fault", {"span": span, "los": los, "ais": ais, "lof": lof, "ber": ber,
                                      "code_errors": code_errors, "slip_ppm": slip_ppm,
                                      "clear": clear, "direction": direction})

    @_typed
    def loopback(self, span: int, mode: str) -> SimLoopbackResult:
        """A far-end loopback at the exchange: ``line``, ``payload``, ``off``."""
        return self._op("sim.loopback", {"span": span, "mode": mode})

    @_typed
    def stats(self, span: int) -> SimStatsResult:
        """The virtual cable's counts and faults, and the far end's span status."""
        return self._op("sim.stats", {"span": span})

    @_typed
    def call(self, span: int, to: str, *, ani: str = "", overlap: bool = False,
            hangup_after: float | None = None) -> SimCallResult:
        """The exchange offers a call on a PRI span from ``ani`` (Q.931 calling number)
        to ``to``: ``{span, exchange_call, congested, state}``."""
        return self._op("sim.call", {"from": ani, "span": span, "to": to, "overlap": overlap,
                                     "hangup_after": hangup_after})

    @_typed
    def hangup(self, span: int, call: int, *, cause: int = 16) -> SimHangupResult:
        """The exchange's caller hangs up ``call`` with ``cause``."""
        return self._op("sim.hangup", {"span": span, "call": call, "cause": cause})

    @_typed
    def calls(self) -> SimCallsResult:
        """The exchange's counts: offered, congested, answered, cleared by cause."""
        return self._op("sim.calls", {})

    @_typed
    def traffic(self, *, profile: str = "steady", rate: float = 20.0, peak: float = 300.0,
            seconds: float = 120.0, seed: int = 1, agents_login: bool = True) -> SimTrafficResult:
        """Callers on the exchange and agents at their phones, on line time
        (``profile`` ``steady``, ``tv_peak``, ``peak`` or ``stop``)."""
        return self._op("sim.traffic", {"profile": profile, "rate": rate, "peak": peak,
                                        "seconds": seconds, "seed": seed,
                                        "agents_login": agents_login})

    @_typed
    def dtmf(self, channel: str, digits: str) -> SimDtmfResult:
        """The far end keys DTMF ``digits`` on a channel (a caller in the IVR)."""
        return self._op("sim.dtmf", {"channel": channel, "digits": digits})

    @_typed
    def phone(self, port: int, action: str, *, digits: str | None = None) -> SimPhoneResult:
        """An agent's phone on an FXS ``port``: ``lift``, ``hangup``, ``flash``, ``dial``
        (``digits``) or ``status``: ``{port, action, ringing, off_hook, caller_id}``."""
        return self._op("sim.phone", {"port": port, "action": action, "digits": digits})


class Pri(_Concern[R]):
    """ISDN calls on our PRI spans at the signalling level (Q.931)."""

    @_typed
    def list(self) -> PriListResult:
        """Our PRI calls and D-channels."""
        return self._op("pri.list", {})

    @_typed
    def place(self, span: int, to: str, *, ani: str = "", timeslot: int | None = None) -> SpanCall:
        """Call out on a span to ``to`` from ``ani`` (``timeslot``: exclusive)."""
        return self._op("pri.place", {"from": ani, "span": span, "to": to, "timeslot": timeslot})

    @_typed
    def answer(self, span: int, call: int) -> PriAnswerResult:
        """Answer an offered call (Q.931 CONNECT)."""
        return self._op("pri.answer", {"span": span, "call": call})

    @_typed
    def reject(self, span: int, call: int, *, cause: int = 21) -> SpanCallCause:
        """Reject an offered call with a Q.850 ``cause``."""
        return self._op("pri.reject", {"span": span, "call": call, "cause": cause})

    @_typed
    def hangup(self, span: int, call: int, *, cause: int = 16) -> SpanCallCause:
        """Clear a call (DISCONNECT) with a Q.850 ``cause``."""
        return self._op("pri.hangup", {"span": span, "call": call, "cause": cause})


class Trace(_Concern[R]):
    """Q.921 frames of a span published as ``trace.lapd`` events (``cti trace``)."""

    @_typed
    def start(self, span: int, *, seconds: float = 60.0) -> TraceStartResult:
        """Publish a span's Q.921 frames for ``seconds`` of line time."""
        return self._op("trace.start", {"span": span, "seconds": seconds})

    @_typed
    def stop(self, span: int) -> TraceStopResult:
        """Stop a span's trace."""
        return self._op("trace.stop", {"span": span})


class Agents(_Concern[R]):
    """Agents: log in and out, ready and not ready, do not disturb, forwarding."""

    @_typed
    def login(self, agent: str, *, extension: int | None = None,
              password: str | None = None) -> AgentStatus:
        """Log an agent in (at ``extension``, an FXS port; default its own): its status.
        An agent logging itself in gives its account's ``password``."""
        return self._op("agent.login", {"agent": agent, "extension": extension,
                                        "password": password})

    @_typed
    def logout(self, agent: str) -> AgentStatus:
        """Log an agent out: its status."""
        return self._op("agent.logout", {"agent": agent})

    @_typed
    def ready(self, agent: str) -> AgentStatus:
        """The agent takes ACD calls: its status."""
        return self._op("agent.ready", {"agent": agent})

    @_typed
    def not_ready(self, agent: str, *, reason: str = "") -> AgentStatus:
        """The agent takes no ACD calls, for ``reason``: its status."""
        return self._op("agent.not_ready", {"agent": agent, "reason": reason})

    @_typed
    def show(self, agent: str) -> AgentStatus:
        """An agent's status: ``{agent, state, reason, call, extension, ...}``."""
        return self._op("agent.show", {"agent": agent})

    @_typed
    def list(self) -> AgentListResult:
        """Every agent's status: ``{agents: [...]}``."""
        return self._op("agent.list", {})

    @_typed
    def dnd(self, agent: str, *, on: bool = True) -> AgentStatus:
        """Do not disturb (``on``): no ACD calls, transfers refused."""
        return self._op("agent.dnd", {"agent": agent, "on": on})

    @_typed
    def forward(self, agent: str, *, to: str = "") -> AgentForwardResult:
        """Transfers to the agent go to ``to`` (an agent or ``queue:NAME``; empty: stop)."""
        return self._op("agent.forward", {"agent": agent, "to": to})

    @_typed
    def history(self, *, agent: str | None = None, limit: int = 20) -> AgentHistoryResult:
        """The agent's latest calls from the CDRs, newest first (the principal's own
        agent by default)."""
        return self._op("agent.history", {"agent": agent, "limit": limit})


class Queues(_Concern[R]):
    """ACD queues: waiting calls, agents, longest wait, EWT."""

    @_typed
    def show(self, queue: str) -> QueueStatus:
        """One queue: waiting calls with positions and waits, agents, longest wait, EWT."""
        return self._op("queue.show", {"queue": queue})

    @_typed
    def list(self) -> QueueListResult:
        """Every queue: ``{queues: [...]}``."""
        return self._op("queue.list", {})


class Calls(_Concern[R]):
    """Calls in the centre: answer, transfer (blind and consultative), hold, supervise,
        pick up, record, hang up, click-to-dial."""

    @_typed
    def list(self) -> CallListResult:
        """The calls now and the centre's counters: ``{calls: [...], counters}``."""
        return self._op("call.list", {})

    @_typed
    def show(self, call: str) -> CallInfo:
        """One call: ``{call_id, state, trunk, ani, dnis, queue, agent, data, start}``."""
        return self._op("call.show", {"call": call})

    @_typed
    def hangup(self, call: str) -> CallHangupResult:
        """Clear a call (``CALL.consult``: the consultation only): ``{call_id, state}``."""
        return self._op("call.hangup", {"call": call})

    @_typed
    def transfer(self, call: str, to: str, *, data: dict[str, Any] | None = None) -> CallTo:
        """Blind transfer to ``to`` (an agent, or ``queue:NAME``), ``data`` merged into
        the call's attached data: ``{call_id, to, data}``."""
        return self._op("call.transfer", {"call": call, "to": to, "data": data})

    @_typed
    def hold(self, call: str) -> CallInfo:
        """Hold a call (the caller hears music on hold)."""
        return self._op("call.hold", {"call": call})

    @_typed
    def retrieve(self, call: str) -> CallInfo:
        """Take a held call back."""
        return self._op("call.retrieve", {"call": call})

    @_typed
    def supervise(self, call: str, supervisor: str, *,
                  mode: str = "monitor") -> CallSuperviseResult:
        """A ``supervisor`` joins a call: ``monitor``, ``whisper``, ``barge`` or
        ``conference``; asked again, the mode changes."""
        return self._op("call.supervise", {"call": call, "supervisor": supervisor, "mode": mode})

    @_typed
    def consult(self, call: str, to: str) -> CallConsultResult:
        """Hold the caller and ring agent ``to``: ``{call_id, consult, to}``."""
        return self._op("call.consult", {"call": call, "to": to})

    @_typed
    def transfer_complete(self, call: str, *, data: dict[str, Any] | None = None) -> CallTo:
        """The consulted agent takes the caller (consultative transfer)."""
        return self._op("call.transfer_complete", {"call": call, "data": data})

    @_typed
    def answer(self, call: str, *, agent: str | None = None) -> CallAnswerResult:
        """Answer a call ringing an agent's phone (``agent``: which, when it rings
        several): ``{call_id, extension}``."""
        return self._op("call.answer", {"call": call, "agent": agent})

    @_typed
    def pickup(self, call: str, agent: str) -> CallPickupResult:
        """``agent`` takes a call ringing another agent's phone."""
        return self._op("call.pickup", {"call": call, "agent": agent})

    @_typed
    def record(self, call: str, *, on: bool = True) -> CallRecordResult:
        """Record this call (``on``) whatever the queue's policy."""
        return self._op("call.record", {"call": call, "on": on})

    @_typed
    def make(self, agent: str, to: str, *, span: int | None = None) -> CallMakeResult:
        """Click-to-dial: the agent's phone rings, then ``to`` is called out."""
        return self._op("call.make", {"agent": agent, "to": to, "span": span})

    @_typed
    def wrapup(self, call: str, code: str, *, note: str | None = None) -> CallWrapupResult:
        """The wrap-up code (of ``[centre] wrapup_codes``) and note of an ended call, on
        its CDR."""
        return self._op("call.wrapup", {"call": call, "code": code, "note": note})


class Campaigns(_Concern[R]):
    """Outbound campaigns (progressive, preview) and their records."""

    @_typed
    def create(self, campaign: str, *, mode: str = "progressive",
               agents: Sequence[str] | None = None, rules: dict[str, Any] | None = None,
               no_answer_timeout: float | None = None,
               agent_answer_timeout: float | None = None,
               max_talk: float | None = None) -> Campaign:
        """A new campaign (stopped): its status."""
        return self._op("campaign.create", {"campaign": campaign, "mode": mode, "agents": agents,
                                            "rules": rules, "no_answer_timeout": no_answer_timeout,
                                            "agent_answer_timeout": agent_answer_timeout,
                                            "max_talk": max_talk})

    @_typed
    def load(self, campaign: str, records: Sequence[dict[str, Any]]) -> CampaignLoadResult:
        """Add ``records`` (``{number, name?, data?}``): ``{campaign, loaded, records,
        refused, refused_count}``."""
        return self._op("campaign.load", {"campaign": campaign, "records": records})

    @_typed
    def start(self, campaign: str) -> Campaign:
        """Start dialling: the status."""
        return self._op("campaign.start", {"campaign": campaign})

    @_typed
    def pause(self, campaign: str) -> Campaign:
        """Dial nothing new: the status."""
        return self._op("campaign.pause", {"campaign": campaign})

    @_typed
    def stop(self, campaign: str) -> Campaign:
        """Stop dialling: the status."""
        return self._op("campaign.stop", {"campaign": campaign})

    @_typed
    def show(self, campaign: str) -> CampaignShowResult:
        """The status with ``records_list`` and ``attempts_list``."""
        return self._op("campaign.show", {"campaign": campaign})

    @_typed
    def list(self) -> CampaignListResult:
        """Every campaign: ``{campaigns: [...], reserved}``."""
        return self._op("campaign.list", {})

    @_typed
    def next(self, campaign: str, agent: str) -> CampaignNextResult:
        """Preview: the next record held for ``agent``: ``{campaign, agent, record}``."""
        return self._op("campaign.next", {"campaign": campaign, "agent": agent})

    @_typed
    def dial(self, agent: str) -> CampaignDialResult:
        """Preview: dial the record shown to ``agent``."""
        return self._op("campaign.dial", {"agent": agent})

    @_typed
    def skip(self, agent: str) -> CampaignSkipResult:
        """Preview: skip the record shown to ``agent``."""
        return self._op("campaign.skip", {"agent": agent})


class Dnc(_Concern[R]):
    """The do-not-call list, checked each time a number is dialled."""

    @_typed
    def add(self, number: str, *, reason: str | None = None) -> DncAddResult:
        """Never call ``number``: ``{number, added}``."""
        return self._op("dnc.add", {"number": number, "reason": reason})

    @_typed
    def remove(self, number: str) -> DncRemoveResult:
        """Take ``number`` off the list: ``{number, removed}``."""
        return self._op("dnc.remove", {"number": number})

    @_typed
    def list(self) -> DncListResult:
        """``{numbers: [{number, added, reason}]}``."""
        return self._op("dnc.list", {})


class Reports(_Concern[R]):
    """Reports from the store, answered off the tick."""

    @_typed
    def losses(self, *, start: float | None = None, end: float | None = None,
            interval: float = 3600.0, sla: float = 20.0, blocking: float = 0.01,
            service_level: float = 0.8, shrinkage: float = 0.0,
            max_abandon: float | None = None) -> ReportLossesResult:
        """The loss report over ``start``..``end`` (epoch seconds): ``intervals``,
        ``totals``, ``peak``, ``patience``, ``advice`` (cti/store/report.py)."""
        return self._op("report.losses", {"start": start, "end": end, "interval": interval,
                                          "sla": sla, "blocking": blocking,
                                          "service_level": service_level, "shrinkage": shrinkage,
                                          "max_abandon": max_abandon})


class Server(_Concern[R]):
    """The server itself: liveness, snapshot, replay of events, pace, stats, shutdown."""

    @_typed
    def ping(self) -> PingResult:
        """Liveness: ``{pong, instance, server, boot, pid, board, seq, line_time, ...}``;
        ``starting`` lists the spans not in service yet."""
        return self._op("ping", {})

    @_typed
    def snapshot(self) -> SnapshotResult:
        """The state of spans, ports and channels, current to ``seq``."""
        return self._op("snapshot", {})

    @_typed
    def replay(self, after: int, *, topics: Sequence[str] | None = None) -> ReplayResult:
        """The events with ``seq > after`` (of the ``topics`` prefixes):
        ``{events, first_seq, last_seq}``; ``replay_gap`` when they left the ring."""
        return self._op("replay", {"after": after, "topics": topics})

    @_typed
    def speed(self, speed: float) -> ServerSpeedResult:
        """Run the board clock ``speed`` times real time from now on."""
        return self._op("server.speed", {"speed": speed})

    @_typed
    def stats(self) -> ServerStats:
        """How the server keeps up: tick lateness, overruns, requests, replies dropped."""
        return self._op("server.stats", {})

    @_typed
    def reload(self) -> ReloadSummary:
        """Read the configuration file again and apply what changed (``cti reload``): the
        summary of the changes and what needs a restart."""
        return self._op("server.reload", {})

    @_typed
    def shutdown(self) -> ShutdownResult:
        """Stop the server: ``{stopping, seq}``."""
        return self._op("shutdown", {})


class Keys(_Concern[R]):
    """The clients' CurveZMQ keys (the right ``accounts``; ``cti admin key``)."""

    @_typed
    def issue(self, public: str, name: str, role: str, *, agent: str | None = None,
              scopes: Sequence[str] | None = None) -> KeyIssueResult:
        """Record ``public`` (Z85) for the principal ``name`` of ``role``:
        ``{key, server_key, requests, events}`` (what the client's key file names)."""
        return self._op("key.issue", {"public": public, "name": name, "role": role,
                                      "agent": agent, "scopes": scopes})

    @_typed
    def revoke(self, key: str) -> KeyRevokeResult:
        """Revoke a key by name or public key: refused from its next request on."""
        return self._op("key.revoke", {"key": key})

    @_typed
    def list(self) -> KeyListResult:
        """``{keys: [{public, name, role, agent, scopes, issued, revoked}]}``."""
        return self._op("key.list", {})


class Admin(_Concern[R]):
    """Accounts, groups and the audit log (an administrator's: the right ``accounts``)."""

    @_typed
    def agent_add(self, name: str, *, role: str = "agent", display_name: str = "",
                  agent: str | None = None, extension: int | None = None,
                  groups: dict[str, Any] | None = None) -> Account:
        """Add an account (an agent's name is its agent number): the account."""
        return self._op("admin.agent.add", {"name": name, "role": role,
                                            "display_name": display_name, "agent": agent,
                                            "extension": extension, "groups": groups})

    @_typed
    def agent_modify(self, name: str, *, role: str | None = None,
                     display_name: str | None = None, agent: str | None = None,
                     extension: int | None = None, disabled: bool | None = None) -> Account:
        """Change an account's given fields (``extension`` 0: free seating): the account."""
        return self._op("admin.agent.modify", {"name": name, "role": role,
                                               "display_name": display_name, "agent": agent,
                                               "extension": extension, "disabled": disabled})

    @_typed
    def agent_remove(self, name: str) -> AdminAgentRemoveResult:
        """Remove an account (an agent logged out): ``{name, removed}``."""
        return self._op("admin.agent.remove", {"name": name})

    @_typed
    def agent_passwd(self, name: str, *, password: str | None = None, pin: str | None = None,
                     clear: Sequence[str] | None = None) -> Account:
        """Set (or ``clear``) an account's password and/or PIN: the account."""
        return self._op("admin.agent.passwd", {"name": name, "password": password,
                                               "pin": pin, "clear": clear})

    @_typed
    def agent_list(self, *, role: str | None = None) -> AdminAgentListResult:
        """Every account (of ``role``), never a hash: ``{accounts: [...]}``."""
        return self._op("admin.agent.list", {"role": role})

    @_typed
    def group_add(self, name: str, kind: str) -> Group:
        """Add a ``queue`` or ``skill`` group: the group."""
        return self._op("admin.group.add", {"name": name, "kind": kind})

    @_typed
    def group_remove(self, name: str, *, kind: str | None = None) -> AdminGroupRemoveResult:
        """Remove a group: ``{name, removed}``."""
        return self._op("admin.group.remove", {"name": name, "kind": kind})

    @_typed
    def group_list(self, *, kind: str | None = None) -> AdminGroupListResult:
        """Every group and its members: ``{groups: [...]}``."""
        return self._op("admin.group.list", {"kind": kind})

    @_typed
    def group_member(self, group: str, account: str, *, level: int | None = None,
                     kind: str | None = None) -> Group:
        """An account in a group at ``level`` 1..10, or out (0 or None): the group."""
        return self._op("admin.group.member", {"group": group, "account": account,
                                               "level": level, "kind": kind})

    @_typed
    def audit(self, *, since: float | None = None, until: float | None = None,
              name: str | None = None, operation: str | None = None,
              refused: bool | None = None, limit: int = 1000) -> AdminAuditResult:
        """The audit log, filtered: ``{rows: [...]}``."""
        return self._op("admin.audit", {"since": since, "until": until, "name": name,
                                        "operation": operation, "refused": refused,
                                        "limit": limit})


class Auth(_Concern[R]):
    """Checking who a person is."""

    @_typed
    def login(self, name: str, password: str) -> AuthLoginResult:
        """Check a name and password: the account's role, agent, extension and groups."""
        return self._op("auth.login", {"name": name, "password": password})


class Messages(_Concern[R]):
    """Direct messages between agents (the right ``desk``, for the agent's own inbox)."""

    @_typed
    def send(self, to: str, text: str, *, agent: str | None = None) -> MsgSendResult:
        """Send ``text`` to agent ``to``: stored, and delivered to its desk live."""
        return self._op("msg.send", {"to": to, "text": text, "agent": agent})

    @_typed
    def list(self, *, agent: str | None = None, unread: bool = False,
             limit: int = 50) -> MsgListResult:
        """The inbox, unread first, and the count of unread messages."""
        return self._op("msg.list", {"agent": agent, "unread": unread, "limit": limit})

    @_typed
    def read(self, id: int, *, agent: str | None = None) -> MsgSendResult:
        """Mark message ``id`` read."""
        return self._op("msg.read", {"id": id, "agent": agent})


class Book(_Concern[R]):
    """The address book and speed dial: the agent's own, and the shared one."""

    @_typed
    def add(self, name: str, number: str, *, notes: str | None = None,
            speed: str | None = None, shared: bool = False,
            agent: str | None = None) -> BookEntryResult:
        """Add an entry (to the shared book with ``shared``: the right ``agents``)."""
        return self._op("book.add", {"name": name, "number": number, "notes": notes,
                                     "speed": speed, "shared": shared, "agent": agent})

    @_typed
    def list(self, *, agent: str | None = None) -> BookListResult:
        """The agent's entries, then the shared ones."""
        return self._op("book.list", {"agent": agent})

    @_typed
    def remove(self, id: int, *, agent: str | None = None) -> BookEntryResult:
        """Remove an entry."""
        return self._op("book.remove", {"id": id, "agent": agent})

    @_typed
    def dial(self, *, entry: int | None = None, speed: str | None = None,
             agent: str | None = None, span: int | None = None) -> BookDialResult:
        """Click-to-dial an entry, or a speed-dial code."""
        return self._op("book.dial", {"entry": entry, "speed": speed, "agent": agent,
                                      "span": span})


class Customers(_Concern[R]):
    """The customer's record and its contact history."""

    @_typed
    def show(self, *, id: int | None = None, phone: str | None = None,
             contacts: int = 5) -> CustomerShowResult:
        """A customer by id or phone, and its last ``contacts`` calls."""
        return self._op("customer.show", {"id": id, "phone": phone, "contacts": contacts})

    @_typed
    def add(self, name: str, *, phone: str | None = None, points: int | None = None,
            email: str | None = None, area: str | None = None,
            notes: str | None = None) -> CustomerResult:
        """Add a customer's record."""
        return self._op("customer.add", {"name": name, "phone": phone, "points": points,
                                         "email": email, "area": area, "notes": notes})

    @_typed
    def modify(self, id: int, *, name: str | None = None, phone: str | None = None,
               points: int | None = None, email: str | None = None,
               area: str | None = None, notes: str | None = None) -> CustomerResult:
        """Change the fields given."""
        return self._op("customer.modify", {"name": name, "phone": phone, "points": points,
                                            "email": email, "area": area, "notes": notes,
                                            "id": id})

    @_typed
    def remove(self, id: int) -> CustomerResult:
        """Delete a customer's record (the right ``calls``)."""
        return self._op("customer.remove", {"id": id})


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
    def admin(self) -> Admin[R]:
        return Admin(self)

    @property
    def auth(self) -> Auth[R]:
        return Auth(self)

    @property
    def keys(self) -> Keys[R]:
        return Keys(self)

    @property
    def messages(self) -> Messages[R]:
        return Messages(self)

    @property
    def book(self) -> Book[R]:
        return Book(self)

    @property
    def customers(self) -> Customers[R]:
        return Customers(self)
