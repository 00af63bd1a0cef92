"""Restarts on the same home (cti/server/recovery.py): the ``server`` row (the server's
name, its boot count, its last sign of life) and ``live_calls`` (the calls in flight), so
that a start closes what a crash left open; and the agents' last states and logins it
starts from. :class:`RestartsMixin` holds :class:`cti.store.sqlite.Store`'s methods for
these (see there why a mixin).
"""
from __future__ import annotations

import json
from typing import Any

from cti.store.calls import DIRECTIONS
from cti.store.checks import _num, _str, _unknown


class RestartsMixin:
    """The server row, the calls in flight, an agent's last state and login (a part of
    :class:`cti.store.sqlite.Store`: ``self.db``)."""

    def boot(self, time: float, name: str | None = None, *,
             new_name: str | None = None) -> tuple[str, int]:
        """A server starts on this store: count the boot and return ``(name, boot)``.

        The name is the server's identity, kept in the store from its first boot: servers
        that ship to one PostgreSQL tell their calls apart by it. A new store takes
        ``name``, else ``new_name``, else four random letters and digits; ``name`` given
        later renames it. The boot count only ever grows, so ``<name>-<boot>-<n>`` never
        repeats a call id on this home, whatever the name. Committed at once."""
        t = _num("server.started", time, none=False)
        if name is not None:
            name = _server_name(name)
        if new_name is not None:
            new_name = _server_name(new_name)
        row = self.db.execute("SELECT name, boot FROM server WHERE id = 1").fetchone()
        with self.db.atomic():
            if row is None:
                name = name or new_name or new_server_name()
                boot = 1
                self.db.execute("INSERT INTO server (id, name, boot, started, alive)"
                                " VALUES (1, ?, ?, ?, ?)", (name, boot, t, t))
            else:
                name, boot = name or row[0], row[1] + 1
                self.db.execute("UPDATE server SET name = ?, boot = ?, started = ?, alive = ?"
                                " WHERE id = 1", (name, boot, t, t))
        return name, boot

    def server(self) -> dict | None:
        """The server row: ``name``, ``boot``, ``started``, ``alive`` (None before a boot)."""
        return next(self.db.query("SELECT name, boot, started, alive FROM server"), None)

    def server_alive(self, time: float) -> None:
        """The server's last sign of life (a restart dates what a crash cut off by it)."""
        self.db.execute("UPDATE server SET alive = ? WHERE id = 1",
                        (_num("server.alive", time, none=False),))

    def live_call_put(self, record: dict) -> None:
        """A call in flight, as the centre knows it now (written whenever it changes, in
        the tick's transaction); see :data:`_LIVE_FIELDS`."""
        _unknown("live_calls", record, _LIVE_FIELDS)
        r = record.get
        data = r("data")
        if data is not None and not isinstance(data, str):
            try:
                data = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
            except (TypeError, ValueError) as e:
                raise ValueError(f"live_calls.data: not JSON-able ({e})") from None
        row = (_str("live_calls.call_id", r("call_id"), none=False),
               _str("live_calls.direction", r("direction"), none=False, choices=DIRECTIONS),
               _str("live_calls.trunk", r("trunk")), _str("live_calls.ani", r("ani")),
               _str("live_calls.dnis", r("dnis")),
               _num("live_calls.start", r("start"), none=False),
               _num("live_calls.answer", r("answer")), _str("live_calls.queue", r("queue")),
               _num("live_calls.queued", r("queued")), _num("live_calls.wait", r("wait"), min=0),
               _str("live_calls.agent", r("agent")), _str("live_calls.ivr_path", r("ivr_path")),
               data, _str("live_calls.recording", r("recording")),
               _str("live_calls.state", r("state"), none=False),
               _num("live_calls.updated", r("updated"), none=False))
        self.db.execute(_LIVE_INSERT, row)

    def live_call_end(self, call_id: str) -> None:
        """The call is over (its CDR is written in the same transaction)."""
        self.db.execute("DELETE FROM live_calls WHERE call_id = ?", (call_id,))

    def live_calls(self) -> list[dict]:
        """The calls in flight as last written, oldest first, each with ``has_cdr``: a
        CDR written outside a tick (a request that cleared the call) may have committed
        just before a crash took the tick that would have dropped the live row."""
        rows = list(self.db.query(
            "SELECT l.*, c.id IS NOT NULL AS has_cdr FROM live_calls l"
            " LEFT JOIN cdr c ON c.call_id = l.call_id ORDER BY l.start, l.call_id"))
        for r in rows:
            r["has_cdr"] = bool(r["has_cdr"])
            if r["data"] is not None:
                r["data"] = json.loads(r["data"])
        return rows

    def last_agent_state(self, agent: str) -> dict | None:
        """The agent's last agent_log row (the state the store recorded), or None: the
        last written, whatever its time says (line time run faster than the wall clock,
        or a clock set back, dates a run's rows after the next run's)."""
        return next(self.db.query(
            "SELECT * FROM agent_log WHERE agent = ? ORDER BY id DESC LIMIT 1",
            (_str("agent_log.agent", agent, none=False),)), None)

    def agent_logins(self, since: float) -> dict[str, float]:
        """Each agent's last AGENTLOGIN in the queue log from ``since`` on (when its
        session began): one look through the rows since then, on the time index."""
        return {r["agent"]: r["time"] for r in self.db.query(
            "SELECT q.agent, q.time FROM queue_log q JOIN (SELECT max(id) AS id FROM"
            " queue_log WHERE time >= ? AND event = 'AGENTLOGIN' GROUP BY agent) m"
            " ON q.id = m.id", (_num("queue_log.time", since, none=False),))}


_LIVE_FIELDS = ("call_id", "direction", "trunk", "ani", "dnis", "start", "answer", "queue",
                "queued", "wait", "agent", "ivr_path", "data", "recording", "state", "updated")
_LIVE_INSERT = ("INSERT OR REPLACE INTO live_calls (" + ", ".join(_LIVE_FIELDS) + ") VALUES ("
                + ", ".join("?" * len(_LIVE_FIELDS)) + ")")
_NAME_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"    # no 0/o, 1/l/i: read aloud, typed back


def new_server_name(seed: Any = None) -> str:
    """Four letters and digits: random, or drawn from ``seed`` (a simulation's name is
    part of the run its seed reproduces)."""
    if seed is None:
        import secrets
        return "".join(secrets.choice(_NAME_LETTERS) for _ in range(4))
    import random
    rng = random.Random(f"cti-server-{seed}")
    return "".join(rng.choice(_NAME_LETTERS) for _ in range(4))


def _server_name(name: Any) -> str:
    """A server's name goes into every call id (and recordings' file names): 1 to 12
    lower-case letters and digits."""
    name = _str("server.name", name, none=False)
    if len(name) > 12 or not all(c in "abcdefghijklmnopqrstuvwxyz0123456789" for c in name):
        raise ValueError(f"server.name: 1 to 12 lower-case letters and digits, got {name!r}")
    return name
