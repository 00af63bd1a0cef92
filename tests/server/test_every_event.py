"""Every event type of the catalogue (cti/server/events.py) made by the real system.

Each test drives the in-process Service tick by tick on the simulated world (the
exchange on the spans, phones on the FXS ports) until the line produces the event, then
checks what the event says against what was done. The events go out through
Service.tick, so tests/contract_check.py checks each one against its schema as well.

The last test is a static one: every type in the catalogue is one the code can publish.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from cti.server.config import DEFAULT_TOML, parse_config
from cti.server.events import EVENTS
from cti.server.service import Service, build_world
from drivers._hal import lib
from drivers.board import Audio

ROOT = Path(__file__).resolve().parents[2]
WALL = 1_000_000.0      # wall clock at line time zero, for ``ts``

# span 1 PRI (user side), span 2 a CAS span running R2 (China No.1)
_PRI_SPAN_2 = '''[[board.spans]]
number = 2
signalling = "pri"'''
_CAS_SPAN_2 = '''[[board.spans]]
number = 2
signalling = "cas"'''


@pytest.fixture
def svc(tmp_path):
    """A Service on the simulated world, as ``cti serve`` builds it, past its start-up
    (span alarms cleared, D-channel up, R2 circuits idle)."""
    assert _PRI_SPAN_2 in DEFAULT_TOML
    cfg = parse_config(DEFAULT_TOML.replace(_PRI_SPAN_2, _CAS_SPAN_2), home=tmp_path / "h")
    world, board = build_world(cfg)
    assert board is None
    s = Service(cfg, world=world, wall_start=WALL)
    try:
        ticks(s, 50)
        yield s
    finally:
        world.close()
        s.store.close()


def ticks(svc, n: int) -> list[dict]:
    """``n`` ticks of the service: the events it published."""
    out = []
    for _ in range(n):
        out += [p.event for p in svc.tick()[0]]
    return out


def tick_until(svc, cond, limit: int, what: str) -> list[dict]:
    """Tick until ``cond(events so far)`` holds, at most ``limit`` ticks: the events."""
    out: list[dict] = []
    for _ in range(limit):
        out += [p.event for p in svc.tick()[0]]
        if cond(out):
            return out
    pytest.fail(f"no {what} in {limit} ticks; saw {sorted({e['type'] for e in out})}")


def of(events, type_: str, **fields) -> list[dict]:
    """The events of ``type_`` whose fields (or data fields) have these values."""
    return [e for e in events if e["type"] == type_
            and all(e.get(k, e.get("data", {}).get(k)) == v for k, v in fields.items())]


def req(svc, op: str, **args) -> dict:
    r = svc.handle({"id": 1, "op": op, "args": args})
    assert r["ok"], r
    return r["result"]


# --- R2: the far end blocks a circuit -------------------------------------------------------

def test_the_far_end_blocks_and_unblocks_an_r2_circuit(svc):
    """The exchange blocks circuit 2/7 (backward 11 on the idle circuit, Q.421 table 1):
    ``channel.blocked`` names that circuit and our end holds it remote-blocked; the
    unblock brings ``channel.unblocked`` and the circuit is idle again."""
    exchange = svc.world.exchange_r2[2]
    exchange.block(svc.world.exchange.line_seconds, 7)
    evs = tick_until(svc, lambda evs: of(evs, "channel.blocked"), 50, "channel.blocked")
    blocked = of(evs, "channel.blocked")
    assert [(e["span"], e["channel"]) for e in blocked] == [(2, "2/7")]
    assert "data" not in blocked[0]
    # the abcd bits that said it: backward 11 (a b = 1 1)
    assert of(evs, "channel.cas", channel="2/7")[-1]["data"]["abcd"] >> 2 == 0b11
    assert req(svc, "channel.show", channel="2/7")["r2"]["state"] == "REMOTE_BLOCKED"

    exchange.unblock(svc.world.exchange.line_seconds, 7)
    evs = tick_until(svc, lambda evs: of(evs, "channel.unblocked"), 50, "channel.unblocked")
    assert [(e["span"], e["channel"]) for e in of(evs, "channel.unblocked")] == [(2, "2/7")]
    assert not of(evs, "channel.blocked")
    assert req(svc, "channel.show", channel="2/7")["r2"]["state"] == "IDLE"

    # our own block (span.block) is the far end's channel.blocked, not ours: the
    # exchange holds 2/9 remote-blocked, and our bus says nothing of it
    req(svc, "span.block", span=2, timeslot=9)
    evs = ticks(svc, 30)
    assert svc.world.exchange_r2[2].status()["channels"][9]["state"] == "REMOTE_BLOCKED"
    assert not of(evs, "channel.blocked") and not of(evs, "channel.unblocked")


# --- PRI: overlap receiving -------------------------------------------------------------

def test_overlap_receiving_brings_the_rest_of_the_number(svc):
    """The exchange offers a call digit by digit (Q.931 5.2.4: SETUP without sending
    complete, then INFORMATION): ``channel.offered`` has the first digit, each
    ``channel.digits`` the next, the last with sending complete; the centre routes the
    call on the whole number."""
    req(svc, "sim.call", span=1, **{"from": "5551234", "to": "4008005555", "overlap": True})
    evs = tick_until(svc, lambda evs: of(evs, "channel.answered", span=1), 300,
                     "the call answered")
    offered = of(evs, "channel.offered", span=1)
    assert len(offered) == 1 and offered[0]["data"]["dnis"] == "4"
    assert offered[0]["data"]["sending_complete"] is False
    call = offered[0]["data"]["call"]
    digits = of(evs, "channel.digits", span=1, call=call)
    assert [d["data"]["digits"] for d in digits] == list("008005555")
    assert [d["data"]["sending_complete"] for d in digits] == [False] * 8 + [True]
    assert {d["channel"] for d in digits} == {offered[0]["channel"]}
    # the call is a call (offered, routed, answered) once its number is whole
    assert [(e["dnis"], e["channel"]) for e in of(evs, "call.offered")] == \
        [("4008005555", offered[0]["channel"])]
    first_answer = of(evs, "channel.answered", span=1, call=call)
    assert first_answer and first_answer[0]["seq"] > digits[-1]["seq"]


def test_an_overlap_number_without_sending_complete_is_whole_after_a_pause(svc):
    """A network that never says sending complete: the number is taken as whole when
    no digit has come for OVERLAP_INTERDIGIT (5 s, under T302's 15 s), not on the first
    digit; a caller who gives up before that is no call at all."""
    exchange = svc.world.exchange_pri[1]
    now = svc.world.exchange.line_seconds
    call = exchange.place_call(now, "4", "5551234", overlap=True)
    evs = tick_until(svc, lambda evs: of(evs, "channel.offered", span=1), 20, "the offer")
    ours = of(evs, "channel.offered", span=1)[0]["data"]["call"]
    ticks(svc, 10)                  # SETUP ACKNOWLEDGE: overlap receiving
    exchange.send_digits(svc.world.exchange.line_seconds, call, "00")
    t0 = svc.board.line_seconds
    evs = tick_until(svc, lambda evs: of(evs, "call.offered"), 400, "call.offered")
    assert of(evs, "channel.digits", call=ours, digits="00", sending_complete=False)
    assert [e["dnis"] for e in of(evs, "call.offered")] == ["400"]
    assert 4.8 <= svc.board.line_seconds - t0 <= 5.5

    call = exchange.place_call(svc.world.exchange.line_seconds, "4", "5551234", overlap=True)
    evs = tick_until(svc, lambda evs: of(evs, "channel.offered", span=1), 20, "the offer")
    ticks(svc, 10)
    exchange.hangup(svc.world.exchange.line_seconds, call, 16)
    evs += tick_until(svc, lambda evs: of(evs, "channel.cleared", span=1), 50, "the clear")
    evs += ticks(svc, 300)
    assert not of(evs, "call.offered") and not svc.centre.inbound.overlap


def test_an_overlap_call_whose_routing_fails_after_the_pause_is_cleared(svc):
    """Routing the call made when the pause ran out fails: that call, not the tick, is
    failed (server.error with its call_id, the trunk cleared with cause 41)."""
    def injector(where, call):
        if where == "route":
            raise RuntimeError("routing broke")

    svc.centre.fault_injector = injector
    exchange = svc.world.exchange_pri[1]
    exchange.place_call(svc.world.exchange.line_seconds, "4", "5551234", overlap=True)
    evs = tick_until(svc, lambda evs: of(evs, "channel.cleared", span=1), 400, "the clear")
    offered = of(evs, "call.offered")
    assert [e["dnis"] for e in offered] == ["4"]
    errors = of(evs, "server.error", call_id=offered[0]["call_id"])
    assert [(e["where"], e["error"]) for e in errors] == [("overlap", "RuntimeError")]
    assert of(evs, "channel.cleared", span=1)[0]["data"]["cause"] == 41
    assert not svc.centre.inbound.overlap


# --- FXS: a phone dials, an agent flashes the hook ----------------------------------------

def test_a_phone_off_hook_dials_a_number(svc):
    """A phone lifted on an idle FXS port hears dial tone and keys 1234#: the port's
    digit collection ends on the terminator with ``channel.digits_collected``."""
    phone = svc.world.phones[3]
    phone.lift()
    evs = tick_until(svc, lambda evs: of(evs, "channel.line_off_hook"), 20, "line_off_hook")
    call = of(evs, "channel.line_off_hook", channel="fxs/3")[0]["data"]["call"]
    phone.dial("1234#")
    evs = tick_until(svc, lambda evs: of(evs, "channel.digits_collected"), 100,
                     "channel.digits_collected")
    collected = of(evs, "channel.digits_collected")
    assert len(collected) == 1 and collected[0]["channel"] == "fxs/3"
    assert collected[0]["data"] == {"call": call, "digits": "1234", "reason": "terminator"}
    assert "".join(e["data"]["digit"] for e in of(evs, "channel.dtmf", channel="fxs/3")) \
        == "1234#"


def test_an_agent_flashes_the_hook_during_a_call(svc):
    """An agent on a call flashes the hook for 300 ms: the port reports the on-hook
    break (``channel.flash``, its length), the FXS machine a hook flash in the call
    (``channel.hook_flash``, the same call as the port's answer), and no hook change."""
    req(svc, "agent.login", agent="1001")
    req(svc, "sim.call", span=1, **{"from": "13800138000", "to": "4008005555"})
    evs = tick_until(svc, lambda evs: of(evs, "call.delivered"), 600, "call.delivered")
    ext = of(evs, "call.delivered")[0]["extension"]
    phone = svc.world.phones[ext]
    phone.lift()
    evs = tick_until(svc, lambda evs: of(evs, "call.established"), 50, "call.established")
    port = f"fxs/{ext}"
    answered = of(evs, "channel.answered", channel=port)
    assert answered, "the agent's port answered"
    phone.flash(300)
    evs = tick_until(svc, lambda evs: of(evs, "channel.hook_flash"), 50, "channel.hook_flash")
    assert [(e["channel"], e["data"]) for e in of(evs, "channel.flash")] == \
        [(port, {"ms": 300})]
    assert [(e["channel"], e["data"]) for e in of(evs, "channel.hook_flash")] == \
        [(port, {"call": answered[0]["data"]["call"], "ms": 300})]
    assert not of(evs, "channel.hook", channel=port)      # a flash is not a hang-up


# --- the DSP: voice activity --------------------------------------------------------------

def test_voice_activity_on_a_timeslot(svc):
    """With the voice activity detector on timeslot 1/5 (no request turns it on: the
    test does it on the board), a 1 s burst at -10 dBm0 sent by the exchange is voice,
    then silence again: two ``channel.voice`` events on 1/5, the level of the first near
    the burst's, the second (the detector's hang run out) lower."""
    svc.board.spans[1].channels[5].detect("vad")
    svc.world.exchange.spans[1].channels[5].tone(400, level_dbm0=-10, ms=1000)
    evs = tick_until(svc, lambda evs: len(of(evs, "channel.voice")) >= 2, 150,
                     "voice and silence")
    voice = of(evs, "channel.voice")
    assert [(e["span"], e["channel"], e["data"]["active"]) for e in voice] == \
        [(1, "1/5", True), (1, "1/5", False)]
    assert -14 < voice[0]["data"]["level_dbm0"] < -8
    assert voice[1]["data"]["level_dbm0"] < voice[0]["data"]["level_dbm0"]
    # the burst lasted 1 s: so did the voice, within the detector's onset and hang
    assert 0.9 <= voice[1]["ts"] - voice[0]["ts"] <= 1.6


# --- the board: its event queue overflows -------------------------------------------------

def test_a_flooded_event_queue_says_how_many_events_were_lost(svc):
    """Every timeslot of span 1 tapped, the board runs 300 ticks while nobody drains its
    queue (the server stalled): 31 x 300 audio blocks of 160 bytes are more than the
    queue's 1 MiB. ``board.events_lost`` (no span, no channel) says how many were lost:
    with the blocks that did get through, that is every block the taps made."""
    world = svc.world
    span = svc.board.spans[1]
    timeslots = sorted(span.channels)
    assert len(timeslots) == 31
    for ts in timeslots:
        span.channels[ts].tap(True)
    ticks(svc, 1)
    seen: list = []
    world_tick = world.tick

    def counted_tick():
        evs = world_tick()
        seen.extend(e for e in evs if isinstance(e, Audio) and e.span == 1)
        return evs

    world.tick = counted_tick
    stalled = 300
    for _ in range(stalled):
        for board in (world.board, world.exchange, world.phones_board):
            lib.hal_board_tick(board._b)
    for ts in timeslots:
        span.channels[ts].tap(False)
    evs = ticks(svc, 3)
    world.tick = world_tick
    lost = of(evs, "board.events_lost")
    assert lost and all(set(e) == {"seq", "ts", "type", "data"} for e in lost)
    count = sum(e["data"]["count"] for e in lost)
    # the taps are off before the server ticks again: the stalled ticks made it all;
    # what got through is what 1 MiB holds
    made = len(timeslots) * stalled
    assert count + len(seen) == made
    assert len(seen) == (1 << 20) // 160
    # the server goes on: the next ticks lose nothing
    assert not of(ticks(svc, 5), "board.events_lost")


# --- the catalogue has nothing the code cannot publish ------------------------------------

def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def test_every_event_type_is_one_the_code_publishes():
    """Every type in the catalogue is published somewhere in cti/ or drivers/: its name
    is a string literal there (a board event's ``topic``, an append to the event log),
    or it comes from a naming rule: ``call_event(call, "NAME")`` publishes ``call.NAME``
    (cti/centre/calls.py), an FXS/FXO machine's ``_emit(SomeEvent(...))`` publishes
    ``channel.some_event`` (drivers/sig/analog.py AnalogCallEvent). A request's
    ``events=(...)`` declaration, the catalogue itself and the clients (which subscribe)
    do not count."""
    found: set[str] = set()
    for top in ("cti", "drivers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ("cti/server/events.py", "cti/server/contract.py") \
                    or rel.startswith("cti/clients/"):
                continue
            text = re.sub(r"\bevents=\([^)]*\)", "", path.read_text())
            found.update(re.findall(r"""["']([a-z_]+\.[a-z_]+)["']""", text))
            for m in re.finditer(r"call_event\(", text):
                # the event's name: the literals before the first keyword argument
                head = re.split(r"\b\w+=", text[m.end():m.end() + 200], maxsplit=1)[0]
                found.update("call." + n for n in re.findall(r"""["'](\w+)["']""", head))
            if rel == "drivers/sig/analog.py":
                found.update("channel." + _snake(n)
                             for n in re.findall(r"_emit\(([A-Z]\w*)\(", text))
    assert sorted(set(EVENTS) - found) == []
