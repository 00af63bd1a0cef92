"""The server's log (cti/server/logs.py, issue #14 item 7): HOME/log/cti.log with the standard
library's logging, rotated, private, at the level ``--log-level`` or ``server.log_level``
asks for; what ``cti serve`` writes there (start, the line's alarms and D-channels, the
audited requests, stop) while stderr keeps its short start-up lines."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from cti.server import logs
from cti.server.config import ConfigError, parse_config
from tests.served import ROOT, cti_env


@pytest.fixture
def handlers():
    made = []
    yield made
    for h in made:
        logs.teardown(h)


def test_the_log_file_is_private_and_rotates(tmp_path, handlers):
    home = tmp_path / "home"
    handlers.append(logs.setup(home, "info", max_bytes=2000, backups=2))
    log = logging.getLogger("cti.centre")
    for n in range(200):
        log.info("line %d of the rotation test, padded to rotate soon %s", n, "x" * 40)
    d = home / "log"
    names = sorted(p.name for p in d.iterdir())
    assert names == ["cti.log", "cti.log.1", "cti.log.2"]           # two kept, no more
    assert all((d / n).stat().st_size <= 2000 for n in names)
    assert d.stat().st_mode & 0o777 == 0o700
    assert all((d / n).stat().st_mode & 0o777 == 0o600 for n in names)
    assert "line 199 of the rotation test" in (d / "cti.log").read_text()
    assert "line 0 of" not in "".join((d / n).read_text() for n in names)   # rotated away


def test_the_level_filters(tmp_path, handlers):
    handlers.append(logs.setup(tmp_path, "warning"))
    logging.getLogger("cti.server").info("an info line")
    logging.getLogger("cti.server").warning("a warning line")
    try:
        raise KeyError("x")
    except KeyError:
        logging.getLogger("cti.centre").exception("an error with its traceback")
    text = (tmp_path / "log" / "cti.log").read_text()
    assert "an info line" not in text
    assert "WARNING cti.server: a warning line" in text
    assert "ERROR cti.centre: an error with its traceback" in text
    assert "Traceback (most recent call last)" in text and "KeyError: 'x'" in text


def test_a_level_is_one_of_the_names():
    assert logs.level_of("DEBUG") == logging.DEBUG and logs.level_of("info") == logging.INFO
    with pytest.raises(ValueError, match="log level must be one of"):
        logs.level_of("loud")


def test_the_config_key_and_its_error():
    base = '[board]\nname = "b"\n[[board.spans]]\nnumber = 1\n'
    assert parse_config(base).server.log_level == "info"
    cfg = parse_config('[server]\nlog_level = "debug"\n' + base)
    assert cfg.server.log_level == "debug"
    with pytest.raises(ConfigError) as e:
        parse_config('[server]\nlog_level = "loud"\n' + base, "c.toml")
    assert "c.toml:2: server.log_level" in str(e.value)


def serve(home, *extra):
    return subprocess.run([sys.executable, "-m", "cti", "serve", "--home", str(home),
                           "--seconds", "1", "--speed", "5", *extra],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=cti_env())


def test_cti_serve_writes_its_log_at_the_level_asked(tmp_path):
    home = tmp_path / "home"
    p = serve(home)
    assert p.returncode == 0, p.stderr
    text = (home / "log" / "cti.log").read_text()
    assert "INFO cti.server: started: pid" in text
    assert "WARNING cti.server: span 1: alarm LOS raised" in text
    assert "INFO cti.server: span 1: alarm LOS,LOF,LOMF cleared" in text
    assert "INFO cti.server: span 1: D-channel up" in text
    assert "INFO cti.server: stopped at seq" in text
    # stderr keeps its short lines; the log's lines do not go there
    assert "cti serve: board sim0" in p.stderr and "cti.server" not in p.stderr
    assert (home / "log" / "cti.log").stat().st_mode & 0o777 == 0o600
    # --log-level warning: the start and the cleared alarms are left out
    home2 = tmp_path / "home2"
    p = serve(home2, "--log-level", "WARNING")
    assert p.returncode == 0, p.stderr
    text = (home2 / "log" / "cti.log").read_text()
    assert "span 1: alarm LOS raised" in text
    assert "started: pid" not in text and "cleared" not in text
    p = serve(tmp_path / "home3", "--log-level", "loud")
    assert p.returncode != 0 and "--log-level" in p.stderr
