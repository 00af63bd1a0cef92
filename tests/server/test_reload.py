"""``cti reload`` (cti/server/reload.py, cti/centre/reconfigure.py, cti/centre/acd/changes.py):
the configuration file read again and applied while calls go on, on the simulated board.

The issue's Done-when: with a call up, a reload that adds an agent and an IVR menu branch
leaves the call as it was (same id, audio still switched, one CDR at its end); the new
agent logs in and takes the next call, which reaches it through the new branch by DTMF. A
bad file is refused whole with FILE:LINE and nothing changes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.server.config import DEFAULT_TOML, load_config
from cti.server.service import Service, build_world
from tests.audio import power
from tests.desk import Centre, heard_by_caller, types

# The embedded default with seven agents (ids 1001..1007 on FXS ports 1..7): port 8 is free
# for an agent a reload adds.
BASE = DEFAULT_TOML.replace("first = 1001\ncount = 8", "first = 1001\ncount = 7")
assert BASE != DEFAULT_TOML

# What the reload adds: agent 2001 at port 8, a queue "vip" with it alone, and branch 5 of
# the main menu to that queue, which plays a prompt file new in the prompts directory.
ADDED = BASE.replace("""[[queues]]
name = "sales\"""", """[[agents]]
id = "2001"
name = "New Hire"
extension = 8

[[queues]]
name = "vip"
strategy = "linear"
members = ["2001"]
ring_timeout = 12
wrapup = 2

[[queues]]
name = "sales\"""").replace(
    'branches = { 1 = "order", 2 = "sales", 3 = "message", 4 = "callback" }',
    'branches = { 1 = "order", 2 = "sales", 3 = "message", 4 = "callback", 5 = "vip" }'
) + """
[ivr.flows.main.nodes.vip]
type = "queue"
queue = "vip"
prompt = "vip_welcome"
"""
assert ADDED.count("2001") == 2 and "5 = \"vip\"" in ADDED
# the same with a prompt the server has (no file to add first)
ADDED_HOLD = ADDED.replace('prompt = "vip_welcome"', 'prompt = "please_hold"')


class FileCentre(Centre):
    """tests/desk.py's harness on a Service started with a configuration file."""

    def __init__(self, home, path):
        cfg = load_config(path, home=home)
        self.world, _ = build_world(cfg)
        self.svc = Service(cfg, world=self.world, wall_start=1e6)
        self.audio = []
        self.seen = []              # every event since the start
        self.run(30)

    def run(self, n):
        out = super().run(n)
        self.seen += out
        return out


@pytest.fixture
def filed(tmp_path):
    path = tmp_path / "cti.toml"
    path.write_text(BASE)
    c = FileCentre(tmp_path / "home", path)
    c.path = path
    yield c
    c.close()


def until(c, what, limit, cond):
    """The first event (since the start) ``cond`` holds for, ticking at most ``limit``."""
    for _ in range(limit + 1):
        hit = [e for e in c.seen if cond(e)]
        if hit:
            return hit[0], c.seen
        c.run(1)
    pytest.fail(f"{what}: not within {limit} ticks: {types(c.seen)}")


def established(c):
    """A caller on the service queue (DNIS 4008005555, no IVR) answered by 1001 at port 1."""
    x = c.world.calls.offer_call(1, "13800138000", "4008005555")
    until(c, "delivered", 100, lambda e: e["type"] == "call.delivered")
    c.world.phones[1].lift()
    est, _ = until(c, "established", 40, lambda e: e["type"] == "call.established")
    assert est["agent"] == "1001"
    return x, est["call_id"], int(est["channel"].split("/")[1])


def state(c) -> dict:
    """What a reload may change, as the centre holds it (compared before and after)."""
    centre = c.svc.centre
    acd = centre.acd
    return {"config": repr(centre.config), "agents": dict(centre.agents),
            "acd_agents": {a: (x.cfg, list(x.queues), x.state) for a, x in acd._agents.items()},
            "acd_queues": {n: q.cfg for n, q in acd._queues.items()},
            "queue_cfg": dict(centre.queueing.queue_cfg), "ivr_ports": centre.ivr_ports.count,
            "leaving": set(centre.roster.leaving), "draining": acd.draining}


def reload(c):
    r = c.svc.handle({"id": 7, "op": "server.reload", "args": {}})
    c.svc.centre.acd.check_invariants()
    return r


