"""The call-centre sections: [centre], [[agents]], [[queues]], [routing], [ivr] and
[centre.callbacks], read into a cti.centre.coordinator.CentreConfig, with the checks of
what a caller would meet (prompts that exist, queues and flows that routes name, lookups
on open tables, one agent per extension, numbers in Q.931 digits)."""
from __future__ import annotations

import os
from pathlib import Path

from cti.server.config.checker import _Checker
from cti.server.config.limits import MAX_PORTS

# The keys of a [[queues]] table besides name and members (cti.centre.acd.QueueConfig's fields).
_QUEUE_OPTIONS = ("strategy", "ring_timeout", "wrapup", "max_wait", "overflow", "join_empty",
                  "leave_when_empty", "announce_every", "pause_on_no_answer",
                  "required_skills", "weight", "max_len", "dissuade_ewt", "dissuade",
                  "max_talk")

_QUEUE_TYPES = {"strategy": str, "ring_timeout": (int, float), "wrapup": (int, float),
                "max_wait": (int, float), "overflow": str, "join_empty": bool,
                "leave_when_empty": bool, "announce_every": (int, float),
                "pause_on_no_answer": bool, "required_skills": dict, "weight": int,
                "max_len": int, "dissuade_ewt": (int, float), "dissuade": str,
                "max_talk": (int, float)}


