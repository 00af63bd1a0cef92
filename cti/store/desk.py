"""The agent's desk (issue #17): direct messages between agents, the address book
(personal and shared, with speed-dial codes), the customer's record kept by the desk, its
contact history, and the wrap-up code and note of a call on its CDR. :class:`DeskMixin`
holds :class:`cti.store.sqlite.Store`'s methods for these (see there why a mixin).

Every input is checked before anything is written: bad input raises ``ValueError``
naming the field (``message.text: 1200 characters, more than the 1000 it takes``) and
stores nothing. What grows is bounded: a message's text (:data:`MAX_MESSAGE`), an
agent's inbox (:data:`MAX_INBOX`), a book (:data:`MAX_BOOK` entries per owner).
"""
from __future__ import annotations

import re
import sqlite3

from cti.store.checks import _int, _num, _str, _unknown
from cti.store.lookups import _check_customer

#: characters of a direct message
MAX_MESSAGE = 1000
#: messages an agent's inbox holds: a message to a full inbox drops the recipient's oldest
#: message already read; an inbox full of unread messages refuses more
MAX_INBOX = 200
#: entries of one book (an agent's own, or the shared one)
MAX_BOOK = 500
#: characters of a book entry's notes, and of a wrap-up note
MAX_NOTES = 1000
#: the owner of the shared book (agents' books are keyed by the agent's id)
SHARED = ""
#: a speed-dial code: one to three digits
SPEED = re.compile(r"[0-9]{1,3}")
#: contacts the screen pop carries with the customer
CONTACTS = 5
_AGENT = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")


