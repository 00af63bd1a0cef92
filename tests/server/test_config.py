"""cti.server.config: the embedded default, and errors that name the key and the line."""
from pathlib import Path

import pytest

from cti.server.config import (DEFAULT_TOML, ConfigError, check_endpoint, default_endpoints,
                        load_config, parse_config)


def errors_of(text: str, source: str = "t.toml") -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as e:
        parse_config(text, source)
    return e.value.errors


def one_error(text: str) -> tuple[str, int | None, str]:
    errs = errors_of(text)
    assert len(errs) == 1, errs
    return errs[0]


MINIMAL = """\
[board]
name = "b0"

[[board.spans]]
number = 1
"""


def test_default_is_two_pri_spans_eight_fxs_four_fxo():
    c = load_config()
    b = c.board
    assert (b.name, b.backend, b.tick_ms, b.tick_frames) == ("sim0", "sim", 20, 160)
    assert [(s.number, s.signalling, s.crc4, s.law) for s in b.spans] == [
        (1, "pri", True, "alaw"), (2, "pri", True, "alaw")]
    assert [p.kind for p in b.ports] == ["fxs"] * 8 + ["fxo"] * 4
    assert [p.number for p in b.ports] == list(range(1, 13))
    assert b.ports[8].name == "fxo/9"
    assert c.sim is not None and c.sim.seed == 1
    assert c.server.home == Path("var")
    assert c.server.requests == "ipc://var/run/cti-req.sock"
    assert c.server.events == "ipc://var/run/cti-events.sock"


def test_home_override_moves_the_sockets(tmp_path):
    c = load_config(home=tmp_path)
    assert c.server.home == tmp_path
    assert (c.server.requests, c.server.events) == default_endpoints(tmp_path)
    assert c.server.requests == f"ipc://{tmp_path}/run/cti-req.sock"


def test_file_round_trip(tmp_path):
    f = tmp_path / "cti.toml"
    f.write_text(DEFAULT_TOML.replace('law = "alaw"', 'law = "ulaw"', 1))
    c = load_config(f)
    assert c.board.spans[0].law == "ulaw" and c.board.spans[1].law == "alaw"
    assert c.source == str(f)


def test_minimal_file_defaults():
    c = parse_config(MINIMAL)
    assert c.board.spans[0].signalling == "pri" and c.board.spans[0].crc4 is True
    assert c.board.ports == ()
    assert c.sim is not None and c.sim.cable_delay_bits == 3


def test_explicit_ports_and_numbering():
    c = parse_config(MINIMAL + '[[board.ports]]\nkind = "fxo"\nnumber = 1\ncount = 2\n'
                     '[[board.ports]]\nkind = "fxs"\n')
    assert [(p.number, p.kind) for p in c.board.ports] == [(1, "fxo"), (2, "fxo"), (3, "fxs")]


@pytest.mark.parametrize("snippet, path, line, words", [
    ('signalling = "prx"', "board.spans[0].signalling", 6, "not one of pri, cas, clear"),
    ('law = "alow"', "board.spans[0].law", 6, "alaw, ulaw"),
    ('crc4 = "yes"', "board.spans[0].crc4", 6, "true or false"),
    ("crc4 = 1", "board.spans[0].crc4", 6, "true or false"),
    ("colour = 3", "board.spans[0].colour", 6, "unknown key"),
])
def test_span_value_errors_name_key_and_line(snippet, path, line, words):
    p, ln, msg = one_error(MINIMAL + snippet + "\n")
    assert (p, ln) == (path, line)
    assert words in msg


def test_error_text_has_file_line_and_key():
    with pytest.raises(ConfigError) as e:
        parse_config(MINIMAL + 'law = "alow"\n', "site.toml")
    assert str(e.value).startswith("site.toml:6: board.spans[0].law: ")


def test_second_span_line_is_found():
    text = MINIMAL + '\n[[board.spans]]\nnumber = 2\nlaw = "x"\n'
    assert one_error(text)[:2] == ("board.spans[1].law", 9)