def _centre(c: _Checker, data: dict, home: Path, port_kinds: list[str]):
    """[centre], [[agents]], [[queues]], [routing] and [ivr] as a CentreConfig."""
    from cti.centre import acd
    from cti.centre import ivr
    from cti.centre.coordinator import CentreConfig

    ce = c.table(data.get("centre", {}), ("centre",),
                 ("ivr_ports", "record", "record_queues", "moh", "voicemail_seconds", "prompts",
                  "outbound_ani", "survey", "survey_timeout", "transfer_ring_timeout",
                  "callbacks", "phone_login", "wrapup_codes", "barring", "time_limits"))
    agents = []
    for path, a in c.tables(data, (), "agents"):
        a = c.table(a, path, ("id", "name", "extension", "skills", "first", "count",
                              "first_extension"))
        if "count" in a:         # a run of agents: ids first.., extensions first_extension..
            first = c.get(a, path, "first", int, 1001, lo=0)
            count = c.get(a, path, "count", int, 1, lo=1, hi=10000)
            ext0 = c.get(a, path, "first_extension", int, 1, lo=1, hi=MAX_PORTS)
            for i in range(count):
                agents.append((path, {"id": str(first + i), "extension": ext0 + i,
                                      "skills": a.get("skills", {})}))
        else:
            agents.append((path, a))
    agent_cfgs = {}
    extensions: dict[int, str] = {}
    tables = data.get("agents") if isinstance(data.get("agents"), list) else []

    def raw_keys(path):
        t = tables[path[-1]] if path[-1] < len(tables) else {}
        return t if isinstance(t, dict) else {}
    for path, a in agents:
        aid = a.get("id")
        if not isinstance(aid, str) or not aid:
            c.error(path + ("id",), "missing: every agent has an id (a string)")
            continue
        ext = a.get("extension")
        if ext is not None and (not isinstance(ext, int) or isinstance(ext, bool)
                                or not 1 <= ext <= len(port_kinds) or port_kinds[ext - 1] != "fxs"):
            c.error(path + ("extension",), f"{ext!r} is not an FXS port of the board "
                    f"(FXS ports: {', '.join(str(i + 1) for i, k in enumerate(port_kinds) if k == 'fxs')})")
            ext = None
        if aid in agent_cfgs:
            c.error(path + ("id",), f"agent {aid!r} twice")
            continue
        if ext is not None:
            # one agent per extension: the phone that rings is the agent's
            other = extensions.setdefault(ext, aid)
            if other != aid:
                c.error(path + ("first_extension" if "first_extension" in raw_keys(path)
                                else "extension",),
                        f"extension {ext} is agent {other!r}'s already: one agent per "
                        "extension")
                ext = None
        try:
            agent_cfgs[aid] = acd.AgentConfig(aid, str(a.get("name", "")), ext,
                                              dict(a.get("skills", {})))
        except (ValueError, TypeError) as e:
            c.error(path, str(e))
    queues = []
    queue_paths: list[tuple] = []
    for path, q in c.tables(data, (), "queues"):
        q = c.table(q, path, ("name", "members") + _QUEUE_OPTIONS)
        members = q.get("members", "all")
        if members == "all":
            members = list(agent_cfgs)
        if not isinstance(members, list):
            c.error(path + ("members",), "must be an array of agent ids, or \"all\"")
            members = []
        mem = []
        for i, m in enumerate(members):
            aid, _, pen = str(m).partition(":")
            if aid not in agent_cfgs:
                c.error(path + ("members", i), f"no agent {aid!r}")
                continue
            mem.append(acd.Member(aid, int(pen) if pen.isdigit() else 0))
        # each option of the type cti.centre.acd.QueueConfig takes, so that its own checks (which
        # compare values) are never handed an array or a table
        kw = {k: c.get(q, path, k, _QUEUE_TYPES[k], None) for k in _QUEUE_OPTIONS if k in q}
        kw = {k: v for k, v in kw.items() if v is not None}
        qname = c.get(q, path, "name", str, None)
        if not qname:
            if "name" not in q or qname == "":
                c.error(path + ("name",), "missing: every queue has a name (a string)")
            continue
        if qname in {x.name for x in queues}:
            c.error(path + ("name",), f"queue {qname!r} twice")
            continue
        try:
            queues.append(acd.QueueConfig(qname, members=tuple(mem), **kw))
            queue_paths.append(path)
        except (ValueError, TypeError) as e:
            c.error(path, str(e))
    if not queues:
        c.error(("queues",), "missing: at least one queue ([[queues]])")
    dissuasion = {f"dissuade:{q.name}": ivr.dissuasion_flow(q.name, q.dissuade)
                  for q in queues if q.dissuade_ewt is not None}
    qnames = {q.name for q in queues}
    for path, q in zip(queue_paths, queues):
        action, target = q.overflow_action()
        if action == "queue" and target not in qnames:
            c.error(path + ("overflow",), f"{q.overflow!r}: no queue {target!r}")
    prompts = c.get(ce, ("centre",), "prompts", str, str(home / "prompts"))
    known = _known_prompts(c, prompts, home)
    r = c.table(data.get("routing", {}), ("routing",), ("default", "dnis", "area"))
    routes = {}
    dn = r.get("dnis", {})
    if not isinstance(dn, dict):
        c.error(("routing", "dnis"), "must be a table of DNIS = \"ivr:FLOW\" | \"queue:NAME\"")
        dn = {}
    iv = c.table(data.get("ivr", {}), ("ivr",), ("ports", "flows"))
    flows = {}
    # flows named in the file (one with errors is reported there, not again as a route)
    flow_names = set(iv["flows"]) if isinstance(iv.get("flows"), dict) else set()
    if "flows" in iv:
        try:
            flows = ivr.parse_flows(iv["flows"], path=("ivr", "flows"), known_prompts=known)
        except ivr.FlowError as e:
            for p_, m in e.errors:
                c.error(tuple(p_), m)
        _check_flows(c, flows, qnames)
    default = c.get(r, ("routing",), "default", str, "ivr:main" if flows else
                    f"queue:{queues[0].name}" if queues else "")

    def check_route(path, route):
        kind, _, target = str(route).partition(":")
        if str(route) == "area":
            return
        if kind == "ivr" and target not in flows and target not in flow_names:
            c.error(path, f"{route!r}: no IVR flow {target!r}")
        elif kind == "queue" and target not in qnames:
            c.error(path, f"{route!r}: no queue {target!r}")
        elif kind not in ("ivr", "queue"):
            c.error(path, f"{route!r}: a route is \"ivr:FLOW\", \"queue:NAME\" or \"area\"")
    check_route(("routing", "default"), default)
    for k, v in dn.items():
        check_route(("routing", "dnis", k), v)
        if not _ia5_digits(k):
            c.error(("routing", "dnis", k), "a DNIS is 1..20 ASCII digits (0-9 * #, Q.931 "
                    "4.5.8), as the network sends it")
        routes[str(k)] = str(v)
    area = []
    rules = r.get("area", [])
    if not isinstance(rules, list):
        c.error(("routing", "area"), "must be an array of [ANI prefix, queue name] rules")
        rules = []
    for i, rule in enumerate(rules):
        if not (isinstance(rule, list) and len(rule) == 2 and str(rule[1]) in qnames
                and isinstance(rule[0], str) and _ia5_digits(rule[0])):
            c.error(("routing", "area", i), "an area rule is [ANI prefix (ASCII digits), "
                    "queue name]")
            continue
        area.append((str(rule[0]), str(rule[1])))
    flows.update(dissuasion)
    for path, q in zip(queue_paths, queues):
        if q.dissuade_ewt is not None:
            for name in sorted(dissuasion[f"dissuade:{q.name}"].prompts()):
                if name not in known:
                    c.error(path + ("dissuade",), f"the dissuasion flow plays {name!r}: "
                            f"{known.why(name)}")
    moh = c.get(ce, ("centre",), "moh", str, "moh")
    if moh and moh not in known:
        c.error(("centre", "moh"), f"{moh!r}: {known.why(moh)}")
    return CentreConfig(
        agents=list(agent_cfgs.values()), queues=queues, flows=flows, routes=routes,
        default_route=default, area_routes=area,
        ivr_ports=c.get(iv, ("ivr",), "ports", int, c.get(ce, ("centre",), "ivr_ports", int, 8,
                                                           lo=0, hi=10000), lo=0, hi=10000),
        record=c.get(ce, ("centre",), "record", bool, True),
        recordings_dir=str(home / "recordings"), voicemail_dir=str(home / "voicemail"),
        voicemail_seconds=c.get(ce, ("centre",), "voicemail_seconds", (int, float), 60.0,
                                lo=1, hi=3600),
        moh=moh,
        prompts_dir=prompts,
        outbound_ani=_number(c, ce, ("centre",), "outbound_ani"),
        record_queues=_record_queues(c, ce, qnames),
        survey_queues=_survey_queues(c, ce, qnames),
        survey_timeout=c.get(ce, ("centre",), "survey_timeout", (int, float), 10.0, lo=1, hi=120),
        transfer_ring_timeout=c.get(ce, ("centre",), "transfer_ring_timeout", (int, float), 20.0,
                                    lo=1, hi=600),
        callbacks=_callbacks(c, ce, set(agent_cfgs)),
        phone_login=_phone_login(c, ce),
        barring=_barring(c, ce, set(agent_cfgs), qnames),
        time_limits=_time_limits(c, ce, set(agent_cfgs)),
        **_wrapup_codes(c, ce))


