"""Keys end to end (issue #16): ``serve()`` with ``server.listen`` on loopback TCP, real
CurveZMQ keys issued through the owner's ipc socket, real clients with ``--key`` files.

An agent's key is refused what is not its own (barge, logging out another agent, a
campaign, shutdown), each refusal in the server's log (the audit); a supervisor's key
barges into a real call; an agent's subscriber receives its own call's screen pop and
never another agent's; an unknown key gets no connection; a revoked key is refused from
its next request on, and at its next connection.
"""
from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import pytest
import zmq

from cti.clients.cli import main
from cti.clients.client import Client, CtiError, NoServer, Subscriber
from cti.server.config import DEFAULT_TOML, parse_config
from cti.server.keyfile import read_key_file, write_key_file
from tests.inprocess import InProcessServer


def free_port() -> int:
    """A loopback port with the next one free too (events go on port + 1)."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no two free ports")


def listening_config(home: Path, port: int):
    text = DEFAULT_TOML.replace("[server]\n", f'[server]\nlisten = "tcp://127.0.0.1:{port}"\n', 1)
    return parse_config(text, "<test>", home=home)


def issue(home: Path, out: Path, name: str, role: str, agent: str | None = None,
          scopes=None) -> Path:
    """A key issued as ``cti admin key issue`` does: the pair made here, the public half
    recorded by the server over the owner's ipc socket, the file written 0600."""
    public, secret = (k.decode() for k in zmq.curve_keypair())
    with Client(home, timeout=5) as c:
        res = c.request("key.issue", public=public, name=name, role=role, agent=agent,
                        scopes=scopes)
    return write_key_file(out, public, secret, server=res["server_key"],
                          requests=res["requests"], events=res["events"], name=name)


def log_text(home: Path) -> str:
    return (home / "log" / "cti.log").read_text()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    home = base / "home"
    with InProcessServer(home, speed=8.0, config=listening_config(home, free_port())) as srv:
        srv.wait_in_sync()
        keys = {"a1001": issue(home, base / "a1001.key", "a1001", "agent", "1001"),
                "a1002": issue(home, base / "a1002.key", "a1002", "agent", "1002"),
                "sup": issue(home, base / "sup.key", "sup", "supervisor"),
                "crm": issue(home, base / "crm.key", "crm", "integrator", scopes=["read"])}
        yield home, keys, srv


def test_the_key_file_is_private_and_names_the_server(keyed):
    home, keys, _ = keyed
    k = read_key_file(keys["a1001"])
    assert stat.S_IMODE(os.stat(keys["a1001"]).st_mode) == 0o600
    assert k.server == read_key_file(home / "keys" / "server.key_secret").public
    assert k.requests.startswith("tcp://127.0.0.1:") and k.secret and k.name == "a1001"
    assert stat.S_IMODE(os.stat(home / "keys" / "server.key_secret").st_mode) == 0o600


def test_an_agents_key_is_refused_what_is_not_its_own(keyed):
    home, keys, _ = keyed
    with Client(key=keys["a1001"], timeout=5) as a:
        assert a.request("ping")["pong"]
        refused = {
            "call.supervise": dict(call="x-1-1", supervisor="1001", mode="barge"),
            "agent.logout": dict(agent="1002"),
            "campaign.start": dict(campaign="spring"),
            "shutdown": {},
            "key.list": {},
        }
        for op, args in refused.items():
            with pytest.raises(CtiError) as e:
                a.request(op, **args)
            assert e.value.code == "forbidden", (op, e.value)
        # its own agent is its own
        assert a.request("agent.show", agent="1001")["agent"] == "1001"
    # each refusal in the audit (the log until the store keeps an audit table)
    lines = log_text(home).splitlines()
    for op in refused:
        mine = [ln for ln in lines if f" {op} by agent a1001 (agent 1001) from tcp://127.0.0.1"
                in ln]
        assert mine and all("REFUSED" in ln for ln in mine), (op, mine)


def test_an_integrators_key_has_its_scopes_only(keyed):
    home, keys, _ = keyed
    with Client(key=keys["crm"], timeout=5) as c:
        assert c.request("span.show", span=1)
        with pytest.raises(CtiError) as e:
            c.request("agent.login", agent="1001", extension=1)
        assert e.value.code == "forbidden"