def test_reload_adds_an_agent_and_a_branch_while_a_call_is_up(filed):
    c = filed
    c.req("agent.login", agent="1001")
    x, call, ts = established(c)
    before = c.svc.centre.calls[call]
    conf = before.conf
    c.world.phones[1].tone(1209, ms=-1)                       # the agent speaks
    talk = heard_by_caller(c, ts, 400)[-1600:]
    assert power(talk, 1209) > 1e3 * max(power(talk, 300), 1)
    assert c.fail("agent.login", agent="2001")["field"] == "args.agent"   # not yet an agent

    prompts = c.svc.centre.config.prompts_dir
    shutil.copy(f"{prompts}/please_hold.wav", f"{prompts}/vip_welcome.wav")  # a new prompt
    c.path.write_text(ADDED)
    seq0 = c.svc.log.last_seq
    r = reload(c)
    assert r["ok"], r
    res = r["result"]
    assert res["source"] == str(c.path) and res["changed"] and res["needs_restart"] == []
    assert res["agents"] == {"added": ["2001"], "removed": [], "changed": [], "leaving": []}
    assert res["queues"]["added"] == ["vip"] and res["queues"]["removed"] == []
    assert res["flows"] == {"added": [], "removed": [], "changed": ["main"]}
    evs = c.run(1)
    ev = next(e for e in evs if e["type"] == "server.reloaded")
    assert ev["seq"] == seq0 + 1 and ev["agents"] == res["agents"]

    # the call goes on: same id, same conference, still switched through
    after = c.svc.centre.calls[call]
    assert after is before and after.state == "established" and after.conf is conf
    assert after.agent == "1001"
    talk = heard_by_caller(c, ts, 400)[-1600:]
    assert power(talk, 1209) > 1e3 * max(power(talk, 300), 1)
    assert c.svc.store.cdrs(0, 1e12) == []                    # no CDR while it is up

    # the new agent logs in and takes the next call, through the new branch 5
    assert c.req("agent.login", agent="2001")["extension"] == 8
    c.world.calls.offer_call(1, "13900139000", "4008001234")  # default route: ivr:main
    off, _ = until(c, "offered", 100, lambda e: e["type"] == "call.offered"
                   and e["ani"] == "13900139000")
    c.run(25)                                                 # the welcome is playing
    c.req("sim.dtmf", channel=off["channel"], digits="5")
    q, _ = until(c, "queued", 400, lambda e: e["type"] == "call.queued"
                 and e["call_id"] == off["call_id"])
    assert q["queue"] == "vip"
    d, _ = until(c, "delivered", 200, lambda e: e["type"] == "call.delivered"
                 and e["call_id"] == off["call_id"])
    assert d["agent"] == "2001" and d["extension"] == 8
    c.world.phones[8].lift()
    e2, _ = until(c, "established", 40, lambda e: e["type"] == "call.established"
                  and e["call_id"] == off["call_id"])
    assert e2["agent"] == "2001"
    assert c.svc.centre.calls[off["call_id"]].ivr_path[-1] == "vip"

    # the first call ends as any other: one CDR, answered by 1001
    c.world.calls.hangup(x.span, x.call)
    until(c, "cleared", 50, lambda e: e["type"] == "call.cleared" and e["call_id"] == call)
    c.run(10)
    rows = [r for r in c.svc.store.cdrs(0, 1e12) if r["call_id"] == call]
    assert len(rows) == 1 and rows[0]["outcome"] == "answered" and rows[0]["agent"] == "1001"
    c.svc.centre.acd.check_invariants()


@pytest.mark.parametrize("edit, line_of, message", [
    # a TOML syntax error
    (lambda t: t.replace("ring_timeout = 12\nwrapup = 5\nmax_wait", "ring_timeout = = 12\n"
                         "wrapup = 5\nmax_wait", 1), "ring_timeout = = 12", "TOML syntax"),
    # an unknown key
    (lambda t: t.replace('strategy = "ring-all"', 'strategy = "ring-all"\nstrategee = 1'),
     "strategee = 1", "unknown key"),
    # a queue naming a missing member
    (lambda t: t.replace('members = ["1001", "1002", "1003", "1004"]',
                         'members = ["1001", "1002", "1003", "4711"]'),
     'members = ["1001", "1002", "1003", "4711"]', "no agent '4711'"),
])
def test_a_bad_file_is_refused_whole_with_file_and_line(filed, edit, line_of, message):
    c = filed
    c.req("agent.login", agent="1001")
    bad = edit(ADDED_HOLD)
    assert bad != ADDED_HOLD
    line = bad.splitlines().index(line_of) + 1
    c.path.write_text(bad)
    before = state(c)
    seq = c.svc.log.last_seq
    r = reload(c)
    assert not r["ok"] and r["error"]["code"] == "failed"
    assert f"{c.path}:{line}: " in r["error"]["message"], r
    assert message in r["error"]["message"] and "nothing changed" in r["error"]["message"]
    c.run(2)
    assert state(c) == before
    assert not [e for e in c.svc.log.replay(seq) if e["type"] == "server.reloaded"]
    assert c.fail("agent.login", agent="2001")                # nothing of it applied


