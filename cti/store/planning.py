"""cti.store.planning: trunk, IVR-port and staffing arithmetic (Erlang B, C and A).

Pure functions, no I/O. Every result is a plain float or a JSON-able dict.

* Erlang B (Erlang 1917, "Solution of some problems in the theory of probabilities of
  significance in automatic telephone exchanges"; blocked calls cleared; trunks and IVR
  ports; ITU-T E.520 dimensions circuit groups with it) by the recursion
  B(n) = A B(n-1) / (n + A B(n-1)), which stays in [0, 1] for any size. The loss
  report (``cti.store.report``) imports it from here.
* Erlang C (Erlang 1917, blocked calls wait; agents) is derived from B without
  factorials: C = N B / (N - A (1 - B)).
* Erlang A (Palm 1943 "Intensitatsschwankungen im Fernsprechverkehr"; Garnett,
  Mandelbaum and Reiman 2002, "Designing a call center with impatient customers",
  M&SOM 4(3)): callers abandon after an exponential patience of mean ``patience``; the
  M/M/N+M queue. With c = N/AHT (service rate of the busy pool), lambda the arrival
  rate and theta = 1/patience, an arrival that finds k callers queued gets its
  virtual wait V as the sum of exponentials of rates c + j theta, j = 0..k; weighting
  by the stationary queue distribution, every needed sum over k collapses into a
  one-dimensional integral over v (the virtual wait):

      sum_k w_k (...) = integral c exp(psi(v)) (...) dv,
      psi0(v) = -c v + (lambda/theta)(1 - exp(-theta v))      (all waiting callers)
      psi1(v) = psi0(v) - theta v                             (those still there at v)

  w_k being the queue-state probabilities relative to the "all agents busy, nobody
  queued" state. psi is concave, so each integrand is a single smooth bump; the
  integrals are done by composite Gauss-Legendre in log scale (no overflow, cost
  independent of N). The tests check this against a direct birth-death chain sum.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = [
    "erlang_b", "offered_from_carried", "channels_for_blocking", "erlang_c",
    "service_level", "asa", "occupancy", "traffic_of", "agents_for_service_level",
    "evaluate", "erlang_a", "service_level_a", "agents_for_service_level_a",
    "evaluate_a", "trunks_plan", "ivr_ports_plan", "format_plan", "patience_mle",
    "measured_staffing", "measured_ivr", "staffing_for", "format_measured_staffing",
    "format_measured_ivr",
]

# ---------------------------------------------------------------- argument checks


def _num(value: Any, name: str, *, positive: bool = False, allow_inf: bool = False) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name}: must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number, got {value!r}") from None
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    if v < 0 or (positive and v == 0):
        raise ValueError(f"{name}: must be {'more than' if positive else 'at least'} 0, got {value!r}")
    return v


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: must be a whole number, 0 or more, got {value!r}")
    return value


def _fraction(value: Any, name: str) -> float:
    v = _num(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name}: must be strictly between 0 and 1, got {value!r}")
    return v


# ---------------------------------------------------------------- Erlang B


def erlang_b(traffic: float, channels: int) -> float:
    """Erlang B blocking probability for ``traffic`` erlangs offered to ``channels``
    (Erlang 1917; ITU-T E.520).

    The recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)) stays within [0, 1] at
    every step, so it neither overflows nor loses precision for thousands of
    channels (the textbook A^N/N! / sum A^k/k! overflows past N ~ 170).
    """
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 0:
        raise ValueError(f"channels: must be a whole number, 0 or more, got {channels!r}")
    a = float(traffic)
    if not math.isfinite(a) or a < 0:
        raise ValueError(f"traffic: must be a finite number of erlangs, 0 or more, got {traffic!r}")
    b = 1.0
    for n in range(1, channels + 1):
        ab = a * b
        b = ab / (n + ab)
    return b


def offered_from_carried(carried: float, channels: int) -> float | None:
    """The offered traffic A whose carried part A (1 - B(A, N)) equals ``carried``.

    This is how blocked traffic is inferred on lines where blocked calls are never
    seen. None when the carried traffic fills every channel (any A fits).
    """
    if carried <= 0:
        return 0.0
    if carried >= channels:
        return None

    def carried_of(a: float) -> float:
        return a * (1.0 - erlang_b(a, channels))

    lo, hi = carried, max(2.0 * carried, 1.0)
    while carried_of(hi) < carried:
        lo, hi = hi, hi * 2.0
        if hi > 1e9 * max(channels, 1):
            return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if carried_of(mid) < carried:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def traffic_of(calls: float, interval: float, aht: float) -> float:
    """Offered traffic in erlangs: calls per interval times the handling time."""
    calls = _num(calls, "calls")
    interval = _num(interval, "interval", positive=True)
    aht = _num(aht, "aht", positive=True)
    return calls * aht / interval


# ---------------------------------------------------------------- Erlang B planning


def channels_for_blocking(traffic: float, target: float) -> int:
    """Fewest channels whose Erlang B blocking for ``traffic`` is at most ``target``."""
    a = _num(traffic, "traffic")
    t = _fraction(target, "target")
    b, n = 1.0, 0
    while b > t:
        n += 1
        ab = a * b
        b = ab / (n + ab)
    return n


def _plan_b(kind: str, offered: float, target: float, unit: int, have: int | None) -> dict:
    a = _num(offered, "offered_erlangs")
    t = _fraction(target, "target_blocking")
    need = channels_for_blocking(a, t)
    units = -(-need // unit) if need else 0
    provisioned = units * unit
    b_prov = erlang_b(a, provisioned)
    out: dict[str, Any] = {
        "kind": kind, "offered_erlangs": a, "target_blocking": t,
        "channels": need, "blocking": erlang_b(a, need),
        "unit_channels": unit, "units": units, "channels_provisioned": provisioned,
        "blocking_provisioned": b_prov,
    }
    if have is not None:
        have = _count(have, "channels")
        bn = erlang_b(a, have)
        out.update({"channels_now": have, "blocking_now": bn,
                    "carried_now": a * (1.0 - bn), "lost_erlangs_now": a * bn})
    return out


def trunks_plan(offered_erlangs: float, target_blocking: float, span_channels: int = 30,
                channels: int | None = None) -> dict:
    """Trunk channels and E1 spans (``span_channels`` each, 30 on E1, 23 on T1 PRI)
    for a target blocking; with ``channels``, the blocking those give now."""
    span = _count(span_channels, "span_channels")
    if span == 0:
        raise ValueError("span_channels: must be at least 1")
    out = _plan_b("trunks", offered_erlangs, target_blocking, span, channels)
    out["spans"] = out["units"]
    return out


def ivr_ports_plan(offered_erlangs: float, target_blocking: float, ports: int | None = None,
                   port_block: int = 1) -> dict:
    """IVR ports for a target blocking (Erlang B again: a caller who finds no free
    port is not answered); ``port_block`` rounds up to whole boards/licences."""
    blk = _count(port_block, "port_block")
    if blk == 0:
        raise ValueError("port_block: must be at least 1")
    out = _plan_b("ivr", offered_erlangs, target_blocking, blk, ports)
    out["ports"] = out["channels_provisioned"]
    return out


# ---------------------------------------------------------------- Erlang C


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a call waits (all ``agents`` busy) with ``traffic`` erlangs
    and no abandonment. 1.0 when traffic >= agents (the queue grows without bound)."""
    n = _count(agents, "agents")
    a = _num(traffic, "traffic")
    if a == 0:
        return 0.0
    if a >= n:
        return 1.0
    b = erlang_b(a, n)
    return min(1.0, n * b / (n - a * (1.0 - b)))


