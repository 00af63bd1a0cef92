"""The server itself: ``ping``, ``snapshot``, ``replay`` (catching up on events),
``server.speed``, ``server.stats``, ``server.reload`` (the configuration read again and
applied without a restart: cti/server/reload.py) and ``shutdown``."""
from __future__ import annotations

import os

from cti.server.audience import public_topic, sees_everything
from cti.server.auth import owns_call
from cti.server.ops.board import BOARD_SUMMARY, PORT_STATUS, SPAN_STATUS, board_summary, \
    port_status, span_status
from cti.server.registry import operation
from cti.server.schema import (ANY, BOOL, INT, NUM, OBJ, STR, Arg, RawJSON, RequestError, arr,
                               nullable, obj)

PROTOCOL_VERSION = 1

#: server.stats (cti/server/tickstats.py ServerStats.as_dict, plus the gauges the loop and
#: the service set); counters the loop has not counted yet are absent
SERVER_STATS = obj({"ticks": INT,
                    "lateness_ms": obj({"p50": nullable(NUM), "p99": nullable(NUM),
                                        "max": NUM, "max_at_tick": nullable(INT),
                                        "mean": nullable(NUM), "histogram": OBJ}),
                    "overrun_ms": NUM, "overruns": INT, "speed": NUM, "line_time": NUM,
                    "listens": INT,
                    "replay_ring": obj({"events": INT, "bytes": INT, "first_seq": INT,
                                        "truncated_events": INT})},
                   {"requests": INT, "busy": INT, "replies_dropped": INT,
                    "listens_refused": INT, "reports_done": INT, "pending_requests": INT,
                    "replies_waiting": INT, "reports_running": INT, "events_held": INT,
                    "store": OBJ, "gc_max_ms": NUM, "tick_max_ms": NUM})
#: an event as the bus carries it (cti/server/bus.py)
EVENT = obj({"seq": INT, "ts": NUM, "type": STR},
            {"span": nullable(INT), "channel": nullable(STR), "data": ANY})


@operation("ping", rights=("read",), args={},
           result=obj({"pong": BOOL, "protocol": INT, "instance": STR, "server": nullable(STR),
                       "boot": nullable(INT), "pid": INT, "board": STR, "seq": INT,
                       "line_time": NUM, "tick_count": INT, "ts": NUM,
                       "starting": arr(INT)}),
           events=())
def ping(svc, a):
    """The server is alive: its instance, boot, board, seq, line time, spans starting.
    ``server`` and ``boot``: the server's name and its boot count on this home, as in its call
    ids (null without a call centre). ``starting``: the spans not in service yet (D-channel
    down, or the start-up restart of the trunks not yet acknowledged): a call offered on one of
    them before then is cleared by that restart, so a client that places calls waits for ``[]``
    (``Client.wait_ready``; ``cti ping`` says "in service")."""
    return {"pong": True, "protocol": PROTOCOL_VERSION, "instance": svc.instance,
            "server": svc.boot.name if svc.boot else None,
            "boot": svc.boot.boot if svc.boot else None,
            "pid": os.getpid(), "board": svc.board.name, "seq": svc.log.last_seq,
            "line_time": round(svc.line_time, 6), "tick_count": svc.board.tick_count,
            "ts": svc.ts(), "starting": svc.line_restart.starting()}


@operation("snapshot", rights=("desk",), args={},
           result=obj({"seq": INT, "ts": NUM, "line_time": NUM, "instance": STR,
                       "board": BOARD_SUMMARY, "spans": arr(SPAN_STATUS),
                       "ports": arr(PORT_STATUS), "channels": arr(OBJ),
                       "server_errors": INT, "server": SERVER_STATS},
                      # with a call centre (cti/centre/coordinator.py Centre.snapshot)
                      {"calls": arr(OBJ), "agents": arr(OBJ), "queues": arr(OBJ),
                       "ivr_ports": obj({"total": INT, "in_use": INT}),
                       "counters": OBJ}),
           events=())
def snapshot(svc, a):
    """The state of the board and the centre, current to ``seq``."""
    b = svc.board
    channels = []
    for n, span in sorted(b.spans.items()):
        for t, ch in sorted(span.channels.items()):
            channels.append(ch.show())
    snap = {"seq": svc.log.last_seq, "ts": svc.ts(), "line_time": svc.line_time,
            "instance": svc.instance, "board": board_summary(svc),
            "spans": [span_status(svc, s) for _, s in sorted(b.spans.items())],
            "ports": [port_status(svc, p) for _, p in sorted(b.ports.items())],
            "channels": channels}
    if svc.centre is not None:
        snap.update(svc.centre.snapshot())
        # desk alone: its own calls and its own agent, as its events (audience.py)
        who = svc.principal
        if not who.may("calls"):
            snap["calls"] = [c for c in snap["calls"] if who.agent is not None and
                             owns_call(svc.centre.calls[c["call_id"]], who.agent)]
        if not who.may("agents"):
            snap["agents"] = [x for x in snap["agents"] if x.get("agent") == who.agent]
    snap["server_errors"] = svc.errors        # failures outside the calls
    snap["server"] = svc.server_stats()
    return snap