def test_only_the_server_right_reloads_and_it_is_audited(filed, caplog):
    from cti.server.auth import Principal

    c = filed
    c.path.write_text(ADDED_HOLD)
    before = state(c)
    for who in (Principal("1001", "agent", agent="1001", source="test"),
                Principal("wang", "supervisor", agent="1002", source="test")):
        r = c.svc.handle({"id": 1, "op": "server.reload", "args": {}}, principal=who)
        assert r["error"]["code"] == "forbidden" and "'server'" in r["error"]["message"]
    assert state(c) == before
    with caplog.at_level("INFO", logger="cti.server"):
        assert c.req("server.reload")["agents"]["added"] == ["2001"]
    assert any("server.reload by" in m and "REFUSED" not in m for m in caplog.messages)
    assert any(m.startswith("reloaded ") and "agents added: 2001" in m
               for m in caplog.messages)


def test_what_needs_a_restart_is_named_and_the_rest_applied(filed):
    c = filed
    text = ADDED_HOLD.replace("tick_ms = 20", "tick_ms = 10").replace(
        "[[board.ports]]\nkind = \"fxo\"\ncount = 4", "[[board.ports]]\nkind = \"fxo\"\ncount = 2"
    ).replace('home = "var"', 'home = "elsewhere"')
    c.path.write_text(text)
    res = c.req("server.reload")
    assert res["needs_restart"] == ["board.tick_ms", "board.ports", "server.home"]
    assert res["agents"]["added"] == ["2001"]                 # the rest applied
    assert c.svc.board.tick_ms == 20 and len(c.svc.board.ports) == 12
    # a new agent at a port the running board does not have: refused, nothing applied
    # (2001 is an account now: the store, not the file, says where it sits)
    before = state(c)
    c.path.write_text(text.replace('[[agents]]\nid = "2001"', '[[agents]]\nid = "2002"\n'
                                   'extension = 9\n\n[[agents]]\nid = "2001"').replace(
        "[[board.ports]]\nkind = \"fxs\"\ncount = 8", "[[board.ports]]\nkind = \"fxs\"\ncount = 9"))
    e = c.fail("server.reload")
    assert "2002" in e["message"] and "extension 9" in e["message"]
    assert state(c) == before


def test_removed_agent_on_a_call_leaves_when_it_ends_and_a_queue_drains(filed):
    c = filed
    c.req("agent.login", agent="1001")
    c.req("agent.login", agent="1002")
    x, call, ts = established(c)                              # 1001, on queue "service"
    # "service" goes (a second caller waits in it) and 1001 with it; 1002 was idle
    c.req("agent.not_ready", agent="1002", reason="break")
    y = c.world.calls.offer_call(1, "13700137000", "4008005555")
    until(c, "queued", 100, lambda e: e["type"] == "call.queued" and e["ani"] == "13700137000")
    text = BASE.replace('first = 1001\ncount = 7\nfirst_extension = 1',
                        'first = 1003\ncount = 5\nfirst_extension = 3')
    text = text[:text.index('[[queues]]\nname = "service"')] + text[text.index("[routing]"):]
    text = text.replace('dnis = { "4008005555" = "queue:service" }', "dnis = {}")
    c.path.write_text(text)
    res = c.req("server.reload")
    assert res["agents"] == {"added": [], "removed": ["1001", "1002"], "changed": [],
                             "leaving": ["1001"]}
    assert res["queues"]["draining"] == ["service"] and res["queues"]["removed"] == []
    assert res["routing"]["removed"] == ["4008005555"]
    centre = c.svc.centre
    assert "1002" not in centre.agents and "1001" in centre.agents
    assert c.svc.centre.agent_status("1001")["state"] == "logged_out"
    assert "leaves when its call ends" in c.fail("agent.login", agent="1001")["message"]
    snap = c.req("snapshot")
    assert [q["queue"] for q in snap["queues"]] == ["sales", "service"]
    assert snap["queues"][1]["draining"] is True and snap["queues"][1]["waiting"] == 1
    assert centre.calls[call].state == "established"
    c.world.calls.hangup(x.span, x.call)
    until(c, "cleared", 50, lambda e: e["type"] == "call.cleared" and e["call_id"] == call)
    c.run(2)
    assert "1001" not in centre.agents and "1001" not in centre.acd._agents
    assert centre.acd.draining == ("service",)                # the second caller still waits
    c.world.calls.hangup(y.span, y.call)
    c.run(30)
    assert centre.acd.draining == () and not centre.acd.has_queue("service")
    assert [q["queue"] for q in c.req("snapshot")["queues"]] == ["sales"]
    rows = c.svc.store.cdrs(0, 1e12)
    assert sorted(r["outcome"] for r in rows) == ["abandoned_queue", "answered"]
    centre.acd.check_invariants()


