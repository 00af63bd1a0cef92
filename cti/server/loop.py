"""The shell of ``cti serve``: asyncio and ZeroMQ around a :class:`~cti.server.service.Service`.

:func:`serve` owns the sockets (a ROUTER for requests, a PUB for events), the real-time
tick loop (one tick per ``tick_ms`` of wall clock divided by ``--speed``, catching up when
late; deadlines are computed from the start, so it never drifts), the request budget
between ticks, the store's syncer and the report worker. :func:`run` is its blocking entry
point for the command line.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Callable

from cti.centre import media
from cti.server.audience import grants
from cti.server.auth import Principal
from cti.server.bus import PUB_HWM, Publisher
from cti.server.config import Config
from cti.server.keyfile import server_keys
from cti.server.schema import encode
from cti.server.service import Service, build_world

__all__ = ["serve", "run"]

CATCH_UP_BATCH = 50          # ticks run before the loop lets requests in again
REQUEST_BUDGET = 0.004       # s of each tick's interval that requests may take, at most
MIN_REQUEST_SLICE = 0.001    # s for requests even when the ticks are behind (at speed)
READ_PER_SERVE = 4           # requests read from the socket per request served: a flood
                             # fills the pending queue, and what is over it gets busy


#: the owner of the home, on the ipc sockets in its private folder (as ``asterisk -r``)
IPC_OWNER = Principal("owner", "admin", source="ipc")
#: marks a TCP client's routing id in a request's envelope (ipc ones start with 0x00)
TCP_PEER = b"T"
ZAP_DOMAIN = b"cti"
MAX_PEERS = 4096             # TCP clients whose key the loop remembers (the latest)


def _xpub(ctx):
    """An XPUB socket in manual mode: a subscription takes effect only as granted by
    :func:`cti.server.audience.grants` for the subscriber's principal."""
    import zmq

    s = ctx.socket(zmq.XPUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, PUB_HWM)
    s.setsockopt(zmq.XPUB_MANUAL, 1)
    return s


def _curve_server(sock, keys) -> None:
    """CurveZMQ server side (RFC 26) with ZAP (RFC 27) enforced: with no handler in the
    context, the handshake fails instead of letting the client in."""
    import zmq

    sock.setsockopt(zmq.LINGER, 0)
    sock.curve_secretkey = keys.secret.encode()
    sock.curve_publickey = keys.public.encode()
    sock.curve_server = True
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
    sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)


def _authenticator(ctx, service, slog):
    """pyzmq's ZAP handler on its thread, asking the service's key ring for each key."""
    from zmq.auth.thread import ThreadAuthenticator

    ring = service.keys
    last = [0.0]

    class Keys:
        def callback(self, domain, key):
            ok = ring.allows(key)
            if not ok and time.monotonic() - last[0] >= 1.0:     # at most 1 line a second
                last[0] = time.monotonic()
                slog.warning("REFUSED at connect: key %s is not issued or was revoked",
                             key.decode("ascii", "replace") if isinstance(key, bytes) else key)
            return ok

    auth = ThreadAuthenticator(ctx, log=logging.getLogger("cti.server.zap"))
    auth.start()
    auth.configure_curve_callback(domain=ZAP_DOMAIN.decode(), credentials_provider=Keys())
    return auth


class Peers:
    """The key (ZAP User-Id) and address of the TCP clients that sent requests, by their
    marked routing id: the principal is looked up in the key ring for every request, so
    a revoked key is refused from its next request on."""

    def __init__(self, ring):
        self.ring = ring
        self._peers: dict[bytes, tuple[str, str]] = {}

    def seen(self, key: bytes, frame) -> None:
        try:
            user = frame.get("User-Id")
            addr = frame.get("Peer-Address")
        except Exception:        # no ZAP metadata: no principal
            user, addr = "", "?"
        peers = self._peers
        peers.pop(key, None)
        peers[key] = (user, addr)
        if len(peers) > MAX_PEERS:
            del peers[next(iter(peers))]

    def principal(self, key: bytes) -> Principal | None:
        user, addr = self._peers.get(key, ("", "?"))
        return self.ring.principal(user, f"tcp://{addr}") if user else None

    def refuse(self, service, key: bytes, body: bytes) -> dict:
        """The reply to a request made with a key revoked since it connected, audited."""
        from cti.server.flow import request_id

        user, addr = self._peers.get(key, ("", "?"))
        rid = request_id(body)
        msg = "this key was revoked: ask an administrator for a new one"
        try:
            op = json.loads(body).get("op")
        except Exception:
            op = None
        row = service.store.key_get(user) if service.store is not None and user else None
        who = Principal(row["name"] if row else "unknown", row["role"] if row else "agent",
                        row.get("agent") if row else None,
                        frozenset(row["scopes"]) if row else frozenset())
        service.audit(Principal(who.name, who.role, who.agent, who.scopes, f"tcp://{addr}"),
                      op if isinstance(op, str) else "?", {}, msg)
        return {"id": rid, "ok": False, "error": {"code": "forbidden", "message": msg}}