def service_level(traffic: float, agents: int, aht: float, target_seconds: float) -> float:
    """Erlang C fraction answered within ``target_seconds``:
    1 - C exp(-(N - A) T / AHT); 0 when traffic >= agents."""
    aht = _num(aht, "aht", positive=True)
    t = _num(target_seconds, "target_seconds")
    c = erlang_c(traffic, agents)
    a = float(traffic)
    if a == 0:
        return 1.0
    if a >= agents:
        return 0.0
    return min(1.0, max(0.0, 1.0 - c * math.exp(-(agents - a) * t / aht)))


_sl_c = service_level


def asa(traffic: float, agents: int, aht: float) -> float | None:
    """Erlang C average speed of answer C AHT / (N - A); None if traffic >= agents."""
    aht = _num(aht, "aht", positive=True)
    c = erlang_c(traffic, agents)
    a = float(traffic)
    if a == 0:
        return 0.0
    if a >= agents:
        return None
    return c * aht / (agents - a)


def occupancy(traffic: float, agents: int) -> float:
    """Fraction of agent time busy on calls, A/N, capped at 1."""
    n = _count(agents, "agents")
    a = _num(traffic, "traffic")
    if n == 0:
        return 1.0 if a > 0 else 0.0
    return min(1.0, a / n)