# ---- random edits: a call in progress never lost, the centre as a fresh start's ----------

AGENT_IDS = [str(1001 + i) for i in range(7)]


@st.composite
def configs(draw):
    """A valid file: some of the seven agents, queues over them, the DNIS map, settings."""
    agents = draw(st.lists(st.sampled_from(AGENT_IDS), min_size=1, max_size=7, unique=True))
    agents.sort()
    parts = [BASE[:BASE.index("[[agents]]")]]
    for aid in agents:
        skill = draw(st.integers(1, 3))
        parts.append(f'[[agents]]\nid = "{aid}"\nextension = {int(aid) - 1000}\n'
                     f'skills = {{ sales = {skill} }}\n')
    qnames = draw(st.lists(st.sampled_from(["sales", "service", "vip", "night"]),
                           min_size=1, max_size=4, unique=True))
    if "sales" not in qnames:
        qnames.insert(0, "sales")                              # the IVR's flows name it
    for q in qnames:
        members = draw(st.lists(st.sampled_from(agents), max_size=len(agents), unique=True))
        strategy = draw(st.sampled_from(["linear", "ring-all", "longest-idle", "round-robin"]))
        ring = draw(st.sampled_from([8, 12, 20]))
        over = draw(st.sampled_from(["hangup"] + [f"queue:{o}" for o in qnames if o != q]))
        parts.append(f'[[queues]]\nname = "{q}"\nstrategy = "{strategy}"\n'
                     f'members = {members!r}\nring_timeout = {ring}\nwrapup = 1\n'
                     f'overflow = "{over}"\n'.replace("'", '"'))
    dnis = draw(st.dictionaries(st.sampled_from(["4008005555", "4008006666", "95555"]),
                                st.sampled_from(qnames), max_size=3))
    parts.append("[routing]\ndefault = \"ivr:main\"\ndnis = { " + ", ".join(
        f'"{k}" = "queue:{v}"' for k, v in sorted(dnis.items())) + " }\n")
    ivr_ports = draw(st.integers(2, 8))
    rec = draw(st.booleans())
    text = "".join(parts) + DEFAULT_TOML[DEFAULT_TOML.index("\n[ivr.flows.main]"):]
    return text.replace("ivr_ports = 8\nrecord = true", f"ivr_ports = {ivr_ports}\n"
                        f"record = {str(rec).lower()}")