def test_unknown_top_level_and_section_keys():
    errs = errors_of("queues = 1\n" + MINIMAL + "[server]\nhomedir = 'x'\n")
    assert ("queues", 1) in [(p, ln) for p, ln, _ in errs]
    assert ("server.homedir", 8) in [(p, ln) for p, ln, _ in errs]


def test_every_error_is_reported():
    errs = errors_of(MINIMAL + 'law = "x"\nsignalling = "y"\n[sim]\nseed = "s"\n')
    assert [p for p, _, _ in errs] == ["board.spans[0].signalling", "board.spans[0].law",
                                       "sim.seed"]
    assert [ln for _, ln, _ in errs] == [7, 6, 9]


@pytest.mark.parametrize("value, ok", [(20, True), (5, True), (100, True), (10.0, True),
                                       (4, False), (101, False), (12.5, False), ('"20"', False),
                                       ("true", False)])
def test_tick_ms(value, ok):
    text = MINIMAL.replace('name = "b0"', f'name = "b0"\ntick_ms = {value}')
    if ok:
        c = parse_config(text)
        assert c.board.tick_frames == int(value) * 8
    else:
        p, ln, _ = one_error(text)
        assert (p, ln) == ("board.tick_ms", 3)


def test_port_kind_and_gaps():
    p, ln, msg = one_error(MINIMAL + '[[board.ports]]\nkind = "fxq"\n')
    assert (p, ln) == ("board.ports[0].kind", 7) and "fxs, fxo" in msg
    p, ln, msg = one_error(MINIMAL + '[[board.ports]]\nkind = "fxs"\nnumber = 2\n')
    assert p == "board.ports[0]" and "port 1 is missing" in msg
    errs = errors_of(MINIMAL + '[[board.ports]]\nkind = "fxs"\n'
                     '[[board.ports]]\nkind = "fxo"\nnumber = 1\n')
    assert any("already defined" in m for _, _, m in errs)
    p, ln, msg = one_error(MINIMAL + '[[board.ports]]\ncount = 2\n')
    assert p == "board.ports[0]" and "kind" in msg


def test_span_numbers():
    p, ln, msg = one_error(MINIMAL + "[[board.spans]]\nnumber = 1\n")
    assert (p, ln) == ("board.spans[1].number", 7) and "already defined" in msg
    p, ln, msg = one_error(MINIMAL.replace("number = 1", "number = 2"))
    assert "span 1 is missing" in msg
    p, ln, msg = one_error(MINIMAL.replace("number = 1", "number = 0"))
    assert (p, ln) == ("board.spans[0].number", 5) and "out of range" in msg
    p, ln, msg = one_error(MINIMAL + "[[board.spans]]\nlaw = 'alaw'\n")
    assert p == "board.spans[1]" and "number" in msg


def test_spans_must_be_an_array_of_tables():
    p, ln, msg = one_error('[board]\nspans = 3\n')
    assert (p, ln) == ("board.spans", 2) and "array of tables" in msg


def test_inline_table_array_lines():
    text = '[board]\nspans = [\n  {number = 1},\n  {number = 2, law = "x"},\n]\n'
    assert one_error(text)[:2] == ("board.spans[1].law", 4)


def test_missing_board_and_empty_board():
    assert one_error("[sim]\nseed = 2\n")[0] == "board"
    assert "neither spans nor ports" in one_error('[board]\nname = "x"\n')[2]


def test_sim_values():
    p, ln, msg = one_error(MINIMAL + "[sim]\ncable_delay_bits = 5000\n")
    assert (p, ln) == ("sim.cable_delay_bits", 7)
    p, ln, msg = one_error(MINIMAL.replace('name = "b0"', 'name = "b0"\nbackend = "dahdi"')
                           + "[sim]\nseed = 3\n")
    assert p == "sim" and "only applies" in msg
    c = parse_config(MINIMAL.replace('name = "b0"', 'name = "b0"\nbackend = "dahdi"'))
    assert c.sim is None and c.board.backend == "dahdi"
    p, _, msg = one_error(MINIMAL.replace('name = "b0"', 'backend = "isa"'))
    assert p == "board.backend"