def _wrapup_codes(c: _Checker, ce: dict) -> dict:
    """[centre] wrapup_codes: the codes an agent may give a call at its wrap-up, 1 to 64
    of them, each 1 to 64 characters (none given: CentreConfig's)."""
    p = ("centre", "wrapup_codes")
    if "wrapup_codes" not in ce:
        return {}
    v = ce["wrapup_codes"]
    if (not isinstance(v, list) or not 1 <= len(v) <= 64 or
            not all(isinstance(x, str) and 1 <= len(x) <= 64 for x in v)):
        c.error(p, "must be an array of 1 to 64 codes, each a string of 1 to 64 characters")
        return {}
    return {"wrapup_codes": tuple(dict.fromkeys(v))}


def _time_limits(c: _Checker, ce: dict, agents: set):
    """[centre.time_limits]: the warning's lead and tone, and a limit per agent (a
    queue's is its max_talk, a campaign's its own: cti/centre/timelimits.py)."""
    from cti.centre.timelimits import TimeLimitConfig

    p = ("centre", "time_limits")
    t = c.table(ce.get("time_limits", {}), p, ("warning", "agents", "tone_hz", "tone_ms"))
    d = TimeLimitConfig()
    per = {}
    raw = t.get("agents", {})
    if not isinstance(raw, dict):
        c.error(p + ("agents",), "must be a table of agent = seconds")
        raw = {}
    for k in raw:
        v = c.get(raw, p + ("agents",), k, (int, float), None, lo=1, hi=86400)
        if k not in agents:
            c.error(p + ("agents", k), f"no agent {k!r}")
        elif v is not None:
            per[k] = float(v)
    return TimeLimitConfig(
        warning=float(c.get(t, p, "warning", (int, float), d.warning, lo=0, hi=3600)),
        agents=per,
        tone_hz=float(c.get(t, p, "tone_hz", (int, float), d.tone_hz, lo=300, hi=3400)),
        tone_ms=c.get(t, p, "tone_ms", int, d.tone_ms, lo=50, hi=5000))