@operation("replay", rights=("desk",), args={"after": Arg(int, required=True, lo=0),
                           "topics": Arg(list, max_len=64, items=Arg(str, max_len=128))},
           result=obj({"events": arr(EVENT), "last_seq": INT, "first_seq": INT}),
           events=())
def replay(svc, a):
    """The events after ``after`` (of some topics) from the replay ring. ``replay_gap`` when
    they have left it (docs/protocol.md, Catching up)."""
    topics = a["topics"]
    if topics is not None and not all(isinstance(t, str) for t in topics):
        raise RequestError("bad_arg", "must be an array of topic prefix strings",
                           "args.topics")
    if topics is not None:
        # a desk's copies (desk.1001.call.) are replayed from their public topics
        topics = [public_topic(t) for t in topics]
    # what the principal may see of them (cti/server/audience.py), as its subscription
    who = None if sees_everything(svc.principal) else svc.principal
    # (only what went out: the shell holds a tick's events until its writes are durable)
    upto = svc.log.last_seq if svc.sent_seq is None else svc.sent_seq
    if svc.raw_replies:
        # the ring's JSON as it is: a full ring decoded and encoded again takes 175 ms
        events = RawJSON(b"[" + b",".join(svc.log.replay_raw(a["after"], topics, upto, who))
                         + b"]")
    else:
        events = svc.log.replay(a["after"], topics, upto, who)
    return {"events": events, "last_seq": upto, "first_seq": svc.log.first_seq}


@operation("server.speed", rights=("server",), args={"speed": Arg(float, required=True, lo=0.01, hi=1000)},
           result=obj({"speed": NUM, "line_time": NUM}),
           events=(), audited=True)
def server_speed(svc, a):
    """Run the board clock ``speed`` times real time from now on (demos, simulations:
    line time stays the only clock; only its pace against the wall changes)."""
    svc.speed = a["speed"]
    return {"speed": svc.speed, "line_time": round(svc.line_time, 3)}


@operation("server.stats", rights=("read",), args={},
           result=SERVER_STATS,
           events=())
def server_stats(svc, a):
    """How the server keeps up: tick lateness (histogram, p50/p99/max), overruns, requests
    answered and refused busy, replies dropped, listens, reports. ``lateness_ms``: how late
    each tick started against its deadline; ``overruns``: ticks over ``overrun_ms`` (40);
    ``events_held``: events waiting for the disk; ``store``: ``wal_syncs``,
    ``wal_sync_max_ms``, ``checkpoints``, ``pending_writes``. Also ``server`` in ``snapshot``;
    ``cti server stats``."""
    return svc.server_stats()


_NAMES = arr(STR)
#: server.reload's result and the server.reloaded event's fields (cti/server/reload.py,
#: cti/centre/reconfigure.py): what changed, by kind, and what needs a restart
RELOAD_SUMMARY = obj(
    {"source": STR, "needs_restart": _NAMES, "changed": BOOL},
    {"agents": obj({"added": _NAMES, "removed": _NAMES, "changed": _NAMES, "leaving": _NAMES}),
     "queues": obj({"added": _NAMES, "removed": _NAMES, "changed": _NAMES,
                    "draining": _NAMES}),
     "flows": obj({"added": _NAMES, "removed": _NAMES, "changed": _NAMES}),
     "routing": obj({"added": _NAMES, "removed": _NAMES, "changed": _NAMES}),
     "settings": obj({"changed": _NAMES})})


@operation("server.reload", rights=("server",), args={},
           result=RELOAD_SUMMARY,
           events=("server.reloaded", "agent.state"), deferred=True, audited=True)
def server_reload(svc, a, rid=None, token=None):
    """Read the configuration file again (the one the server started with, or the
    embedded default), check it as at start, and apply what changed without a restart:
    agents, queues, IVR flows, routing, prompts; calls in progress go on as they are. A file
    with an error is refused whole (FILE:LINE of each), nothing applied; what only a restart
    can change (the board, the home, the sockets) is named in ``needs_restart``."""
    return svc.reloader.start(token, rid)


@operation("shutdown", rights=("server",), args={},
           result=obj({"stopping": BOOL, "seq": INT}),
           events=(), audited=True)
def shutdown(svc, a):
    """Stop the server after replying."""
    svc.stopping = True
    return {"stopping": True, "seq": svc.log.last_seq}
