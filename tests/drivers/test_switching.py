"""The board's switching: a trunk timeslot cross-connected to an agent's FXS
port carries speech both ways; a supervisor's port monitors, whispers, barges."""
import struct

import pytest

from drivers.board import Audio
from drivers.codecs import alaw_decode
from simulators.world import SimWorld
from tests.audio import power     # Goertzel power of one frequency


def heard(events, span, ts):
    raw = b"".join(e.data for e in events if isinstance(e, Audio) and not e.sent
                   and (e.span, e.timeslot) == (span, ts))
    return struct.unpack(f"<{len(raw)}h", alaw_decode(raw))


@pytest.fixture
def world():
    w = SimWorld(seed=4)
    w.run(300)
    for p in (1, 2):
        w.phones[p].lift()
    w.run(100)
    yield w
    w.close()


def collect(world, ms):
    ours, exch = [], []
    for _ in range(ms // world.tick_ms):
        ours += world.tick()
        exch += world.exchange_events
    return ours, exch


def test_cross_connect_carries_audio_both_ways(world):
    conf = world.board.conference()
    trunk = world.board.spans[1].channels[5]
    agent = world.board.ports[1]
    conf.join(trunk)
    conf.join(agent)
    assert trunk.conference() == agent.conference() == conf.id
    world.exchange.spans[1].channels[5].tone(697, ms=-1)      # the caller speaks
    world.phones[1].tone(1209, ms=-1)                          # the agent speaks
    world.exchange.spans[1].channels[5].tap(True)
    _, exch = collect(world, 400)
    x = heard(exch, 1, 5)[-1600:]
    assert power(x, 1209) > 100 * power(x, 697)      # the caller hears the agent, not himself
    agent.tap(True)                                   # what our port receives from the phone
    ours, _ = collect(world, 400)
    y = heard(ours, 0, 1)[-1600:]
    assert power(y, 1209) > 100 * power(y, 697)      # our port receives the agent's voice
    trunk.tap(True, "tx")
    ours, _ = collect(world, 200)
    sent = b"".join(e.data for e in ours if isinstance(e, Audio) and e.sent
                    and (e.span, e.timeslot) == (1, 5))
    z = struct.unpack(f"<{len(sent)}h", alaw_decode(sent))[-1200:]
    assert power(z, 1209) > 100 * power(z, 697)      # what goes out to the caller
    conf.leave(trunk)
    assert trunk.conference() is None
    conf.destroy()
    assert agent.conference() is None


def test_monitor_whisper_and_barge(world):
    conf = world.board.conference()
    trunk = world.board.spans[1].channels[7]
    agent, supervisor = world.board.ports[1], world.board.ports[2]
    conf.join(trunk)
    conf.join(agent)
    conf.join(supervisor, "monitor")
    world.exchange.spans[1].channels[7].tone(697, ms=-1)     # caller
    world.phones[1].tone(1209, ms=-1)                         # agent
    world.phones[2].tone(1477, ms=-1)                         # supervisor
    for ch in (trunk, agent, supervisor):
        ch.tap(True, "tx")

    def sent(events, span, ts):
        raw = b"".join(e.data for e in events if isinstance(e, Audio) and e.sent
                       and (e.span, e.timeslot) == (span, ts))
        return struct.unpack(f"<{len(raw)}h", alaw_decode(raw))[-1200:]

    ours, _ = collect(world, 300)
    to_sup, to_caller, to_agent = sent(ours, 0, 2), sent(ours, 1, 7), sent(ours, 0, 1)
    assert power(to_sup, 697) > 1e3 * max(power(to_sup, 1477), 1)    # monitor hears the call
    assert power(to_sup, 1209) > 1e3 * max(power(to_sup, 1477), 1)
    assert power(to_caller, 1477) < 1e-3 * power(to_caller, 1209)   # ... and is not heard
    # whisper: the agent hears the supervisor, the caller does not
    conf.join(supervisor, "whisper", to=agent)
    ours, _ = collect(world, 300)
    to_caller, to_agent = sent(ours, 1, 7), sent(ours, 0, 1)
    assert power(to_agent, 1477) > 0.1 * power(to_agent, 697)
    assert power(to_caller, 1477) < 1e-3 * power(to_caller, 1209)
    # barge: everyone hears the supervisor
    conf.join(supervisor, "member")
    ours, _ = collect(world, 300)
    to_caller = sent(ours, 1, 7)
    assert power(to_caller, 1477) > 0.1 * power(to_caller, 1209)
    with pytest.raises(ValueError):
        conf.join(supervisor, "whisper")
    with pytest.raises(Exception):
        conf.join(world.board.spans[1].channels[16])         # the D-channel is not switched


def sent_codes(events, span, ts):
    return b"".join(e.data for e in events if isinstance(e, Audio) and e.sent
                    and (e.span, e.timeslot) == (span, ts))


def test_a_steady_level_crosses_the_switch_as_exactly_its_code(world):
    """A leg that holds one level for whole ticks (a silent leg does, with the idle code;
    here another code) is coded once per tick by the board: what reaches the other leg
    must still be that code, sample for sample, both ways, and a tone after it too."""
    conf = world.board.conference()
    trunk = world.board.spans[1].channels[5]
    agent = world.board.ports[1]
    conf.join(trunk)
    conf.join(agent)
    world.run(100)
    world.exchange.spans[1].channels[5].play(b"\x9a" * 4000)   # the caller: a steady level
    world.phones[1]._p.play(b"\x2b" * 4000)                     # the agent: another
    agent.tap(True, "tx")                                       # what our port sends the phone
    trunk.tap(True, "tx")                                       # what goes out to the caller
    ours, _ = collect(world, 400)
    to_phone, to_caller = sent_codes(ours, 0, 1), sent_codes(ours, 1, 5)
    # the middle of it (the line's delay and the plays' start take a tick or two)
    assert len(to_phone) >= 3000 and set(to_phone[1000:3000]) == {0x9A}
    assert len(to_caller) >= 3000 and set(to_caller[1000:3000]) == {0x2B}
    world.exchange.spans[1].channels[5].tone(697, ms=-1)       # then the caller speaks
    ours, _ = collect(world, 400)
    x = struct.unpack(f"<{len(sent_codes(ours, 0, 1))}h",
                      alaw_decode(sent_codes(ours, 0, 1)))[-1600:]
    assert power(x, 697) > 1e6 and len(set(x)) > 10


def test_conferences_above_a_destroyed_one_keep_mixing(world):
    """The board mixes the conferences in use up to the highest one: destroying lower
    ones (or the highest) must not stop a conference still in use."""
    confs = [world.board.conference() for _ in range(3)]
    ids = [c.id for c in confs]
    assert ids == sorted(ids)
    trunk, agent = world.board.spans[1].channels[9], world.board.ports[1]
    confs[2].join(trunk)
    confs[2].join(agent)
    confs[0].destroy()
    confs[1].destroy()
    world.exchange.spans[1].channels[9].tone(697, ms=-1)       # the caller speaks
    agent.tap(True, "tx")
    ours, _ = collect(world, 400)
    x = struct.unpack(f"<{len(sent_codes(ours, 0, 1))}h",
                      alaw_decode(sent_codes(ours, 0, 1)))[-1600:]
    assert power(x, 697) > 1e6                       # the agent hears the caller
    confs[2].destroy()
    again = world.board.conference()
    assert again.id == ids[0]                        # the lowest free id is used again
    again.destroy()