class Subscriptions:
    """An XPUB socket's subscription messages (RFC 29: 1 or 0, then the prefix), each
    granted as :func:`cti.server.audience.grants` allows for its subscriber's principal:
    the owner on ipc (``ring`` None), the key's principal on TCP."""

    def __init__(self, sock, ring, slog):
        self.sock, self.ring, self.slog = sock, ring, slog

    def read(self, most: int = 256) -> None:
        import zmq

        sock = self.sock
        for _ in range(most):
            try:
                frame = sock.recv(flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            data = frame.bytes
            if not data or data[0] not in (0, 1):
                continue
            try:
                prefix = data[1:].decode()
            except UnicodeDecodeError:
                continue
            if self.ring is None:
                who = IPC_OWNER
            else:
                try:
                    user = frame.get("User-Id")
                    addr = frame.get("Peer-Address")
                except Exception:
                    user, addr = "", "?"
                who = self.ring.principal(user, f"tcp://{addr}") if user else None
                if who is None:
                    continue
            opt = zmq.SUBSCRIBE if data[0] == 1 else zmq.UNSUBSCRIBE
            for g in grants(who, prefix):
                sock.setsockopt(opt, g.encode())   # on the pipe this message came from


def _inside(path: Path, home: Path) -> bool:
    p, h = os.path.realpath(path), os.path.realpath(home)
    return p == h or p.startswith(h + os.sep)


def _ipc_path(endpoint: str) -> Path | None:
    return Path(endpoint[len("ipc://"):]) if endpoint.startswith("ipc://") else None


def _check_not_running(endpoint: str) -> None:
    """Refuse to start over a live server; remove a stale ipc socket file."""
    import zmq

    path = _ipc_path(endpoint)
    if path is None or not path.exists():
        return
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(endpoint)
        s.send(json.dumps({"id": "probe", "op": "ping"}).encode())
        if s.poll(300):
            raise RuntimeError(f"a server is already running at {endpoint}")
    finally:
        s.close()
        ctx.term()
    path.unlink(missing_ok=True)


async def serve(config: Config, speed: float = 1.0, seconds: float | None = None,
                world=None, board=None, log: Callable[[str], None] | None = None,
                ready: Callable[[Service], None] | None = None,
                fsync: Callable[[int], None] | None = None, realtime: int = 0) -> Service:
    """Run the board server until ``shutdown``, a signal, or ``seconds`` of line time.

    One loop, and the tick first (ARCHITECTURE.md rule 8): each tick runs at its deadline
    (``tick_ms / speed`` apart, counted from the first, so it never drifts; when late, the
    ticks due run back to back, at most ``CATCH_UP_BATCH`` at once); between ticks
    requests are served for at most ``REQUEST_BUDGET`` s (cti/server/flow.py: a bounded pending
    queue, ``busy`` beyond it, replies that wait for slow readers); long reports go to a
    worker process (cti/server/reportworker.py); the store's fsyncs to a thread
    (cti/store/durable.py), and each tick's events (and each reply to a request that wrote) go
    out once the writes made before them are durable. The lateness of every tick is
    measured (cti/server/tickstats.py, ``server.stats``). ``fsync`` replaces :func:`os.fsync`
    for the store's WAL (tests: a slow disk). ``realtime``: run the loop's thread at
    that SCHED_RR priority (1..99), as ``asterisk -p`` does: on a busy machine an
    ordinary process waits for a CPU behind the others, and its ticks with it."""
    import zmq
    import zmq.asyncio
    from cti.store.durable import WalSyncer
    from cti.server.flow import Inbox, Outbox, busy_reply, request_id
    from cti.server.reportworker import ReportRunner

    if speed <= 0 or not math.isfinite(speed):
        raise ValueError("speed must be a positive number")
    slog = logging.getLogger("cti.server")      # (``log`` here is the say callback)
    say = log or (lambda msg: print(f"cti serve: {msg}", file=sys.stderr, flush=True))
    home = config.server.home
    from cti.server.files import private_dir, secure_home
    private_dir(home)
    for ep in (config.server.requests, config.server.events):
        p = _ipc_path(ep)
        if p is not None and _inside(p.parent, home):
            private_dir(p.parent)         # HOME/run: its owner is the administrator
        elif p is not None:
            # a folder of the configuration's, not ours to change: the socket file itself
            # is made 0600 (connecting needs write permission on it)
            p.parent.mkdir(parents=True, exist_ok=True)
    tightened = secure_home(home)
    for ep in (config.server.requests, config.server.events):
        _check_not_running(ep)
    from cti.server import logs
    log_handler = logs.setup(home, config.server.log_level)
    if tightened:
        slog.warning("the home was readable by others: %d modes tightened (%s%s)",
                     len(tightened), "; ".join(tightened[:10]),
                     "; ..." if len(tightened) > 10 else "")
    tcp = config.server.tcp
    try:
        if tcp is not None and not zmq.has("curve"):
            raise RuntimeError("server.listen: this libzmq has no CURVE security, and a TCP "
                               "bind needs keys; stay on ipc")
        if world is None and board is None:
            world, board = build_world(config)
        service = Service(config, world=world, board=board, wall_start=time.time())
        if tcp is not None and service.keys is None:
            raise RuntimeError("server.listen: a TCP bind needs keys, kept in the centre's "
                               "store; this server has none")
        # (the prompts the service made at start, and any other new file: ours alone)
        secure_home(home)
    except BaseException:
        slog.critical("the server did not start", exc_info=True)
        logs.teardown(log_handler)
        raise
    stats = service.stats

    actx = zmq.asyncio.Context()
    sctx = zmq.Context.shadow(actx.underlying)
    router_wait = actx.socket(zmq.ROUTER)            # awaited (asyncio poller) ...
    router = zmq.Socket.shadow(router_wait.underlying)   # ... read and written without await
    router.setsockopt(zmq.LINGER, 0)
    # a reply the client's pipe cannot take raises instead of vanishing (cti/server/flow.py)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.SNDHWM, 10_000)
    pub_sock = _xpub(sctx)
    # TCP (server.listen): CurveZMQ on both sockets, every client key checked by ZAP
    tcp_router = tcp_router_wait = tcp_pub = auth = None
    if tcp is not None:
        auth = _authenticator(sctx, service, slog)
        secret = server_keys(home)
        tcp_router_wait = actx.socket(zmq.ROUTER)
        tcp_router = zmq.Socket.shadow(tcp_router_wait.underlying)
        tcp_router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        tcp_router.setsockopt(zmq.SNDHWM, 10_000)
        tcp_pub = _xpub(sctx)
        for sock in (tcp_router, tcp_pub):
            _curve_server(sock, secret)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    store = service.store
    syncer: WalSyncer | None = None
    runner: ReportRunner | None = None
    held: deque = deque()          # (writes needed durable, events, replies)
    try:
        umask = os.umask(0o077)     # the ipc socket files 0600 from their creation
        try:
            router_wait.bind(config.server.requests)
            pub_sock.bind(config.server.events)
        finally:
            os.umask(umask)
        if tcp is not None:
            tcp_router.bind(tcp[0])
            tcp_pub.bind(tcp[1])
        publisher = Publisher([pub_sock] + ([tcp_pub] if tcp_pub is not None else []))
        for ep in (config.server.requests, config.server.events):
            p = _ipc_path(ep)
            if p is not None and p.exists():
                os.chmod(p, 0o600)
        (home / "cti.pid").write_text(f"{os.getpid()}\n")
        b = service.board
        say(f"board {b.name} ({b.backend}), spans {service._spans_text()}, "
            f"{len(b.ports)} ports, tick {b.tick_ms} ms, speed x{speed:g}")
        say(f"requests {config.server.requests}, events {config.server.events}")
        if tcp is not None:
            say(f"TCP with keys (CurveZMQ): requests {tcp[0]}, events {tcp[1]}, "
                f"{len(service.keys)} live keys")
            slog.info("TCP with keys (CurveZMQ, ZAP): requests %s, events %s; %d live keys",
                      tcp[0], tcp[1], len(service.keys))
        slog.info("started: pid %s, instance %s, home %s, board %s (%s), spans %s, "
                 "%d ports, speed x%g", os.getpid(), service.instance, home, b.name,
                 b.backend, service._spans_text(), len(b.ports), speed)
        if service.boot is not None:
            r = service.recovery.as_dict()
            say(f"server {service.boot.name}, boot {service.boot.boot}: {r['interrupted']} "
                f"interrupted calls closed, {r['agents_restored']} agents restored, "
                f"{r['agents_logged_out']} logged out")
            for what, why in service.recovery.agents_logged_out + service.recovery.failed:
                say(f"recovery: {what}: {why}")

        # (copy=False: zmq copies small frames anyway, and takes a long report's reply as
        # it is)
        def send_reply(frames) -> None:
            # a TCP client's envelope carries TCP_PEER before its routing id
            f0 = frames[0]
            if f0[:1] == TCP_PEER:
                tcp_router.send_multipart([f0[1:], *frames[1:]], flags=zmq.NOBLOCK,
                                          copy=False)
            else:
                router.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)

        outbox = Outbox(send_reply,
                        zmq.Again,
                        lambda e: isinstance(e, zmq.ZMQError) and e.errno == zmq.EHOSTUNREACH,
                        stats.count)
        inbox = Inbox()

        service.sent_seq = service.log.last_seq

        def out(pubs, replies) -> None:
            for p in pubs:
                publisher.send(p)
            if pubs:
                service.sent_seq = pubs[-1].event["seq"]
            for envelope, body in replies:
                outbox.send(envelope, body)

        def release() -> None:
            # (on the loop) the syncer made writes durable: what waited for them goes out
            d = syncer.durable
            while held and held[0][0] <= d:
                _, pubs, replies = held.popleft()
                out(pubs, replies)

        def emit(pubs, replies) -> None:
            """Events and replies go out once every write made before them is durable."""
            if syncer is not None:
                need = store.written
                if held or need > syncer.durable:
                    if need > syncer.durable:
                        syncer.committed(need)
                    held.append((need, pubs, replies))
                    return
            out(pubs, replies)

        if store is not None and store.synchronous != "NORMAL" and store.path != ":memory:":
            store.defer_sync()
            syncer = WalSyncer(store.path, lambda n: loop.call_soon_threadsafe(release),
                               start=store.written, fsync=fsync, realtime=realtime)
        if store is not None and store.path != ":memory:":
            runner = ReportRunner(str(store.path))

            def report(args, token, rid) -> None:
                def done(reply) -> None:
                    stats.count("reports_done")
                    emit([], [(token, reply)])
                runner.submit(args, rid, done)
            service.reports = report

        service.raw_replies = True
        service.reloader.threaded = True      # the file read off the loop (cti/server/reload.py)
        encode_reply = encode
        # passwords and PINs are hashed on a thread of their own, never on the tick
        # (cti/server/ops/accounts.py Hashing)
        service.hashing.start()

        def serve_requests(until: float) -> None:
            """Read and serve requests until ``until`` (loop time) or none is left."""
            replies: list = []
            batch = store.batch() if store is not None else contextlib.nullcontext()
            with batch:
                while loop.time() < until and not service.stopping:
                    read = 0
                    while read < READ_PER_SERVE:
                        try:
                            frames = router.recv_multipart(flags=zmq.NOBLOCK)
                        except zmq.Again:
                            frames = tcp_request() if tcp_router is not None else None
                            if frames is None:
                                break
                        read += 1
                        envelope, body = frames[:-1], frames[-1]
                        why = inbox.offer(envelope, body)
                        if why is not None:
                            stats.count("busy")
                            outbox.send(envelope, busy_reply(request_id(body), why))
                    if not inbox:
                        if not read:
                            break
                        continue
                    envelope, body = inbox.take()
                    w0 = store.written if store is not None else 0
                    if envelope and envelope[0][:1] == TCP_PEER:
                        principal = peers.principal(envelope[0])
                        if principal is None:
                            # revoked since it connected: refused from this request on
                            outbox.send(envelope, encode_reply(peers.refuse(service, envelope[0], body)))
                            continue
                    else:
                        principal = IPC_OWNER
                    reply = service.handle(body, token=envelope, principal=principal)
                    stats.count("requests")
                    if reply is None:
                        continue
                    if store is not None and store.written != w0:
                        replies.append((envelope, encode_reply(reply)))   # wrote: held
                    else:
                        outbox.send(envelope, encode_reply(reply))
            if replies:
                emit([], replies)

        peers = Peers(service.keys)

        def tcp_request():
            """One request from the TCP socket, its routing id marked TCP_PEER, the
            principal of its key (the ZAP User-Id) noted; None when there is none."""
            try:
                parts = tcp_router.recv_multipart(flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return None
            key = TCP_PEER + parts[0].bytes
            peers.seen(key, parts[-1])
            return [key] + [f.bytes for f in parts[1:]]

        subs = [Subscriptions(pub_sock, None, slog)]
        if tcp_pub is not None:
            subs.append(Subscriptions(tcp_pub, service.keys, slog))

        # [revocations seen, unbound and not yet bound again, last warning]
        revision = [service.keys.revision if service.keys is not None else 0, False, 0.0]

        def drop_subscribers() -> None:
            """A key was revoked: every TCP subscriber is cut off (unbinding closes the
            connections it accepted) and reconnects through ZAP again, where the revoked
            key is refused; the others subscribe again (their streams replay the gap)."""
            try:
                if not revision[1]:
                    tcp_pub.unbind(tcp[1])
                    revision[1] = True
                tcp_pub.bind(tcp[1])
            except zmq.ZMQError as e:      # tried again next round
                if time.monotonic() - revision[2] >= 1.0:
                    revision[2] = time.monotonic()
                    slog.warning("events on %s: binding again after a revocation: %s",
                                 tcp[1], e)
                return
            revision[0], revision[1] = service.keys.revision, False
            slog.info("a key was revoked: the TCP event subscribers reconnect through ZAP")

        def readable() -> bool:
            return bool(router.getsockopt(zmq.EVENTS) & zmq.POLLIN) or (
                tcp_router is not None and bool(tcp_router.getsockopt(zmq.EVENTS)
                                                & zmq.POLLIN))

        poller = zmq.asyncio.Poller()
        poller.register(router_wait, zmq.POLLIN)
        if tcp_router is not None:
            poller.register(tcp_router_wait, zmq.POLLIN)

        # what start-up built lives as long as the server: out of the collector's sight,
        # so a full collection walks only what came since (a pause on the tick otherwise)
        gc.collect()
        gc.freeze()
        # and the collector runs between ticks, where the loop has time, on about the
        # schedule it would keep by itself (gen 0 every 700 allocations, gen 1 every 10 of
        # those, a full one after 10 of those), not in the middle of a tick
        gc.disable()
        gc_t = [0.0]
        gc_full = [0.0]

        def gc_timer(phase: str, info: dict) -> None:
            if phase == "start":
                gc_t[0] = time.perf_counter()
            else:
                ms = (time.perf_counter() - gc_t[0]) * 1000
                if ms > stats.gauges.get("gc_max_ms", 0):
                    stats.gauges["gc_max_ms"] = round(ms, 3)
        gc.callbacks.append(gc_timer)

        if realtime:
            # the loop's thread only (the syncer and zmq's threads exist already), and
            # not the report worker it starts (reset on fork)
            try:
                os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK,
                                      os.sched_param(realtime))
                say(f"real-time priority {realtime} (SCHED_RR)")
            except (OSError, AttributeError) as e:
                slog.warning("no real-time priority (%s): the ticks run as an ordinary "
                             "process's", e)
                say(f"no real-time priority: {e}")

        async def run_loop() -> None:
            service.speed = speed
            cur = speed
            tick_s = b.tick_ms / 1000.0 / speed
            t0 = loop.time()
            service.start_clock(time.time())     # line time zero: now, not before start-up
            n = 0
            spent = 0.0                          # request time in this tick's interval
            while not service.stopping and not stop.is_set():
                if service.speed != cur:
                    # server.speed changed the clock rate: count afresh from here
                    cur = service.speed
                    tick_s = b.tick_ms / 1000.0 / cur
                    t0, n = loop.time(), 0
                now = loop.time()
                due = t0 + (n + 1) * tick_s
                batch = 0
                while now >= due and batch < CATCH_UP_BATCH and not service.stopping:
                    stats.tick(now - due)
                    pubs, done = service.tick()
                    emit(pubs, [(token, encode_reply(r)) for token, r in done])
                    stats.took("tick", loop.time() - now)
                    n += 1
                    batch += 1
                    spent = 0.0
                    if seconds is not None and service.line_time >= seconds - 1e-9:
                        say(f"{seconds:g} s of line time done")
                        stop.set()
                        return
                    now = loop.time()
                    due = t0 + (n + 1) * tick_s
                # requests: within the budget, never past the next deadline (but some,
                # even when the ticks are behind, so a fast simulation still answers)
                until = min(now + REQUEST_BUDGET - spent, max(due, now + MIN_REQUEST_SLICE))
                for sub in subs:
                    sub.read()
                if tcp_pub is not None and service.keys.revision != revision[0]:
                    drop_subscribers()
                if until > now:
                    serve_requests(until)
                    if tcp_pub is not None and service.keys.revision != revision[0]:
                        drop_subscribers()        # before the next tick's events
                    took = loop.time() - now
                    spent += took
                    stats.took("requests", took)
                outbox.retry()
                g = stats.gauges
                g["pending_requests"] = len(inbox)
                g["replies_waiting"] = outbox.waiting
                g["reports_running"] = runner.running if runner is not None else 0
                g["events_held"] = sum(len(h[1]) for h in held)
                if syncer is not None:
                    g["store"] = syncer.stats()
                if service.stopping:
                    break
                counts = gc.get_count()
                if counts[0] >= 700:
                    # (a full one at most once a second: it walks every object kept)
                    if counts[2] >= 10 and loop.time() - gc_full[0] >= 1.0:
                        gc_full[0] = loop.time()
                        gc.collect(2)
                    else:
                        gc.collect(1 if counts[1] >= 10 else 0)
                wait = due - loop.time()
                if wait <= 0:
                    await asyncio.sleep(0)
                elif spent >= REQUEST_BUDGET or inbox or readable():
                    await asyncio.sleep(min(wait, 0.1))   # requests wait for the next tick
                elif wait < 0.002:
                    await asyncio.sleep(wait)
                else:
                    # woken by a request, or (a whole ms early at most) for the deadline
                    await poller.poll(timeout=min(100, int(wait * 1000)))

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, lambda sig=sig: (
                    slog.info("%s: stopping", sig.name), stop.set()))
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        if ready is not None:
            ready(service)
        task = asyncio.create_task(run_loop())
        waiter = asyncio.create_task(stop.wait())
        done_, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if task in done_ and task.exception() is not None:
            # the board gone (Service.tick catches everything else): the process ends
            exc = task.exception()
            slog.critical("stopping: %s: %s", type(exc).__name__, exc,
                         exc_info=(type(exc), exc, exc.__traceback__))
            raise exc
        if service.store is not None:
            # the calls still in flight are closed at the next start, ended now (made
            # durable with the rest by the syncer's flush below)
            service.store.server_alive(service.ts())
        # what waited for the disk goes out, then the replies (a shutdown's) leave
        if syncer is not None:
            syncer.flush()
            release()
        for _ in range(10):
            outbox.retry()
            if not outbox.waiting:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        for t in (task, waiter):
            t.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
        if stats.counters["replies_dropped"]:
            slog.warning("%d replies were not delivered", stats.counters["replies_dropped"])
        say(f"stopped at seq {service.log.last_seq}, line time {service.line_time:.2f} s")
        slog.info("stopped at seq %s, line time %.2f s, %d errors (%d in calls)",
                 service.log.last_seq, service.line_time, service.errors,
                 service.centre.counters["errors"] if service.centre is not None else 0)
        return service
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        with contextlib.suppress(NameError, ValueError):
            gc.callbacks.remove(gc_timer)
        gc.unfreeze()
        gc.enable()
        if service is not None:
            service.hashing.close()
        if runner is not None:
            await runner.close()
        if syncer is not None:
            syncer.close()
        router.close(0)
        router_wait.close(0)
        pub_sock.close(0)
        for sock in (tcp_router, tcp_router_wait, tcp_pub):
            if sock is not None:
                sock.close(0)
        if auth is not None:
            auth.stop()
        actx.term()
        for ep in (config.server.requests, config.server.events):
            p = _ipc_path(ep)
            if p is not None:
                p.unlink(missing_ok=True)
        (home / "cti.pid").unlink(missing_ok=True)
        # a clean stop leaves complete WAVs: what the recordings' writer thread still holds
        media.flush(30.0) or slog.warning("recordings: the disk writer not done after 30 s")
        try:
            (world if world is not None else service.board).close()
        except Exception:  # pragma: no cover
            pass
        logs.teardown(log_handler)


def run(config: Config, speed: float = 1.0, seconds: float | None = None,
        realtime: int = 0) -> int:
    """Blocking entry point for ``cti serve``: what it makes is its user's alone."""
    from cti.server.files import private_umask
    private_umask()
    asyncio.run(serve(config, speed=speed, seconds=seconds, realtime=realtime))
    return 0