def live_view(centre) -> dict:
    """What a reload applies, as the centre holds it (runtime state such as who is logged
    in, or the calls, left out)."""
    acd = centre.acd
    cfg = centre.config
    return {"config": {k: getattr(cfg, k) for k in (
                "agents", "queues", "flows", "routes", "default_route", "area_routes",
                "ivr_ports", "record", "record_queues", "moh", "survey_queues")},
            "agents": dict(centre.agents),
            "acd_agents": {a: (x.cfg, list(x.queues), x.skills) for a, x in acd._agents.items()},
            "acd_queues": {n: (q.cfg, dict(q.members), dict(q.member_index))
                           for n, q in acd._queues.items()},
            "queue_cfg": dict(centre.queueing.queue_cfg), "ivr_ports": centre.ivr_ports.count}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One centre for every example (a start takes a second): agent 1001 on a call from
    the service queue, up through every reload."""
    tmp = tmp_path_factory.mktemp("reload")
    path = tmp / "cti.toml"
    path.write_text(BASE)
    c = FileCentre(tmp / "home", path)
    c.path = path
    c.tmp = tmp
    c.req("agent.login", agent="1001")
    c.call = established(c)
    yield c
    c.close()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(edits=st.lists(configs(), min_size=1, max_size=3))
def test_random_edits_never_lose_the_call_and_match_a_fresh_start(shared, edits):
    c = shared
    x, call, ts = c.call
    centre = c.svc.centre
    applied = None
    for text in edits:
        c.path.write_text(text)
        r = reload(c)
        assert r["ok"], r
        applied = text
        c.run(2)
        cl = centre.calls.get(call)
        assert cl is not None and cl.state == "established" and cl.agent == "1001", \
            "the call in progress was lost"
        assert cl.conf is not None and cl.agent_port == 1
    # leaving agents and draining queues aside (the call keeps 1001 and its queue), the
    # centre is the one a start on the last file makes
    fresh_path = c.tmp / "fresh.toml"
    fresh_path.write_text(applied)
    fresh_home = c.tmp / f"fresh{len(list(c.tmp.iterdir()))}"
    cfg = load_config(fresh_path, home=fresh_home)
    world, _ = build_world(cfg)
    try:
        fresh = Service(cfg, world=world, wall_start=1e6).centre
        got, want = live_view(centre), live_view(fresh)
        for aid in centre.roster.leaving:
            got["agents"].pop(aid)
            got["acd_agents"].pop(aid)
        for q in centre.acd.draining:
            got["acd_queues"].pop(q)
            got["queue_cfg"].pop(q)
            for aid, (cfg_, queues, skills) in got["acd_agents"].items():
                got["acd_agents"][aid] = (cfg_, [n for n in queues if n != q], skills)
        assert got == want
    finally:
        world.close()
    # back to the start for the next example: 1001 and the service queue as they were
    c.path.write_text(BASE)
    assert reload(c)["ok"]
    c.run(2)
    assert centre.calls[call].state == "established"
    if centre.agent_status("1001")["state"] == "logged_out":
        c.req("agent.login", agent="1001")
    assert centre.acd.call_agent(call) in (None, "1001")


def test_cli_reload_prints_the_summary(tmp_path):
    """``cti reload`` against a server (serve() in a thread, reading the file off the tick)."""
    from tests.inprocess import InProcessServer
    from tests.served import cti_env

    path = tmp_path / "cti.toml"
    path.write_text(BASE)
    with InProcessServer(tmp_path / "home", speed=5.0, config_path=path) as s:
        s.wait_in_sync()
        path.write_text(ADDED_HOLD)
        out = subprocess.run([sys.executable, "-m", "cti", "reload", "--home",
                              str(tmp_path / "home")], capture_output=True, text=True, env=cti_env(),
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert f"reloaded {path}" in out.stdout
        assert "agents: added 2001" in out.stdout and "queues: added vip" in out.stdout
        assert "flows: changed main" in out.stdout
        assert "2001" in s.service.centre.agents
        path.write_text(ADDED_HOLD.replace("wrapup = 2", "wrapup = -2"))
        out = subprocess.run([sys.executable, "-m", "cti", "reload", "--home",
                              str(tmp_path / "home")], capture_output=True, text=True, env=cti_env(),
                             timeout=60)
        assert out.returncode != 0 and f"{path}:" in out.stderr and "nothing changed" in \
            out.stderr


def test_forwarding_to_an_agent_removed_is_dropped(filed):
    c = filed
    c.req("agent.forward", agent="1003", to="1004")
    c.req("agent.forward", agent="1005", to="sales")
    c.req("agent.forward", agent="1006", to="queue:service")
    text = BASE.replace("first = 1001\ncount = 7", "first = 1001\ncount = 3")
    text = text.replace('members = ["1001", "1002", "1003", "1004"]', 'members = ["1001"]')
    c.path.write_text(text)
    res = c.req("server.reload")
    assert res["agents"]["removed"] == ["1004", "1005", "1006", "1007"]
    assert c.svc.centre.forward == {}                         # 1003's went to 1004
    c.path.write_text(BASE)
    c.req("server.reload")
    c.req("agent.forward", agent="1005", to="sales")
    c.req("server.reload")
    assert c.svc.centre.forward == {"1005": "sales"}          # kept: both still there


def test_a_call_in_the_ivr_keeps_the_flow_it_started_with(filed):
    c = filed
    c.world.calls.offer_call(1, "13500135000", "4008001234")      # default route: ivr:main
    a, _ = until(c, "offered", 100, lambda e: e["type"] == "call.offered")
    c.run(25)                                                     # in the welcome
    assert c.svc.centre.calls[a["call_id"]].state == "ivr"
    # the new file sends key 2 to the service queue instead of sales
    c.path.write_text(BASE.replace('2 = "sales"', '2 = "svc"') + """
