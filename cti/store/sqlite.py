"""The CTI store: CDRs, the queue log, the agent log, customers, recordings, voicemail,
callbacks and trunk occupancy, the dialer's campaigns (records, attempts) and the
do-not-call list, in one SQLite file through sqlite-utils.

Its methods live by the tables they serve, in mixins that :class:`Store` puts together:
cti/store/calls.py (CDRs, the queue and agent logs, recordings, voicemail, trunk samples),
outbound.py (callbacks, the dialer's campaigns, do-not-call), lookups.py (customers,
orders, the IVR's lookups), restarts.py (the server row, the calls in flight),
accounts.py (accounts, groups, passwords and PINs, lockout, the audit log) and keys.py
(the client keys of issue #16), with the
input checks they share in checks.py. Mixins, not one object per table, because every
table is written on the one connection, and a tick's writes to all of them go into one
transaction (:meth:`Store.batch`): one commit, one sync per tick. This module keeps the
connection, the schema and its migrations, and the batch.

ARCHITECTURE.md rule 5 ("nothing lost"): every write method commits before it returns,
so the centre writes the CDR (or queue log row) first and publishes the event that
reports it afterwards. A subscriber that saw the event can always find the row. Inside
:meth:`Store.batch` (the server wraps each board tick in one) the writes commit together
when the batch ends, still before any event of that tick goes out: one commit (one sync)
per tick rather than one per row.

Durability. The database runs in WAL mode (readers, such as ``cti report``, never block
the server's writes, and the server never blocks them). ``synchronous`` defaults to
``FULL``: SQLite then syncs the WAL at every commit, so a committed CDR survives a
power cut or a kernel crash, not just a crash of our process. ``NORMAL`` would only sync
at checkpoints: a committed row is still safe if the process dies, but the last
transactions can roll back on power loss, after their events went out, which would
break "nothing lost". The price is one fsync per call record, a fraction of a
millisecond on a local disk, against a peak of some 13 calls a second (785 a minute,
PRODUCT.md) - thousands of times below what FULL sustains (``bench/cti.py``). A
simulation that runs line time faster than real time, where power loss is moot, may
pass ``synchronous="NORMAL"``.

The server moves the wait for the disk off its tick: :meth:`Store.defer_sync` turns
the connection to ``synchronous=NORMAL`` without automatic checkpoints, and
:class:`cti.store.durable.WalSyncer` fsyncs the WAL after each commit on a thread of its own;
the server sends an event only once the writes before it are durable (cti/store/durable.py).

Bad input raises ``ValueError`` naming the field (``cdr.answer: must be a number``) and
writes nothing (ARCHITECTURE.md rule 6). Every text field is bounded
(:data:`MAX_TEXT`, :data:`MAX_DATA_BYTES` for attached data as JSON), whatever the
layers above let through: a string of a megabyte is refused, not stored.

Schema versions live in ``PRAGMA user_version``; :data:`MIGRATIONS` lists the steps.
Opening an older file upgrades it in place (each step in its own transaction, with the
new version number); opening a file written by a newer cti raises
:class:`StoreVersionError` and leaves it untouched.

Restarts (cti/server/recovery.py): the ``server`` row holds the server's name, its boot count and
its last sign of life; ``live_calls`` the calls in flight, so that a start closes what a
crash left open.

Times are floats: seconds of line time, which on a real board is the Unix epoch. The
``cdr`` table has a generated ``start_iso`` column (UTC) for people reading it with the
``sqlite3`` shell or ``sqlite-utils``.

The ``queue_log`` table follows Asterisk's queue_log (its event names and the meaning
of data1..data5): ``ENTERQUEUE`` url|callerid, ``CONNECT`` holdtime|bridged
channel|ringtime, ``COMPLETECALLER``/``COMPLETEAGENT`` holdtime|calltime|origposition,
``ABANDON`` position|origposition|waittime, ``EXITWITHTIMEOUT`` position|origposition|
waittime, ``RINGNOANSWER`` ringtime (milliseconds, as Asterisk writes it), ``TRANSFER``
extension|context|holdtime|calltime|origposition. Missing queue, agent or call id are
written ``NONE``, as Asterisk does, so :meth:`Store.queue_log_lines` gives a file that
Asterisk queue_log tools read.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Callable

import sqlite_utils

# The tables' parts of the store; their names stay importable from here, where importers
# have always found them.
from cti.store.accounts import AccountsMixin
from cti.store.accounts import migration as _v5_accounts
from cti.store.calls import (  # noqa: F401
    DIRECTIONS, OUTCOMES, QUEUE_EVENTS, _CDR_FIELDS, _CDR_INSERT, _TRUNK_SAMPLE_INSERT,
    CallsMixin, check_cdr)
from cti.store.checks import MAX_DATA_BYTES, MAX_TEXT  # noqa: F401
from cti.store.desk import DeskMixin, _v7_desk
from cti.store.keys import KeysMixin, _v6_keys
from cti.store.lookups import LOOKUPS, LookupsMixin  # noqa: F401
from cti.store.outbound import (  # noqa: F401
    ATTEMPT_OUTCOMES, CALLBACK_STATES, CAMPAIGN_MODES, CAMPAIGN_STATES, RECORD_STATES,
    OutboundMixin)
from cti.store.restarts import RestartsMixin, new_server_name  # noqa: F401

__all__ = [
    "Store", "StoreVersionError", "MIGRATIONS", "SCHEMA_VERSION", "OUTCOMES", "DIRECTIONS",
    "QUEUE_EVENTS", "LOOKUPS", "DB_NAME",
]

DB_NAME = "cti.db"


class StoreVersionError(RuntimeError):
    """The database was written by a newer cti than this one."""


# ---------------------------------------------------------------------------
# Schema migrations: MIGRATIONS[i] takes the schema from version i to i + 1.

def _v1_initial(db: sqlite_utils.Database) -> None:
    for sql in (
        """CREATE TABLE cdr (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL UNIQUE,
            direction TEXT NOT NULL,
            trunk TEXT,
            ani TEXT,
            dnis TEXT,
            start REAL NOT NULL,
            answer REAL,
            "end" REAL NOT NULL,
            duration REAL NOT NULL,
            billsec REAL NOT NULL,
            outcome TEXT NOT NULL,
            cause INTEGER,
            queue TEXT,
            agent TEXT,
            ivr_path TEXT,
            wait REAL,
            data TEXT,
            recording TEXT,
            start_iso TEXT GENERATED ALWAYS AS
                (strftime('%Y-%m-%dT%H:%M:%fZ', start, 'unixepoch')) VIRTUAL
        )""",
        "CREATE INDEX cdr_start ON cdr(start)",
        "CREATE INDEX cdr_agent ON cdr(agent, start)",
        "CREATE INDEX cdr_ani ON cdr(ani)",
        """CREATE TABLE queue_log (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            call_id TEXT NOT NULL,
            queue TEXT NOT NULL,
            agent TEXT NOT NULL,
            event TEXT NOT NULL,
            data1 TEXT, data2 TEXT, data3 TEXT, data4 TEXT, data5 TEXT
        )""",
        "CREATE INDEX queue_log_time ON queue_log(time)",
        "CREATE INDEX queue_log_call ON queue_log(call_id)",
        """CREATE TABLE agent_log (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            agent TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            extension TEXT
        )""",
        "CREATE INDEX agent_log_agent ON agent_log(agent, time)",
        """CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            phone TEXT,
            points INTEGER NOT NULL DEFAULT 0,
            email TEXT,
            area TEXT,
            notes TEXT
        )""",
        "CREATE INDEX customers_phone ON customers(phone)",
        """CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            customer_id INTEGER REFERENCES customers(id),
            status TEXT NOT NULL,
            amount REAL,
            updated REAL
        )""",
        "CREATE INDEX orders_customer ON orders(customer_id)",
        """CREATE TABLE recordings (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            path TEXT NOT NULL,
            start REAL NOT NULL,
            seconds REAL NOT NULL,
            channels INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE INDEX recordings_call ON recordings(call_id)",
        """CREATE TABLE voicemail (
            id INTEGER PRIMARY KEY,
            box TEXT NOT NULL,
            call_id TEXT,
            ani TEXT,
            path TEXT NOT NULL,
            seconds REAL NOT NULL,
            time REAL NOT NULL,
            heard INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX voicemail_box ON voicemail(box, time)",
    ):
        db.execute(sql)


def _v2_losses(db: sqlite_utils.Database) -> None:
    """For the loss report: wrap-up in the CDR, callbacks, and trunk occupancy."""
    for sql in (
        "ALTER TABLE cdr ADD COLUMN wrapup REAL",
        """CREATE TABLE callbacks (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL,
            queue TEXT,
            requested REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'requested',
            done REAL,
            call_id TEXT,
            callback_call_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX callbacks_state ON callbacks(state, requested)",
        "CREATE INDEX callbacks_requested ON callbacks(requested)",
        """CREATE TABLE exchange_stats (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            span TEXT NOT NULL,
            offered INTEGER NOT NULL,
            congested INTEGER NOT NULL
        )""",
        "CREATE INDEX exchange_stats_time ON exchange_stats(time)",
        """CREATE TABLE trunk_samples (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            span TEXT NOT NULL,
            busy INTEGER NOT NULL,
            total INTEGER NOT NULL
        )""",
        "CREATE INDEX trunk_samples_time ON trunk_samples(time)",
        "CREATE INDEX trunk_samples_span ON trunk_samples(span, time)",
    ):
        db.execute(sql)


def _v3_dialer(db: sqlite_utils.Database) -> None:
    """The outbound dialer: campaigns, their records and every dial attempt, the
    do-not-call list; and the after-call survey's key (1-5, NULL: none) in the CDR."""
    for sql in (
        "ALTER TABLE cdr ADD COLUMN survey INTEGER",
        """CREATE TABLE campaigns (
            name TEXT PRIMARY KEY,
            mode TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'stopped',
            created REAL NOT NULL,
            config TEXT NOT NULL
        )""",
        """CREATE TABLE campaign_records (
            id INTEGER PRIMARY KEY,
            campaign TEXT NOT NULL REFERENCES campaigns(name),
            name TEXT,
            number TEXT NOT NULL,
            data TEXT,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_outcome TEXT,
            next_at REAL,
            done REAL
        )""",
        "CREATE INDEX campaign_records_state ON campaign_records(campaign, state, id)",
        """CREATE TABLE campaign_attempts (
            id INTEGER PRIMARY KEY,
            campaign TEXT NOT NULL,
            record_id INTEGER NOT NULL,
            number TEXT NOT NULL,
            time REAL NOT NULL,
            agent TEXT,
            outcome TEXT NOT NULL,
            cause INTEGER,
            call_id TEXT
        )""",
        "CREATE INDEX campaign_attempts_record ON campaign_attempts(campaign, record_id, time)",
        """CREATE TABLE dnc (
            number TEXT PRIMARY KEY,
            added REAL NOT NULL,
            reason TEXT
        )""",
    ):
        db.execute(sql)


def _v4_restarts(db: sqlite_utils.Database) -> None:
    """Restarts on the same home: the server's identity and boot count (call ids are
    ``<server>-<boot>-<n>``, unique across restarts and across servers), its last sign of
    life, and the calls in flight, so that a restart after a crash closes their CDRs
    (``interrupted``, cause 41) with the times it knew (cti/server/recovery.py)."""
    for sql in (
        """CREATE TABLE server (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            name TEXT NOT NULL,
            boot INTEGER NOT NULL DEFAULT 0,
            started REAL,
            alive REAL
        )""",
        # an agent's last state (its last row) at a restart, without sorting its history
        "CREATE INDEX agent_log_agent_id ON agent_log(agent, id)",
        """CREATE TABLE live_calls (
            call_id TEXT PRIMARY KEY,
            direction TEXT NOT NULL,
            trunk TEXT,
            ani TEXT,
            dnis TEXT,
            start REAL NOT NULL,
            answer REAL,
            queue TEXT,
            queued REAL,
            wait REAL,
            agent TEXT,
            ivr_path TEXT,
            data TEXT,
            recording TEXT,
            state TEXT NOT NULL,
            updated REAL NOT NULL
        )""",
    ):
        db.execute(sql)


def _v8_cdr_reason(db: sqlite_utils.Database) -> None:
    """Why the centre cleared a call (``reason``: "time_limit") and the time limit that
    applied to it (``time_limit``, seconds from the answer: cti/centre/timelimits.py)."""
    for sql in ("ALTER TABLE cdr ADD COLUMN reason TEXT",
                "ALTER TABLE cdr ADD COLUMN time_limit REAL"):
        db.execute(sql)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1_initial, _v2_losses,
                                                             _v3_dialer, _v4_restarts,
                                                             _v5_accounts, _v6_keys,
                                                             _v7_desk, _v8_cdr_reason]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database, target: int | None = None,
            migrations: list | None = None) -> int:
    """Bring ``db`` up to ``target`` (default: the newest); returns the version it is at.

    Each step runs in its own transaction together with the new ``user_version``, so a
    step that fails leaves the file at the previous version.
    """
    steps = MIGRATIONS if migrations is None else migrations
    target = len(steps) if target is None else target
    version = schema_version(db)
    if version > len(steps):
        raise StoreVersionError(
            f"the database schema is version {version}, newer than this cti knows "
            f"(version {len(steps)}): upgrade cti, or use another --home")
    while version < target:
        with db.atomic():
            steps[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
        version += 1
    return version


class Store(CallsMixin, OutboundMixin, LookupsMixin, RestartsMixin, AccountsMixin,
            KeysMixin, DeskMixin):
    """The centre's SQLite database.

    ``Store(path)`` opens (creating it if needed) the file at ``path``; when ``path`` is
    a directory, the file is ``<path>/cti.db`` (the state directory, ``--home``).
    ``":memory:"`` gives a private in-memory database for tests. Use it from one
    thread (the server's loop); other processes open their own ``Store``.
    """

    def __init__(self, path: str | os.PathLike = ":memory:", *, synchronous: str = "FULL",
                 migrations: list | None = None, readonly: bool = False):
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous: must be FULL, NORMAL or EXTRA, got {synchronous!r}")
        if os.fspath(path) != ":memory:":
            p = Path(path)
            if p.is_dir():
                p = p / DB_NAME
            path = p
            if not readonly and not p.exists():
                # the customers' data: 0600 from the start, and SQLite gives the -wal and
                # -shm files the database's mode (issue #16)
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o600))
        self.path = path
        self.synchronous = synchronous
        self._batch_depth = 0
        # trunk samples of a batch, written in one statement when it ends (a busy
        # server samples on most ticks; a batch may span many)
        self._pending_samples: list[tuple] = []
        if readonly:
            # a reader beside the server (a report worker): no migration, no write
            conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
            self.db = sqlite_utils.Database(conn, execute_plugins=False)
            self.db.conn.execute("PRAGMA busy_timeout = 5000")
            self.version = schema_version(self.db)
            return
        self.db = sqlite_utils.Database(path, execute_plugins=False)
        try:
            conn = self.db.conn
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                # Refuse a newer file before touching it (enable_wal writes the header).
                version = schema_version(self.db)
                known = len(MIGRATIONS if migrations is None else migrations)
                if version > known:
                    raise StoreVersionError(
                        f"{path}: the database schema is version {version}, newer than this "
                        f"cti knows (version {known}): upgrade cti, or use another --home")
                self.db.enable_wal()
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            self.version = migrate(self.db, migrations=migrations)
        except BaseException:
            self.db.close()
            raise

    def defer_sync(self) -> None:
        """Leave the wait for the disk to :class:`cti.store.durable.WalSyncer`: commits append
        to the WAL without an fsync, and no checkpoint runs on this connection (the
        syncer runs them on its own). Only for a file in WAL mode."""
        conn = self.db.conn
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        # the WAL is cut back to this when it starts over after a checkpoint
        from cti.store.durable import CHECKPOINT_BYTES
        conn.execute(f"PRAGMA journal_size_limit = {CHECKPOINT_BYTES}")

    @property
    def written(self) -> int:
        """Rows written on this connection so far (the count the WAL syncer goes by)."""
        return self.db.conn.total_changes

    @classmethod
    def for_home(cls, home: str | os.PathLike, **kw) -> "Store":
        """The store of the state directory ``home`` (created if missing)."""
        Path(home).mkdir(parents=True, exist_ok=True)
        return cls(Path(home) / DB_NAME, **kw)

    @contextlib.contextmanager
    def batch(self):
        """One transaction for every write until the block ends (nested blocks join the
        outer one). What was written commits at the end even if the block raises: a row
        written is a row kept."""
        conn = self.db.conn
        if self._batch_depth == 0 and not conn.in_transaction:
            conn.execute("BEGIN")
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._write_samples()
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def _write_samples(self) -> None:
        if self._pending_samples:
            rows, self._pending_samples = self._pending_samples, []
            self.db.conn.executemany(_TRUNK_SAMPLE_INSERT, rows)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        return self.db.journal_mode

    def count(self, table: str) -> int:
        if table not in self.db.table_names():
            raise ValueError(f"table: no table {table!r}")
        return self.db[table].count
