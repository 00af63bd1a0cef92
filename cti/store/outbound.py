"""The store's outbound side: callbacks a caller asked for, and the dialer's campaigns
(their records, every dial attempt) and the do-not-call list. :class:`OutboundMixin` holds
:class:`cti.store.sqlite.Store`'s methods for these tables (see there why a mixin).
"""
from __future__ import annotations

import json
import sqlite3
from typing import Iterable

from cti.store.checks import MAX_DATA_BYTES, _data_size, _int, _num, _str, _unknown

CALLBACK_STATES = ("requested", "dialling", "done", "failed", "cancelled")

#: The dialer (cti/centre/dialer.py): a campaign's mode and state, a record's state (pending and
#: dialling are live; done, failed, dnc, skipped are final), an attempt's outcome.
CAMPAIGN_MODES = ("preview", "progressive")
CAMPAIGN_STATES = ("stopped", "running", "paused", "finished")
RECORD_STATES = ("pending", "dialling", "done", "failed", "dnc", "skipped")
ATTEMPT_OUTCOMES = ("answered", "busy", "no_answer", "congestion", "vacant", "failed")


class OutboundMixin:
    """Callbacks, campaigns, campaign records and attempts, do-not-call (a part of
    :class:`cti.store.sqlite.Store`: ``self.db``)."""

    def add_callback(self, number: str, queue: str | None, requested: float, *,
                     call_id: str | None = None) -> int:
        """A caller asked to be called back on ``number``; returns the callback's id."""
        row = (_str("callbacks.number", number, none=False), _str("callbacks.queue", queue),
               _num("callbacks.requested", requested, none=False),
               _str("callbacks.call_id", call_id))
        return self.db.execute(
            "INSERT INTO callbacks (number, queue, requested, call_id) VALUES (?,?,?,?)",
            row).lastrowid

    def update_callback(self, id: int, *, state: str, done: float | None = None,
                        callback_call_id: str | None = None, attempt: bool = False) -> None:
        """Move a callback on: ``dialling`` (``attempt=True`` counts a dial attempt),
        ``done`` (the caller was reached; ``done`` is when), ``failed`` or ``cancelled``."""
        _int("callbacks.id", id, none=False)
        state = _str("callbacks.state", state, none=False, choices=CALLBACK_STATES)
        done = _num("callbacks.done", done)
        callback_call_id = _str("callbacks.callback_call_id", callback_call_id)
        if not isinstance(attempt, bool):
            raise ValueError(f"callbacks.attempt: must be true or false, got {attempt!r}")
        cur = self.db.execute(
            "UPDATE callbacks SET state = ?, done = coalesce(?, done),"
            " callback_call_id = coalesce(?, callback_call_id), attempts = attempts + ?"
            " WHERE id = ?", (state, done, callback_call_id, int(attempt), id))
        if cur.rowcount == 0:
            raise ValueError(f"callbacks.id: no callback {id}")

    # -- the dialer: campaigns, records, attempts, do-not-call ----------------

    def add_campaign(self, name: str, mode: str, config: dict, created: float) -> None:
        """A new campaign (state ``stopped``); ``config`` is its settings (retry rules,
        agents, timers) as a JSON-able dict."""
        name = _str("campaigns.name", name, none=False)
        mode = _str("campaigns.mode", mode, none=False, choices=CAMPAIGN_MODES)
        created = _num("campaigns.created", created, none=False)
        if not isinstance(config, dict):
            raise ValueError(f"campaigns.config: must be a dict, got {type(config).__name__}")
        try:
            text = json.dumps(config, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"campaigns.config: not JSON-able ({e})") from None
        if len(text) > 4 * MAX_DATA_BYTES:     # (its agents' list may be long)
            raise ValueError(f"campaigns.config: {len(text)} bytes of JSON, more than the "
                             f"{4 * MAX_DATA_BYTES} it takes")
        try:
            self.db.execute("INSERT INTO campaigns (name, mode, created, config) VALUES (?,?,?,?)",
                            (name, mode, created, text))
        except sqlite3.IntegrityError:
            raise ValueError(f"campaigns.name: campaign {name!r} already exists") from None

    def set_campaign_state(self, name: str, state: str) -> None:
        state = _str("campaigns.state", state, none=False, choices=CAMPAIGN_STATES)
        cur = self.db.execute("UPDATE campaigns SET state = ? WHERE name = ?",
                              (state, _str("campaigns.name", name, none=False)))
        if cur.rowcount == 0:
            raise ValueError(f"campaigns.name: no campaign {name!r}")

    def campaigns(self) -> list[dict]:
        """Every campaign (``config`` decoded), oldest first."""
        rows = list(self.db.query("SELECT * FROM campaigns ORDER BY created, name"))
        for r in rows:
            r["config"] = json.loads(r["config"])
        return rows

    def add_campaign_records(self, campaign: str, rows: Iterable[dict]) -> list[int]:
        """Load a campaign's list: each row has ``number`` (digits), and optionally ``name``
        and ``data`` (a dict shown to the agent and attached to the call); all or nothing.
        Returns the new records' ids, in order."""
        campaign = _str("campaign_records.campaign", campaign, none=False)
        checked = []
        for i, r in enumerate(rows):
            w = f"campaign_records[{i}]"
            _unknown(w, r, ("name", "number", "data"))
            number = _str(f"{w}.number", r.get("number"), none=False)
            if not number.isdigit():
                raise ValueError(f"{w}.number: a number is digits, got {number!r}")
            data = r.get("data")
            if data is not None and not isinstance(data, dict):
                raise ValueError(f"{w}.data: must be a dict, got {type(data).__name__}")
            try:
                data = None if data is None else json.dumps(data, sort_keys=True,
                                                            allow_nan=False)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{w}.data: not JSON-able ({e})") from None
            if data is not None:
                _data_size(f"{w}.data", data)
            checked.append((campaign, _str(f"{w}.name", r.get("name")), number, data))
        if not self.db.execute("SELECT 1 FROM campaigns WHERE name = ?", (campaign,)).fetchone():
            raise ValueError(f"campaign_records.campaign: no campaign {campaign!r}")
        ids = []
        with self.db.atomic():
            for row in checked:
                ids.append(self.db.execute(
                    "INSERT INTO campaign_records (campaign, name, number, data) VALUES (?,?,?,?)",
                    row).lastrowid)
        return ids

    def update_campaign_record(self, id: int, *, state: str, attempts: int,
                               last_outcome: str | None = None, next_at: float | None = None,
                               done: float | None = None) -> None:
        """A record moves on (after an attempt, a skip, the do-not-call check)."""
        _int("campaign_records.id", id, none=False)
        row = (_str("campaign_records.state", state, none=False, choices=RECORD_STATES),
               _int("campaign_records.attempts", attempts, none=False, min=0),
               _str("campaign_records.last_outcome", last_outcome, choices=ATTEMPT_OUTCOMES),
               _num("campaign_records.next_at", next_at),
               _num("campaign_records.done", done), id)
        cur = self.db.execute("UPDATE campaign_records SET state = ?, attempts = ?,"
                              " last_outcome = ?, next_at = ?, done = ? WHERE id = ?", row)
        if cur.rowcount == 0:
            raise ValueError(f"campaign_records.id: no record {id}")

    def campaign_records(self, campaign: str, state: str | None = None) -> list[dict]:
        """A campaign's records in list order (``data`` decoded)."""
        sql, params = "SELECT * FROM campaign_records WHERE campaign = ?", [campaign]
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        rows = list(self.db.query(sql + " ORDER BY id", params))
        for r in rows:
            if r["data"] is not None:
                r["data"] = json.loads(r["data"])
        return rows

    def add_attempt(self, campaign: str, record_id: int, number: str, time: float,
                    outcome: str, *, agent: str | None = None, cause: int | None = None,
                    call_id: str | None = None) -> int:
        """One dial attempt and its call-progress result (``cause``: Q.850)."""
        row = (_str("campaign_attempts.campaign", campaign, none=False),
               _int("campaign_attempts.record_id", record_id, none=False, min=1),
               _str("campaign_attempts.number", number, none=False),
               _num("campaign_attempts.time", time, none=False),
               _str("campaign_attempts.agent", agent),
               _str("campaign_attempts.outcome", outcome, none=False, choices=ATTEMPT_OUTCOMES),
               _int("campaign_attempts.cause", cause, min=0, max=127),
               _str("campaign_attempts.call_id", call_id))
        return self.db.execute(
            "INSERT INTO campaign_attempts (campaign, record_id, number, time, agent, outcome,"
            " cause, call_id) VALUES (?,?,?,?,?,?,?,?)", row).lastrowid

    def attempts(self, campaign: str, record_id: int | None = None) -> list[dict]:
        sql, params = "SELECT * FROM campaign_attempts WHERE campaign = ?", [campaign]
        if record_id is not None:
            sql += " AND record_id = ?"
            params.append(record_id)
        return list(self.db.query(sql + " ORDER BY time, id", params))

    def dnc_add(self, number: str, added: float, reason: str | None = None) -> bool:
        """Put ``number`` on the do-not-call list; False when it was already there."""
        number = _str("dnc.number", number, none=False)
        if not number.isdigit():
            raise ValueError(f"dnc.number: a number is digits, got {number!r}")
        cur = self.db.execute("INSERT OR IGNORE INTO dnc (number, added, reason) VALUES (?,?,?)",
                              (number, _num("dnc.added", added, none=False),
                               _str("dnc.reason", reason)))
        return cur.rowcount == 1

    def dnc_remove(self, number: str) -> bool:
        number = _str("dnc.number", number, none=False)
        return self.db.execute("DELETE FROM dnc WHERE number = ?", (number,)).rowcount == 1

    def dnc(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM dnc ORDER BY number"))

    def callbacks(self, state: str | None = None) -> list[dict]:
        if state is None:
            return list(self.db.query("SELECT * FROM callbacks ORDER BY requested, id"))
        return list(self.db.query(
            "SELECT * FROM callbacks WHERE state = ? ORDER BY requested, id", (state,)))

    def callbacks_after(self, id: int, states: Iterable[str] = ("requested",)) -> list[dict]:
        """Callbacks newer than callback ``id`` in one of ``states``, oldest request first
        (the dialer's look for new requests)."""
        _int("callbacks.id", id, none=False, min=0)
        states = [_str("callbacks.state", st, none=False, choices=CALLBACK_STATES)
                  for st in states]
        marks = ",".join("?" * len(states))
        return list(self.db.query(
            f"SELECT * FROM callbacks WHERE id > ? AND state IN ({marks})"
            " ORDER BY requested, id", (id, *states)))

    def callbacks_requested(self, start: float, end: float) -> list[dict]:
        return list(self.db.query(
            "SELECT * FROM callbacks WHERE requested >= ? AND requested < ?"
            " ORDER BY requested, id", (start, end)))
