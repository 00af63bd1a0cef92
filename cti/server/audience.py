"""Who may see which event (issue #16): events filtered per principal, sans-I/O.

Every topic lies in a namespace, its first word (``call.``, ``agent.``, ``span.``), and a
namespace needs a right to be seen whole (:data:`ROOTS`): ``call.`` and ``voicemail.``
need ``calls``, ``agent.`` needs ``agents``, ``campaign.`` needs ``campaigns``, ``msg.``
(direct messages between agents, cti/server/ops/desk.py) ``accounts``, the
line's ``channel.`` and ``trace.`` events (callers' numbers and digits) ``calls`` or
``lines``, and ``span.``, ``board.`` and ``server.`` ``read``. Supervisors and
administrators see everything (but the messages between agents: an administrator's); an
integrator what its scopes give.

What a principal lacks the right to see whole, it may still see where it concerns its
own agent (the right ``desk``): its agent's state, preview records and messages, and the
events of
the calls it talks on, is rung with, consults, supervises or picks up
(:func:`concerned_agents`). Those events go out a second time as *desk copies*, on the
topic ``desk.<agent>.<topic>`` (``desk.1001.call.delivered``), and an agent's
subscription to ``call.`` is granted as ``desk.1001.call.`` (:func:`grants`). So the
filtering is ZeroMQ's own prefix matching (RFC 29, PUB-SUB): the shell's XPUB socket runs
in manual mode (``ZMQ_XPUB_MANUAL``) and subscribes each subscriber to what
:func:`grants` allows for its principal, never to what it asked as such; another
agent's screen pop never reaches the pipe, whatever the client sends. Clients strip
``desk.<agent>.`` (:func:`public_topic`) and see the public topic again.

The same rule filters ``replay`` and ``snapshot`` (:func:`visible`).
"""
from __future__ import annotations

from cti.server.auth import Principal

__all__ = ["ROOTS", "DESK", "DESK_ROOTS", "root_of", "concerned_agents", "grants",
           "visible", "sees_everything", "desk_topics", "public_topic"]

DESK = "desk."

#: namespace -> the rights that see it whole (any one of them)
ROOTS: dict[str, tuple[str, ...]] = {
    "span.": ("read",),
    "board.": ("read",),
    "server.": ("read",),
    "channel.": ("calls", "lines"),
    "trace.": ("calls", "lines"),
    "call.": ("calls",),
    "voicemail.": ("calls",),
    "agent.": ("agents",),
    "campaign.": ("campaigns",),
    # direct messages between agents: only the recipient's desk copy, and the
    # administrator (who reads the store anyway)
    "msg.": ("accounts",),
}
#: a topic in no namespace above: the administrator's
OTHER = ("server",)
#: the namespaces whose events concerning an agent go out as desk copies
DESK_ROOTS = ("call.", "agent.", "campaign.", "msg.")

#: the fields of an event that name an agent it concerns (``to`` only where it is one)
_AGENT_FIELDS = ("agent", "from_agent", "agent_rna", "by", "supervisor")
_TO_AGENT = frozenset({"call.consulting", "call.consulted", "call.consult_ended",
                       "call.transferred"})


def root_of(topic: str) -> str:
    """The namespace of ``topic``: its first word and the dot."""
    head, dot, _ = topic.partition(".")
    return head + dot


def concerned_agents(event: dict) -> tuple[str, ...]:
    """The agents an event concerns: who talks on, is rung with, consults, supervises
    or picks up the call; whose state or preview record it is."""
    out = []
    for f in _AGENT_FIELDS:
        v = event.get(f)
        if isinstance(v, str) and v and v not in out:
            out.append(v)
    if event.get("type") in _TO_AGENT:
        v = event.get("to")
        if isinstance(v, str) and v and v not in out:
            out.append(v)
    return tuple(out)


def _sees_root(principal: Principal, root: str) -> bool:
    rights = ROOTS.get(root, OTHER)
    return any(principal.may(r) for r in rights)


def _overlap(prefix: str, root: str) -> str | None:
    """The part of namespace ``root`` that ``prefix`` asks for, as a prefix (None: none)."""
    if root.startswith(prefix):
        return root
    if prefix.startswith(root):
        return prefix
    return None


def grants(principal: Principal, prefix: str) -> list[str]:
    """The prefixes a subscription to ``prefix`` is granted as, for ``principal``.

    A namespace the principal sees whole: the part of it asked for. Another, where the
    principal has ``desk`` and an agent: the same under ``desk.<agent>.``. ``desk.``
    prefixes asked as such: one's own desk, or any desk for a principal who sees calls
    and agents whole (a supervisor watching a desktop)."""
    if prefix.startswith(DESK) or DESK.startswith(prefix) and prefix:
        if principal.may("calls") and principal.may("agents"):
            return [prefix]
        mine = f"{DESK}{principal.agent}." if principal.agent else None
        if mine and principal.may("desk"):
            if prefix.startswith(mine):
                return [prefix]
            if mine.startswith(prefix):
                return [mine]
        return []
    out = []
    for root in ROOTS:
        part = _overlap(prefix, root)
        if part is None:
            continue
        if _sees_root(principal, root):
            out.append(part)
        elif root in DESK_ROOTS and principal.agent and principal.may("desk"):
            out.append(f"{DESK}{principal.agent}.{part}")
    if not any(_overlap(prefix, r) for r in ROOTS) and principal.may(OTHER[0]):
        out.append(prefix)          # a topic in no known namespace: the administrator's
    return out


def sees_everything(principal: Principal) -> bool:
    """Every namespace whole (an administrator, a supervisor): nothing to filter."""
    return all(_sees_root(principal, root) for root in ROOTS)


def visible(principal: Principal, topic: str, agents: tuple[str, ...]) -> bool:
    """``principal`` may see an event of ``topic`` concerning ``agents``."""
    root = root_of(topic)
    if _sees_root(principal, root):
        return True
    return (root in DESK_ROOTS and principal.agent is not None and principal.may("desk")
            and principal.agent in agents)


def desk_topics(topic: str, agents: tuple[str, ...]) -> list[str]:
    """The desk copies' topics of an event (none outside :data:`DESK_ROOTS`)."""
    if not agents or root_of(topic) not in DESK_ROOTS:
        return []
    return [f"{DESK}{a}.{topic}" for a in agents]


def public_topic(topic: str) -> str:
    """``desk.1001.call.delivered`` -> ``call.delivered`` (other topics as they are)."""
    if topic.startswith(DESK):
        rest = topic[len(DESK):]
        _, dot, public = rest.partition(".")
        if dot:
            return public
    return topic