def _shrunk(n: int, shrinkage: float) -> int:
    if n == 0:
        return 0
    # Guard against 12/(1-0.25) = 16.000000000000004 style rounding up.
    return math.ceil(n / (1.0 - shrinkage) - 1e-9)


def _smallest(ok, lo: int) -> int:
    """Smallest n >= lo with ok(n), for ok monotone (False ... False True ...)."""
    if ok(lo):
        return lo
    step = 1
    hi = lo + step
    while not ok(hi):
        lo = hi
        step *= 2
        hi = lo + step
    while hi - lo > 1:  # ok(hi), not ok(lo)
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def evaluate(calls: float, interval: float, aht: float, target_seconds: float,
             agents: int, shrinkage: float = 0.0) -> dict:
    """What ``agents`` on the phones give (Erlang C): the ``--agents N`` reverse."""
    a = traffic_of(calls, interval, aht)
    n = _count(agents, "agents")
    s = _num(shrinkage, "shrinkage")
    if s >= 1:
        raise ValueError(f"shrinkage: must be below 1, got {shrinkage!r}")
    t = _num(target_seconds, "target_seconds")
    return {
        "model": "erlang_c", "calls": float(calls), "interval": float(interval),
        "aht": float(aht), "target_seconds": t, "traffic_erlangs": a,
        "agents": n, "agents_scheduled": _shrunk(n, s), "shrinkage": s,
        "p_wait": erlang_c(a, n), "asa": asa(a, n, aht),
        "occupancy": occupancy(a, n),
        "service_level": service_level(a, n, aht, t),
        "stable": a < n or a == 0,
    }


def agents_for_service_level(calls: float, interval: float, aht: float,
                             target_seconds: float, service_level: float,
                             shrinkage: float = 0.0) -> dict:
    """Fewest agents (Erlang C) answering ``service_level`` of calls within
    ``target_seconds``; ``agents_scheduled`` = ceil(N / (1 - shrinkage))."""
    a = traffic_of(calls, interval, aht)
    goal = _fraction(service_level, "service_level")
    t = _num(target_seconds, "target_seconds")
    s = _num(shrinkage, "shrinkage")
    if s >= 1:
        raise ValueError(f"shrinkage: must be below 1, got {shrinkage!r}")
    aht_f = float(aht)
    n = 0 if a == 0 else _smallest(lambda k: _sl_c(a, k, aht_f, t) >= goal, math.floor(a) + 1)
    out = evaluate(calls, interval, aht, t, n, s)
    out["service_level_target"] = goal
    return out


# ---------------------------------------------------------------- Erlang A


def _gl_nodes(m: int) -> list[tuple[float, float]]:
    """Gauss-Legendre nodes and weights on [-1, 1] (Newton on P_m)."""
    out = []
    for i in range(1, m + 1):
        x = math.cos(math.pi * (i - 0.25) / (m + 0.5))
        for _ in range(100):
            p0, p1 = 1.0, x
            for k in range(2, m + 1):
                p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
            dp = m * (x * p1 - p0) / (x * x - 1.0)
            dx = p1 / dp
            x -= dx
            if abs(dx) < 1e-16:
                break
        p0, p1 = 1.0, x
        for k in range(2, m + 1):
            p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
        dp = m * (x * p1 - p0) / (x * x - 1.0)
        out.append((x, 2.0 / ((1.0 - x * x) * dp * dp)))
    return out


_GL = _gl_nodes(16)
_DROP = 60.0  # integrate where the log-integrand is within 60 of its peak (e^-60 ~ 1e-26)