def wait_for(sub: Subscriber, pred, seen: list, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sub.get(timeout=0.2)
        if got is not None:
            seen.append(got)
            if pred(*got):
                return got[1]
    raise AssertionError(f"not seen in {timeout} s: {[t for t, _ in seen[-12:]]}")


def drain(sub: Subscriber, seen: list, seconds: float = 0.5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = sub.get(timeout=0.05)
        if got is not None:
            seen.append(got)


def test_events_are_filtered_per_key_and_a_supervisor_barges(keyed):
    home, keys, srv = keyed
    s1001 = Subscriber(topics=["call.", "agent."], key=keys["a1001"])
    s1002 = Subscriber(topics=["call.", "agent.", ""], key=keys["a1002"])
    ssup = Subscriber(topics=[""], key=keys["sup"])
    seen1, seen2, seens = [], [], []
    try:
        with Client(home, timeout=5) as c:
            time.sleep(0.5)                   # the subscriptions granted (a loop round)
            c.request("agent.login", agent="1002", extension=2)
            wait_for(s1002, lambda t, e: e.get("agent") == "1002", seen2)
            c.request("agent.not_ready", agent="1002", reason="lunch")
            c.request("agent.login", agent="1001", extension=1)
            wait_for(s1001, lambda t, e: t == "agent.1001.state", seen1)
            c.request("agent.ready", agent="1001")
            r = c.request("sim.call", span=1, **{"from": "13800138000", "to": "4008005555"})
            assert not r["congested"]
            # the screen pop: 1001's desk gets it, under its public topic
            d = wait_for(s1001, lambda t, e: t == "call.delivered", seen1)
            assert d["agent"] == "1001" and d["ani"] == "13800138000"
            wait_for(ssup, lambda t, e: t == "call.delivered", seens)
            deadline = time.monotonic() + 10
            while not c.request("sim.phone", port=1, action="status")["caller_id"]:
                assert time.monotonic() < deadline, "no caller ID on the agent's phone"
                time.sleep(0.02)
            c.request("sim.phone", port=1, action="lift")
            est = wait_for(s1001, lambda t, e: t == "call.established", seen1)
            call = est["call_id"]
            # an agent's key may not barge; a supervisor's may (the supervisor's phone
            # is 1002's extension: it rings, the supervisor lifts it, and is in)
            with Client(key=keys["a1001"], timeout=5) as a:
                with pytest.raises(CtiError) as e:
                    a.request("call.supervise", call=call, supervisor="1002", mode="barge")
                assert e.value.code == "forbidden"
            with Client(key=keys["sup"], timeout=5) as sup:
                r = sup.request("call.supervise", call=call, supervisor="1002", mode="barge")
                assert r["ringing"] == 2
            c.request("sim.phone", port=2, action="lift")
            conf = wait_for(ssup, lambda t, e: t == "call.conferenced", seens)
            assert conf["supervisor"] == "1002" and conf["mode"] == "barge"
            assert "call.conferenced by" not in log_text(home)     # (not an op)
            assert "call.supervise by supervisor sup from tcp://127.0.0.1" in log_text(home)
            # 1002 barged as a supervisor: its desk sees that call's conference now
            wait_for(s1002, lambda t, e: t == "call.conferenced", seen2)
            c.request("sim.phone", port=2, action="hangup")
            xcalls = c.request("sim.calls")["calls"]
            c.request("sim.hangup", span=1, call=xcalls[0]["call"])
            wait_for(s1001, lambda t, e: t == "call.cleared", seen1)
            wait_for(ssup, lambda t, e: t == "call.cleared", seens)
            drain(s1002, seen2)
            drain(s1001, seen1)
        # 1002's desk never saw 1001's screen pop, nor the call before 1002 barged, nor
        # 1001's state
        for t, e in seen2:
            assert not (t == "call.delivered" and e.get("agent") == "1001"), e
            assert t not in ("call.offered", "call.queued", "call.established"), (t, e)
            assert not t.startswith("agent.1001"), (t, e)
            assert not t.startswith(("channel.", "span.")) or t.startswith("span."), (t, e)
        # 1001's desk saw only its own agent and the calls it was on
        for t, e in seen1:
            assert t.startswith(("call.", "agent.1001.")), (t, e)
            assert not t.startswith("agent.1002"), (t, e)
        # the supervisor saw everything: both agents, the whole call, the line
        sup_types = {t for t, _ in seens}
        assert {"call.offered", "call.delivered", "call.established", "agent.1001.state",
                "agent.1002.state", "call.cleared"} <= sup_types, sup_types
        assert any(t.startswith("channel.") for t in sup_types)
        # replay says the same as the subscription: 1002 gets no event of 1001's
        with Client(key=keys["a1002"], timeout=5) as a2:
            evs = a2.request("replay", after=0, topics=["call.", "agent."])["events"]
            assert evs and not any(e.get("agent") == "1001" and e["type"] == "call.delivered"
                                   for e in evs)
            assert not any(e["type"] == "call.offered" for e in evs)
            snap = a2.request("snapshot")
            assert [a["agent"] for a in snap["agents"]] == ["1002"]
        with Client(key=keys["sup"], timeout=5) as sup:
            evs = sup.request("replay", after=0, topics=["call."])["events"]
            assert any(e["type"] == "call.offered" for e in evs)
            assert len(sup.request("snapshot")["agents"]) > 1
    finally:
        for s in (s1001, s1002, ssup):
            s.close()


def test_an_unknown_key_is_refused_at_connect(keyed, tmp_path):
    home, keys, _ = keyed
    known = read_key_file(keys["a1001"])
    public, secret = (k.decode() for k in zmq.curve_keypair())
    stranger = write_key_file(tmp_path / "stranger.key", public, secret, server=known.server,
                              requests=known.requests, events=known.events)
    t0 = time.monotonic()
    with pytest.raises(NoServer) as e, Client(key=stranger, timeout=1.5) as c:
        c.request("ping")
    assert time.monotonic() - t0 < 5
    assert "refused the key" in str(e.value) and str(stranger) in str(e.value)
    assert f"REFUSED at connect: key {public}" in log_text(home)
    # nor does it hear events
    with Subscriber(topics=[""], key=stranger) as s:
        assert s.get(timeout=1.0) is None


def test_a_revoked_key_is_refused_from_the_next_request_on(keyed, tmp_path):
    home, keys, _ = keyed
    k = issue(home, tmp_path / "temp.key", "temp", "supervisor")
    revoked_sub = Subscriber(topics=["agent."], key=k)
    kept_sub = Subscriber(topics=["agent."], key=keys["sup"])
    time.sleep(0.5)
    with Client(home, timeout=5) as owner:                # both hear the agents
        owner.request("agent.login", agent="1004", extension=4)
        for s in (revoked_sub, kept_sub):
            wait_for(s, lambda t, e: e.get("agent") == "1004" and e["state"] != "logged_out",
                     [])
    with Client(key=k, timeout=5) as c:
        assert c.request("ping")["pong"]
        assert c.request("agent.show", agent="1002")          # a supervisor's right
        with Client(home, timeout=5) as owner:
            r = owner.request("key.revoke", key="temp")
            assert r["key"]["revoked"] is not None
        # the same connection: refused from the next request on
        with pytest.raises(CtiError) as e:
            c.request("ping")
        assert e.value.code == "forbidden" and "revoked" in e.value.message
    assert "ping by supervisor temp from tcp://127.0.0.1" in log_text(home)
    # and a new connection gets none; its subscriber was cut off (and is refused at its
    # reconnection), the others reconnect and hear the agents again
    with pytest.raises(NoServer), Client(key=k, timeout=1.5) as c:
        c.request("ping")
    heard = None
    deadline = time.monotonic() + 20
    with Client(home, timeout=5) as owner:
        while heard is None:
            assert time.monotonic() < deadline, "the kept subscriber never came back"
            for op in ("agent.logout", "agent.login"):
                owner.request(op, agent="1004", **({"extension": 4} if op == "agent.login"
                                                    else {}))
                got = kept_sub.get(timeout=0.5)
                heard = heard or got
        seen: list = []
        drain(revoked_sub, seen, 0.5)         # what went out before it was cut off
        owner.request("agent.logout", agent="1004")
        wait_for(kept_sub, lambda t, e: e.get("state") == "logged_out", [])
        seen = []
        drain(revoked_sub, seen, 1.0)
        assert seen == [], seen
    revoked_sub.close()
    kept_sub.close()
    with Client(home, timeout=5) as owner:
        keys = {x["name"]: x for x in owner.request("key.list")["keys"]}
        assert keys["temp"]["revoked"] is not None and keys["a1001"]["revoked"] is None
        with pytest.raises(CtiError) as e:                    # a name is one key, for ever
            owner.request("key.issue", public=read_key_file(k).public, name="temp",
                          role="agent", agent="1001")
        assert e.value.code == "bad_arg"


def test_on_ipc_the_owner_of_the_home_is_the_administrator(keyed):
    home, _, _ = keyed
    assert stat.S_IMODE(os.stat(home / "run").st_mode) == 0o700
    with Client(home, timeout=5) as owner:
        assert owner.request("key.list")["keys"]                  # accounts: admin's right
    assert "key.list by admin owner from ipc" not in log_text(home)   # a read: not audited
    assert "key.issue by admin owner from ipc" in log_text(home)


def test_cti_admin_key_and_cti_key(keyed, tmp_path, capsys, monkeypatch):
    home, _, _ = keyed
    out = tmp_path / "desk1003.key"
    assert main(["admin", "key", "issue", "--role", "agent", "--agent", "1003",
                 "--out", str(out), "--home", str(home)]) == 0
    assert "written to" in capsys.readouterr().out
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert main(["admin", "key", "issue", "--role", "agent", "--agent", "1003",
                 "--out", str(out), "--home", str(home)]) == 1       # never overwritten
    assert "exists" in capsys.readouterr().err
    assert main(["ping", "--key", str(out), "--json"]) == 0
    assert '"pong": true' in capsys.readouterr().out
    monkeypatch.setenv("CTI_KEY", str(out))
    assert main(["shutdown"]) == 1                               # its key: an agent's
    assert "needs the right 'server'" in capsys.readouterr().err
    monkeypatch.delenv("CTI_KEY")
    assert main(["admin", "key", "list", "--home", str(home)]) == 0
    assert "1003" in capsys.readouterr().out
    assert main(["admin", "key", "revoke", "1003", "--home", str(home)]) == 0
    assert main(["ping", "--key", str(out), "--timeout", "1"]) == 1
    assert "refused the key" in capsys.readouterr().err


def test_with_no_zap_handler_the_server_socket_fails_closed():
    """ZAP_ENFORCE_DOMAIN: a CURVE server socket in a context with no ZAP handler lets no
    one in (without it, libzmq would accept any client key)."""
    from cti.server.keyfile import KeyFile
    from cti.server.loop import _curve_server

    ctx = zmq.Context()
    try:
        spub, ssec = (k.decode() for k in zmq.curve_keypair())
        server = ctx.socket(zmq.ROUTER)
        _curve_server(server, KeyFile(spub, ssec))
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client = ctx.socket(zmq.DEALER)
        client.setsockopt(zmq.LINGER, 0)
        cpub, csec = zmq.curve_keypair()
        client.curve_secretkey, client.curve_publickey = csec, cpub
        client.curve_serverkey = spub.encode()
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"hello")
        assert server.poll(1500) == 0             # nothing gets through
        client.close(0)
        server.close(0)
    finally:
        ctx.term()


def test_an_agent_logs_itself_in_with_its_password_over_its_key(keyed, tmp_path, capsys,
                                                              monkeypatch):
    """`cti agents login` with an agent's key: the password read from stdin (never the
    command line), a wrong one refused and audited, the right one logs the agent in."""
    import io

    home, _, _ = keyed
    with Client(home, timeout=10) as owner:
        owner.request("admin.agent.passwd", name="1004", password="correct horse 1004")
    out = issue(home, tmp_path / "a1004.key", "a1004", "agent", "1004")
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong password\n"))
    assert main(["agents", "login", "1004", "--password-stdin", "--key", str(out),
                 "--timeout", "10"]) == 1
    assert "password" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse 1004\n"))
    assert main(["agents", "login", "1004", "--password-stdin", "--key", str(out),
                 "--timeout", "10"]) == 0
    assert "agent 1004: ready" in capsys.readouterr().out
    with Client(home, timeout=5) as owner:
        refused = owner.request("admin.audit", name="a1004", refused=True)["rows"]
    assert any(r["op"] == "agent.login" for r in refused)
