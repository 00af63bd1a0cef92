"""cti/clients/cli/admin.py: ``cti admin agent|group|audit`` against an in-process server
(serve() in a thread, its hashing thread making real scrypt hashes)."""
from __future__ import annotations

import io
import json

import pytest

from cti.clients.cli import build_parser, main
from cti.clients.cli.admin import admin_subparsers


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_accounts_groups_and_the_audit_from_the_command_line(server, capsys, monkeypatch):
    home = ["--home", str(server.config.server.home)]
    rc, out, err = run(capsys, "admin", "agent", "add", "2001", "--display-name", "New One",
                       "--group", "service=2", *home)
    assert rc == 0, err
    assert "2001" in out and "service:2" in out and "cti admin agent passwd 2001" in out
    # the password from standard input (a script), never from the command line
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    rc, out, err = run(capsys, "admin", "agent", "passwd", "2001", "--password-stdin", *home)
    assert rc == 0 and "password set, PIN none" in out, err
    # or asked twice on the terminal: a PIN here
    answers = iter(["2468", "2468"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    rc, out, err = run(capsys, "admin", "agent", "passwd", "2001", "--pin", *home)
    assert rc == 0 and "password set, PIN set" in out, err
    answers = iter(["1111", "2222"])
    rc, _, err = run(capsys, "admin", "agent", "passwd", "2001", "--pin", *home)
    assert rc == 1 and "differ" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    rc, _, err = run(capsys, "admin", "agent", "passwd", "2001", "--password-stdin", *home)
    assert rc == 1 and "args.password" in err and "at least 8" in err
    rc, out, err = run(capsys, "admin", "agent", "list", "--json", *home)
    accounts = {a["name"]: a for a in json.loads(out)["accounts"]}
    assert accounts["2001"]["password_set"] and accounts["2001"]["pin_set"]
    assert "scrypt" not in out
    # the new agent is on the running roster: it logs in and is in the queue
    rc, out, err = run(capsys, "agents", "login", "2001", "--extension", "6", *home)
    assert rc == 0 and "agent 2001: ready at extension 6" in out, err
    rc, _, err = run(capsys, "admin", "agent", "remove", "2001", *home)
    assert rc == 1 and "logged in" in err
    rc, out, err = run(capsys, "admin", "agent", "modify", "1008", "--extension", "0",
                       "--disable", *home)
    assert rc == 0 and "disabled" in out, err
    rc, out, err = run(capsys, "admin", "group", "add", "french", "--kind", "skill", *home)
    assert rc == 0 and "group french (skill) added" in out, err
    rc, out, err = run(capsys, "admin", "group", "member", "french", "2001", "9", *home)
    assert rc == 0 and "2001:9" in out, err
    rc, out, _ = run(capsys, "admin", "group", "list", "--kind", "skill", *home)
    assert "french" in out and "2001:9" in out and "sales" not in out
    rc, out, err = run(capsys, "admin", "group", "remove", "french", *home)
    assert rc == 0, err
    rc, out, err = run(capsys, "admin", "audit", "--op", "admin.", "--since", "1h", *home)
    assert rc == 0, err
    assert "admin.agent.add" in out and "admin.group.remove" in out and "a-good" not in out
    rc, out, err = run(capsys, "admin", "audit", "--refused", "--json", *home)
    assert json.loads(out)["rows"] == []        # the owner on ipc is refused nothing
    with pytest.raises(SystemExit) as e:
        main(["admin", "audit", "--since", "yesterday", *home])
    assert e.value.code == 2 and "is not a time" in capsys.readouterr().err


def test_keys_can_hook_into_admin():
    """cti/clients/cli/keys.py adds ``cti admin key``: the admin group is made once,
    whoever asks first."""
    import argparse
    common = argparse.ArgumentParser(add_help=False)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    key = admin_subparsers(sub, common).add_parser("key")
    key.set_defaults(func="key")
    from cti.clients.cli import admin
    admin.add_parsers(sub, common)
    assert p.parse_args(["admin", "key"]).func == "key"
    assert p.parse_args(["admin", "audit"]).func is admin.cmd_audit
    with pytest.raises(SystemExit):
        build_parser().parse_args(["admin", "agent", "passwd", "1001", "--password", "x"])
