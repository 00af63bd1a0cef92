"""The CTI store: CDRs, the queue log, the agent log, customers, recordings, voicemail,
callbacks and trunk occupancy, the dialer's campaigns (records, attempts) and the
do-not-call list, in one SQLite file through sqlite-utils.

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

import json
import math
import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlite_utils

__all__ = [
    "Store", "StoreVersionError", "MIGRATIONS", "SCHEMA_VERSION", "OUTCOMES", "DIRECTIONS",
    "QUEUE_EVENTS", "LOOKUPS", "DB_NAME",
]

DB_NAME = "cti.db"

#: How an inbound (or outbound) call ended; exactly one per CDR.
OUTCOMES = (
    "answered",         # an agent (or the called party) answered
    "abandoned_queue",  # the caller hung up while waiting in a queue
    "abandoned_ivr",    # the caller hung up in the IVR menus
    "abandoned_ring",   # the caller hung up while an agent's phone rang
    "no_ivr_port",      # no free IVR port to answer the call
    "congestion",       # trunk congestion (all channels busy, Q.850 cause 34)
    "timeout",          # queue timeout with nowhere to overflow to
    "voicemail",        # the caller left (or was sent to) voicemail
    "callback",         # the caller left a number for a callback
    "failed",           # anything else that went wrong
    "busy",             # outbound/internal: the called party was busy
    "no_answer",        # outbound/internal: nobody answered
    "vacant",           # outbound: no such number (Q.850 cause 1, 22, 28)
    "interrupted",      # in flight when the server stopped; closed at its restart (cause 41)
)
DIRECTIONS = ("in", "out", "internal")

#: Asterisk's queue_log event names (app_queue, "Queue Logs" in the Asterisk docs).
QUEUE_EVENTS = frozenset({
    "ABANDON", "ADDMEMBER", "AGENTCALLED", "AGENTDUMP", "AGENTLOGIN", "AGENTLOGOFF",
    "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF", "ATTENDEDTRANSFER", "BLINDTRANSFER",
    "COMPLETEAGENT", "COMPLETECALLER", "CONFIGRELOAD", "CONNECT", "DID", "ENTERQUEUE",
    "EXITEMPTY", "EXITWITHKEY", "EXITWITHTIMEOUT", "INFO", "PAUSE", "PAUSEALL", "PENALTY",
    "QUEUESTART", "REMOVEMEMBER", "RINGCANCELED", "RINGNOANSWER", "SYSCOMPAT", "TRANSFER",
    "UNPAUSE", "UNPAUSEALL",
    # and the ACD's own (cti/centre/acd.py): a refused join, and a call taken out without a key
    "JOINEMPTY", "FULL", "REMOVED",
})

#: What the IVR may look up: table -> the columns it may key on.
LOOKUPS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "phone"),
    "orders": ("order_id", "customer_id"),
}

CALLBACK_STATES = ("requested", "dialling", "done", "failed", "cancelled")

#: The dialer (cti/centre/dialer.py): a campaign's mode and state, a record's state (pending and
#: dialling are live; done, failed, dnc, skipped are final), an attempt's outcome.
CAMPAIGN_MODES = ("preview", "progressive")
CAMPAIGN_STATES = ("stopped", "running", "paused", "finished")
RECORD_STATES = ("pending", "dialling", "done", "failed", "dnc", "skipped")
ATTEMPT_OUTCOMES = ("answered", "busy", "no_answer", "congestion", "vacant", "failed")


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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1_initial, _v2_losses,
                                                             _v3_dialer, _v4_restarts]
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


# ---------------------------------------------------------------------------
# Checking input (rule 6): every check names the field.

def _num(where: str, v: Any, *, none: bool = True, min: float | None = None) -> float | None:
    if v is None:
        if none:
            return None
        raise ValueError(f"{where}: required")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{where}: must be a number, got {type(v).__name__} {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{where}: must be a finite number, got {v!r}")
    if min is not None and v < min:
        raise ValueError(f"{where}: must be {min:g} or more, got {v!r}")
    return v


def _int(where: str, v: Any, *, none: bool = True, min: int | None = None,
         max: int | None = None) -> int | None:
    if v is None:
        if none:
            return None
        raise ValueError(f"{where}: required")
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{where}: must be an integer, got {type(v).__name__} {v!r}")
    if min is not None and v < min:
        raise ValueError(f"{where}: must be {min} or more, got {v!r}")
    if max is not None and v > max:
        raise ValueError(f"{where}: must be {max} or less, got {v!r}")
    return v


#: The longest text any field takes (names, numbers, reasons, paths), in characters.
MAX_TEXT = 4096
#: The most attached data (a CDR's, a campaign record's) may take as JSON, in bytes.
MAX_DATA_BYTES = 16 * 1024


def _str(where: str, v: Any, *, none: bool = True, choices: Iterable[str] | None = None,
         max_len: int = MAX_TEXT) -> str | None:
    if v is None:
        if none:
            return None
        raise ValueError(f"{where}: required")
    if not isinstance(v, str):
        raise ValueError(f"{where}: must be a string, got {type(v).__name__} {v!r:.80}")
    if len(v) > max_len:
        raise ValueError(f"{where}: {len(v)} characters, more than the {max_len} it takes")
    if not none and not v:
        raise ValueError(f"{where}: must not be empty")
    if choices is not None and v not in choices:
        raise ValueError(f"{where}: must be one of {', '.join(choices)}; got {v!r}")
    return v


def _data_size(where: str, text: str) -> None:
    if len(text) > MAX_DATA_BYTES:
        raise ValueError(f"{where}: {len(text)} bytes of JSON, more than the "
                         f"{MAX_DATA_BYTES} it takes")


def _span(where: str, v: Any) -> str:
    """A span number (1) or an analog trunk group name ("fxo"); stored as text."""
    if isinstance(v, bool) or not isinstance(v, (int, str)) or v == "":
        raise ValueError(f"{where}: must be a span number or a trunk group name, got {v!r}")
    return str(v)


def _unknown(table: str, record: dict, known: Iterable[str]) -> None:
    if not isinstance(record, dict):
        raise ValueError(f"{table}: a record must be a dict, got {type(record).__name__}")
    extra = sorted(set(record) - set(known), key=str)
    if extra:
        raise ValueError(f"{table}.{extra[0]}: no such field (fields: {', '.join(known)})")


_CDR_FIELDS = ("call_id", "direction", "trunk", "ani", "dnis", "start", "answer", "end",
               "duration", "billsec", "outcome", "cause", "queue", "agent", "ivr_path", "wait",
               "wrapup", "data", "recording", "survey")
_CDR_INSERT = ("INSERT INTO cdr (" + ", ".join(f'"{c}"' for c in _CDR_FIELDS) + ") VALUES ("
               + ", ".join("?" * len(_CDR_FIELDS)) + ")")


def check_cdr(record: dict) -> tuple:
    """Validate a CDR dict; returns the row's values in :data:`_CDR_FIELDS` order.

    ``duration`` defaults to end - start and ``billsec`` to end - answer (0 when the
    call was never answered).
    """
    _unknown("cdr", record, _CDR_FIELDS)
    r = record.get
    call_id = _str("cdr.call_id", r("call_id"), none=False)
    direction = _str("cdr.direction", r("direction"), none=False, choices=DIRECTIONS)
    start = _num("cdr.start", r("start"), none=False)
    end = _num("cdr.end", r("end"), none=False)
    if end < start:
        raise ValueError(f"cdr.end: {end!r} is before cdr.start {start!r}")
    answer = _num("cdr.answer", r("answer"))
    if answer is not None and not start <= answer <= end:
        raise ValueError(f"cdr.answer: {answer!r} is not between start {start!r} and end {end!r}")
    duration = _num("cdr.duration", r("duration"), min=0)
    duration = end - start if duration is None else duration
    billsec = _num("cdr.billsec", r("billsec"), min=0)
    if billsec is None:
        billsec = end - answer if answer is not None else 0.0
    outcome = _str("cdr.outcome", r("outcome"), none=False, choices=OUTCOMES)
    data = r("data")
    if data is not None:
        if not isinstance(data, dict):
            raise ValueError(f"cdr.data: must be a dict (the attached data), got "
                             f"{type(data).__name__}")
        try:
            data = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"cdr.data: not JSON-able ({e})") from None
        _data_size("cdr.data", data)
    ivr_path = r("ivr_path")
    if isinstance(ivr_path, (list, tuple)):
        if not all(isinstance(p, str) for p in ivr_path):
            raise ValueError("cdr.ivr_path: must be a string or a list of strings")
        ivr_path = "/".join(ivr_path)
    return (
        call_id, direction,
        _str("cdr.trunk", r("trunk")), _str("cdr.ani", r("ani")), _str("cdr.dnis", r("dnis")),
        start, answer, end, duration, billsec, outcome,
        _int("cdr.cause", r("cause"), min=0, max=127),
        _str("cdr.queue", r("queue")), _str("cdr.agent", r("agent")),
        _str("cdr.ivr_path", ivr_path, max_len=4 * MAX_TEXT),
        _num("cdr.wait", r("wait"), min=0), _num("cdr.wrapup", r("wrapup"), min=0),
        data, _str("cdr.recording", r("recording")),
        _int("cdr.survey", r("survey"), min=1, max=5),
    )


_CUSTOMER_FIELDS = ("id", "name", "phone", "points", "email", "area", "notes")
_ORDER_FIELDS = ("order_id", "customer_id", "status", "amount", "updated")


def _check_customer(i: int, c: dict) -> dict:
    w = f"customers[{i}]"
    _unknown(w, c, _CUSTOMER_FIELDS)
    out = {
        "name": _str(f"{w}.name", c.get("name"), none=False),
        "phone": _str(f"{w}.phone", c.get("phone")),
        "points": _int(f"{w}.points", c.get("points", 0), none=False),
        "email": _str(f"{w}.email", c.get("email")),
        "area": _str(f"{w}.area", c.get("area")),
        "notes": _str(f"{w}.notes", c.get("notes")),
    }
    if c.get("id") is not None:
        out["id"] = _int(f"{w}.id", c["id"], min=1)
    return out


def _check_order(i: int, o: dict) -> dict:
    w = f"orders[{i}]"
    _unknown(w, o, _ORDER_FIELDS)
    return {
        "order_id": _str(f"{w}.order_id", o.get("order_id"), none=False),
        "customer_id": _int(f"{w}.customer_id", o.get("customer_id"), min=1),
        "status": _str(f"{w}.status", o.get("status"), none=False),
        "amount": _num(f"{w}.amount", o.get("amount")),
        "updated": _num(f"{w}.updated", o.get("updated")),
    }


# ---------------------------------------------------------------------------

_TRUNK_SAMPLE_INSERT = "INSERT INTO trunk_samples (time, span, busy, total) VALUES (?,?,?,?)"


def _trunk_sample_row(time, span, busy, total) -> tuple:
    """One trunk_samples row, checked: busy of total channels of ``span`` from ``time``."""
    t = _num("trunk_samples.time", time, none=False)
    s = _span("trunk_samples.span", span)
    total = _int("trunk_samples.total", total, none=False, min=0)
    return t, s, _int("trunk_samples.busy", busy, none=False, min=0, max=total), total


class Store:
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

    # -- writes --------------------------------------------------------------

    def add_cdr(self, record: dict) -> int:
        """Write one call's CDR (committed on return); returns its row id.

        Fields: call_id (unique), direction (in/out/internal), start, end, outcome
        (:data:`OUTCOMES`) are required; trunk ("1/5", "fxo/9"), ani, dnis, answer,
        duration, billsec, cause (Q.850), queue, agent, ivr_path (a string, or a list
        of menu names joined with "/"), wait (seconds in queue), wrapup (seconds), data
        (the attached data, a dict), recording (a path) and survey (the caller's
        after-call rating, 1..5) are optional.
        """
        values = check_cdr(record)
        try:
            return self.db.execute(_CDR_INSERT, values).lastrowid
        except sqlite3.IntegrityError as e:
            if "call_id" in str(e):
                raise ValueError(f"cdr.call_id: {values[0]!r} already has a CDR") from None
            raise  # pragma: no cover

    def set_cdr_wrapup(self, call_id: str, agent: str, seconds: float) -> bool:
        """The agent's wrap-up after the call, in seconds, on the call's CDR (written when
        the wrap-up ends, after the CDR itself). False when no CDR of that call names
        that agent (the call went on to another agent)."""
        call_id = _str("cdr.call_id", call_id, none=False)
        agent = _str("cdr.agent", agent, none=False)
        seconds = _num("cdr.wrapup", seconds, none=False, min=0)
        cur = self.db.execute("UPDATE cdr SET wrapup = ? WHERE call_id = ? AND agent = ?",
                              (seconds, call_id, agent))
        return cur.rowcount > 0

    def log_queue(self, time: float, call_id: str | None, queue: str | None,
                  agent: str | None, event: str, *data: Any) -> int:
        """One queue_log row, Asterisk style: data1..data5 are written as text."""
        t = _num("queue_log.time", time, none=False)
        call_id = _str("queue_log.call_id", call_id) or "NONE"
        queue = _str("queue_log.queue", queue) or "NONE"
        agent = _str("queue_log.agent", agent) or "NONE"
        event = _str("queue_log.event", event, none=False)
        if event not in QUEUE_EVENTS:
            raise ValueError(f"queue_log.event: {event!r} is not an Asterisk queue_log event")
        if len(data) > 5:
            raise ValueError(f"queue_log.data6: at most 5 data fields, got {len(data)}")
        fields = []
        for i, d in enumerate(data, 1):
            if d is None:
                fields.append(None)
            elif isinstance(d, bool) or not isinstance(d, (str, int, float)):
                raise ValueError(f"queue_log.data{i}: must be a string or a number, got {d!r}")
            elif isinstance(d, float):
                if not math.isfinite(d):
                    raise ValueError(f"queue_log.data{i}: must be finite, got {d!r}")
                fields.append(str(int(d)) if d == int(d) else repr(d))
            else:
                fields.append(str(d))
        fields += [None] * (5 - len(fields))
        return self.db.execute(
            "INSERT INTO queue_log (time, call_id, queue, agent, event, data1, data2, data3,"
            " data4, data5) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (t, call_id, queue, agent, event, *fields)).lastrowid

    def log_agent(self, time: float, agent: str, state: str, reason: str | None = None,
                  extension: str | None = None) -> int:
        """One agent state change (login, ready, not_ready with a reason, wrapup, logout)."""
        row = (_num("agent_log.time", time, none=False),
               _str("agent_log.agent", agent, none=False),
               _str("agent_log.state", state, none=False),
               _str("agent_log.reason", reason), _str("agent_log.extension", extension))
        return self.db.execute(
            "INSERT INTO agent_log (time, agent, state, reason, extension) VALUES (?,?,?,?,?)",
            row).lastrowid

    def add_recording(self, call_id: str, path: str, start: float, seconds: float,
                      channels: int = 1) -> int:
        row = (_str("recordings.call_id", call_id, none=False),
               _str("recordings.path", path, none=False),
               _num("recordings.start", start, none=False),
               _num("recordings.seconds", seconds, none=False, min=0),
               _int("recordings.channels", channels, none=False, min=1, max=2))
        return self.db.execute(
            "INSERT INTO recordings (call_id, path, start, seconds, channels) VALUES (?,?,?,?,?)",
            row).lastrowid

    def add_voicemail(self, box: str, path: str, time: float, seconds: float, *,
                      call_id: str | None = None, ani: str | None = None) -> int:
        row = (_str("voicemail.box", box, none=False), _str("voicemail.call_id", call_id),
               _str("voicemail.ani", ani), _str("voicemail.path", path, none=False),
               _num("voicemail.seconds", seconds, none=False, min=0),
               _num("voicemail.time", time, none=False))
        return self.db.execute(
            "INSERT INTO voicemail (box, call_id, ani, path, seconds, time) VALUES (?,?,?,?,?,?)",
            row).lastrowid

    def mark_voicemail_heard(self, id: int, heard: bool = True) -> None:
        _int("voicemail.id", id, none=False)
        if not isinstance(heard, bool):
            raise ValueError(f"voicemail.heard: must be true or false, got {heard!r}")
        cur = self.db.execute("UPDATE voicemail SET heard = ? WHERE id = ?", (int(heard), id))
        if cur.rowcount == 0:
            raise ValueError(f"voicemail.id: no message {id}")

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

    def add_customers(self, rows: Iterable[dict]) -> int:
        """Add (or replace, by id) customer records; all or nothing. Returns the count."""
        checked = [_check_customer(i, c) for i, c in enumerate(rows)]
        if checked:
            with self.db.atomic():
                self.db["customers"].insert_all(checked, replace=True)
        return len(checked)

    def add_orders(self, rows: Iterable[dict]) -> int:
        """Add (or replace, by order_id) orders; all or nothing. Returns the count."""
        checked = [_check_order(i, o) for i, o in enumerate(rows)]
        if checked:
            try:
                with self.db.atomic():
                    self.db["orders"].insert_all(checked, replace=True)
            except sqlite3.IntegrityError as e:
                raise ValueError(f"orders.customer_id: no such customer ({e})") from None
        return len(checked)

    def trunk_sample(self, time: float, span: int | str, busy: int, total: int) -> int:
        """Trunk occupancy: from ``time`` on, ``busy`` of the span's ``total`` channels are
        in use (write one whenever the count changes; it holds until the next)."""
        row = _trunk_sample_row(time, span, busy, total)
        self._write_samples()                   # (after the batch's earlier samples)
        return self.db.execute(_TRUNK_SAMPLE_INSERT, row).lastrowid

    def trunk_samples_add(self, time: float, rows) -> None:
        """Several spans' samples at one ``time``: ``rows`` of (span, busy, total), each
        checked as :meth:`trunk_sample` checks one (all before any is written). Inside a
        :meth:`batch` they are written with the batch's other samples, in one statement
        as it ends (before it commits)."""
        values = [_trunk_sample_row(time, span, busy, total) for span, busy, total in rows]
        if not values:
            return
        if self._batch_depth:
            self._pending_samples += values
        else:
            with self.batch():
                self._pending_samples += values

    def exchange_count(self, time: float, span: int | str, offered: int, congested: int) -> int:
        """Counts the exchange reports for the period ending at ``time``: calls it
        offered towards the span and how many of them met congestion (all busy)."""
        t = _num("exchange_stats.time", time, none=False)
        s = _span("exchange_stats.span", span)
        offered = _int("exchange_stats.offered", offered, none=False, min=0)
        congested = _int("exchange_stats.congested", congested, none=False, min=0, max=offered)
        return self.db.execute(
            "INSERT INTO exchange_stats (time, span, offered, congested) VALUES (?,?,?,?)",
            (t, s, offered, congested)).lastrowid

    # -- reads ---------------------------------------------------------------

    def customer_by_phone(self, ani: str) -> dict | None:
        """The customer whose phone is ``ani`` (the screen pop), or None."""
        ani = _str("ani", ani, none=False)
        # (the connection's own cursor: a look-up per call offered, at a peak hundreds a
        # minute, and sqlite_utils' generator of dicts costs more than the look-up)
        cur = self.db.conn.execute(
            "SELECT * FROM customers WHERE phone = ? ORDER BY id LIMIT 1", (ani,))
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

    def lookup(self, table: str, key_column: str, value: Any) -> dict | None:
        """The IVR's database lookup: the first row of ``table`` whose ``key_column`` is
        ``value``, or None. Only the tables and columns in :data:`LOOKUPS`."""
        if table not in LOOKUPS:
            raise ValueError(f"table: {table!r} is not open to lookups "
                             f"(allowed: {', '.join(LOOKUPS)})")
        if key_column not in LOOKUPS[table]:
            raise ValueError(f"key_column: {table}.{key_column} is not open to lookups "
                             f"(allowed: {', '.join(LOOKUPS[table])})")
        if value is None or isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"value: must be a string or an integer, got {value!r}")
        return next(self.db.query(
            f'SELECT * FROM "{table}" WHERE "{key_column}" = ? LIMIT 1', (value,)), None)

    def cdr(self, call_id: str) -> dict | None:
        """The CDR of ``call_id`` (``data`` decoded), or None."""
        row = next(self.db.query("SELECT * FROM cdr WHERE call_id = ?", (call_id,)), None)
        return _decode_cdr(row) if row else None

    def cdrs(self, start: float, end: float, *, agent: str | None = None,
             limit: int | None = None) -> list[dict]:
        """CDRs of calls that started in [start, end), oldest first."""
        where, params = "start >= ? AND start < ?", [start, end]
        if agent is not None:
            where += " AND agent = ?"
            params.append(agent)
        sql = f"SELECT * FROM cdr WHERE {where} ORDER BY start, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_decode_cdr(r) for r in self.db.query(sql, params)]

    def agent_history(self, agent: str, limit: int = 20) -> list[dict]:
        """An agent's latest calls, newest first (the desktop's call history)."""
        return [_decode_cdr(r) for r in self.db.query(
            "SELECT * FROM cdr WHERE agent = ? ORDER BY start DESC, id DESC LIMIT ?",
            (agent, int(limit)))]

    def queue_log(self, start: float, end: float, event: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM queue_log WHERE time >= ? AND time < ?", [start, end]
        if event is not None:
            sql += " AND event = ?"
            params.append(event)
        return list(self.db.query(sql + " ORDER BY time, id", params))

    def queue_log_lines(self, start: float, end: float) -> Iterator[str]:
        """The queue log as Asterisk's text file: ``time|callid|queue|agent|event|data..``
        (trailing empty data fields dropped)."""
        for r in self.queue_log(start, end):
            data = [r[f"data{i}"] for i in range(1, 6)]
            while data and data[-1] is None:
                data.pop()
            t = r["time"]
            yield "|".join([str(int(t)) if t == int(t) else f"{t:.6f}", r["call_id"],
                            r["queue"], r["agent"], r["event"],
                            *("" if d is None else d for d in data)])

    def agent_log(self, agent: str | None = None) -> list[dict]:
        if agent is None:
            return list(self.db.query("SELECT * FROM agent_log ORDER BY time, id"))
        return list(self.db.query(
            "SELECT * FROM agent_log WHERE agent = ? ORDER BY time, id", (agent,)))

    def recordings(self, call_id: str) -> list[dict]:
        return list(self.db.query(
            "SELECT * FROM recordings WHERE call_id = ? ORDER BY start, id", (call_id,)))

    def voicemails(self, box: str, *, unheard: bool = False) -> list[dict]:
        sql = "SELECT * FROM voicemail WHERE box = ?" + (" AND heard = 0" if unheard else "")
        return list(self.db.query(sql + " ORDER BY time, id", (box,)))

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

    def exchange_stats(self, start: float, end: float) -> list[dict]:
        return list(self.db.query(
            "SELECT * FROM exchange_stats WHERE time >= ? AND time < ? ORDER BY time, id",
            (start, end)))

    def trunk_samples(self, start: float, end: float) -> list[dict]:
        """Samples in [start, end) plus, per span, the last one before ``start`` (the
        occupancy in force when the range begins)."""
        self._write_samples()
        before = self.db.query(
            "SELECT t.* FROM trunk_samples t JOIN (SELECT span, max(time) AS time FROM"
            " trunk_samples WHERE time < ? GROUP BY span) m ON t.span = m.span AND"
            " t.time = m.time ORDER BY t.time, t.id", (start,))
        last: dict[str, dict] = {}
        for r in before:  # ties at the same time: the later row wins
            last[r["span"]] = r
        inside = self.db.query(
            "SELECT * FROM trunk_samples WHERE time >= ? AND time < ? ORDER BY time, id",
            (start, end))
        return sorted(last.values(), key=lambda r: (r["time"], r["id"])) + list(inside)

    def count(self, table: str) -> int:
        if table not in self.db.table_names():
            raise ValueError(f"table: no table {table!r}")
        return self.db[table].count

    # -- restarts: the server's identity, its calls in flight (cti/server/recovery.py) ----

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


def _decode_cdr(row: dict) -> dict:
    if row.get("data") is not None:
        row["data"] = json.loads(row["data"])
    return row