def _prefixes(c: _Checker, tbl: dict, path: tuple, key: str, default: tuple) -> tuple:
    """An array of number prefixes: ASCII digits (``+`` at the start is ``00``, as in a
    number's normal form, drivers/numbers.py)."""
    v = c.get(tbl, path, key, list, None)
    if v is None:
        return default
    out = []
    for i, p in enumerate(v):
        if isinstance(p, str) and p.startswith("+"):
            p = "00" + p[1:]
        if not (isinstance(p, str) and _ia5_digits(p)):
            c.error(path + (key, i), f"{p!r}: a prefix is 1..20 ASCII digits (0-9 * #), "
                    "or + and digits")
            continue
        out.append(p)
    return tuple(out)


def _barring(c: _Checker, ce: dict, agents: set, qnames: set):
    """[centre.barring]: the rule sets of call barring and who uses which
    (cti/centre/barring.py)."""
    from cti.centre.barring import RULES, BarringConfig, RuleSet

    p = ("centre", "barring")
    b = c.table(ce.get("barring", {}), p, ("sets", "agents", "queues", "default",
                                           "international_prefixes", "premium_prefixes",
                                           "trunk_prefix", "area_code", "non_geographic",
                                           "emergency"))
    d = BarringConfig()
    sets = {}
    raw = b.get("sets", {})
    if not isinstance(raw, dict):
        c.error(p + ("sets",), "must be a table of rule sets ([centre.barring.sets.NAME])")
        raw = {}
    for name, rs in raw.items():
        sp = p + ("sets", name)
        rs = c.table(rs, sp, ("rules", "allow", "deny"))
        rules = []
        for i, r in enumerate(c.get(rs, sp, "rules", list, [])):
            if r not in RULES:
                c.error(sp + ("rules", i), f"{r!r} is not one of {', '.join(RULES)}")
            else:
                rules.append(r)
        sets[name] = RuleSet(name, tuple(rules), _prefixes(c, rs, sp, "allow", ()),
                             _prefixes(c, rs, sp, "deny", ()))
    uses = {}
    for key, known, what in (("agents", agents, "agent"), ("queues", qnames, "queue")):
        t = b.get(key, {})
        if not isinstance(t, dict):
            c.error(p + (key,), f"must be a table of {what} = \"rule set\"")
            t = {}
        uses[key] = {}
        for k, v in t.items():
            if k not in known:
                c.error(p + (key, k), f"no {what} {k!r}")
            elif v not in sets:
                c.error(p + (key, k), f"{v!r}: no rule set {v!r} in [centre.barring.sets]")
            else:
                uses[key][k] = v
    default = c.get(b, p, "default", str, "")
    if default and default not in sets:
        c.error(p + ("default",), f"{default!r}: no rule set {default!r} in "
                "[centre.barring.sets]")
        default = ""
    digits = {}
    for key in ("trunk_prefix", "area_code"):
        v = c.get(b, p, key, str, getattr(d, key))
        if v and not (v.isascii() and v.isdigit() and len(v) <= 8):
            c.error(p + (key,), f"{v!r}: 1 to 8 ASCII digits")
            v = getattr(d, key)
        digits[key] = v
    return BarringConfig(
        sets=sets, agents=uses["agents"], queues=uses["queues"], default=default, **digits,
        **{k: _prefixes(c, b, p, k, getattr(d, k))
           for k in ("international_prefixes", "premium_prefixes", "non_geographic",
                     "emergency")})


