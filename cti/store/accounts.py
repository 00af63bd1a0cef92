"""People and rights (issue #16): accounts, groups, secrets and the audit log.
:class:`AccountsMixin` holds :class:`cti.store.sqlite.Store`'s methods for these tables
(see there why a mixin).

Accounts. One row per person or program that logs in: ``name`` (the login; an agent's is
its agent number), ``role`` (:data:`ROLES`, as cti/server/auth.py names them), a display
name, the agent number it is bound to (an agent's own number; a supervisor who also takes
calls may have one; unique), the extension it is bound to (an FXS port; NULL: free
seating, the agent gives one at login; unique: one agent per extension), whether it is
disabled, when it was created and changed, and its secrets.

Groups. A group has a name and a kind (a queue and a skill may share a name: "sales"):
``queue`` (an ACD queue's members) or ``skill``
(an agent's skill, as cti/centre/acd AgentConfig.skills). A membership binds an account to
a group with a level 1..10. Its meaning is the kind's: for a skill, the skill's level (10
is the most able, as the ACD reads required_skills); for a queue, the order agents are
tried in, 1 first (app_queue's penalty plus one).

Secrets. A password (desktops, the CLI, the web pages) and a PIN (the phone login by DTMF)
are kept as scrypt hashes (RFC 7914, :func:`hashlib.scrypt`, memory-hard), each with its
own random 16-byte salt and its parameters, written ``scrypt$N$r$p$salt$hash`` (base64),
so the parameters can be raised later: an old hash still verifies with the parameters
it was made with. Compared with :func:`hmac.compare_digest`.

Parameters: N = 2**14, r = 8, p = 1 (16 MiB of memory per hash), RFC 7914's and the
scrypt paper's interactive-login setting. Measured on this project's 2-core machine: 41 ms
per hash (median of 20; 40-53 ms) with the machine lightly loaded, 50-100 ms under the
test suite's load (tests/store/test_accounts.py test_one_hash_costs_more_than_a_tick), so
two to five ticks of 20 ms: a hash never runs on the tick. The store has the pieces for that
(:meth:`AccountsMixin.secret_begin` reads what is needed on the loop,
:func:`secret_matches` hashes anywhere, with no store, and
:meth:`AccountsMixin.secret_end` counts the outcome on the loop); the server runs the middle
one on a thread of its own, at most one hash at a time with a bounded queue
(cti/server/ops/accounts.py :class:`~cti.server.ops.accounts.Hashing`), and CPython's
scrypt releases the GIL, so the tick goes on while a hash is made. A locked account
is refused before any hash is made, so a flood of wrong passwords costs at most
``max_failures`` hashes per account and window. :meth:`AccountsMixin.verify_secret`
does the three in one call, on the caller's thread, for callers that are off the tick.

Lockout: ``max_failures`` (5) wrong secrets within ``failure_window`` seconds (900) lock
the account for ``lockout_seconds`` (900); a right secret resets the count. Password and
PIN share the count: a PIN guesser cannot switch to the password to go on. The server
sets them from the configuration's ``[server] login_failures`` and ``lockout_seconds``
(the window and the lock the same length).

The audit log (``audit``): who (name, role, from where), what (the operation and its
arguments, secrets never written), when, and a refusal's reason (NULL: done). Bounded:
rows older than ``audit_days`` (90) are purged, and at most ``audit_max_rows`` (1,000,000)
are kept (the oldest go first): a flood of refusals cannot fill the disk
(``[server] audit_days`` sets the days). The purge runs
on the insert, at most once per ``AUDIT_PURGE_EVERY`` rows.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
from typing import Any, Iterable

from cti.store.checks import MAX_DATA_BYTES, _int, _num, _str

__all__ = ["AccountsMixin", "ROLES", "GROUP_KINDS", "SECRET_KINDS", "VERIFY_RESULTS",
           "SCRYPT_N", "SCRYPT_R", "SCRYPT_P", "hash_secret", "secret_matches",
           "check_password", "check_pin"]

#: the roles of cti/server/auth.py (ROLES), which the store cannot import (tests compare)
ROLES = ("agent", "supervisor", "admin", "integrator")
GROUP_KINDS = ("queue", "skill")
SECRET_KINDS = ("password", "pin")
VERIFY_RESULTS = ("ok", "bad", "locked", "unknown")

# RFC 7914 section 2 / the scrypt paper's interactive login: 16 MiB, about 40-100 ms here
SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# what a stored hash may ask for, at most (a row edited by hand must not take the memory)
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024

MIN_PASSWORD = 8
MAX_SECRET = 256
AUDIT_PURGE_EVERY = 1000

_FIELDS = ("name", "role", "display_name", "agent", "extension", "disabled", "failed",
           "locked_until", "created", "changed")


def hash_secret(secret: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
                salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``secret`` (UTF-8), with a random salt. Slow on
    purpose (see the module doc): never on the tick."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    h = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p,
                       maxmem=MAX_SCRYPT_MEMORY, dklen=HASH_BYTES)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(h).decode()}"


def secret_matches(secret: str, stored: str | None) -> bool:
    """Does ``secret`` hash to ``stored`` (with the parameters and salt kept in it)? Needs
    no store: safe on any thread. A malformed ``stored`` never matches."""
    if not stored or not isinstance(secret, str):
        return False
    try:
        kind, n, r, p, salt, h = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        salt, h = base64.b64decode(salt), base64.b64decode(h)
        if kind != "scrypt" or 128 * r * n * p > MAX_SCRYPT_MEMORY:
            return False
        got = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p,
                             maxmem=MAX_SCRYPT_MEMORY, dklen=len(h))
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(got, h)


def check_password(where: str, v: Any) -> str:
    """A new password: 8 to 256 characters."""
    v = _str(where, v, none=False, max_len=MAX_SECRET)
    if len(v) < MIN_PASSWORD:
        raise ValueError(f"{where}: at least {MIN_PASSWORD} characters, got {len(v)}")
    return v


def check_pin(where: str, v: Any) -> str:
    """A new PIN: 4 to 12 digits, what a phone's keypad sends (DTMF 0-9)."""
    v = _str(where, v, none=False, max_len=12)
    if not (4 <= len(v) <= 12 and v.isascii() and v.isdigit()):
        raise ValueError(f"{where}: 4 to 12 digits, got {len(v)} characters")
    return v