def _log_integral(c: float, lam: float, theta: float, extra: float, upper: float,
                  moment: bool = False) -> float:
    """log of integral_0^upper c v^moment exp(psi(v)) dv with
    psi(v) = -(c + extra) v + (lam/theta)(1 - exp(-theta v)); -inf if it is 0."""
    r = c + extra
    if upper <= 0:
        return -math.inf
    x = lam / theta

    def psi(v: float) -> float:
        return -r * v - x * math.expm1(-theta * v)

    # Peak of the concave psi: psi'(v) = -r + lam exp(-theta v) = 0.
    vp = math.log(lam / r) / theta if lam > r else 0.0
    vp = min(vp, upper)
    top = psi(vp)
    floor = top - _DROP

    def edge(lo: float, hi: float) -> float:  # psi(lo) >= floor > psi(hi), concave
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if psi(mid) >= floor:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-15 * max(hi, 1e-300):
                break
        return hi

    lo = 0.0
    if vp > 0 and psi(0.0) < floor:
        lo = _left_edge(psi, floor, vp)
    hi = upper
    if math.isinf(upper) or psi(upper) < floor:
        step = max(1.0 / r, 1e-12)
        h = vp + step
        while psi(h) >= floor and h < upper:
            step *= 2.0
            h = vp + step
        hi = edge(vp, min(h, upper)) if psi(min(h, upper)) < floor else min(h, upper)
    if moment:  # the v factor moves the bump a little to the right; widen
        hi = min(upper, hi + 2.0 * (hi - lo) + 1.0 / r)
    # Panels: the slope of psi is bounded by max(|psi'(lo)|, |psi'(hi)|); keep the
    # drop within one panel small enough for a 16-point rule to be exact in float.
    slope = max(abs(-r + lam * math.exp(-theta * lo)), abs(-r + lam * math.exp(-theta * hi)))
    width = hi - lo
    panels = int(min(400000, max(32, math.ceil(width * slope / 4.0))))
    h = width / panels
    total = 0.0
    for p in range(panels):
        a0 = lo + p * h
        mid = a0 + 0.5 * h
        for xn, wn in _GL:
            v = mid + 0.5 * h * xn
            f = math.exp(psi(v) - top)
            if moment:
                f *= v
            total += wn * f
    total *= 0.5 * h * c
    if total <= 0:
        return -math.inf
    return math.log(total) + top


def _left_edge(psi, floor: float, vp: float) -> float:
    lo, hi = 0.0, vp  # psi(lo) < floor <= psi(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if psi(mid) >= floor:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-15 * max(hi, 1e-300):
            break
    return lo