def _phone_login(c: _Checker, ce: dict):
    """[centre.phone_login]: the feature codes an agent dials at its phone (log in, log
    out, ready, not ready; "" turns one off) and the login dialogue's timings."""
    from cti.centre.phonelogin import PhoneLoginConfig

    p = ("centre", "phone_login")
    pl = c.table(ce.get("phone_login", {}), p, ("login_code", "logout_code", "ready_code",
                                                "not_ready_code", "digit_timeout",
                                                "session_timeout", "tries", "max_digits"))
    d = PhoneLoginConfig()
    codes = {}
    for key in ("login_code", "logout_code", "ready_code", "not_ready_code"):
        v = c.get(pl, p, key, str, getattr(d, key))
        if v and (len(v) > 8 or any(ch not in "0123456789*" for ch in v)):
            c.error(p + (key,), f"{v!r}: a feature code is 1 to 8 of the digits 0-9 and *")
            v = getattr(d, key)
        codes[key] = v
    seen: dict[str, str] = {}
    for key, v in codes.items():
        if v and seen.setdefault(v, key) != key:
            c.error(p + (key,), f"{v!r} is {seen[v]} already: the codes must differ")
            codes[key] = ""
    return PhoneLoginConfig(
        **codes,
        digit_timeout=float(c.get(pl, p, "digit_timeout", (int, float), d.digit_timeout,
                                  lo=1, hi=60)),
        session_timeout=float(c.get(pl, p, "session_timeout", (int, float),
                                    d.session_timeout, lo=10, hi=600)),
        tries=c.get(pl, p, "tries", int, d.tries, lo=1, hi=10),
        max_digits=c.get(pl, p, "max_digits", int, d.max_digits, lo=1, hi=32))


def _ia5_digits(s: str) -> bool:
    """1..20 of Q.931's number digits (drivers/numbers.py), what a DNIS or ANI can be."""
    from drivers.numbers import IA5_DIGITS, MAX_DIGITS
    return 0 < len(s) <= MAX_DIGITS and all(ch in IA5_DIGITS for ch in s)


def _number(c: _Checker, tbl: dict, path: tuple, key: str) -> str:
    """A telephone number of ours (the ANI we send), in its normal form."""
    from drivers.numbers import NumberError, parse_number
    v = c.get(tbl, path, key, str, "")
    if not v:
        return ""
    try:
        return parse_number(v, what="the number")
    except NumberError as e:
        c.error(path + (key,), str(e))
        return ""


class _KnownPrompts:
    """The prompts a flow may name: files in the prompts directory, and, when the
    directory is inside the home (where the server writes), those the server makes at
    start (cti.centre.prompts.DEFAULT_PROMPTS and the music on hold)."""

    def __init__(self, directory: str, makeable: bool):
        from cti.centre.prompts import DEFAULT_PROMPTS, MOH
        self.directory = directory
        self.makeable = set(DEFAULT_PROMPTS) | {MOH} if makeable else set()

    def __contains__(self, name: object) -> bool:
        from cti.centre.prompts import valid_prompt_name
        if not isinstance(name, str) or not valid_prompt_name(name):
            return False
        return name in self.makeable or os.path.isfile(os.path.join(self.directory,
                                                                    name + ".wav"))

    def why(self, name: str) -> str:
        from cti.centre.prompts import valid_prompt_name
        if not valid_prompt_name(name):
            return ("not a prompt name (letters, digits, '_', '-', '.'; no path: prompts "
                    "are files in the prompts directory)")
        return f"no prompt file {os.path.join(self.directory, name + '.wav')}"


def _inside(path: str | os.PathLike, home: Path) -> bool:
    p, h = os.path.realpath(path), os.path.realpath(home)
    return p == h or p.startswith(h.rstrip(os.sep) + os.sep)


def _known_prompts(c: _Checker, prompts: str, home: Path) -> _KnownPrompts:
    """[centre] prompts: inside the home the server makes what is missing; outside it (a
    shared, read-only set) the directory must exist, since nothing is written there."""
    inside = _inside(prompts, home)
    if not inside and not os.path.isdir(prompts):
        c.error(("centre", "prompts"), f"{prompts!r} is outside the home ({home}) and is not a "
                "directory: the server writes only inside its home, so a prompts directory "
                "elsewhere must exist")
        return _AnyPrompt()         # one error for the directory, not one per prompt
    return _KnownPrompts(prompts, inside)


