"""The board server, ``cti serve``: one process owns the board(s) and the tick loop.

Two layers, after the sans-I/O rule of ARCHITECTURE.md:

* :class:`Service` is the core. It holds the board (or the simulated world around it),
  the :class:`~cti.server.bus.EventLog`, and answers requests: ``handle(raw_bytes)`` returns
  the reply dict, or None for a request that completes later (``channel.listen``, which
  collects line time); ``tick()`` moves the board one tick and returns the events to
  publish and the deferred replies that completed. It reads no socket and no clock:
  the board tick is its only clock, and ``ts`` is ``wall_start`` (given once by the
  shell) plus the board's line time.
* :func:`cti.server.loop.serve` is the shell: asyncio with a ZeroMQ ROUTER for requests
  (``{id, op, args}`` -> ``{id, ok, result|error}``) and a PUB for events, and the
  real-time tick loop (one tick per ``tick_ms`` of wall clock divided by ``--speed``,
  catching up when late; deadlines are computed from the start, so it never drifts).

The requests are not here: each concern's module under cti/server/ops/ registers its
operations (cti/server/registry.py) with their argument and result schemas beside their
handlers, and :meth:`Service.handle` checks a request's arguments (cti/server/schema.py)
and dispatches it to its handler. The state only one concern uses is that concern's:
the listens and taps (:class:`cti.server.ops.channels.Listens`, ``self.listens``) and
the D-channel traces (:class:`cti.server.ops.signalling.Traces`, ``self.traces``).
(docs/contract/ holds the operations as generated from the registry.)
"""
from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from typing import Any, Callable

import cti.server.ops  # noqa: F401  (every concern registers its operations)
from cti.server.auth import OWNER, Principal, audited, authorize
from cti.server.bus import EventLog, Published, ReplayGap
from cti.server.config import Config
from cti.server.ops.accounts import Hashing
from cti.server.ops.channels import Listens
from cti.server.ops.server import PROTOCOL_VERSION
from cti.server.ops.signalling import Traces
from cti.server.registry import REGISTRY
from cti.server.reload import Reloader
from cti.server.schema import (RequestError, _shown, check_args, encode, jsonable,
                               parse_request, ranges)
from cti.server.tickstats import ServerStats
from cti.store.report import FXO_TRUNKS, IVR_SPAN
from drivers.board import Audio, Board, DFrame, DFrameSent, DigitDetected, SpanAlarm
from drivers.sig.analog import AnalogError
from drivers.sig.pri import ChannelsRestarted, DChannelDown, DChannelUp
from drivers.sig.q931 import Q931Error
from drivers.sig.r2 import R2Error

__all__ = ["RequestError", "Service", "build_world", "encode", "OPS", "PROTOCOL_VERSION"]

log = logging.getLogger("cti.server")

#: name -> argument specification of every operation, derived from the registry (the
#: tests' view of it; the registry is the one source)
OPS: dict = {op.name: op.args for op in REGISTRY}