def _name(where: str, v: Any) -> str:
    v = _str(where, v, none=False, max_len=64)
    if not all(c.isalnum() or c in "._-@" for c in v) or not v.isascii():
        raise ValueError(f"{where}: letters, digits and . _ - @ only, got {v!r}")
    return v


def _ext(where: str, v: Any) -> int | None:
    return _int(where, v, min=1, max=4096)


class AccountsMixin:
    """Accounts, groups and memberships, secrets and lockout, the audit log (a part of
    :class:`cti.store.sqlite.Store`: ``self.db``).

    The class is about 460 lines and kept whole: accounts, their groups, their secrets and
    the audit of what is done to them share one row's checks and one transaction each.
    """

    #: wrong secrets within ``failure_window`` s that lock an account, for ``lockout_seconds``
    max_failures = 5
    failure_window = 900.0
    lockout_seconds = 900.0
    #: the audit log's bounds
    audit_days = 90.0
    audit_max_rows = 1_000_000
    _audit_since_purge = AUDIT_PURGE_EVERY     # (purge at the first insert)

    # -- accounts -------------------------------------------------------------

    def account_add(self, name: str, role: str, now: float, *, display_name: str = "",
                    agent: str | None = None, extension: int | None = None,
                    password_hash: str | None = None, pin_hash: str | None = None,
                    disabled: bool = False) -> dict:
        """A new account (``ValueError`` naming the field if it exists or clashes). An
        agent's agent number is its name (``agent`` may only repeat it)."""
        name = _name("account.name", name)
        role = _str("account.role", role, none=False, choices=ROLES)
        if role == "agent":
            if agent not in (None, name):
                raise ValueError(f"account.agent: an agent's number is its name {name!r}, "
                                 f"got {agent!r}")
            agent = name
        elif role in ("admin", "integrator") and agent is not None:
            raise ValueError(f"account.agent: an {role} takes no agent number")
        agent = None if agent is None else _name("account.agent", agent)
        row = (name, role, _str("account.display_name", display_name or "", max_len=128),
               agent, _ext("account.extension", extension), int(bool(disabled)),
               _str("account.password", password_hash), _str("account.pin", pin_hash),
               _num("account.created", now, none=False), now)
        try:
            with self.db.atomic():
                if self.db.execute("SELECT 1 FROM accounts WHERE name = ?",
                                   (name,)).fetchone():
                    raise ValueError(f"account.name: an account {name!r} exists already")
                self._no_agent_clash(name, agent)
                self.db.execute(
                    "INSERT INTO accounts (name, role, display_name, agent, extension,"
                    " disabled, password, pin, created, changed) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    row)
        except sqlite3.IntegrityError as e:
            raise ValueError(self._clash(e, name, agent, row[4])) from None
        return self.account_get(name)

    def _no_agent_clash(self, name: str, agent: str | None) -> None:
        # an account named as another's agent number would be ambiguous at login
        if agent is not None:
            other = self.db.execute("SELECT name FROM accounts WHERE name = ? AND name != ?",
                                    (agent, name)).fetchone()
            if other and agent != name:
                raise ValueError(f"account.agent: {agent!r} is the name of another account")
        other = self.db.execute("SELECT name FROM accounts WHERE agent = ? AND name != ?",
                                (name, name)).fetchone()
        if other:
            raise ValueError(f"account.name: {name!r} is account {other[0]!r}'s agent number")

    def _clash(self, e: Exception, name: str, agent: str | None, ext: int | None) -> str:
        msg = str(e)
        if "accounts.name" in msg:
            return f"account.name: an account {name!r} exists already"
        if "accounts.agent" in msg:
            who = self.db.execute("SELECT name FROM accounts WHERE agent = ?", (agent,)).fetchone()
            return f"account.agent: agent {agent} is account {who[0] if who else '?'}'s already"
        if "accounts.extension" in msg:
            who = self.db.execute("SELECT name FROM accounts WHERE extension = ?",
                                  (ext,)).fetchone()
            return (f"account.extension: extension {ext} is bound to "
                    f"{who[0] if who else '?'} already: one agent per extension")
        return f"account: {msg}"

    def account_modify(self, name: str, now: float, changes: dict) -> dict:
        """Change an account's ``role``, ``display_name``, ``agent``, ``extension`` (None:
        free seating) or ``disabled``; returns it as :meth:`account_get`."""
        cur = self._account_row(name)
        allowed = ("role", "display_name", "agent", "extension", "disabled")
        bad = sorted(set(changes) - set(allowed))
        if bad:
            raise ValueError(f"account.{bad[0]}: no such field (fields: {', '.join(allowed)})")
        new = dict(cur)
        new.update(changes)
        role = _str("account.role", new["role"], none=False, choices=ROLES)
        agent = new["agent"]
        if role == "agent":
            if "agent" in changes and changes["agent"] not in (None, name):
                raise ValueError(f"account.agent: an agent's number is its name {name!r}")
            agent = name
        elif role in ("admin", "integrator"):
            if "agent" in changes and changes["agent"] is not None:
                raise ValueError(f"account.agent: an {role} takes no agent number")
            agent = None
        agent = None if agent is None else _name("account.agent", agent)
        ext = _ext("account.extension", new["extension"])
        disabled = new["disabled"]
        if not isinstance(disabled, (bool, int)):
            raise ValueError(f"account.disabled: must be true or false, got {disabled!r}")
        dn = _str("account.display_name", new["display_name"] or "", max_len=128)
        try:
            with self.db.atomic():
                self._no_agent_clash(name, agent)
                self.db.execute(
                    "UPDATE accounts SET role = ?, display_name = ?, agent = ?, extension = ?,"
                    " disabled = ?, changed = ? WHERE name = ?",
                    (role, dn, agent, ext, int(bool(disabled)),
                     _num("account.changed", now, none=False), name))
        except sqlite3.IntegrityError as e:
            raise ValueError(self._clash(e, name, agent, ext)) from None
        return self.account_get(name)

    def account_remove(self, name: str) -> bool:
        """Remove an account and its memberships; False if there was none."""
        name = _str("account.name", name, none=False)
        with self.db.atomic():
            self.db.execute("DELETE FROM memberships WHERE account = ?", (name,))
            return self.db.execute("DELETE FROM accounts WHERE name = ?",
                                   (name,)).rowcount > 0

    def _account_row(self, name: str) -> dict:
        name = _str("account.name", name, none=False)
        row = next(self.db.query("SELECT " + ", ".join(_FIELDS) + ", password, pin FROM"
                                 " accounts WHERE name = ?", (name,)), None)
        if row is None:
            raise LookupError(f"no account {name!r}")
        return row

    def account_get(self, name: str) -> dict | None:
        """An account without its hashes: its fields, ``password_set`` and ``pin_set``,
        ``disabled`` as a bool and ``groups`` ([{group, kind, level}]); None if none."""
        try:
            row = self._account_row(name)
        except LookupError:
            return None
        return self._shown(row)

    def _shown(self, row: dict) -> dict:
        out = {k: row[k] for k in _FIELDS}
        out["disabled"] = bool(out["disabled"])
        out["password_set"] = row.pop("password") is not None
        out["pin_set"] = row.pop("pin") is not None
        out["groups"] = self.account_groups(row["name"])
        return out

    def account_by_agent(self, agent: str) -> dict | None:
        """The account bound to agent number ``agent``, as :meth:`account_get`."""
        row = self.db.execute("SELECT name FROM accounts WHERE agent = ?",
                              (_str("account.agent", agent, none=False),)).fetchone()
        return None if row is None else self.account_get(row[0])

    def account_list(self, role: str | None = None) -> list[dict]:
        """Every account (of ``role``), by name, as :meth:`account_get` (never a hash)."""
        if role is not None:
            _str("account.role", role, choices=ROLES)
        rows = self.db.query("SELECT " + ", ".join(_FIELDS) + ", password, pin FROM accounts"
                             + (" WHERE role = ?" if role else "") + " ORDER BY name",
                             (role,) if role else ())
        return [self._shown(r) for r in rows]

    def account_set_secret(self, name: str, now: float, *, password_hash: str | None = None,
                           pin_hash: str | None = None, clear: Iterable[str] = ()) -> None:
        """Set an account's password and/or PIN from hashes made off the tick
        (:func:`hash_secret`), or ``clear`` them ("password", "pin"); the failure count
        and a lock are reset (an administrator vouches for the person)."""
        self._account_row(name)
        sets, vals = ["failed = 0", "failed_since = NULL", "locked_until = NULL",
                      "changed = ?"], [_num("account.changed", now, none=False)]
        for kind, h in (("password", password_hash), ("pin", pin_hash)):
            if h is not None:
                if not isinstance(h, str) or not h.startswith("scrypt$"):
                    raise ValueError(f"account.{kind}: a hash from hash_secret() expected")
                sets.append(f"{kind} = ?")
                vals.append(h)
        for kind in clear:
            _str("account.clear", kind, choices=SECRET_KINDS)
            sets.append(f"{kind} = NULL")
        self.db.execute(f"UPDATE accounts SET {', '.join(sets)} WHERE name = ?",
                        (*vals, name))

    # -- verifying a secret ---------------------------------------------------

    def secret_begin(self, name: str, now: float, kind: str = "password"
                     ) -> tuple[str, str | None]:
        """The first step of :meth:`verify_secret`, on the loop (no hash): ``("check",
        stored_hash)`` when a hash must decide, else ``("unknown"|"locked"|"bad", None)``
        decided already: no such account or disabled (``unknown``), locked now, or no
        secret of that kind set (``bad``, not counted: there is nothing to guess)."""
        kind = _str("verify.kind", kind, none=False, choices=SECRET_KINDS)
        now = _num("verify.now", now, none=False)
        name = self.login_name(name)
        if name is None:
            return "unknown", None
        row = self.db.execute(f"SELECT {kind}, disabled, locked_until FROM accounts"
                              " WHERE name = ?", (name,)).fetchone()
        if row is None or row[1]:
            return "unknown", None
        if row[2] is not None and now < row[2]:
            return "locked", None
        if row[0] is None:
            return "bad", None
        return "check", row[0]

    def login_name(self, name: str) -> str | None:
        """The account that logs in as ``name``: the account of that name, else the one
        bound to that agent number (what a phone's keypad sends: a supervisor's account
        ``wang`` with agent 1009 logs in at the phone as 1009). No name is another's
        agent number (:meth:`account_add` refuses it), so this is never ambiguous."""
        if not isinstance(name, str) or not name or len(name) > 64:
            return None
        row = self.db.execute("SELECT name FROM accounts WHERE name = ? UNION ALL SELECT"
                              " name FROM accounts WHERE agent = ? LIMIT 1",
                              (name, name)).fetchone()
        return None if row is None else row[0]

    def secret_end(self, name: str, now: float, matched: bool) -> str:
        """The last step, on the loop: count the outcome of the hash. ``ok`` (the count and
        a lock reset) or ``bad`` (counted; the ``max_failures``-th within
        ``failure_window`` locks the account for ``lockout_seconds``)."""
        now = _num("verify.now", now, none=False)
        name = self.login_name(name)
        if name is None:
            return "unknown"
        if matched:
            self.db.execute("UPDATE accounts SET failed = 0, failed_since = NULL,"
                            " locked_until = NULL WHERE name = ?", (name,))
            return "ok"
        row = self.db.execute("SELECT failed, failed_since FROM accounts WHERE name = ?",
                              (name,)).fetchone()
        if row is None:
            return "unknown"
        failed, since = row
        if since is None or now - since > self.failure_window:
            failed, since = 0, now              # a new window
        failed += 1
        locked = now + self.lockout_seconds if failed >= self.max_failures else None
        if locked is not None:
            failed, since = 0, None             # the lock is the penalty; then afresh
        self.db.execute("UPDATE accounts SET failed = ?, failed_since = ?,"
                        " locked_until = coalesce(?, locked_until) WHERE name = ?",
                        (failed, since, locked, name))
        return "bad"

    def verify_secret(self, name: str, secret: str, now: float,
                      kind: str = "password") -> str:
        """Check the password or PIN (``kind``) of ``name`` (an account's name, or the
        agent number it is bound to: :meth:`login_name`): exactly one of ``ok``, ``bad``
        (wrong, counted; or none set), ``locked`` (until ``locked_until``, see
        :meth:`account_get`), ``unknown`` (no such account, or disabled). The hash runs on
        the caller's thread (40-100 ms): the server calls :meth:`secret_begin`,
        :func:`secret_matches` on its hashing thread, then :meth:`secret_end`."""
        state, stored = self.secret_begin(name, now, kind)
        if state != "check":
            return state
        return self.secret_end(name, now, secret_matches(secret, stored))

    # -- groups ---------------------------------------------------------------

    def group_kind(self, name: str, kind: str | None = None) -> str:
        """The kind of group ``name`` (a queue and a skill may share a name, as a "sales"
        queue and a "sales" skill do: then ``kind`` must say which). LookupError if there
        is none."""
        name = _str("group.name", name, none=False)
        if kind is not None:
            kind = _str("group.kind", kind, choices=GROUP_KINDS)
        kinds = [r[0] for r in self.db.execute(
            "SELECT kind FROM groups WHERE name = ?" + (" AND kind = ?" if kind else "")
            + " ORDER BY kind", (name, kind) if kind else (name,))]
        if not kinds:
            raise LookupError(f"no {kind + ' ' if kind else ''}group {name!r}")
        if len(kinds) > 1:
            raise ValueError(f"group.kind: a queue and a skill are both named {name!r}: "
                             "say which (kind)")
        return kinds[0]

    def group_add(self, name: str, kind: str, now: float) -> dict:
        name = _name("group.name", name)
        kind = _str("group.kind", kind, none=False, choices=GROUP_KINDS)
        try:
            self.db.execute("INSERT INTO groups (name, kind, created) VALUES (?,?,?)",
                            (name, kind, _num("group.created", now, none=False)))
        except sqlite3.IntegrityError:
            raise ValueError(f"group.name: a {kind} group {name!r} exists already") from None
        return self.group_get(name, kind)

    def group_remove(self, name: str, kind: str | None = None) -> bool:
        try:
            kind = self.group_kind(name, kind)
        except LookupError:
            return False
        with self.db.atomic():
            self.db.execute("DELETE FROM memberships WHERE grp = ? AND kind = ?", (name, kind))
            return self.db.execute("DELETE FROM groups WHERE name = ? AND kind = ?",
                                   (name, kind)).rowcount > 0

    def group_get(self, name: str, kind: str | None = None) -> dict | None:
        """A group: ``name``, ``kind``, ``members`` ([{account, level}], by level, name);
        None if none (ValueError if ``kind`` is needed to tell two apart)."""
        try:
            kind = self.group_kind(name, kind)
        except LookupError:
            return None
        return {"name": name, "kind": kind, "members": list(self.db.query(
            "SELECT account, level FROM memberships WHERE grp = ? AND kind = ?"
            " ORDER BY level, account", (name, kind)))}

    def group_list(self, kind: str | None = None) -> list[dict]:
        if kind is not None:
            _str("group.kind", kind, choices=GROUP_KINDS)
        rows = self.db.execute(
            "SELECT name, kind FROM groups" + (" WHERE kind = ?" if kind else "")
            + " ORDER BY name, kind", (kind,) if kind else ()).fetchall()
        return [self.group_get(n, k) for n, k in rows]

    def group_member(self, group: str, account: str, level: int | None, now: float,
                     kind: str | None = None) -> None:
        """Put ``account`` in ``group`` at ``level`` 1..10 (again: a new level), or take it
        out (``level`` None); ``kind`` where a queue and a skill share the name."""
        kind = self.group_kind(group, kind)
        self._account_row(account)
        if level is None:
            self.db.execute("DELETE FROM memberships WHERE account = ? AND grp = ?"
                            " AND kind = ?", (account, group, kind))
        else:
            self.db.execute("INSERT OR REPLACE INTO memberships (account, grp, kind, level)"
                            " VALUES (?,?,?,?)",
                            (account, group, kind, _int("membership.level", level, none=False,
                                                        min=1, max=10)))
        self.db.execute("UPDATE accounts SET changed = ? WHERE name = ?",
                        (_num("account.changed", now, none=False), account))

    def account_groups(self, name: str) -> list[dict]:
        """``[{group, kind, level}]`` of an account, by group name."""
        return list(self.db.query(
            "SELECT grp AS "'"group"'", kind, level FROM memberships WHERE account = ?"
            " ORDER BY grp, kind", (name,)))

    # -- seeding from the configuration --------------------------------------

    def accounts_seeded(self) -> bool:
        return self.db.execute("SELECT 1 FROM accounts_seed").fetchone() is not None

    def accounts_seed(self, agents: Iterable, queues: Iterable, now: float) -> bool:
        """On a fresh store: each configured agent (cti/centre/acd AgentConfig: id, name,
        extension, skills) becomes an agent account with no secret (it cannot log in with
        a password until an administrator sets one), each skill a ``skill`` group, each
        queue (QueueConfig: name, members with penalties) a ``queue`` group with its
        members at level penalty + 1. Then never again: the store is the truth for
        accounts (a later change of the file's agents is not applied here). A queue the
        store has no group of yet (one added to the file later) gets its group and
        members seeded, members that are accounts. Returns whether it seeded."""
        now = _num("accounts_seed.now", now, none=False)
        queues = list(queues)
        with self.db.atomic():
            fresh = not self.accounts_seeded()
            if fresh:
                for a in agents:
                    self.db.execute(
                        "INSERT OR IGNORE INTO accounts (name, role, display_name, agent,"
                        " extension, created, changed) VALUES (?, 'agent', ?, ?, ?, ?, ?)",
                        (a.id, a.name or "", a.id, a.extension, now, now))
                    for skill, level in sorted(a.skills.items()):
                        self.db.execute("INSERT OR IGNORE INTO groups (name, kind, created)"
                                        " VALUES (?, 'skill', ?)", (skill, now))
                        self.db.execute("INSERT OR REPLACE INTO memberships (account, grp,"
                                        " kind, level) VALUES (?, ?, 'skill', ?)",
                                        (a.id, skill, level))
                self.db.execute("INSERT INTO accounts_seed (id, seeded) VALUES (1, ?)", (now,))
            for q in queues:
                if self.db.execute("SELECT 1 FROM groups WHERE name = ? AND kind = 'queue'",
                                   (q.name,)).fetchone():
                    continue
                self.db.execute("INSERT INTO groups (name, kind, created) VALUES (?,"
                                " 'queue', ?)", (q.name, now))
                for m in q.members:
                    self.db.execute(
                        "INSERT OR IGNORE INTO memberships (account, grp, kind, level) SELECT"
                        " name, ?, 'queue', ? FROM accounts WHERE name = ?",
                        (q.name, min(10, m.penalty + 1), m.agent))
        return fresh

    # -- the audit log ----------------------------------------------------------

    def audit_add(self, ts: float, name: str, role: str, source: str, op: str,
                  args: dict | None, refused: str | None) -> None:
        """One line of the audit log (cti/server/service.py Service.audit). Never refuses:
        what does not fit is cut (an audit that failed would fail the request)."""
        def text(v, n=256):
            return str(v)[:n] if v is not None else None
        try:
            a = json.dumps(args or {}, separators=(",", ":"), sort_keys=True, default=str)
        except (TypeError, ValueError):
            a = json.dumps({"unreadable": repr(args)[:1000]})
        if len(a) > MAX_DATA_BYTES:
            a = json.dumps({"cut": a[:MAX_DATA_BYTES // 2]})
        try:
            ts = float(ts)
        except (TypeError, ValueError):
            ts = 0.0
        self.db.execute("INSERT INTO audit (ts, name, role, source, op, args, refused)"
                        " VALUES (?,?,?,?,?,?,?)",
                        (ts, text(name, 128) or "", text(role, 32) or "",
                         text(source, 128) or "", text(op, 128) or "", a,
                         text(refused, 1000)))
        self._audit_since_purge += 1
        if self._audit_since_purge >= AUDIT_PURGE_EVERY:
            self.audit_purge(ts)

    def audit_purge(self, now: float) -> int:
        """Drop the rows older than ``audit_days`` and beyond ``audit_max_rows``; how many."""
        self._audit_since_purge = 0
        n = self.db.execute("DELETE FROM audit WHERE ts < ?",
                            (now - self.audit_days * 86_400,)).rowcount
        top = self.db.execute("SELECT max(id) FROM audit").fetchone()[0]
        if top is not None:
            n += self.db.execute("DELETE FROM audit WHERE id <= ?",
                                 (top - self.audit_max_rows,)).rowcount
        return n

    def audit_list(self, since: float | None = None, until: float | None = None,
                   name: str | None = None, op: str | None = None,
                   refused: bool | None = None, limit: int = 1000) -> list[dict]:
        """The audit log, oldest first: rows from ``since`` to before ``until``, of ``name``,
        of ``op`` (a name, or a prefix ending in ``.``: ``admin.``), refusals only
        (``refused`` True) or actions done only (False); the last ``limit`` of them."""
        where, vals = [], []
        if since is not None:
            where.append("ts >= ?")
            vals.append(_num("audit.since", since))
        if until is not None:
            where.append("ts < ?")
            vals.append(_num("audit.until", until))
        if name is not None:
            where.append("name = ?")
            vals.append(_str("audit.name", name))
        if op is not None:
            op = _str("audit.op", op)
            if op.endswith("."):
                where.append("substr(op, 1, ?) = ?")
                vals += [len(op), op]
            else:
                where.append("op = ?")
                vals.append(op)
        if refused is not None:
            where.append("refused IS NOT NULL" if refused else "refused IS NULL")
        limit = _int("audit.limit", limit, none=False, min=1, max=100_000)
        sql = ("SELECT id, ts, name, role, source, op, args, refused FROM audit"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY id DESC LIMIT ?")
        rows = list(self.db.query(sql, (*vals, limit)))
        rows.reverse()
        for r in rows:
            r["args"] = json.loads(r["args"]) if r["args"] else {}
        return rows


def migration(db) -> None:
    """Schema step 5: accounts, groups, memberships, the seed mark, the audit log."""
    for sql in (
        """CREATE TABLE accounts (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            agent TEXT UNIQUE,
            extension INTEGER UNIQUE,
            password TEXT,
            pin TEXT,
            failed INTEGER NOT NULL DEFAULT 0,
            failed_since REAL,
            locked_until REAL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            changed REAL NOT NULL
        )""",
        # a queue and a skill may share a name ("sales"): a group is its name and kind
        """CREATE TABLE groups (
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (name, kind)
        )""",
        """CREATE TABLE memberships (
            account TEXT NOT NULL REFERENCES accounts(name),
            grp TEXT NOT NULL,
            kind TEXT NOT NULL,
            level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
            PRIMARY KEY (account, grp, kind),
            FOREIGN KEY (grp, kind) REFERENCES groups(name, kind)
        )""",
        "CREATE INDEX memberships_grp ON memberships(grp, kind)",
        """CREATE TABLE accounts_seed (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seeded REAL NOT NULL
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            source TEXT NOT NULL,
            op TEXT NOT NULL,
            args TEXT,
            refused TEXT
        )""",
        "CREATE INDEX audit_ts ON audit(ts)",
        "CREATE INDEX audit_name ON audit(name, id)",
    ):
        db.execute(sql)