class _AnyPrompt:
    def __contains__(self, name: object) -> bool:
        return True


def _check_flows(c: _Checker, flows: dict, qnames: set) -> None:
    """What a flow names that the centre must have: queues (queue, callback nodes) and the
    tables and columns open to lookups (cti.store.sqlite.LOOKUPS)."""
    from cti.centre import ivr
    from cti.store.sqlite import LOOKUPS

    for fname, flow in flows.items():
        for nname, node in flow.nodes.items():
            p = ("ivr", "flows", fname, "nodes", nname)
            if isinstance(node, (ivr.QueueNode, ivr.CallbackNode)) and node.queue is not None \
                    and node.queue not in qnames:
                c.error(p + ("queue",), f"no queue {node.queue!r} (queues: "
                        f"{', '.join(sorted(qnames))})")
            elif isinstance(node, ivr.LookupNode):
                if node.table not in LOOKUPS:
                    c.error(p + ("table",), f"{node.table!r} is not open to lookups (tables: "
                            f"{', '.join(LOOKUPS)})")
                elif node.column not in LOOKUPS[node.table]:
                    c.error(p + ("column",), f"{node.table}.{node.column} is not open to "
                            f"lookups (columns: {', '.join(LOOKUPS[node.table])})")


def _record_queues(c: _Checker, ce: dict, qnames: set) -> tuple | None:
    """[centre] record_queues: record only the calls of these queues (default: all)."""
    rq = ce.get("record_queues")
    if rq is None:
        return None
    if not isinstance(rq, list):
        c.error(("centre", "record_queues"), "must be an array of queue names")
        return None
    for i, q in enumerate(rq):
        if not isinstance(q, str) or q not in qnames:
            c.error(("centre", "record_queues", i), f"no queue {q!r}")
    return tuple(str(q) for q in rq if isinstance(q, str))


def _survey_queues(c: _Checker, ce: dict, qnames: set) -> tuple:
    """[centre] survey: the after-call survey on every answered call (true), on the calls
    of these queues (an array of names), or on none (false, the default)."""
    sv = ce.get("survey", False)
    if isinstance(sv, bool):
        return ("*",) if sv else ()
    if not isinstance(sv, list):
        c.error(("centre", "survey"), "must be true, false or an array of queue names")
        return ()
    for i, q in enumerate(sv):
        if not isinstance(q, str) or q not in qnames:
            c.error(("centre", "survey", i), f"no queue {q!r}")
    return tuple(str(q) for q in sv if isinstance(q, str))


def _callbacks(c: _Checker, ce: dict, agents: set):
    """[centre.callbacks]: callbacks worked off through the dialer after the peak."""
    from cti.centre.campaigns import CallbackConfig

    p = ("centre", "callbacks")
    cb = c.table(ce.get("callbacks", {}), p, ("enabled", "rate_below", "window", "when_idle",
                                              "max_attempts", "retry_delay",
                                              "no_answer_timeout", "agents"))
    d = CallbackConfig()
    ids = cb.get("agents", [])
    if not isinstance(ids, list):
        c.error(p + ("agents",), "must be an array of agent ids")
        ids = []
    for i, a in enumerate(ids):
        if not isinstance(a, str) or a not in agents:
            c.error(p + ("agents", i), f"no agent {a!r}")
    return CallbackConfig(
        enabled=c.get(cb, p, "enabled", bool, d.enabled),
        rate_below=float(c.get(cb, p, "rate_below", (int, float), d.rate_below, lo=0,
                               hi=100_000)),
        window=float(c.get(cb, p, "window", (int, float), d.window, lo=10, hi=86_400)),
        when_idle=c.get(cb, p, "when_idle", bool, d.when_idle),
        max_attempts=c.get(cb, p, "max_attempts", int, d.max_attempts, lo=1, hi=100),
        retry_delay=float(c.get(cb, p, "retry_delay", (int, float), d.retry_delay, lo=0,
                                hi=86_400 * 7)),
        no_answer_timeout=float(c.get(cb, p, "no_answer_timeout", (int, float),
                                      d.no_answer_timeout, lo=1, hi=600)),
        agents=tuple(str(a) for a in ids if isinstance(a, str) and a in agents))
