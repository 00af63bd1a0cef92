"""Fixtures shared by test modules. tests/ is a package mirroring the code (tests/server/ops/
test_calls.py tests cti/server/ops/calls.py); its helpers are imported as ``tests.served``,
``tests.inprocess``, ``tests.desk``, ``tests.audio``."""
from __future__ import annotations

import shutil
import tempfile

import pytest

from tests import contract_check
from tests.contract_check import (pytest_runtest_call, pytest_runtest_teardown,  # noqa: F401
                            pytest_terminal_summary)


def pytest_configure(config):
    """Every reply and event the tests see is checked against the contract."""
    contract_check.install()


@pytest.fixture(scope="session")
def default_prompts():
    """The default prompts made once (espeak-ng, sox) in a directory of their own, for tests
    whose configuration points at a prompts directory outside the home; read only."""
    from cti.centre.prompts import make_default_prompts

    path = tempfile.mkdtemp(prefix="test-prompts-")
    make_default_prompts(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def centre_1001(tmp_path):
    """The default centre on the simulated world, agent 1001 logged in on FXS port 1."""
    from tests.desk import Centre

    c = Centre(tmp_path / "home")
    c.req("agent.login", agent="1001")
    yield c
    c.close()


@pytest.fixture
def svc(tmp_path):
    """A Service on the simulated world, ticked by the test (tests/inprocess.py)."""
    from tests.inprocess import make_service

    s = make_service(tmp_path / "var")
    yield s
    s.world.close()


@pytest.fixture
def server(tmp_path):
    """An in-process server at five times real time, past its start-up alarms."""
    from tests.inprocess import InProcessServer

    with InProcessServer(tmp_path / "home", speed=5.0) as s:
        s.wait_in_sync()
        yield s


@pytest.fixture
def centre(tmp_path):
    """The default centre on the simulated world (tests/desk.py): agent 1001 logged in and
    ready on FXS port 1, agent 1002 logged in, not ready (a supervisor's desk)."""
    from tests.desk import Centre

    c = Centre(tmp_path / "home")
    c.req("agent.login", agent="1001")
    c.req("agent.login", agent="1002")
    c.req("agent.not_ready", agent="1002", reason="supervising")
    yield c
    c.close()