def erlang_a(traffic: float, agents: int, aht: float, patience: float,
             target_seconds: float | None = None) -> dict:
    """M/M/N+M (Erlang A) for ``traffic`` erlangs on ``agents`` with handling time
    ``aht`` and mean patience ``patience`` (seconds; math.inf gives Erlang C).

    Returns p_wait (all agents busy on arrival), p_abandon, p_answered, asa (mean
    wait of answered calls, 0 for those answered at once), mean_wait (all calls),
    occupancy, and with ``target_seconds`` the service level = fraction of offered
    calls answered within the target (abandoned calls count as missed).
    """
    n = _count(agents, "agents")
    a = _num(traffic, "traffic")
    aht = _num(aht, "aht", positive=True)
    pat = _num(patience, "patience", positive=True, allow_inf=True)
    t = None if target_seconds is None else _num(target_seconds, "target_seconds")
    out: dict[str, Any] = {"model": "erlang_a", "traffic_erlangs": a, "agents": n,
                           "aht": aht, "patience": pat}
    if a == 0:
        out.update(p_wait=0.0, p_abandon=0.0, p_answered=1.0, asa=0.0, mean_wait=0.0,
                   occupancy=0.0)
        if t is not None:
            out["service_level"] = 1.0
        return out
    if math.isinf(pat):
        c = erlang_c(a, n)
        stable = a < n
        out.update(p_wait=c, p_abandon=0.0, p_answered=1.0,
                   asa=asa(a, n, aht), mean_wait=asa(a, n, aht),
                   occupancy=occupancy(a, n))
        if t is not None:
            out["service_level"] = service_level(a, n, aht, t)
        out["model"] = "erlang_c" if stable else "erlang_c_unstable"
        return out
    if n == 0:  # everyone queues and abandons
        out.update(p_wait=1.0, p_abandon=1.0, p_answered=0.0, asa=None, mean_wait=pat,
                   occupancy=0.0)
        if t is not None:
            out["service_level"] = 0.0
        return out
    lam = a / aht
    c = n / aht
    theta = 1.0 / pat
    b = erlang_b(a, n)
    log_s = _log_integral(c, lam, theta, 0.0, math.inf)          # sum_k w_k
    log_s1 = _log_integral(c, lam, theta, theta, math.inf)       # sum_k w_k P(served | k)
    log_sv = _log_integral(c, lam, theta, theta, math.inf, True)  # sum_k w_k E[V; served | k]
    if b <= 0.0:
        p_wait = 0.0
    else:
        z = math.log(b) + log_s
        p_wait = 1.0 / (1.0 + (1.0 - b) * math.exp(-z)) if z > -700 else math.exp(z) / (1.0 - b)
    p_wait = min(1.0, max(0.0, p_wait))
    served_given_wait = min(1.0, math.exp(log_s1 - log_s))
    p_ab = min(1.0, max(0.0, p_wait * (1.0 - served_given_wait)))
    p_ans = 1.0 - p_ab
    wait_served = p_wait * math.exp(log_sv - log_s) if log_sv > -math.inf else 0.0
    out.update(p_wait=p_wait, p_abandon=p_ab, p_answered=p_ans,
               asa=(wait_served / p_ans) if p_ans > 0 else None,
               mean_wait=p_ab * pat,  # Little: theta E[Q] = lambda P(ab)
               occupancy=min(1.0, a * p_ans / n))
    if t is not None:
        if t == 0:
            within = 0.0
        else:
            log_st = _log_integral(c, lam, theta, theta, t)
            within = math.exp(log_st - log_s) if log_st > -math.inf else 0.0
        out["service_level"] = min(1.0, max(0.0, (1.0 - p_wait) + p_wait * min(within, 1.0)))
    return out


def service_level_a(traffic: float, agents: int, aht: float, patience: float,
                    target_seconds: float) -> float:
    """Erlang A fraction of offered calls answered within ``target_seconds``."""
    return erlang_a(traffic, agents, aht, patience, target_seconds)["service_level"]


def evaluate_a(calls: float, interval: float, aht: float, target_seconds: float,
               agents: int, patience: float, shrinkage: float = 0.0) -> dict:
    """What ``agents`` give when callers abandon after ``patience`` seconds on average."""
    a = traffic_of(calls, interval, aht)
    s = _num(shrinkage, "shrinkage")
    if s >= 1:
        raise ValueError(f"shrinkage: must be below 1, got {shrinkage!r}")
    out = erlang_a(a, agents, aht, patience, target_seconds)
    out.update(calls=float(calls), interval=float(interval), target_seconds=float(target_seconds),
               agents_scheduled=_shrunk(agents, s), shrinkage=s)
    return out


def agents_for_service_level_a(calls: float, interval: float, aht: float,
                               target_seconds: float, service_level: float,
                               patience: float, shrinkage: float = 0.0,
                               max_abandon: float | None = None) -> dict:
    """Fewest agents (Erlang A) answering ``service_level`` of offered calls within
    ``target_seconds`` when callers abandon after ``patience`` seconds on average, and,
    with ``max_abandon``, losing at most that fraction of them to abandonment: a
    service level alone accepts heavy abandonment when callers are impatient, since a
    caller who gives up early no longer waits past the target. Both fall as agents are
    added, so the fewest meeting both is found the same way."""
    a = traffic_of(calls, interval, aht)
    goal = _fraction(service_level, "service_level")
    t = _num(target_seconds, "target_seconds")
    cap = None if max_abandon is None else _fraction(max_abandon, "max_abandon")
    _num(patience, "patience", positive=True, allow_inf=True)

    def ok(k: int) -> bool:
        r = erlang_a(a, k, aht, patience, t)
        return r["service_level"] >= goal and (cap is None or r["p_abandon"] <= cap)

    n = 0 if a == 0 else _smallest(ok, 1)
    out = evaluate_a(calls, interval, aht, t, n, patience, shrinkage)
    out["service_level_target"] = goal
    out["max_abandon"] = cap
    return out


