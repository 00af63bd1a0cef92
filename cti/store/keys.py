"""Client keys (issue #16): the CurveZMQ public key of each principal that may connect
over TCP, with who it is (name, role, the agent it is bound to, an integrator's scopes),
when it was issued and, once revoked, when. :class:`KeysMixin` holds
:class:`cti.store.sqlite.Store`'s methods for the ``keys`` table (see there why a mixin).

Only public keys are kept: the secret half goes to the client's key file and nowhere
else (RFC 26, CurveZMQ: the server needs the client's long-term public key to accept it).
A key is never deleted, only revoked: the audit log names principals that must stay
traceable.
"""
from __future__ import annotations

import re

from cti.store.checks import _num, _str

#: a Z85-encoded Curve25519 key (ZMTP RFC 32: 32 bytes -> 40 characters)
Z85_KEY = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
NAME = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
KEY_ROLES = ("agent", "supervisor", "admin", "integrator")


def _v6_keys(db) -> None:
    """The ``keys`` table (issue #16): one row per issued client key."""
    db.execute("""CREATE TABLE keys (
        public TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        agent TEXT,
        scopes TEXT NOT NULL DEFAULT '',
        issued REAL NOT NULL,
        revoked REAL
    )""")


def _row(r) -> dict:
    public, name, role, agent, scopes, issued, revoked = r
    return {"public": public, "name": name, "role": role, "agent": agent,
            "scopes": [s for s in scopes.split(",") if s], "issued": issued,
            "revoked": revoked}


_COLS = "public, name, role, agent, scopes, issued, revoked"


class KeysMixin:
    """The ``keys`` table (a part of :class:`cti.store.sqlite.Store`: ``self.db``)."""

    def key_add(self, time: float, public: str, name: str, role: str,
                agent: str | None = None, scopes=()) -> dict:
        """Record a client's public key (Z85) for the principal ``name``. A name or key
        already issued is refused (``ValueError`` naming the field), even revoked: a
        name in the audit log means one key."""
        t = _num("key.issued", time, none=False)
        if not isinstance(public, str) or not Z85_KEY.fullmatch(public):
            raise ValueError("key.public: must be a Z85 Curve25519 public key (40 characters)")
        name = _str("key.name", name, none=False)
        if not NAME.fullmatch(name):
            raise ValueError(f"key.name: {name!r}: use 1 to 64 letters, digits, '_', '.', "
                             "'@', '-'")
        _str("key.role", role, none=False, choices=KEY_ROLES)
        agent = _str("key.agent", agent)
        scopes = sorted(set(scopes or ()))
        for s in scopes:
            if not isinstance(s, str) or not re.fullmatch(r"[a-z]+", s):
                raise ValueError(f"key.scopes: {s!r} is not a right")
        if self.db.execute("SELECT 1 FROM keys WHERE name = ?", (name,)).fetchone():
            raise ValueError(f"key.name: a key named {name!r} was already issued "
                             "(revoked keys keep their names)")
        if self.db.execute("SELECT 1 FROM keys WHERE public = ?", (public,)).fetchone():
            raise ValueError("key.public: this public key was already issued")
        with self.db.atomic():
            self.db.execute(f"INSERT INTO keys ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                            (public, name, role, agent, ",".join(scopes), t))
        return self.key_get(public)

    def key_get(self, name_or_public: str) -> dict | None:
        """The key named ``name_or_public`` or with that public key, or None."""
        r = self.db.execute(f"SELECT {_COLS} FROM keys WHERE public = ? OR name = ?",
                            (name_or_public, name_or_public)).fetchone()
        return _row(r) if r else None

    def key_revoke(self, time: float, name_or_public: str) -> dict:
        """Revoke a key (by name or public key); ``LookupError`` when there is none. A
        key revoked again keeps its first revocation time."""
        t = _num("key.revoked", time, none=False)
        key = self.key_get(name_or_public)
        if key is None:
            raise LookupError(f"no key named {name_or_public!r}")
        if key["revoked"] is None:
            with self.db.atomic():
                self.db.execute("UPDATE keys SET revoked = ? WHERE public = ?",
                                (t, key["public"]))
        return self.key_get(key["public"])

    def keys_list(self, revoked: bool = True) -> list[dict]:
        """Every key issued, oldest first (``revoked=False``: the live ones only)."""
        sql = f"SELECT {_COLS} FROM keys"
        if not revoked:
            sql += " WHERE revoked IS NULL"
        return [_row(r) for r in self.db.execute(sql + " ORDER BY issued, name")]