def test_syntax_error_has_the_line():
    errs = errors_of('[board]\nname = "b0"\nspans = [\n oops\n')
    assert errs[0][0] == "" and errs[0][1] == 4
    assert "TOML syntax" in errs[0][2]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "nope.toml")
    assert "no such file" in str(e.value) and "nope.toml" in str(e.value)


@pytest.mark.parametrize("ep, ok", [
    ("ipc:///tmp/x.sock", True), ("inproc://x", True),
    # TCP, loopback included, is server.listen's, with keys
    ("tcp://127.0.0.1:5555", False), ("tcp://localhost:1", False), ("tcp://[::1]:5555", False),
    ("tcp://0.0.0.0:5555", False), ("tcp://192.168.1.4:5555", False), ("tcp://*:5555", False),
    ("udp://x:1", False), ("nonsense", False), ("ipc://" + "x" * 200, False),
])
def test_endpoint_policy(ep, ok):
    assert (check_endpoint(ep) is None) == ok


@pytest.mark.parametrize("ep, ok", [
    ("tcp://127.0.0.1:5555", True), ("tcp://0.0.0.0:5560", True), ("tcp://[::1]:7", True),
    ("tcp://*:5555", True), ("tcp://host:65535", False), ("tcp://h:*", False),
    ("ipc:///tmp/x", False), ("tcp://nope", False),
])
def test_listen_policy(ep, ok):
    assert (check_endpoint(ep, tcp=True) is None) == ok


def test_tcp_bind_outside_listen_is_refused_with_reason():
    for host in ("0.0.0.0", "127.0.0.1"):
        p, ln, msg = one_error(MINIMAL + f'[server]\nevents = "tcp://{host}:7000"\n')
        assert (p, ln) == ("server.events", 7)
        assert "server.listen" in msg and "keys" in msg
    p, ln, msg = one_error(MINIMAL + '[server]\ncurve = {secret = "x"}\n')
    assert p == "server.curve"


def test_listen_needs_the_centre_store():
    p, _, msg = one_error(MINIMAL + '[server]\nlisten = "tcp://127.0.0.1:5560"\n')
    assert p == "server.listen" and "keys" in msg


def test_same_endpoint_twice():
    p, _, msg = one_error(MINIMAL + '[server]\nrequests = "ipc:///tmp/a"\nevents = "ipc:///tmp/a"\n')
    assert p == "server.events"


def test_long_home_is_refused():
    with pytest.raises(ConfigError) as e:
        parse_config(MINIMAL, home="/tmp/" + "d" * 120)
    assert "server.requests" in str(e.value) and "shorter --home" in str(e.value)


def test_phone_login_codes_and_their_errors():
    """[centre.phone_login]: the feature codes an agent dials at its phone (cti/centre/
    phones.py); a bad or repeated code names its key and line."""
    c = parse_config(DEFAULT_TOML)
    assert (c.centre.phone_login.login_code, c.centre.phone_login.logout_code) == ("*11", "*12")
    c = parse_config(DEFAULT_TOML + '\n[centre.phone_login]\nlogin_code = "*71"\n'
                     'ready_code = ""\ntries = 5\ndigit_timeout = 4\n')
    pl = c.centre.phone_login
    assert (pl.login_code, pl.ready_code, pl.tries, pl.digit_timeout) == ("*71", "", 5, 4.0)
    assert pl.code("*71") == "login" and pl.code("") is None
    lines = DEFAULT_TOML.count("\n")
    p, ln, msg = one_error(DEFAULT_TOML + '\n[centre.phone_login]\nlogin_code = "*1#"\n')
    assert (p, ln) == ("centre.phone_login.login_code", lines + 3) and "0-9 and *" in msg
    p, ln, msg = one_error(DEFAULT_TOML + '\n[centre.phone_login]\nlogout_code = "*11"\n')
    assert p == "centre.phone_login.logout_code" and "login_code already" in msg
    p, _, msg = one_error(DEFAULT_TOML + '\n[centre.phone_login]\ntries = 0\n')
    assert p == "centre.phone_login.tries"