# ---------------------------------------------------------------- from measured traffic


def patience_mle(abandoned_waits: list[float], censored_waits: list[float]) -> dict:
    """Callers' mean patience from the queue log, the exponential maximum-likelihood
    estimate under right censoring.

    A caller who abandons after waiting w shows a patience of exactly w; one who was
    answered (or timed out) after w shows only that the patience was longer than w
    (right censored). With exponential patience of rate theta the log-likelihood is
    n_ab log(theta) - theta (sum of every wait), largest at theta = n_ab / sum(waits):
    the mean patience is the total time waited by all queued callers divided by the
    number who abandoned (the exponential model under censoring: Lawless, "Statistical
    Models and Methods for Lifetime Data", 2003; for call centres' patience: Brown et
    al., "Statistical analysis of a telephone call center", JASA 100, 2005). Averaging
    only the abandoners' waits would underestimate it: the patient callers were
    answered before they could abandon.

    ``patience`` is None (infinite: nobody abandoned, plan with Erlang C); ``ci95`` is
    the usual interval patience exp(-+1.96 / sqrt(n_ab)) from the asymptotic variance
    theta^2 / n_ab.
    """
    ab = [_num(w, "abandoned wait") for w in abandoned_waits]
    cens = [_num(w, "censored wait") for w in censored_waits]
    total = math.fsum(ab) + math.fsum(cens)
    n = len(ab)
    out: dict[str, Any] = {"method": "exponential MLE, right-censored", "abandoned": n,
                           "censored": len(cens), "waited_seconds": total,
                           "patience": None, "ci95": None}
    if n and total > 0:
        p = total / n
        half = 1.96 / math.sqrt(n)
        out.update(patience=p, ci95=[p * math.exp(-half), p * math.exp(half)])
    return out


def staffing_for(calls: float, interval: float, aht: float, target_seconds: float,
                 service_level: float, patience: float | None = None,
                 shrinkage: float = 0.0, max_abandon: float | None = None) -> dict:
    """One interval's staffing: Erlang C always, Erlang A too when ``patience`` is
    known (finite). ``agents`` is the model to follow: Erlang A where callers abandon,
    since ignoring abandonment over-staffs (Garnett et al. 2002)."""
    c = agents_for_service_level(calls, interval, aht, target_seconds, service_level,
                                 shrinkage)
    out: dict[str, Any] = {"calls": float(calls), "interval": float(interval),
                           "aht": float(aht), "traffic_erlangs": c["traffic_erlangs"],
                           "erlang_c": c, "erlang_a": None}
    follow = c
    if patience is not None and math.isfinite(patience):
        a = agents_for_service_level_a(calls, interval, aht, target_seconds, service_level,
                                       patience, shrinkage, max_abandon)
        out["erlang_a"] = follow = a
    out.update(model=follow["model"], agents=follow["agents"],
               agents_scheduled=follow["agents_scheduled"], p_wait=follow["p_wait"],
               asa=follow["asa"], occupancy=follow["occupancy"],
               service_level=follow["service_level"], p_abandon=follow.get("p_abandon"))
    return out


def measured_staffing(intervals: list[dict], target_seconds: float, service_level: float,
                      patience: dict | None = None, shrinkage: float = 0.0,
                      max_abandon: float | None = None) -> dict:
    """``cti plan staffing --measured``: per measured interval (``start``, ``end``,
    ``calls`` offered to the queues, ``aht`` talk + wrap-up), the agents for the
    service level; ``patience`` is :func:`patience_mle`'s answer. Intervals with no
    calls need no agents; one with calls but no AHT measured gets None."""
    goal = _fraction(service_level, "service_level")
    t = _num(target_seconds, "target_seconds")
    pat = (patience or {}).get("patience")
    rows = []
    for iv in intervals:
        length = float(iv["end"]) - float(iv["start"])
        row: dict[str, Any] = {"start": iv["start"], "end": iv["end"], "calls": iv["calls"],
                               "aht": iv.get("aht")}
        if iv["calls"] and iv.get("aht") and length > 0:
            row.update(staffing_for(iv["calls"], length, iv["aht"], t, goal, pat, shrinkage,
                                    max_abandon))
        elif not iv["calls"]:
            row.update(traffic_erlangs=0.0, agents=0, agents_scheduled=0, model=None)
        else:
            row.update(traffic_erlangs=None, agents=None, agents_scheduled=None, model=None)
        rows.append(row)
    need = [r for r in rows if r.get("agents") is not None]
    peak = max(need, key=lambda r: (r["agents"], r["calls"]), default=None)
    return {"kind": "measured_staffing", "target_seconds": t, "service_level_target": goal,
            "max_abandon": None if max_abandon is None else float(max_abandon),
            "shrinkage": float(shrinkage), "patience": patience, "intervals": rows,
            "peak": peak}


