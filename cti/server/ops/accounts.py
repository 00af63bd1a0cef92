"""Accounts, groups and the audit log (issue #16): ``admin.agent.add``,
``admin.agent.modify``, ``admin.agent.remove``, ``admin.agent.passwd``,
``admin.agent.list``, ``admin.group.add``, ``admin.group.remove``, ``admin.group.list``,
``admin.group.member``, ``admin.audit`` (the right ``accounts``), and ``auth.login``.

The store keeps the accounts (cti/store/accounts.py); a change to an account bound to an
agent number is made on the running centre in the same request (Centre.add_agent,
remove_agent, set_queue_member, update_agent): an agent added here can log in and take
calls at once, without a restart. At start the store is the roster (:func:`roster_from_store`).

Passwords and PINs are hashed off the tick (:class:`Hashing`): one scrypt costs 40-100 ms
here (cti/store/accounts.py), five ticks, so the request that needs one (``agent.login``
with a password, ``auth.login``, ``admin.agent.passwd``) is deferred: its hash runs on a
thread of its own, one at a time, at most :data:`MAX_HASHES` waiting and one per account
(``busy`` beyond);
CPython's scrypt releases the GIL, so the tick runs meanwhile; the reply comes out of the
tick after the hash is done, where the outcome is counted in the store. A locked account
and an unknown name cost no hash. In the server's own process (tests) with no thread
started the hash is made inline.

``auth.login`` (right ``read``): checks a name and password and tells the account's role,
agent, extension and groups, for the desktops and the web pages that log a person in; it
gives no right by itself (what a client may do is its key's), and a wrong password counts
towards the lockout and goes to the audit log like any other.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from cti.server.ops.common import AGENT_STATUS
from cti.server.registry import operation
from cti.server.schema import (BOOL, INT, NUM, OBJ, STR, Arg, RequestError, arr, nullable,
                               obj)
from cti.store import accounts as store_accounts

log = logging.getLogger("cti.server")

#: hashes waiting for the hashing thread, at most (then ``busy``)
MAX_HASHES = 16

ROLE = Arg(str, choices=store_accounts.ROLES)
NAME = Arg(str, required=True, max_len=64)
ACCOUNT = obj({"name": STR, "role": STR, "display_name": STR, "agent": nullable(STR),
               "extension": nullable(INT), "disabled": BOOL, "password_set": BOOL,
               "pin_set": BOOL, "failed": INT, "locked_until": nullable(NUM),
               "created": NUM, "changed": NUM,
               "groups": arr(obj({"group": STR, "kind": STR, "level": INT}))},
              {"live": nullable(AGENT_STATUS)})
GROUP = obj({"name": STR, "kind": STR, "members": arr(obj({"account": STR, "level": INT}))})
AUDIT_ROW = obj({"id": INT, "ts": NUM, "name": STR, "role": STR, "source": STR, "op": STR,
                 "args": OBJ, "refused": nullable(STR)})


def audits_itself(fn):
    """The handler writes its own audit lines (its outcome is known only after a hash)."""
    fn.audits_itself = True
    return fn


class Hashing:
    """Secrets hashed off the tick: :meth:`run` a hash on the thread, and the tick
    finishes the request with its outcome (:meth:`tick`)."""

    def __init__(self, svc):
        self.svc = svc
        self.executor: ThreadPoolExecutor | None = None
        self._ready: deque = deque()
        self.pending = 0
        self._checking: set = set()     # accounts with a hash under way

    def start(self) -> None:
        """(The shell) hash on a thread of their own from now on."""
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="cti-hash")

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def run(self, op: str, work: Callable[[], Any], finish: Callable[[Any], dict],
            rid, token, account: str | None = None) -> dict | None:
        """``finish(work())``: at once in the server's own process, else ``work`` on the
        thread and ``finish`` (on the loop, in :meth:`tick`) once it is done. One hash at
        a time per ``account`` (a second is ``busy``): the lock after ``max_failures`` then
        bounds what a flood of wrong passwords costs to that many hashes per account and
        window, as each outcome is counted before the next hash starts."""
        if self.executor is None:
            return finish(work())
        if self.pending >= MAX_HASHES:
            raise RequestError("busy", f"{self.pending} passwords are being checked: send "
                               "again later", "op")
        if account is not None:
            if account in self._checking:
                raise RequestError("busy", f"a password of {account} is being checked: "
                                   "send again later", "op")
            self._checking.add(account)
        self.pending += 1
        fut = self.executor.submit(work)
        # (the thread appends; the loop pops: a deque's ends are safe across threads)
        fut.add_done_callback(lambda f: self._ready.append((f, op, finish, rid, token,
                                                            account)))
        return None

    def later(self, work: Callable[[], Any], finish: Callable[[Any], None]) -> None:
        """``finish(work())`` with no request to answer (the phone login by DTMF: the
        centre is told the outcome): ``work`` on the thread, ``finish`` on the tick after
        (at once in the server's own process). A failure of ``finish`` is the server's
        error (logged, counted, ``server.error``)."""
        if self.executor is None:
            finish(work())
            return
        if self.pending >= MAX_HASHES:
            raise RequestError("busy", f"{self.pending} passwords are being checked")
        self.pending += 1
        fut = self.executor.submit(work)
        fut.add_done_callback(lambda f: self._ready.append((f, None, finish, None, None,
                                                            None)))

    def tick(self) -> list[tuple[Any, dict]]:
        """The requests whose hash is done: their replies, with their tokens."""
        done = []
        while self._ready:
            fut, op, finish, rid, token, account = self._ready.popleft()
            self.pending -= 1
            self._checking.discard(account)
            if op is None:                  # later(): no reply
                try:
                    finish(fut.result())
                except Exception as exc:
                    self.svc._server_error("hashing", exc)
                continue
            done.append((token, self.svc.answer(rid, op, lambda: finish(fut.result()))))
        return done


# -- the roster: the store's agents on the running centre --------------------------------

def _agent_config(acc: dict):
    """The ACD's view of an account bound to an agent number."""
    from cti.centre.acd import AgentConfig
    skills = {g["group"]: g["level"] for g in acc["groups"] if g["kind"] == "skill"}
    return AgentConfig(acc["agent"], acc["display_name"], acc["extension"], skills)


def _queues(acc: dict) -> dict[str, int]:
    """Queue name -> the ACD's penalty (level 1 is penalty 0: tried first)."""
    return {g["group"]: g["level"] - 1 for g in acc["groups"] if g["kind"] == "queue"}


def roster_from_store(store, cc, now: float) -> None:
    """At start: seed the accounts from the file on a fresh store, then make the store's
    agents (accounts bound to an agent number) and queue groups the centre's roster
    (``cc``: the CentreConfig, changed in place). An agent of the file that is no account
    (removed by an administrator, or added to the file after the first start) is not on
    the roster, and the log says so: the file's agents seed the store once."""
    from dataclasses import replace

    from cti.centre.acd import Member
    store.accounts_seed(cc.agents, cc.queues, now)
    agents = [a for a in store.account_list() if a["agent"] is not None]
    file_ids = {a.id for a in cc.agents}
    ids = {a["agent"] for a in agents}
    for aid in sorted(file_ids - ids):
        log.warning("agent %s is in the configuration but is no account of the store: not "
                    "on the roster (cti admin agent add %s adds it)", aid, aid)
    configured = {q.name for q in cc.queues}
    cc.agents[:] = [_agent_config(a) for a in agents]
    members: dict[str, list] = {q: [] for q in configured}
    for a in agents:
        for q, penalty in _queues(a).items():
            if q in members:
                members[q].append(Member(a["agent"], penalty))
    cc.queues[:] = [replace(q, members=tuple(members[q.name])) for q in cc.queues]
    cb = getattr(cc, "callbacks", None)
    if cb is not None and getattr(cb, "agents", None):
        cc.callbacks = replace(cb, agents=tuple(a for a in cb.agents if a in ids))


def file_roster(cc) -> tuple[dict, dict]:
    """What a configuration file says of the roster: its agents by id (AgentConfig) and
    each queue's members (agent -> penalty)."""
    return ({a.id: a for a in cc.agents},
            {q.name: {m.agent: m.penalty for m in q.members} for q in cc.queues})


def reload_roster(svc, cc) -> tuple[dict, dict]:
    """``cti reload``: what changed in the file's agents and queue members since the file
    the server last read is made in the store (an agent new to the file becomes an
    account, one gone from the file is removed, a changed one takes the file's name,
    extension and skills; a queue's members follow the file's changes, a queue gone from
    the file takes its group with it), then the store's
    roster is put in ``cc`` (:func:`roster_from_store`). What an administrator changed
    and the file did not is kept: the file's edits apply, not the whole file. Returns
    the file's roster, the base of the next reload's diff. ValueError (nothing applied:
    the caller's transaction rolls back) for a change the store refuses."""
    store = svc.store
    now = svc.ts()
    old_agents, old_queues = svc.file_roster or ({}, {})
    seen = file_roster(cc)
    new_agents, new_queues = seen
    for aid, a in new_agents.items():
        acc = store.account_get(aid)
        if acc is None and aid not in old_agents:
            store.account_add(aid, "agent", now, display_name=a.name, extension=a.extension)
        elif acc is not None and old_agents.get(aid) not in (None, a):
            store.account_modify(aid, now, {"display_name": a.name,
                                            "extension": a.extension})
        else:
            continue
        old_skills = old_agents[aid].skills if aid in old_agents else {}
        for skill in set(old_skills) | set(a.skills):
            if old_skills.get(skill) == a.skills.get(skill):
                continue
            if store.group_get(skill, "skill") is None:
                store.group_add(skill, "skill", now)
            store.group_member(skill, aid, a.skills.get(skill), now, "skill")
    for aid in sorted(set(old_agents) - set(new_agents)):
        acc = store.account_get(aid)
        if acc is not None and acc["role"] == "agent":
            store.account_remove(aid)
    for q in sorted(set(old_queues) - set(new_queues)):
        store.group_remove(q, "queue")    # back in a later file: seeded afresh from it
    for q, members in new_queues.items():
        if store.group_get(q, "queue") is None:
            continue                      # a new queue: seeded whole by roster_from_store
        before = old_queues.get(q, {})
        for aid in set(before) | set(members):
            if before.get(aid) != members.get(aid) and store.account_get(aid) is not None:
                level = None if aid not in members else min(10, members[aid] + 1)
                store.group_member(q, aid, level, now, "queue")
    roster_from_store(store, cc, now)
    return seen


def _live(svc, acc: dict | None) -> dict | None:
    c = svc.centre
    if acc is None or c is None or acc["agent"] is None or acc["agent"] not in c.agents:
        return None
    return c.agent_status(acc["agent"])


def _shown(svc, acc: dict) -> dict:
    return dict(acc, live=_live(svc, acc))


def _store(svc):
    if svc.store is None:
        raise RequestError("not_supported", "no store: accounts live in the call centre's "
                           "store (the config has no [[agents]] and [[queues]])", "op")
    return svc.store


def _account(svc, name: str) -> dict:
    acc = _store(svc).account_get(name)
    if acc is None:
        raise RequestError("not_found", f"no account {name!r}", "args.name")
    return acc


def _stored(fn, field: str):
    """A store call, its ValueError (naming the field) as ``bad_arg``."""
    try:
        return fn()
    except LookupError as e:
        raise RequestError("not_found", str(e).strip("'\""), field) from None
    except ValueError as e:
        raise RequestError("bad_arg", str(e), field) from None


def _centre_refused(fn, field: str):
    from cti.centre.acd import AcdError
    try:
        return fn()
    except (AcdError, LookupError, ValueError) as e:
        raise RequestError("failed", str(e).strip("'\""), field) from None


def _put_live(svc, before: dict | None, after: dict | None) -> None:
    """Make the running centre's roster what the account now says: an agent added,
    removed, its extension, name, skills and queues changed."""
    c = svc.centre
    if c is None:
        return
    now = svc.board.line_seconds
    old = before["agent"] if before else None
    new = after["agent"] if after else None
    if old is not None and old != new and old in c.agents:
        c.remove_agent(now, old)
    if new is None:
        return
    cfg = _agent_config(after)
    queues = [q.name for q in c.config.queues if c.acd.has_queue(q.name)]
    want = {q: p for q, p in _queues(after).items() if q in queues}
    if new not in c.agents:
        c.add_agent(now, cfg, want)
        return
    c.update_agent(now, cfg)
    have = {}
    for q in queues:
        for m in c.acd.queue_status(q, now)["agents"]:
            if m["agent"] == new:
                have[q] = m.get("penalty", 0)
    for q in sorted(set(have) | set(want)):
        if have.get(q) != want.get(q):
            c.set_queue_member(now, new, q, want.get(q))


def _check_live(svc, before: dict, after_agent: str | None) -> None:
    """Refuse (before the store changes) what the centre cannot do now: an agent that is
    logged in or on a call taken off the roster or renumbered."""
    c = svc.centre
    old = before["agent"]
    if c is None or old is None or old == after_agent or old not in c.agents:
        return
    st = c.agent_status(old)
    if st["call"] is not None:
        raise RequestError("failed", f"agent {old} is on call {st['call']}: not removed "
                           "(try again when the call is over)", "args.name")
    if st["state"] != "logged_out":
        raise RequestError("failed", f"agent {old} is logged in ({st['state']}): log it out "
                           f"first (cti agent logout {old})", "args.name")


# -- admin.agent.* ---------------------------------------------------------------------

@operation("admin.agent.add", rights=("accounts",),
           args={"name": NAME, "role": Arg(str, default="agent", choices=store_accounts.ROLES),
                 "display_name": Arg(str, default="", max_len=128),
                 "agent": Arg(str, max_len=64),
                 "extension": Arg(int, lo=1, hi=4096),
                 "groups": Arg(dict, max_len=64)},
           result=ACCOUNT, events=("agent.state",), audited=True)
def admin_agent_add(svc, a):
    """Add an account: an agent (its name is its agent number), a supervisor (with an agent
    number if it takes calls), an admin or an integrator; ``groups`` maps group names
    (``queue:NAME``, ``skill:NAME`` where a queue and a skill share a name) to levels
    1..10. An agent joins the running roster and its queues at once, logged out,
    and logs in once an administrator has set its password (``admin.agent.passwd``) or
    by a supervisor's ``agent.login``."""
    store = _store(svc)
    groups = {}
    for g, level in (a["groups"] or {}).items():
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
            raise RequestError("bad_arg", f"group {g!r}: level must be 1..10, got {level!r}",
                               "args.groups")
        kind, sep, name = g.partition(":")
        kind, name = (kind, name) if sep else (None, g)
        try:
            groups[(name, store.group_kind(name, kind))] = level
        except (LookupError, ValueError) as e:
            raise RequestError("not_found" if isinstance(e, LookupError) else "bad_arg",
                               f"{str(e).strip(chr(34) + chr(39))} (groups: NAME or "
                               "queue:NAME, skill:NAME)", "args.groups") from None
    now = svc.ts()
    c = svc.centre
    agent = a["name"] if a["role"] == "agent" else a["agent"]
    if c is not None and agent is not None and agent in c.agents:
        raise RequestError("failed", f"agent {agent} is on the roster already", "args.name")
    if c is not None and a["extension"] is not None:
        _centre_refused(lambda: c._fxs(a["extension"]), "args.extension")
    with store.db.atomic():
        acc = _stored(lambda: store.account_add(
            a["name"], a["role"], now, display_name=a["display_name"], agent=a["agent"],
            extension=a["extension"]), "args.name")
        for (g, kind), level in groups.items():
            store.group_member(g, a["name"], level, now, kind)
        acc = store.account_get(a["name"])
        _centre_refused(lambda: _put_live(svc, None, acc), "args.name")
    return _shown(svc, acc)


@operation("admin.agent.modify", rights=("accounts",),
           args={"name": NAME, "role": ROLE, "display_name": Arg(str, max_len=128),
                 "agent": Arg(str, max_len=64),
                 "extension": Arg(int, lo=0, hi=4096), "disabled": Arg(bool)},
           result=ACCOUNT, events=("agent.state",), audited=True)
def admin_agent_modify(svc, a):
    """Change an account: role, display name, agent number (a supervisor's), extension
    (0: none, free seating) or disabled (a disabled account cannot log in). Given fields
    only. An agent logged in or on a call cannot be renumbered."""
    store = _store(svc)
    before = _account(svc, a["name"])
    changes = {k: a[k] for k in ("role", "display_name", "agent", "disabled")
               if a[k] is not None}
    if a["extension"] is not None:
        changes["extension"] = a["extension"] or None
        if changes["extension"] is not None and svc.centre is not None:
            _centre_refused(lambda: svc.centre._fxs(changes["extension"]), "args.extension")
    role = changes.get("role", before["role"])
    after_agent = a["name"] if role == "agent" else (
        None if role in ("admin", "integrator") else changes.get("agent", before["agent"]))
    _check_live(svc, before, after_agent)
    with store.db.atomic():
        acc = _stored(lambda: store.account_modify(a["name"], svc.ts(), changes), "args.name")
        _centre_refused(lambda: _put_live(svc, before, acc), "args.name")
    return _shown(svc, acc)


@operation("admin.agent.remove", rights=("accounts",), args={"name": NAME},
           result=obj({"name": STR, "removed": BOOL}), events=(), audited=True)
def admin_agent_remove(svc, a):
    """Remove an account (and its memberships); an agent leaves the running roster.
    Refused while the agent is logged in or on a call."""
    store = _store(svc)
    before = _account(svc, a["name"])
    _check_live(svc, before, None)
    _centre_refused(lambda: _put_live(svc, before, None), "args.name")
    return {"name": a["name"], "removed": store.account_remove(a["name"])}


@operation("admin.agent.passwd", rights=("accounts",),
           args={"name": NAME, "password": Arg(str, max_len=256), "pin": Arg(str, max_len=12),
                 "clear": Arg(list, max_len=2, items=Arg(str, choices=("password", "pin")))},
           result=ACCOUNT, events=(), audited=True, deferred=True)
def admin_agent_passwd(svc, a, rid=None, token=None):
    """Set an account's password (8 to 256 characters) and/or PIN (4 to 12 digits, the
    phone login's), or ``clear`` them; resets its failures and lock. Hashed off the tick."""
    _account(svc, a["name"])
    pw = pin = None
    if a["password"] is not None:
        pw = _stored(lambda: store_accounts.check_password("password", a["password"]),
                     "args.password")
    if a["pin"] is not None:
        pin = _stored(lambda: store_accounts.check_pin("pin", a["pin"]), "args.pin")
    clear = tuple(a["clear"] or ())
    if pw is None and pin is None and not clear:
        raise RequestError("bad_arg", "give a password, a pin, or what to clear", "args.password")

    def work():
        return (None if pw is None else store_accounts.hash_secret(pw),
                None if pin is None else store_accounts.hash_secret(pin))

    def finish(hashes):
        _stored(lambda: svc.store.account_set_secret(
            a["name"], svc.ts(), password_hash=hashes[0], pin_hash=hashes[1], clear=clear),
            "args.name")
        return _shown(svc, _account(svc, a["name"]))
    return svc.hashing.run("admin.agent.passwd", work, finish, rid, token)


@operation("admin.agent.list", rights=("accounts",), args={"role": ROLE},
           result=obj({"accounts": arr(ACCOUNT)}), events=())
def admin_agent_list(svc, a):
    """Every account (of ``role``), with its groups and its agent's live state; never a
    password or a PIN (``password_set``, ``pin_set`` say whether there is one)."""
    return {"accounts": [_shown(svc, x) for x in _store(svc).account_list(a["role"])]}


# -- admin.group.* ---------------------------------------------------------------------

@operation("admin.group.add", rights=("accounts",),
           args={"name": NAME, "kind": Arg(str, required=True,
                                            choices=store_accounts.GROUP_KINDS)},
           result=GROUP, events=(), audited=True)
def admin_group_add(svc, a):
    """Add a group: ``queue`` (an ACD queue's members; the queue itself is configured in
    the file's [[queues]]) or ``skill`` (an agent skill, levels 1..10)."""
    if a["kind"] == "queue" and svc.centre is not None and \
            a["name"] not in {q.name for q in svc.centre.config.queues}:
        raise RequestError("not_found", f"no queue {a['name']!r} is configured (queues: "
                           f"{', '.join(q.name for q in svc.centre.config.queues)}); a queue "
                           "is a [[queues]] table of the configuration file", "args.name")
    return _stored(lambda: _store(svc).group_add(a["name"], a["kind"], svc.ts()), "args.name")


KIND = Arg(str, choices=store_accounts.GROUP_KINDS)


def _group(svc, name: str, kind: str | None, field: str) -> dict:
    try:
        g = _store(svc).group_get(name, kind)
    except ValueError as e:
        raise RequestError("bad_arg", str(e), "args.kind") from None
    if g is None:
        raise RequestError("not_found", f"no {kind + ' ' if kind else ''}group {name!r}",
                           field)
    return g


@operation("admin.group.remove", rights=("accounts",), args={"name": NAME, "kind": KIND},
           result=obj({"name": STR, "removed": BOOL}), events=(), audited=True)
def admin_group_remove(svc, a):
    """Remove a group (``kind`` where a queue and a skill share the name): its members
    leave the queue (or lose the skill) at once."""
    store = _store(svc)
    g = _group(svc, a["name"], a["kind"], "args.name")
    befores = [store.account_get(m["account"]) for m in g["members"]]
    with store.db.atomic():
        removed = store.group_remove(a["name"], g["kind"])
        for before in befores:
            _centre_refused(lambda: _put_live(svc, before, store.account_get(before["name"])),
                            "args.name")
    return {"name": a["name"], "removed": removed}


@operation("admin.group.list", rights=("accounts",),
           args={"kind": Arg(str, choices=store_accounts.GROUP_KINDS)},
           result=obj({"groups": arr(GROUP)}), events=())
def admin_group_list(svc, a):
    """Every group (of ``kind``) with its members and their levels."""
    return {"groups": _store(svc).group_list(a["kind"])}


@operation("admin.group.member", rights=("accounts",),
           args={"group": NAME, "account": NAME, "level": Arg(int, lo=0, hi=10),
                 "kind": KIND},
           result=GROUP, events=("agent.state",), audited=True)
def admin_group_member(svc, a):
    """Put an account in a group at ``level`` 1..10 (a queue: the order agents are tried
    in, 1 first; a skill: its level), or take it out (``level`` 0 or none); ``kind``
    where a queue and a skill share the name. A running agent joins or leaves the queue
    at once."""
    store = _store(svc)
    kind = _group(svc, a["group"], a["kind"], "args.group")["kind"]
    before = store.account_get(a["account"])
    if before is None:
        raise RequestError("not_found", f"no account {a['account']!r}", "args.account")
    with store.db.atomic():
        _stored(lambda: store.group_member(a["group"], a["account"], a["level"] or None,
                                           svc.ts(), kind), "args.level")
        _centre_refused(lambda: _put_live(svc, before, store.account_get(a["account"])),
                        "args.account")
    return store.group_get(a["group"], kind)


# -- the audit log ----------------------------------------------------------------------

@operation("admin.audit", rights=("accounts",),
           args={"since": Arg(float, lo=0, hi=1e11), "until": Arg(float, lo=0, hi=1e11),
                 "name": Arg(str, max_len=64), "operation": Arg(str, max_len=64),
                 "refused": Arg(bool), "limit": Arg(int, default=1000, lo=1, hi=100_000)},
           result=obj({"rows": arr(AUDIT_ROW)}), events=())
def admin_audit(svc, a):
    """The audit log, oldest first: refusals and supervisors' and administrators' actions
    (who, from where, what, when, a refusal's reason), filtered by time, name,
    ``operation`` (or a prefix ending in ``.``: ``admin.``) and refusals only (``refused``
    true) or actions only (false); the last ``limit`` rows."""
    return {"rows": _store(svc).audit_list(a["since"], a["until"], a["name"], a["operation"],
                                           a["refused"], a["limit"])}


# -- logging in ------------------------------------------------------------------------

def _when(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def check_secret(svc, name: str, secret: str | None, kind: str, op: str, args: dict,
                 rid, token, done: Callable[[dict], dict], *, code: str = "forbidden",
                 field: str = "args.password", vague: bool = False):
    """Check ``name``'s password (PIN) off the tick, then ``done(account)``; a failure
    is the error ``code`` naming why (locked: until when; no password yet: ask an
    administrator), in the audit log with who asked. ``vague``: a wrong name and a wrong
    password read the same (``auth.login``: no telling which names exist)."""
    principal = svc.principal
    store = _store(svc)

    def refuse(why: str, shown: str | None = None):
        svc.audit(principal, op, args, why)
        raise RequestError(code, shown or why, field)

    if secret is None:
        refuse(f"{op}: {name} must give its {kind}")
    state, stored = store.secret_begin(name, svc.ts(), kind)
    if state == "check":
        def finish(matched: bool):
            got = store.secret_end(name, svc.ts(), matched)
            if got == "ok":
                acc = store.account_get(name)
                result = done(acc)
                svc.audit(principal, op, args)
                return result
            return fail_now(got, refuse, name, kind, vague, store)
        return svc.hashing.run(op, lambda: store_accounts.secret_matches(secret, stored),
                               finish, rid, token, account=store.login_name(name))
    return fail_now(state, refuse, name, kind, vague, store)


def fail_now(state, refuse, name, kind, vague, store):
    if state == "locked":
        until = (store.account_get(name) or {}).get("locked_until") or 0
        refuse(f"account {name} is locked until {_when(until)} after {store.max_failures} "
               f"wrong tries (an administrator's admin.agent.passwd unlocks it)")
    if state == "unknown":
        refuse(f"no account {name!r} (or it is disabled)",
               f"wrong name or {kind}" if vague else None)
    acc = store.account_get(name) or {}
    if not acc.get(f"{kind}_set"):
        refuse(f"account {name} has no {kind} yet: an administrator sets one "
               f"(cti admin agent passwd {name})")
    locked = acc.get("locked_until")
    refuse(f"wrong {kind} for {name}" + (
        f": the account is locked until {_when(locked)}" if locked else
        f" ({store.max_failures - acc.get('failed', 0)} tries left)"))


@operation("auth.login", rights=("read",),
           args={"name": NAME, "password": Arg(str, required=True, max_len=256)},
           result=obj({"name": STR, "role": STR, "display_name": STR, "agent": nullable(STR),
                       "extension": nullable(INT),
                       "groups": arr(obj({"group": STR, "kind": STR, "level": INT}))}),
           events=(), audited=True, deferred=True)
@audits_itself
def auth_login(svc, a, rid=None, token=None):
    """Check a name and password: the account's role, agent number, extension and groups
    (for a desktop or a web page that logs a person in). Grants nothing by itself. A wrong
    password is ``failed``, counts towards the lockout and is in the audit log."""
    def done(acc):
        return {k: acc[k] for k in ("name", "role", "display_name", "agent", "extension",
                                    "groups")}
    args = {"name": a["name"]}
    return check_secret(svc, a["name"], a["password"], "password", "auth.login", args, rid,
                        token, done, code="failed", vague=True)
