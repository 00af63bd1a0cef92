"""``cti admin key issue|revoke|list``: the CurveZMQ keys of the clients that connect
over TCP (issue #16; the server side is cti/server/ops/keys.py).

``issue`` makes the key pair here and sends the server only the public half; the secret
half goes to ``--out FILE`` (mode 0600) with the server's public key and its TCP
endpoints, which is all a client needs (``--key FILE`` or ``$CTI_KEY``).
"""
from __future__ import annotations

import os
import time

from cti.clients.cli.common import CliError, _client, _out
from cti.server.keyfile import write_key_file


def add_parsers(sub, common) -> None:
    """``key`` under ``cti admin``."""
    k = sub.add_parser("key", parents=[common], help="client keys (CurveZMQ): issue, "
                       "revoke, list")
    ksub = k.add_subparsers(dest="key_action", metavar="ACTION", required=True)
    x = ksub.add_parser("issue", parents=[common], help="issue a key to a principal and "
                        "write its file")
    x.add_argument("--role", required=True,
                   choices=("agent", "supervisor", "admin", "integrator"))
    x.add_argument("--agent", help="the agent the key acts for (an agent's key needs one)")
    x.add_argument("--scope", action="append", default=[], metavar="RIGHT",
                   help="an integrator's right (repeat): read, desk, agents, calls, ...")
    x.add_argument("--name", help="the key's holder (default: the agent, or the file's "
                   "name)")
    x.add_argument("--out", required=True, metavar="FILE",
                   help="the client's key file to write (mode 0600; must not exist)")
    x.set_defaults(func=cmd_key_issue)
    x = ksub.add_parser("revoke", parents=[common], help="revoke a key: refused from its "
                        "next request on")
    x.add_argument("which", metavar="NAME|PUBKEY")     # (args.key is the client's --key)
    x.set_defaults(func=cmd_key_revoke)
    x = ksub.add_parser("list", parents=[common], help="every key issued")
    x.set_defaults(func=cmd_key_list)


def cmd_key_issue(args) -> int:
    import zmq

    if os.path.exists(args.out):
        raise CliError(f"--out {args.out}: the file exists; a key file is never overwritten")
    name = args.name or args.agent or os.path.splitext(os.path.basename(args.out))[0]
    public, secret = (k.decode() for k in zmq.curve_keypair())
    with _client(args) as c:
        res = c.request("key.issue", public=public, name=name, role=args.role,
                        agent=args.agent, scopes=args.scope or None)
    write_key_file(args.out, public, secret, server=res["server_key"],
                   requests=res.get("requests"), events=res.get("events"), name=name)
    key = res["key"]
    _out(args, res, f"key {key['name']} ({key['role']}"
         f"{', agent ' + key['agent'] if key.get('agent') else ''}"
         f"{', scopes ' + ','.join(key['scopes']) if key['scopes'] else ''}): "
         f"{key['public']}\nwritten to {args.out} (0600): give it to its holder alone; "
         f"clients use it with --key {args.out} or CTI_KEY"
         + ("" if res.get("requests") else "\nthe server has no server.listen: TCP "
            "clients cannot connect until it has"))
    return 0


def cmd_key_revoke(args) -> int:
    with _client(args) as c:
        res = c.request("key.revoke", key=args.which)
    key = res["key"]
    _out(args, res, f"key {key['name']} revoked: refused from its next request on")
    return 0


def cmd_key_list(args) -> int:
    with _client(args) as c:
        res = c.request("key.list")
    rows = []
    for k in res["keys"]:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(k["issued"]))
        state = ("revoked " + time.strftime("%Y-%m-%d %H:%M", time.gmtime(k["revoked"]))
                 if k["revoked"] else "live")
        rows.append(f"{k['name']:<16} {k['role']:<10} {k.get('agent') or '-':<8} "
                    f"{','.join(k['scopes']) or '-':<16} {when}  {state:<24} {k['public']}")
    head = f"{'NAME':<16} {'ROLE':<10} {'AGENT':<8} {'SCOPES':<16} {'ISSUED':<16}  " \
           f"{'STATE':<24} PUBLIC KEY"
    _out(args, res, "\n".join([head] + rows) if rows else "no keys issued")
    return 0
