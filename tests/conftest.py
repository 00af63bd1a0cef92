"""Fixtures shared by test modules (pytest puts tests/ on sys.path)."""
from __future__ import annotations

import pytest


@pytest.fixture
def centre_1001(tmp_path):
    """The default centre on the simulated world, agent 1001 logged in on FXS port 1."""
    from test_centre_controls import Centre

    c = Centre(tmp_path / "home")
    c.req("agent.login", agent="1001")
    yield c
    c.close()
