"""The keys the server accepts, cached from the store (issue #16).

:class:`KeyRing` maps a client's Z85 public key to its :class:`~cti.server.auth.Principal`
for the keys issued and not revoked (the store's ``keys`` table, cti/store/keys.py). It
is read twice for every TCP client: by the ZAP handler at the CurveZMQ handshake
(:meth:`allows`: an unknown or revoked key gets no connection, RFC 27), and by the loop
for each request (:meth:`principal`, from the ZAP User-Id of the message), so a key
revoked while its client is connected is refused from its next request on. The ZAP
handler runs on pyzmq's authenticator thread: the loop replaces the dict whole on a
change (issue, revoke), never mutates it in place, so the thread reads one or the other.
"""
from __future__ import annotations

from cti.server.auth import Principal

__all__ = ["KeyRing"]


def principal_of(row: dict, source: str = "tcp") -> Principal:
    return Principal(row["name"], row["role"], row.get("agent"),
                     frozenset(row.get("scopes") or ()), source)


class KeyRing:
    """The live keys: public key (Z85) -> principal. ``store`` has the keys mixin."""

    def __init__(self, store=None):
        self.store = store
        self._live: dict[str, Principal] = {}
        self.revision = 0           # counts revocations: the loop drops TCP subscribers
        self.reload()

    def reload(self) -> None:
        """Read the live keys from the store again."""
        rows = self.store.keys_list(revoked=False) if self.store is not None else []
        self._live = {r["public"]: principal_of(r) for r in rows}

    def __len__(self) -> int:
        return len(self._live)

    def allows(self, public: str | bytes) -> bool:
        """The ZAP handler's question: may this key connect? (any thread)"""
        if isinstance(public, bytes):
            public = public.decode("ascii", "replace")
        return public in self._live

    def principal(self, public: str | bytes, source: str) -> Principal | None:
        """The principal of a request whose ZAP User-Id is ``public``; None when the key
        is no longer live (revoked since it connected)."""
        if isinstance(public, bytes):
            public = public.decode("ascii", "replace")
        p = self._live.get(public)
        if p is None:
            return None
        return Principal(p.name, p.role, p.agent, p.scopes, source)

    def issued(self, row: dict) -> None:
        live = dict(self._live)
        live[row["public"]] = principal_of(row)
        self._live = live

    def revoked(self, public: str) -> None:
        live = dict(self._live)
        live.pop(public, None)
        self._live = live
        self.revision += 1