def measured_ivr(intervals: list[dict], target_blocking: float, ports: int | None = None,
                 holding_time: float | None = None) -> dict:
    """``cti plan ivr --measured``: IVR ports from measured traffic. Per interval
    (``start``, ``end``, ``seizures`` = calls that held a port, ``refused`` = calls that
    found none, ``busy_port_seconds`` from the server's port occupancy samples) the
    offered traffic is (seizures + refused) x mean holding time / interval length,
    with the mean holding time = busy port-seconds / seizures over the whole range
    (Little's law on the measured occupancy) unless ``holding_time`` is given; then
    Erlang B for the blocking target on the busiest interval (ITU-T E.500's busy-hour
    dimensioning: plan for the peak, not the day's mean)."""
    t = _fraction(target_blocking, "target_blocking")
    seized = sum(iv["seizures"] for iv in intervals)
    busy_s = math.fsum(iv["busy_port_seconds"] for iv in intervals)
    h = holding_time if holding_time is not None else (busy_s / seized if seized else None)
    rows = []
    for iv in intervals:
        length = float(iv["end"]) - float(iv["start"])
        tries = iv["seizures"] + iv["refused"]
        row = dict(iv)
        row.update(attempts=tries,
                   carried_erlangs=iv["busy_port_seconds"] / length if length > 0 else None,
                   blocking_measured=iv["refused"] / tries if tries else None,
                   offered_erlangs=(tries * h / length) if h and length > 0 else None)
        rows.append(row)
    known = [r for r in rows if r["offered_erlangs"] is not None]
    peak = max(known, key=lambda r: r["offered_erlangs"], default=None)
    out: dict[str, Any] = {"kind": "measured_ivr", "target_blocking": t, "holding_time": h,
                           "ports_now": ports, "intervals": rows, "peak": peak, "plan": None}
    if peak is not None:
        out["plan"] = ivr_ports_plan(peak["offered_erlangs"], t, ports=ports)
    return out


# ---------------------------------------------------------------- terminal output


_LABELS = {
    "traffic_erlangs": "offered traffic (E)", "offered_erlangs": "offered traffic (E)",
    "agents": "agents on the phones", "agents_scheduled": "agents scheduled",
    "shrinkage": "shrinkage", "p_wait": "probability of waiting", "asa": "ASA (s)",
    "occupancy": "occupancy", "service_level": "service level",
    "service_level_target": "service level target", "p_abandon": "abandon rate",
    "max_abandon": "abandon rate at most",
    "mean_wait": "mean wait, all calls (s)", "patience": "mean patience (s)",
    "channels": "channels needed", "blocking": "blocking at that",
    "spans": "E1 spans", "ports": "IVR ports", "channels_provisioned": "channels provisioned",
    "blocking_provisioned": "blocking provisioned", "channels_now": "channels now",
    "blocking_now": "blocking now", "lost_erlangs_now": "lost traffic now (E)",
    "target_blocking": "target blocking",
}
_PCT = {"p_wait", "occupancy", "service_level", "service_level_target", "p_abandon",
        "max_abandon",
        "blocking", "blocking_provisioned", "blocking_now", "target_blocking", "shrinkage"}


