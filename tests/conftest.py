"""Fixtures shared by test modules (pytest puts tests/ on sys.path)."""
from __future__ import annotations

import shutil
import tempfile

import pytest

import contract_check
from contract_check import (pytest_runtest_call, pytest_runtest_teardown,  # noqa: F401
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
    from test_centre_controls import Centre

    c = Centre(tmp_path / "home")
    c.req("agent.login", agent="1001")
    yield c
    c.close()