class Service:
    """The board server's core: ops and the tick, without sockets or clocks.

    ``world`` is a :class:`simulators.world.SimWorld` (its ``board`` is ours and its
    cables take faults) or None with ``board`` a real board. ``wall_start`` is the wall
    clock at line time zero, for ``ts``; ``store_synchronous`` the store's SQLite
    ``synchronous`` (FULL; a simulation run faster than real time may take NORMAL).

    The class is about 490 lines and kept whole: it is the composition root (board, centre,
    store, bus, listens, traces, the reloader, the accounts' hashing) and the order of a
    tick; the requests, taps, traces, reloads and who sees which event live in modules of
    their own, and what stays is the glue between them, read best in the tick's order.
    """

    def __init__(self, config: Config, world=None, board=None, wall_start: float = 0.0,
                 store_synchronous: str = "FULL"):
        if world is None and board is None:
            raise ValueError("Service needs a world or a board")
        self.config = config
        self.world = world
        self.board = world.board if world is not None else board
        self.log = EventLog(config.server.replay_ring)
        self.wall_start = wall_start
        self.instance = uuid.uuid4().hex[:12]
        self.stopping = False
        self.store_synchronous = store_synchronous
        # failures outside the centre's calls (a line event, a listen, a trace, a request,
        # the store's commit): counted, logged, and told as server.error events, which
        # go out with the next tick
        self.errors = 0
        self._pending: list[Published] = []
        self.stats = ServerStats()   # the shell measures the tick; ops read it
        self.raw_replies = False     # the shell encodes replies with encode(): RawJSON allowed
        self.sent_seq: int | None = None   # the shell's last event sent (None: all are)
        # the shell's report worker: (args, token, rid) -> None, or None to run inline
        self.reports: Callable[[dict, Any, Any], None] | None = None
        self._tick0 = self.board.tick_count
        # PRI spans: the world runs ours; a real board gets the user side attached here
        if world is not None:
            self.pri = dict(world.pri)
            self.r2 = dict(getattr(world, "r2", {}) or {})
        else:
            from drivers.sig import pri, r2span
            self.pri = pri.attach(self.board, "user")
            self.r2 = r2span.attach(self.board, "cn")
        # the trunks back to idle: the exchange may hold calls of a run that stopped
        from cti.server.recovery import LineRestart
        self.line_restart = LineRestart(self.pri, self.r2, self.board.line_seconds)
        # the concerns' own state: listens and taps, D-channel traces
        self.listens = Listens(self)
        self.traces = Traces(self)
        self.reloader = Reloader(self)      # server.reload (cti reload)
        # passwords and PINs hashed off the tick (the shell starts its thread)
        self.hashing = Hashing(self)
        # the principal of the request being handled (handlers that depend on who asks)
        self.principal: Principal = OWNER
        self.centre = None
        self.store = None
        self.keys = None            # cti.server.keyring.KeyRing: the clients' keys
        self._server_public: str | None = None
        # the principal of the request being handled (ops that filter what they return:
        # snapshot, replay; cti/server/audience.py)
        self.principal: Principal = OWNER
        self.campaigns = None
        self.boot = None            # cti.server.recovery.Boot: this run's name and boot count
        self.live = None            # cti.server.recovery.LiveCalls
        self.recovery = None        # what the start closed and restored
        self._recovered: list = []  # its CTI events, out with the first tick
        self.traffic = None
        self.speed = 1.0
        self.file_roster = None     # the file's agents and queue members (ops/accounts.py)
        if config.centre is not None:
            self._build_centre(config)

    def _build_centre(self, config: Config) -> None:
        """The call centre on this board: analog signalling on the ports, the store,
        the prompts (made with espeak-ng/sox the first time), IVR, ACD."""
        from cti.centre.coordinator import Centre
        from cti.centre.prompts import PromptLibrary, make_default_prompts
        from cti.store.sqlite import Store
        from drivers.sig import analog

        cc = config.centre
        home = config.server.home
        os.makedirs(home, exist_ok=True)
        # (a simulation faster than real time may pass NORMAL: see cti.store.sqlite's docstring)
        self.store = Store(os.path.join(home, "cti.db"), synchronous=self.store_synchronous)
        srv = config.server
        self.store.audit_days = srv.audit_days
        self.store.max_failures = srv.login_failures
        self.store.failure_window = self.store.lockout_seconds = srv.lockout_seconds
        if not os.path.isdir(cc.prompts_dir) or not os.listdir(cc.prompts_dir):
            make_default_prompts(cc.prompts_dir)
        elif os.path.realpath(cc.prompts_dir).startswith(os.path.realpath(home) + os.sep):
            # inside the home: what is missing (a newer prompt, one deleted) is made, as
            # the configuration check at load counted on (cti/server/config/ _KnownPrompts)
            make_default_prompts(cc.prompts_dir)
        prompts = PromptLibrary(cc.prompts_dir)
        if cc.survey_queues and "survey" not in prompts:
            make_default_prompts(cc.prompts_dir, names=["survey"])   # a newer prompt
        ports = analog.attach(self.board)
        self.analog = ports
        from cti.server import recovery
        sim = config.sim if self.world is not None else None
        self.boot = recovery.start(self.store, self.wall_start,
                                   seed=None if sim is None else sim.seed)
        # the accounts: seeded from the file on a fresh store, then the store's agents and
        # queue members are the roster (cti/server/ops/accounts.py)
        from cti.server.ops.accounts import file_roster, roster_from_store
        self.file_roster = file_roster(cc)      # what the file said (a reload's diff)
        roster_from_store(self.store, cc, self.wall_start)
        self.centre = Centre(self.board, cc, pri=self.pri, r2=self.r2, analog_ports=ports,
                             store=self.store,
                             prompts=prompts, epoch=self.wall_start - self.board.line_seconds,
                             call_ids=self.boot.call_ids, check_pin=self.check_pin,
                             audit=self.phone_audit)
        # what the last run left open: its calls' CDRs, its agents (before the first tick)
        evs, self.recovery = recovery.recover(self.store, self.centre, self.board.line_seconds,
                                              self.boot)
        self._recovered = evs
        self.live = recovery.LiveCalls(self.store, self.centre)
        from cti.server.keyring import KeyRing
        self.keys = KeyRing(self.store)
        from cti.centre.campaigns import Campaigns
        self.campaigns = Campaigns(self.centre, self.store, self.centre.epoch, cc.callbacks)
        self.trunks = TrunkSampler(self)

    # an agent at its phone (cti/centre/phones.py) -------------------------------------
    def check_pin(self, agent: str, pin: str, now: float):
        """The accounts' answer to the PIN an agent keyed at its phone (cti/centre/
        phones.py): "ok", "bad", "locked" (too many failures: the store's lockout) or
        "unknown" (no such account, disabled). The account is the one that logs in as
        the digits keyed (the store's ``login_name``: an agent number). What needs no
        hash is answered at once (``secret_begin``); the scrypt hash runs on the hashing
        thread (:class:`cti.server.ops.accounts.Hashing`, ``later``) and the answer is a
        :class:`PinCheck` the centre looks at on later ticks, counted in the store on the
        tick (``secret_end``). At most one check per FXS port is under way (one dialogue
        per phone). A store without accounts: no login at the phone."""
        store = self.store
        if store is None or not hasattr(store, "secret_begin"):
            return "unknown"
        name = store.login_name(agent)
        if name is None:
            return "unknown"
        state, stored = store.secret_begin(name, self.ts(), "pin")
        if state != "check":
            return state
        from cti.store.accounts import secret_matches
        check = PinCheck()
        self.hashing.later(lambda: secret_matches(pin, stored),
                           lambda matched: check.set(store.secret_end(name, self.ts(),
                                                                      bool(matched))))
        return check.answer if check.done() else check

    def phone_audit(self, agent: str, port: int, op: str, refused: str | None) -> None:
        """A login (each try), logout, ready or not ready at an agent's phone, to the audit
        as the agent keyed it, from ``fxs/<port>``; no PIN in it."""
        who = Principal(name=agent or "?", role="agent", agent=agent or None,
                        source=f"fxs/{port}")
        self.audit(who, op, {"agent": agent, "extension": port, "via": "phone"}, refused)

    def server_public(self) -> str:
        """The server's CurveZMQ public key (Z85; its pair made in the home on first use)."""
        if self._server_public is None:
            from cti.server.keyfile import server_keys
            self._server_public = server_keys(self.config.server.home).public
        return self._server_public

    # time -----------------------------------------------------------------------------
    @property
    def line_time(self) -> float:
        """Seconds of line time since the server started (the board clock)."""
        return (self.board.tick_count - self._tick0) * self.board.tick_ms / 1000.0

    def ts(self) -> float:
        return self.wall_start + self.line_time

    def start_clock(self, wall: float) -> None:
        """Line time zero is ``wall`` on the wall clock: the shell calls this as its first
        tick is due, so ``ts`` is not behind by the start-up (building the centre, making
        prompts) at real-time speed."""
        shift = wall - self.wall_start
        self.wall_start = wall
        if self.centre is not None:
            self.centre.epoch += shift
            self.campaigns.epoch += shift

    # names ----------------------------------------------------------------------------
    def port_name(self, number: int) -> str:
        port = self.board.ports.get(number)
        return port.name if port is not None else f"port/{number}"

    def resolve_channel(self, name: str, field_: str = "args.channel"):
        """``"1/5"`` -> ('span', Span, Channel); ``"fxs/3"`` -> ('port', Port, None)."""
        if "/" not in name:
            raise RequestError("bad_arg", f"{name!r} is not a channel: use SPAN/TIMESLOT "
                               "(1/5) or fxs/N, fxo/N", field_)
        a, b = name.split("/", 1)
        try:
            n = int(b)
        except ValueError:
            raise RequestError("bad_arg", f"{name!r}: {b!r} is not a number", field_) from None
        if a in ("fxs", "fxo", "port"):
            port = self.board.ports.get(n)
            if port is None or (a != "port" and port.kind != a):
                raise RequestError("not_found", f"no port {name} on board {self.board.name} "
                                   f"(ports: {self._ports_text()})", field_)
            return "port", port, None
        try:
            s = int(a)
        except ValueError:
            raise RequestError("bad_arg", f"{name!r}: {a!r} is neither a span number nor "
                               "fxs/fxo", field_) from None
        span = self.board.spans.get(s)
        if span is None:
            raise RequestError("not_found", f"no span {s} on board {self.board.name} "
                               f"(spans: {self._spans_text()})", field_)
        ch = span.channels.get(n)
        if ch is None:
            raise RequestError("not_found", f"span {s} has no channel {n} (timeslots: "
                               f"{ranges(sorted(span.channels))})", field_)
        return "span", span, ch

    def _spans_text(self) -> str:
        return ", ".join(map(str, sorted(self.board.spans))) or "none"

    def _ports_text(self) -> str:
        return ", ".join(self.port_name(n) for n in sorted(self.board.ports)) or "none"

    def get_span(self, number: int):
        span = self.board.spans.get(number)
        if span is None:
            raise RequestError("not_found", f"no span {number} on board {self.board.name} "
                               f"(spans: {self._spans_text()})", "args.span")
        return span

    # events ---------------------------------------------------------------------------
    def to_bus(self, ev) -> Published | None:
        """Turn one board event into a bus event (None for audio, which goes to listens)."""
        topic = getattr(ev, "topic", None) or f"board.{type(ev).__name__.lower()}"
        try:
            d = dict(ev.to_dict())
        except Exception:
            d = dataclasses.asdict(ev) if dataclasses.is_dataclass(ev) else {}
        for k in ("topic", "type", "seq", "ts", "tick"):
            d.pop(k, None)
        span = d.pop("span", None)
        channel = d.pop("channel", None)
        ts_ = d.pop("timeslot", None)
        port = d.pop("port", None)
        if channel is None:
            if port is not None:
                channel = self.port_name(port)
            elif span == 0 and ts_ is not None:
                channel = self.port_name(ts_)
            elif span is not None and ts_ is not None:
                channel = f"{span}/{ts_}"
            elif span and topic.startswith("channel.dframe"):
                channel = f"{span}/16"  # the D-channel
        if span == 0:
            span = None
        return self.log.append(self.ts(), topic, span=span, channel=channel,
                               data=jsonable(d) if d else None)

    def _server_error(self, where: str, exc: BaseException, level: int = logging.ERROR,
                      **fields) -> None:
        """A failure outside any one call: logged with its traceback, counted, and a
        ``server.error`` event (the place, the exception's type and message) goes out."""
        log.log(level, "%s: %s: %s", where, type(exc).__name__, exc,
                exc_info=(type(exc), exc, exc.__traceback__))
        self.errors += 1
        try:
            self._pending.append(self.log.append(
                self.ts(), "server.error", "server.error", where=where,
                error=type(exc).__name__, message=str(exc)[:200], **fields))
        except Exception:  # pragma: no cover - the log line above is what is left
            pass

    def tick(self) -> tuple[list[Published], list[tuple[Any, dict]]]:
        """One board tick: the events to publish and the deferred replies now done.

        Only the board itself may end the tick with an exception (the board gone: the
        shell stops). Anything else that fails is caught where it happens: a call by the
        centre (cleared, cause 41), a line event, listen, trace or tone stop here; each is
        logged with its traceback and told as a ``server.error`` event. A failed commit of
        the store (the disk, the database) is logged CRITICAL and told the same way; the
        tick's events still go out (the calls did happen on the line) and the server goes
        on. The rows of a failed commit go with the next commit while SQLite keeps the
        transaction open (a busy database); after a rollback (a full disk, an I/O error)
        they are lost, and the log line says which."""
        events = self.world.tick() if self.world is not None else self.board.tick()
        # a reload its thread has read: applied before this tick's events (its
        # server.reloaded goes out first, in seq order)
        reloaded = self.reloader.tick()
        out, self._pending = self._pending, []
        if self.line_restart.pending:
            try:
                self.line_restart.tick(self.board.line_seconds)
            except Exception as exc:
                self._server_error("line.restart", exc)
        if self.centre is not None:
            # the store is written inside handle(), in one transaction per tick that
            # commits before tick() returns, so before any of these events goes out
            ran = False
            try:
                with self.store.batch():
                    ran = True
                    self._centre_tick(events, out)
            except Exception as exc:
                conn = getattr(getattr(self.store, "db", None), "conn", None)
                kept = conn is not None and conn.in_transaction
                self._server_error("store.commit" if ran else "store.begin", exc,
                                   logging.CRITICAL,
                                   rows="kept for the next commit" if kept else "rolled back")
                if not ran:
                    # no transaction: the centre still sees its tick (each write commits
                    # alone), or its calls would miss the line's events
                    self._centre_tick(events, out)
        for ev in events:
            try:
                self._board_event(ev, out)
            except Exception as exc:
                self._server_error(f"line.{type(ev).__name__}", exc)
        if self._recovered:
            # what the start closed of the last run (committed before the first tick)
            out += [self.log.append(self.ts(), ev.type, ev.topic, **ev.fields)
                    for ev in self._recovered]
            self._recovered = []
        self.traces.tick(out)
        done = reloaded + self.listens.tick()
        if self.hashing.pending:
            done += self.hashing.tick()
        out += self._pending
        self._pending = []
        return out, done

    def _centre_tick(self, events: list, out: list) -> None:
        """The centre's part of a tick, inside the store's transaction."""
        now = self.board.line_seconds
        try:
            cti_events = self.centre.handle(now, events)
        except Exception as exc:     # past the centre's own catching of each call's
            self._server_error("centre", exc)
            cti_events = []
        try:
            # the dialer learns the calls' progress from them (its rows first, too)
            cti_events += self.campaigns.handle(now, cti_events)
        except Exception as exc:
            self._server_error("campaigns", exc)
        for ev in cti_events:
            pub = self.log.append(self.ts(), ev.type, ev.topic, **ev.fields)
            out.append(pub)
            if self.traffic is not None:
                try:
                    self.traffic.on_cti_event(pub.event)
                except Exception as exc:
                    self._server_error("traffic", exc)
        try:
            # an agent logging in with unread messages hears of them (cti/server/ops/desk.py)
            from cti.server.ops.desk import login_waiting
            out += login_waiting(self, cti_events)
        except Exception as exc:
            self._server_error("msg.waiting", exc)
        try:
            self.trunks.sample()
        except Exception as exc:
            self._server_error("trunk_samples", exc)
        try:
            self.live.track(self.ts(), cti_events)   # the calls in flight, for a restart
        except Exception as exc:
            self._server_error("live_calls", exc)
        if self.traffic is not None:
            try:
                self.traffic.tick(now)
            except Exception as exc:
                self._server_error("traffic", exc)

    def _board_event(self, ev, out: list) -> None:
        """One board event for the bus (a D-channel frame only while traced, audio only
        to the listens)."""
        if isinstance(ev, (DFrame, DFrameSent)):
            # D-channel frames go out only while someone traces the span
            self.traces.frame(ev, out)
            return
        if isinstance(ev, Audio):
            self.listens.audio(ev)
            return
        if isinstance(ev, DigitDetected) and ev.span == 0 and self.centre is not None and \
                self.centre.phones.private(ev.timeslot):
            return          # an agent keying its number and PIN at its phone: not published
        log_line_event(ev)
        pub = self.to_bus(ev)
        if pub is not None:
            out.append(pub)

    # requests -------------------------------------------------------------------------
    @staticmethod
    def _reply(rid, result: dict) -> dict:
        return {"id": rid, "ok": True, "result": result}

    @staticmethod
    def _error(rid, err: RequestError) -> dict:
        return {"id": rid, "ok": False, "error": err.to_dict()}

    def handle(self, raw: bytes | str | dict, token: Any = None,
               principal: Principal = OWNER) -> dict | None:
        """Answer one request of ``principal`` (the shell's, from the client's key; code in
        this process acts as the owner). Returns the reply, or None when it completes in a
        later tick (the reply then comes out of :meth:`tick` with ``token``)."""
        rid = op = None
        self.principal = principal
        try:
            req = parse_request(raw)
            rid = req["id"]
            op = req["op"]
            entry = REGISTRY.get(op)
            if entry is None:
                raise RequestError("unknown_op", f"unknown op {_shown(op)} (ops: "
                                   f"{', '.join(REGISTRY.names())})", "op")
            try:
                # the right first: a request one may not ask is refused before its
                # arguments are looked at, and the refusal goes to the audit log
                authorize(entry, None, principal)
                args = check_args(op, entry.args, req.get("args"))
                right = authorize(entry, args, principal, self.centre)
            except RequestError as refused:
                if refused.code == "forbidden":
                    self.audit(principal, op, req.get("args") if isinstance(
                        req.get("args"), dict) else {}, refused.message)
                raise
            self.principal = principal
            if entry.deferred:          # may answer later (a listen, a capture, a report)
                if audited(entry, right) and not getattr(entry.handler, "audits_itself",
                                                         False):
                    self.audit(principal, op, args)
                result = entry.handler(self, args, rid=rid, token=token)
                return None if result is None else self._reply(rid, jsonable(result))
            result = entry.handler(self, args)
            if self.live is not None:
                self.live.after_request(self.ts(), result)
            reply = self._reply(rid, jsonable(result))
            if audited(entry, right):
                self.audit(principal, op, args)
            return reply
        except Exception as e:
            return self._failure(rid, op, e)

    def answer(self, rid, op: str, fn: Callable[[], Any]) -> dict:
        """The reply of a request finished later (a deferred handler's completion): the
        result of ``fn()``, or its failure as :meth:`handle` tells one."""
        try:
            return self._reply(rid, jsonable(fn()))
        except Exception as e:
            return self._failure(rid, op, e)

    def _failure(self, rid, op, exc: Exception) -> dict:
        """A request's exception as its error reply (the server goes on)."""
        try:
            raise exc
        except RequestError as e:
            return self._error(rid if rid is not None else e.rid, e)
        except ReplayGap as e:
            return self._error(rid, RequestError("replay_gap", str(e), "args.after"))
        except (ValueError, LookupError, Q931Error, R2Error, AnalogError) as e:
            # a stack or the centre refused what the door let through ("CONNECT not
            # allowed in ACTIVE", a stack's local protocol error): the thing acted on is
            # at fault, not the server
            return self._error(rid, RequestError("failed", str(e), _subject(op)))
        except Exception as e:  # the server keeps running whatever one request does
            from cti.centre.coordinator import CallFailed
            if isinstance(e, CallFailed):
                # the centre logged it with its traceback, counted it, cleared the call
                return self._error(rid, RequestError("internal", str(e)))
            self._server_error(f"request.{op}" if isinstance(op, str) else "request", e)
            name = type(e).__name__
            if name.endswith("Error") and type(e).__module__.startswith(("drivers", "cti")) \
                    and name not in ("TypeError", "AttributeError", "KeyError"):
                return self._error(rid, RequestError("failed", str(e), _subject(op)))
            return self._error(rid, RequestError("internal", f"{name}: {e}"))
        finally:
            self.principal = OWNER

    def audit(self, principal: Principal, op: str, args: dict,
              refused: str | None = None) -> None:
        """A supervisor's or administrator's action done, or any refusal: the log, and the
        store's audit table where the store keeps one (``cti admin audit``)."""
        log.info("%s", audit_line(principal, op, args, refused))
        add = getattr(self.store, "audit_add", None)
        if add is not None:
            add(self.ts(), principal.name, principal.role, principal.source, op,
                {k: v for k, v in args.items() if k not in ("password", "pin")}, refused)

    def server_stats(self) -> dict:
        st = self.stats
        st.gauges["listens"] = len(self.listens)
        st.gauges["replay_ring"] = {"events": len(self.log), "bytes": self.log.bytes,
                                    "first_seq": self.log.first_seq,
                                    "truncated_events": self.log.truncated}
        return dict(st.as_dict(), speed=self.speed, line_time=round(self.line_time, 3))