def format_plan(plan: dict) -> str:
    """A plan or evaluation as aligned "label  value" lines for the terminal."""
    title = {"trunks": "Trunk plan (Erlang B)", "ivr": "IVR port plan (Erlang B)",
             "erlang_c": "Staffing (Erlang C)", "erlang_a": "Staffing (Erlang A, abandonment)",
             "erlang_c_unstable": "Staffing (Erlang C, overloaded)"}
    head = title.get(plan.get("kind") or plan.get("model"), "Plan")
    lines = [head]
    for key, label in _LABELS.items():
        if key not in plan or (key == "ports" and plan.get("kind") != "ivr") \
                or (key == "spans" and plan.get("kind") != "trunks") \
                or (key == "max_abandon" and plan[key] is None):
            continue
        v = plan[key]
        if v is None:
            text = "n/a (overloaded)"
        elif key in _PCT:
            text = f"{100.0 * v:.2f}%" if v >= 1e-4 or v == 0 else f"{100.0 * v:.3g}%"
        elif isinstance(v, int):
            text = str(v)
        else:
            text = f"{v:.2f}" if math.isfinite(v) else str(v)
        lines.append(f"  {label:<28} {text}")
    return "\n".join(lines)


def _hhmm(t: float) -> str:
    from datetime import datetime, timezone
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M" if d.second == 0 and d.microsecond == 0
                      else "%Y-%m-%d %H:%M:%S")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100.0 * v:.1f}"


def _num_text(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def format_measured_staffing(plan: dict) -> str:
    """:func:`measured_staffing` as a table: one line per interval."""
    p = plan.get("patience") or {}
    pat = p.get("patience")
    model = "Erlang A (patience measured)" if pat else "Erlang C (nobody abandoned)"
    lines = [f"Staffing from measured traffic: {100 * plan['service_level_target']:g}% "
             f"within {plan['target_seconds']:g} s"
             + (f", abandon rate at most {100 * plan['max_abandon']:g}%"
                if plan.get("max_abandon") is not None else "") + f", {model}",
             f"  mean patience {_num_text(pat, '.1f')} s ({p.get('abandoned', 0)} abandoned "
             f"of {p.get('abandoned', 0) + p.get('censored', 0)} queued), "
             f"shrinkage {100 * plan['shrinkage']:g}%"]
    head = ("interval (UTC)        calls   AHT s  erl | agents sched |  Pw%   ASA s  occ%   SL%"
            " aband% | ErlC")
    lines += [head, "-" * len(head)]
    for r in plan["intervals"]:
        c = r.get("erlang_c") or {}
        lines.append(
            f"{_hhmm(r['start']):<19} {r['calls']:>7g} {_num_text(r.get('aht'), '7.1f'):>7}"
            f" {_num_text(r.get('traffic_erlangs'), '4.1f'):>4} |"
            f" {_num_text(r.get('agents'), 'd'):>6}"
            f" {_num_text(r.get('agents_scheduled'), 'd'):>5} |"
            f" {_pct(r.get('p_wait')):>4} {_num_text(r.get('asa'), '7.1f'):>7}"
            f" {_pct(r.get('occupancy')):>5} {_pct(r.get('service_level')):>5}"
            f" {_pct(r.get('p_abandon')):>6} | {_num_text(c.get('agents'), 'd'):>4}")
    peak = plan.get("peak")
    if peak is not None:
        lines.append(f"peak {_hhmm(peak['start'])}: {peak['agents']} agents on the phones, "
                     f"{peak['agents_scheduled']} scheduled")
    return "\n".join(lines)


def format_measured_ivr(plan: dict) -> str:
    """:func:`measured_ivr` as a table and the busy-interval plan."""
    h = plan.get("holding_time")
    lines = [f"IVR ports from measured traffic: mean holding time {_num_text(h, '.1f')} s, "
             f"ports now {_num_text(plan.get('ports_now'), 'd')}"]
    head = "interval (UTC)      attempts refused    B%  carried E  offered E"
    lines += [head, "-" * len(head)]
    for r in plan["intervals"]:
        lines.append(f"{_hhmm(r['start']):<19} {r['attempts']:>8} {r['refused']:>7}"
                     f" {_pct(r['blocking_measured']):>5}"
                     f" {_num_text(r['carried_erlangs'], '10.2f'):>10}"
                     f" {_num_text(r['offered_erlangs'], '10.2f'):>10}")
    if plan.get("plan"):
        lines.append(f"busy interval {_hhmm(plan['peak']['start'])}:")
        lines.append(format_plan(plan["plan"]))
    return "\n".join(lines)