[ivr.flows.main.nodes.svc]
type = "queue"
queue = "service"
""")
    assert c.req("server.reload")["flows"]["changed"] == ["main"]
    c.world.calls.offer_call(1, "13600136000", "4008001234")
    b, _ = until(c, "offered", 100, lambda e: e["type"] == "call.offered"
                 and e["ani"] == "13600136000")
    c.run(25)
    for call in (a, b):
        c.req("sim.dtmf", channel=call["channel"], digits="2")
    queued = {}
    for call in (a, b):
        q, _ = until(c, "queued", 400, lambda e, cid=call["call_id"]:
                     e["type"] == "call.queued" and e["call_id"] == cid)
        queued[call["ani"]] = q["queue"]
    assert queued == {"13500135000": "sales", "13600136000": "service"}


def test_prompts_a_new_flow_plays_are_made_or_must_be_in_the_running_directory(filed, tmp_path):
    c = filed
    prompts = c.svc.centre.config.prompts_dir
    gone = f"{prompts}/goodbye.wav"                               # a default prompt, deleted
    os.unlink(gone)
    c.path.write_text(ADDED_HOLD)
    assert c.req("server.reload")["agents"]["added"] == ["2001"]
    assert os.path.getsize(gone) > 1000                           # made again, as at start
    # another prompts directory takes a restart; its flows would play from this one
    other = tmp_path / "shared-prompts"
    shutil.copytree(prompts, other)                               # with one more prompt:
    shutil.copy(f"{prompts}/please_hold.wav", other / "vip_welcome.wav")
    before = state(c)
    c.path.write_text(ADDED.replace("[centre]\n", f'[centre]\nprompts = "{other}"\n'))
    e = c.fail("server.reload")
    assert "vip_welcome" in e["message"] and "nothing changed" in e["message"]
    assert state(c) == before
    c.path.write_text(ADDED_HOLD.replace("[centre]\n", f'[centre]\nprompts = "{other}"\n'))
    assert c.req("server.reload")["needs_restart"] == ["centre.prompts"]
    assert c.svc.centre.config.prompts_dir == prompts


def test_a_call_bound_for_a_queue_removed_meanwhile_goes_to_the_first_queue(filed):
    c = filed
    c.world.calls.offer_call(1, "13500135000", "4008001234")      # into the IVR (old flow)
    a, _ = until(c, "offered", 100, lambda e: e["type"] == "call.offered")
    c.run(25)
    # "sales" goes (it is empty: removed at once); the new flows send key 2 to "service"
    text = BASE[:BASE.index('[[queues]]\nname = "sales"')] + \
        BASE[BASE.index('[[queues]]\nname = "service"'):]
    c.path.write_text(text.replace('queue = "sales"', 'queue = "service"'))
    res = c.req("server.reload")
    assert res["queues"]["removed"] == ["sales"] and res["queues"]["draining"] == []
    c.req("sim.dtmf", channel=a["channel"], digits="2")          # the old flow: "sales"
    q, _ = until(c, "queued", 400, lambda e: e["type"] == "call.queued")
    assert q["call_id"] == a["call_id"] and q["queue"] == "service"
    c.svc.centre.acd.check_invariants()


def test_the_file_and_the_administrator_both_change_the_accounts(filed):
    """The accounts are the roster: a reload writes to them what changed in the file since
    the last one, and leaves what an administrator changed that the file did not touch."""
    c = filed
    c.req("admin.agent.add", name="3001", display_name="Admin's hire", groups={"service": 2})
    c.req("admin.group.member", group="sales", account="1002", level=0)   # out of sales
    c.path.write_text(ADDED_HOLD)                             # the file adds 2001
    res = c.req("server.reload")
    assert res["agents"]["added"] == ["2001"] and res["agents"]["removed"] == []
    centre = c.svc.centre
    assert {"3001", "2001", "1002"} <= set(centre.agents)
    members = {q.name: [m.agent for m in q.members] for q in centre.config.queues}
    assert "3001" in members["service"] and "1002" not in members["sales"]
    assert members["vip"] == ["2001"]
    acc = c.svc.store.account_get("2001")
    assert (acc["role"], acc["extension"]) == ("agent", 8)
    # the file takes 2001 out again: its account goes, the administrator's stays
    c.path.write_text(BASE)
    res = c.req("server.reload")
    assert res["agents"]["removed"] == ["2001"]
    assert c.svc.store.account_get("2001") is None and "3001" in centre.agents