class PinCheck:
    """A PIN being hashed off the tick (:meth:`Service.check_pin`), as the centre reads a
    Future: ``done()`` once the hash is made and counted, ``result()`` the answer."""

    def __init__(self):
        self.answer: str | None = None

    def set(self, answer: str) -> None:
        self.answer = answer

    def done(self) -> bool:
        return self.answer is not None

    def result(self) -> str:
        return self.answer or "unknown"


class TrunkSampler:
    """The occupancy samples of the loss report (cti/store/report.py), taken by the server
    on each tick of a call centre: see :meth:`sample`."""

    def __init__(self, svc):
        self.svc = svc
        self._busy: dict[int | str, tuple[int, int]] = {}
        self._sig: list | None = None
        self._fxo = svc.centre.fxo_trunks_busy()[1] > 0
        self._exchange_seen = (0, 0)
        self._exchange_calls = getattr(svc.world, "calls", None) if svc.world is not None \
            else None

    def sample(self) -> None:
        """Occupancy for the loss report, the server's own, a sample whenever a count
        changes: busy B-channels per PRI span, busy circuits per R2 span (every one not
        idle: in a call, clearing or blocked), busy FXO trunk lines (the group
        ``"fxo"``, counted as a span), and busy IVR ports (span label "ivr" in
        the same table: ports in use of those configured), from which the report gives
        per-span and IVR occupancy, all-busy time and Erlang B; and, on the simulated
        exchange, what only it sees: calls offered and those that found every channel busy."""
        counts = self.counts()
        if counts != self._sig:
            # (on most ticks no count changed and nothing more is done)
            self._sig = counts
            changed = []
            seen = self._busy
            for label, busy, total in counts:
                now = (busy, total)
                if seen.get(label) != now:
                    seen[label] = now
                    changed.append((label, busy, total))
            self.svc.store.trunk_samples_add(self.svc.ts(), changed)
        calls = self._exchange_calls
        if calls is not None:
            seen = (calls.stats.offered, calls.stats.congested)
            if seen != self._exchange_seen:
                d_off = seen[0] - self._exchange_seen[0]
                d_cong = seen[1] - self._exchange_seen[1]
                self._exchange_seen = seen
                self.svc.store.exchange_count(self.svc.ts(), 0, d_off, d_cong)

    def counts(self) -> list[tuple[int | str, int, int]]:
        """(label, busy, total) of every PRI and R2 span, the FXO lines and the IVR ports."""
        counts: list[tuple[int | str, int, int]] = [
            (n, pri.q931.busy_count(), len(pri.q931.channels)) for n, pri in self.svc.pri.items()]
        for n, r2span in self.svc.r2.items():
            total = len(r2span.channels)
            counts.append((n, total - len(r2span.free_timeslots()), total))
        if self._fxo:
            counts.append((FXO_TRUNKS, *self.svc.centre.fxo_trunks_busy()))
        ports = getattr(self.svc.centre, "ivr_ports", None)
        if ports is not None:
            counts.append((IVR_SPAN, ports.in_use, ports.count))
        return counts


