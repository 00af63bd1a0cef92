"""Call barring: which numbers an agent may dial out, by rule sets per agent or queue.

Sans-I/O: a :class:`Barring` is built from the configuration ([centre.barring]) and
answers :meth:`Barring.check` ``(agent, queues, number)`` with None (allowed) or the
:class:`Barred` rule that matched. The centre asks it before any trunk is seized
(cti/centre/outbound.py), so a barred number never reaches the network.

Every rule is a set of number prefixes, each marked allow or deny, matched against the
number in its normal form (drivers/numbers.py: ``+44...`` is ``0044...``, our own country
code and the trunk prefix are taken off a national number):

* ``no_international``: deny the international prefixes (``00``; ``+`` is ``00`` in the
  normal form);
* ``no_premium``: deny the premium-rate prefixes (configured, e.g. ``900``, ``168``),
  dialled with or without the trunk prefix;
* ``local_only``: deny the trunk prefix (``0``: another area, and international) and the
  non-geographic prefixes (mobiles ``13``..``19``, ``400``, ``800``), allow the trunk
  prefix with the centre's own area code;
* ``internal_only``: deny every number out (a call out always takes a trunk; such an
  agent reaches colleagues by transfer and consultation);
* ``deny`` and ``allow``: the set's own prefix lists.

The most specific (longest) matching prefix wins; between an allow and a deny of the same
length, the deny (secure by default). So ``no_international`` with ``allow = ["0033"]``
lets France through and nothing else abroad. A number is barred iff the winning prefix
is a deny; the error names its rule. The emergency numbers are never barred.

Which set applies to an agent: its own (``[centre.barring.agents]``); else every set of
the queues it serves (``[centre.barring.queues]``): barred if any of them bars; else the
``default`` set; else none.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RULES", "RuleSet", "BarringConfig", "Barred", "Barring", "NumberBarred"]

#: the named rules a set may hold
RULES = ("no_international", "no_premium", "local_only", "internal_only")


@dataclass(frozen=True)
class RuleSet:
    name: str
    rules: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class BarringConfig:
    sets: dict = field(default_factory=dict)            # name -> RuleSet
    agents: dict = field(default_factory=dict)          # agent id -> set name
    queues: dict = field(default_factory=dict)          # queue name -> set name
    default: str = ""                                   # the set of everyone else ("": none)
    international_prefixes: tuple[str, ...] = ("00",)
    premium_prefixes: tuple[str, ...] = ()
    trunk_prefix: str = "0"
    area_code: str = ""                                 # the centre's own, without "0"
    non_geographic: tuple[str, ...] = ("13", "14", "15", "16", "17", "18", "19",
                                       "400", "800")
    emergency: tuple[str, ...] = ("110", "112", "119", "120", "122")


@dataclass(frozen=True)
class Barred:
    """Why a number is barred: the set, its rule, and the prefix that matched."""
    set: str
    rule: str
    prefix: str

    def message(self, number: str) -> str:
        pre = f"prefix {self.prefix!r}" if self.prefix else "every number out"
        return (f"{number} is barred by rule {self.rule} of rule set {self.set!r} "
                f"({pre})")


class NumberBarred(ValueError):
    """A call out refused by call barring; ``barred``: the rule that matched."""

    def __init__(self, number: str, barred: Barred):
        self.number, self.barred = number, barred
        super().__init__(barred.message(number))


def prefixes(rs: RuleSet, cfg: BarringConfig) -> list[tuple[str, bool, str]]:
    """The set as (prefix, allow, rule) entries."""
    out: list[tuple[str, bool, str]] = []
    tp = cfg.trunk_prefix
    for rule in rs.rules:
        if rule == "no_international":
            out += [(p, False, rule) for p in cfg.international_prefixes]
        elif rule == "no_premium":
            for p in cfg.premium_prefixes:
                out += [(p, False, rule)] + ([(tp + p, False, rule)] if tp else [])
        elif rule == "local_only":
            out += [(p, False, rule) for p in cfg.non_geographic]
            if tp:
                out.append((tp, False, rule))
                if cfg.area_code:
                    out.append((tp + cfg.area_code, True, rule))
        elif rule == "internal_only":
            out.append(("", False, rule))
    out += [(p, False, "deny") for p in rs.deny]
    out += [(p, True, "allow") for p in rs.allow]
    return out


def winner(entries, number: str):
    """The most specific matching entry (deny before allow at the same length), or None."""
    best = None
    for p, allow, rule in entries:
        if number.startswith(p):
            key = (len(p), not allow)
            if best is None or key > best[0]:
                best = (key, (p, allow, rule))
    return None if best is None else best[1]


class Barring:
    """The rule sets of one configuration; looked up per call (see the module doc)."""

    def __init__(self, cfg: BarringConfig | None = None):
        self.cfg = cfg or BarringConfig()
        self._entries = {name: prefixes(rs, self.cfg) for name, rs in self.cfg.sets.items()}

    def sets_of(self, agent: str, queues=()) -> list[str]:
        """The rule sets that apply to ``agent`` serving ``queues``."""
        cfg = self.cfg
        if agent in cfg.agents:
            return [cfg.agents[agent]]
        own = [cfg.queues[q] for q in queues if q in cfg.queues]
        if own:
            return list(dict.fromkeys(own))
        return [cfg.default] if cfg.default else []

    def check_set(self, name: str, number: str) -> Barred | None:
        w = winner(self._entries.get(name, ()), number)
        if w is None or w[1]:
            return None
        return Barred(name, w[2], w[0])

    def refuse(self, agent: str, queues, number: str) -> None:
        """Raise :class:`NumberBarred` when ``agent`` may not dial ``number``."""
        b = self.check(agent, queues, number)
        if b is not None:
            raise NumberBarred(number, b)

    def check(self, agent: str, queues, number: str) -> Barred | None:
        """None when ``agent`` may dial ``number`` (normal form), else what bars it."""
        if number in self.cfg.emergency:
            return None
        for name in self.sets_of(agent, queues):
            b = self.check_set(name, number)
            if b is not None:
                return b
        return None