def _v7_desk(db) -> None:
    """The desk's tables (issue #17): ``messages``, ``book``; the CDR's wrap-up code and
    note."""
    for sql in (
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            text TEXT NOT NULL,
            read REAL
        )""",
        "CREATE INDEX messages_recipient ON messages(recipient, read, id)",
        """CREATE TABLE book (
            id INTEGER PRIMARY KEY,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            number TEXT NOT NULL,
            notes TEXT,
            speed TEXT,
            UNIQUE (owner, speed)
        )""",
        "CREATE INDEX book_owner ON book(owner, name)",
        "ALTER TABLE cdr ADD COLUMN wrapup_code TEXT",
        "ALTER TABLE cdr ADD COLUMN wrapup_note TEXT",
        # the contact history: a customer's calls in (ani) and out (dnis)
        "CREATE INDEX cdr_dnis_out ON cdr(dnis) WHERE direction = 'out'",
    ):
        db.execute(sql)


def _agent(where: str, v) -> str:
    v = _str(where, v, none=False, max_len=64)
    if not _AGENT.fullmatch(v):
        raise ValueError(f"{where}: {v!r}: an agent id is 1 to 64 letters, digits, '_', '.', "
                         "'@', '-'")
    return v


def _number(where: str, v) -> str:
    v = _str(where, v, none=False, max_len=32)
    digits = v[1:] if v.startswith("+") else v
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"{where}: {v!r}: a telephone number is digits with an optional "
                         "leading +")
    return v


def _speed(where: str, v) -> str | None:
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    v = _str(where, v)
    if not SPEED.fullmatch(v):
        raise ValueError(f"{where}: {v!r}: a speed-dial code is 1 to 3 digits")
    return v


_MSG_COLS = "id, time, sender, recipient, text, read"
_BOOK_COLS = "id, owner, name, number, notes, speed"


def _message(r) -> dict:
    return dict(zip(("id", "time", "sender", "recipient", "text", "read"), r))


def _entry(r) -> dict:
    d = dict(zip(("id", "owner", "name", "number", "notes", "speed"), r))
    d["shared"] = d.pop("owner") == SHARED
    return d


class DeskMixin:
    """Messages, the book, customers kept by the desk, contact history and wrap-up (a
    part of :class:`cti.store.sqlite.Store`: ``self.db``)."""

    # ---- direct messages ---------------------------------------------------------------

    def message_send(self, time: float, sender: str, recipient: str, text: str) -> dict:
        """Store a message for ``recipient``; returns it. A full inbox drops its oldest
        read message; full of unread ones, the message is refused (``OverflowError``)."""
        t = _num("message.time", time, none=False)
        sender = _agent("message.sender", sender)
        recipient = _agent("message.recipient", recipient)
        text = _str("message.text", text, none=False, max_len=MAX_MESSAGE)
        if not text.strip():
            raise ValueError("message.text: must not be blank")
        conn = self.db.conn
        with self.db.atomic():
            n = conn.execute("SELECT count(*) FROM messages WHERE recipient = ?",
                             (recipient,)).fetchone()[0]
            if n >= MAX_INBOX:
                old = conn.execute("SELECT id FROM messages WHERE recipient = ? AND read IS "
                                   "NOT NULL ORDER BY id LIMIT ?",
                                   (recipient, n - MAX_INBOX + 1)).fetchall()
                if len(old) < n - MAX_INBOX + 1:
                    raise OverflowError(f"message.recipient: the inbox of {recipient} holds "
                                        f"{MAX_INBOX} unread messages, the most it takes")
                conn.executemany("DELETE FROM messages WHERE id = ?", old)
            cur = conn.execute("INSERT INTO messages (time, sender, recipient, text) "
                               "VALUES (?, ?, ?, ?)", (t, sender, recipient, text))
        return {"id": cur.lastrowid, "time": t, "sender": sender, "recipient": recipient,
                "text": text, "read": None}

    def messages(self, recipient: str, *, unread: bool = False,
                 limit: int = MAX_INBOX) -> list[dict]:
        """An agent's inbox: unread messages first, each part newest first."""
        recipient = _agent("message.recipient", recipient)
        limit = _int("limit", limit, none=False, min=1, max=MAX_INBOX)
        sql = f"SELECT {_MSG_COLS} FROM messages WHERE recipient = ?"
        if unread:
            sql += " AND read IS NULL"
        sql += " ORDER BY read IS NOT NULL, id DESC LIMIT ?"
        return [_message(r) for r in self.db.conn.execute(sql, (recipient, limit))]

    def message_unread(self, recipient: str) -> int:
        return self.db.conn.execute("SELECT count(*) FROM messages WHERE recipient = ? AND "
                                    "read IS NULL", (recipient,)).fetchone()[0]

    def message_read(self, time: float, recipient: str, id: int) -> dict:
        """Mark message ``id`` of ``recipient``'s inbox read (``LookupError``: not there,
        another agent's message included); returns it."""
        t = _num("message.time", time, none=False)
        recipient = _agent("message.recipient", recipient)
        id = _int("message.id", id, none=False, min=1)
        conn = self.db.conn
        with self.db.atomic():
            conn.execute("UPDATE messages SET read = ? WHERE id = ? AND recipient = ? AND "
                         "read IS NULL", (t, id, recipient))
            row = conn.execute(f"SELECT {_MSG_COLS} FROM messages WHERE id = ? AND "
                               "recipient = ?", (id, recipient)).fetchone()
        if row is None:
            raise LookupError(f"message.id: no message {id} in the inbox of {recipient}")
        return _message(row)

    # ---- the address book --------------------------------------------------------------

    def book_add(self, owner: str, name: str, number: str, notes: str | None = None,
                 speed=None) -> dict:
        """Add an entry to ``owner``'s book (:data:`SHARED`: the shared one); a
        speed-dial code is unique in its book."""
        owner = SHARED if owner == SHARED else _agent("book.owner", owner)
        row = (owner, _str("book.name", name, none=False, max_len=128),
               _number("book.number", number), _str("book.notes", notes, max_len=MAX_NOTES),
               _speed("book.speed", speed))
        conn = self.db.conn
        with self.db.atomic():
            n = conn.execute("SELECT count(*) FROM book WHERE owner = ?", (owner,)).fetchone()[0]
            if n >= MAX_BOOK:
                raise OverflowError(f"book.owner: the book holds {MAX_BOOK} entries, the most "
                                    "it takes")
            try:
                cur = conn.execute("INSERT INTO book (owner, name, number, notes, speed) "
                                   "VALUES (?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise ValueError(f"book.speed: the code {row[4]} is taken in this book") \
                    from None
        return _entry((cur.lastrowid,) + row)

    def book(self, owner: str) -> list[dict]:
        """The entries an agent sees: its own, then the shared ones, each by name."""
        owner = _agent("book.owner", owner)
        return [_entry(r) for r in self.db.conn.execute(
            f"SELECT {_BOOK_COLS} FROM book WHERE owner IN (?, ?) ORDER BY owner = ?, name, id",
            (owner, SHARED, SHARED))]

    def book_entry(self, id: int) -> dict | None:
        id = _int("book.id", id, none=False, min=1)
        r = self.db.conn.execute(f"SELECT {_BOOK_COLS} FROM book WHERE id = ?", (id,)).fetchone()
        if r is None:
            return None
        e = _entry(r)
        e["owner"] = r[1]
        return e

    def book_remove(self, id: int) -> dict:
        """Remove entry ``id`` (``LookupError``: none)."""
        e = self.book_entry(id)
        if e is None:
            raise LookupError(f"book.id: no entry {id}")
        with self.db.atomic():
            self.db.conn.execute("DELETE FROM book WHERE id = ?", (id,))
        return e

    def speed_dial(self, owner: str, code) -> dict | None:
        """The entry of speed-dial ``code`` for ``owner``: its own book's first, else the
        shared book's."""
        owner = _agent("book.owner", owner)
        code = _speed("book.speed", code)
        r = self.db.conn.execute(
            f"SELECT {_BOOK_COLS} FROM book WHERE speed = ? AND owner IN (?, ?) "
            "ORDER BY owner = ? LIMIT 1", (code, owner, SHARED, SHARED)).fetchone()
        return None if r is None else _entry(r)

    # ---- customers ---------------------------------------------------------------------

    def customer(self, id: int) -> dict | None:
        id = _int("customer.id", id, none=False, min=1)
        return next(self.db.query("SELECT * FROM customers WHERE id = ?", (id,)), None)

    def customer_add(self, record: dict) -> dict:
        """Add one customer (its id chosen by the store unless given and free)."""
        try:
            c = _check_customer(0, record)
        except ValueError as e:
            raise ValueError(str(e).replace("customers[0]", "customer")) from None
        try:
            with self.db.atomic():
                cur = self.db.conn.execute(
                    f"INSERT INTO customers ({', '.join(c)}) VALUES "
                    f"({', '.join('?' * len(c))})", tuple(c.values()))
        except sqlite3.IntegrityError:
            raise ValueError(f"customer.id: {c.get('id')} is taken") from None
        return self.customer(cur.lastrowid)

    def customer_modify(self, id: int, changes: dict) -> dict:
        """Change the fields given of customer ``id`` (``LookupError``: none)."""
        id = _int("customer.id", id, none=False, min=1)
        _unknown("customer", changes, ("name", "phone", "points", "email", "area", "notes"))
        old = self.customer(id)
        if old is None:
            raise LookupError(f"customer.id: no customer {id}")
        merged = {k: v for k, v in old.items() if k != "id"}
        merged.update(changes)
        try:
            c = _check_customer(0, merged)
        except ValueError as e:
            raise ValueError(str(e).replace("customers[0]", "customer")) from None
        with self.db.atomic():
            self.db.conn.execute(
                f"UPDATE customers SET {', '.join(f'{k} = ?' for k in c)} WHERE id = ?",
                (*c.values(), id))
        return self.customer(id)

    def customer_remove(self, id: int) -> dict:
        """Delete customer ``id``; refused (``ValueError``) while orders name it."""
        old = self.customer(id)
        if old is None:
            raise LookupError(f"customer.id: no customer {id}")
        n = self.db.conn.execute("SELECT count(*) FROM orders WHERE customer_id = ?",
                                 (old["id"],)).fetchone()[0]
        if n:
            raise ValueError(f"customer.id: customer {id} has {n} order(s): they name it")
        with self.db.atomic():
            self.db.conn.execute("DELETE FROM customers WHERE id = ?", (old["id"],))
        return old

    def contact_history(self, number: str, limit: int = CONTACTS) -> list[dict]:
        """Every call with ``number`` (from it, or to it), newest first: when, which way,
        the agent, the outcome, the talk time and the wrap-up code and note."""
        number = _str("number", number, none=False)
        limit = _int("limit", limit, none=False, min=1, max=1000)
        cur = self.db.conn.execute(
            "SELECT call_id, start, direction, agent, queue, outcome, billsec, wrapup_code, "
            "wrapup_note FROM cdr WHERE ani = ? OR (direction = 'out' AND dnis = ?) "
            "ORDER BY start DESC, id DESC LIMIT ?", (number, number, limit))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    # ---- wrap-up -----------------------------------------------------------------------

    def set_cdr_wrapup_code(self, call_id: str, agent: str | None, code: str,
                            note: str | None = None) -> dict:
        """The wrap-up code and note of the call ``call_id`` (the agent's, unless
        ``agent`` is None: a supervisor's), on its CDR (``LookupError``: no such CDR)."""
        call_id = _str("cdr.call_id", call_id, none=False, max_len=128)
        code = _str("cdr.wrapup_code", code, none=False, max_len=64)
        note = _str("cdr.wrapup_note", note, max_len=MAX_NOTES)
        agent = None if agent is None else _agent("cdr.agent", agent)
        sql, params = "UPDATE cdr SET wrapup_code = ?, wrapup_note = ? WHERE call_id = ?", \
            [code, note, call_id]
        if agent is not None:
            sql += " AND agent = ?"
            params.append(agent)
        with self.db.atomic():
            n = self.db.conn.execute(sql, params).rowcount
        if not n:
            raise LookupError(f"cdr.call_id: no CDR of call {call_id}"
                              + (f" taken by agent {agent}" if agent else ""))
        return {"call_id": call_id, "code": code, "note": note}