def log_line_event(ev) -> None:
    """What an operator's log keeps of the line: alarms, D-channels, restarts."""
    if isinstance(ev, SpanAlarm):
        if ev.raised:
            log.warning("span %s: alarm %s raised (now %s)", ev.span, ",".join(ev.raised),
                        ",".join(ev.alarms))
        if ev.cleared:
            log.info("span %s: alarm %s cleared (now %s)", ev.span, ",".join(ev.cleared),
                     ",".join(ev.alarms) or "none")
    elif isinstance(ev, DChannelUp):
        log.info("span %s: D-channel up%s", ev.span,
                 " (re-established)" if ev.reestablished else "")
    elif isinstance(ev, DChannelDown):
        log.warning("span %s: D-channel down: %s", ev.span, ev.reason)
    elif isinstance(ev, ChannelsRestarted):
        log.info("span %s: %s restarted %s", ev.span,
                 "the exchange" if ev.remote else "we",
                 ",".join(map(str, ev.timeslots)) or "the whole interface")


def audit_line(principal: Principal, op: str, args: dict, refused: str | None) -> str:
    """One line of the audit log: who (and from where), what, and a refusal's reason."""
    what = ", ".join(f"{k}={v!r}" for k, v in sorted(args.items())
                     if v is not None and k not in ("data", "password", "pin"))
    line = f"{op} by {principal} from {principal.source}: {what[:300]}"
    return f"{line}: REFUSED: {refused}" if refused else line


def build_world(config: Config):
    """The board to own: ``(world, None)`` for backend "sim", else ``(None, board)``."""
    bc = config.board
    spans = list(bc.spans)
    ports = [p.kind for p in bc.ports]
    if bc.backend == "sim":
        from simulators.world import SimWorld

        sim = config.sim
        return SimWorld(spans=spans, ports=ports, tick_ms=bc.tick_ms, seed=sim.seed,
                        cable_delay_bits=sim.cable_delay_bits, name=bc.name,
                        signalling=True), None
    return None, Board(bc.name, bc.backend, spans, ports, bc.tick_ms, bc.device or None)


def _subject(op: str | None) -> str:
    """The field an op acts on, to name when a stack refuses it: its last required
    argument (``args.call`` of pri.answer, ``args.agent`` of agent.ready), or ``op``."""
    entry = REGISTRY.get(op) if isinstance(op, str) else None
    names = [n for n, a in (entry.args if entry else {}).items() if a.required]
    return f"args.{names[-1]}" if names else "op"
