"""Client keys (issue #16, CurveZMQ): ``key.issue``, ``key.revoke``, ``key.list``.

The client makes its key pair and sends only the public half (``cti admin key issue``
writes the secret half to its file): the server records it with its principal in the
store (cti/store/keys.py) and in its :class:`~cti.server.keyring.KeyRing`, and answers
with its own public key and TCP endpoints, which the client's file names. A revoked
key is refused at its next request and at every connection after (cti/server/loop.py).
"""
from __future__ import annotations

import socket

from cti.server.auth import RIGHTS, ROLES, Principal
from cti.server.registry import operation
from cti.server.schema import STR, Arg, RequestError, arr, nullable, obj, NUM

KEY = obj({"public": STR, "name": STR, "role": STR, "agent": nullable(STR),
           "scopes": arr(STR), "issued": NUM, "revoked": nullable(NUM)})


def _ring(svc):
    if svc.store is None or svc.keys is None:
        raise RequestError("not_supported", "keys are kept in the centre's store: this "
                           "server has no call centre configured", "op")
    return svc.keys


@operation("key.issue", rights=("accounts",),
           args={"public": Arg(str, required=True, max_len=40),
                 "name": Arg(str, required=True, max_len=64),
                 "role": Arg(str, required=True, choices=ROLES),
                 "agent": Arg(str, max_len=64),
                 "scopes": Arg(list, max_len=len(RIGHTS), items=Arg(str, choices=RIGHTS))},
           result=obj({"key": KEY, "server_key": STR},
                      {"requests": nullable(STR), "events": nullable(STR)}),
           events=(), audited=True)
def key_issue(svc, a):
    """Record a client's public key for a principal (its role, agent, scopes)."""
    ring = _ring(svc)
    scopes = a["scopes"] or []
    if scopes and a["role"] != "integrator":
        raise RequestError("bad_arg", f"scopes are an integrator's; a {a['role']} has its "
                           "role's rights", "args.scopes")
    if a["role"] == "agent" and not a["agent"]:
        raise RequestError("bad_arg", "an agent's key names its agent (--agent ID)",
                           "args.agent")
    if a["agent"] is not None and svc.centre is not None and a["agent"] not in svc.centre.agents:
        raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
    try:
        Principal(a["name"], a["role"], a["agent"], frozenset(scopes))
        row = svc.store.key_add(svc.ts(), a["public"], a["name"], a["role"], a["agent"],
                                scopes)
    except ValueError as e:
        field = str(e).split(":", 1)[0].replace("key.", "args.")
        raise RequestError("bad_arg", str(e), field if field.startswith("args.") else None)
    ring.issued(row)
    res = {"key": row, "server_key": svc.server_public()}
    tcp = svc.config.server.tcp
    if tcp is not None:
        host = socket.getfqdn()
        res["requests"], res["events"] = (ep.replace("0.0.0.0", host).replace("*", host)
                                          for ep in tcp)
    return res


@operation("key.revoke", rights=("accounts",), args={"key": Arg(str, required=True, max_len=64)},
           result=obj({"key": KEY}), events=(), audited=True)
def key_revoke(svc, a):
    """Revoke a key by its name or public key: refused from its next request on."""
    ring = _ring(svc)
    try:
        row = svc.store.key_revoke(svc.ts(), a["key"])
    except LookupError:
        raise RequestError("not_found", f"no key named {a['key']!r}", "args.key") from None
    ring.revoked(row["public"])
    return {"key": row}


@operation("key.list", rights=("accounts",), args={}, result=obj({"keys": arr(KEY)}),
           events=())
def key_list(svc, a):
    """Every key issued, revoked ones with the time of their revocation."""
    _ring(svc)
    return {"keys": svc.store.keys_list()}
