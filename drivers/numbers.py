"""Telephone numbers: what each stack carries, and one normal form for a subscriber.

A number belongs to the line, so the rules live here, below the stacks that carry it
and the centre that takes it from requests, campaign lists, the do-not-call list, the
configuration and the network. Nothing here reads a clock or a file.

What the stacks carry
---------------------
* ISDN PRI (Q.931 4.5.8 called party number, 4.5.10 calling party number; ETSI EN 300
  403-1 restricts the digits to the dialling plan's): IA5 characters ``0-9 * #``. Q.931
  leaves the maximum length to the network; E.164 6.1 limits an international number to
  15 digits, to which an access prefix (``00``) is added.
* Caller ID to a phone (ETSI EN 300 659-3 5.3.2, MDMF calling line identity: up to 20
  characters; Bellcore SDMF carries 10 digits, MDMF up to 20, GR-30 5.3;
  drivers/callerid.py enforces 20 of ``0-9 * # +``); DTMF caller ID digits ``0-9`` only.
* China No.1 MFC/R2 (drivers/sig/r2.py): forward group I signals I-1..I-10 are the digits
  ``1..9, 0``; a variant takes at most 20 DNIS and 20 ANI digits (``max_dnis``,
  ``max_ani``).

So a number the centre takes in (:func:`parse_number`) is ASCII digits only (never
Unicode digits such as ``"１２３"``, which ``str.isdigit`` accepts and no stack can send),
at most :data:`MAX_DIGITS` of them once normalised, so that it fits every stack above:
Q.931, caller ID and R2 alike.

A number the network delivers (an ANI) is not refused, since the caller is already on the
line: a stack that cannot carry it on (an FXS phone's caller ID) withholds it
(:func:`fit_caller_id`) and counts that, never raises.

One normal form (:class:`NumberPlan`)
-------------------------------------
The same subscriber is written many ways; China's numbering plan (country code 86,
international prefix 00, trunk prefix 0; mobile numbers are 11 digits ``1[3-9]x...``,
dialled without the trunk prefix anywhere in the country, as are ``400``/``800``
numbers; geographic numbers are the area code and the subscriber number, dialled from
another area with the trunk prefix: ``010 12345678``):

1. ``+86...`` and ``0086...`` (our own country code after ``+`` or the international
   prefix) are national significant numbers (NSN);
2. a trunk prefix ``0`` (not the international prefix) is taken off: NSN too;
3. an NSN is written as it is dialled anywhere in the country: as it is when it matches
   one of ``no_trunk`` (mobile, 400/800), else with the trunk prefix (``01012345678``);
4. another country's number (``+44...``) is written with the international prefix
   (``0044...``);
5. anything else (a short code such as ``95555``, a local number) is kept as written.

So ``013900000002``, ``+8613900000002``, ``008613900000002`` and ``13900000002`` are
all ``13900000002``, and the do-not-call list (which compares normal forms) matches any
of them. Spaces and hyphens between digits are dropped. Another country's plan is a
:class:`NumberPlan` with its own prefixes and patterns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "NumberError", "NumberPlan", "CHINA", "MAX_DIGITS", "MAX_TEXT", "DIGITS", "IA5_DIGITS",
    "DTMF_DIGITS", "CALLER_ID_MAX", "parse_number", "check_digits", "fit_caller_id",
    "shown", "subscriber_key", "NumberSet",
]

DIGITS = "0123456789"
IA5_DIGITS = DIGITS + "*#"             # Q.931 4.5.8/4.5.10 number digits (IA5)
DTMF_DIGITS = DIGITS + "*#ABCDabcd"    # Q.23: sixteen key pairs
MAX_DIGITS = 20                        # EN 300 659-3 5.3.2 caller ID; r2 max_dnis/max_ani
CALLER_ID_MAX = 20                     # drivers/callerid.py MAX_NUMBER
MAX_TEXT = 40                          # a number as written, separators and prefix included


class NumberError(ValueError):
    """A number no stack can carry. The message never repeats more than
    :func:`shown` of what was given."""


def shown(v, limit: int = 40) -> str:
    """``repr(v)`` cut to ``limit`` characters: for error messages that must not echo a
    huge value back."""
    r = repr(v)
    return r if len(r) <= limit else r[:limit - 3] + "..."


@dataclass(frozen=True)
class NumberPlan:
    """A country's prefixes (ITU-T E.164 country code, national trunk prefix, the
    international prefix) and the national significant numbers dialled without the trunk
    prefix (regular expressions matched on the whole NSN)."""

    country_code: str = "86"
    international_prefix: str = "00"
    trunk_prefix: str = "0"
    no_trunk: tuple[str, ...] = (r"1[3-9]\d{9}", r"[48]00\d{7}")
    _no_trunk: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self):
        for k in ("country_code", "international_prefix", "trunk_prefix"):
            v = getattr(self, k)
            if not isinstance(v, str) or not (v == "" and k == "trunk_prefix" or
                                              v and all(c in DIGITS for c in v)):
                raise ValueError(f"{k}: must be ASCII digits, not {shown(v)}")
        object.__setattr__(self, "_no_trunk", tuple(re.compile(p) for p in self.no_trunk))

    def normalise(self, digits: str, plus: bool = False) -> str:
        """The normal form of ``digits`` (ASCII digits; ``plus``: written after a ``+``)."""
        cc, ip, tp = self.country_code, self.international_prefix, self.trunk_prefix
        if not plus and ip and digits.startswith(ip):
            digits, plus = digits[len(ip):], True
        if plus:
            if not digits.startswith(cc):
                return ip + digits               # another country: as dialled from here
            nsn = digits[len(cc):]
        elif tp and digits.startswith(tp):
            nsn = digits[len(tp):]
        else:
            return digits                        # short codes, local numbers, NSNs as given
        if not nsn:
            return digits
        if any(p.fullmatch(nsn) for p in self._no_trunk):
            return nsn
        return tp + nsn


CHINA = NumberPlan()


def parse_number(text, plan: NumberPlan = CHINA, *, what: str = "number",
                 max_digits: int = MAX_DIGITS) -> str:
    """A number as written (ASCII digits, an optional leading ``+``) in its normal form under ``plan``; :class:`NumberError` naming
    ``what`` for anything a stack could not carry."""
    if not isinstance(text, str):
        raise NumberError(f"{what}: must be a string of digits, not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise NumberError(f"{what}: {len(text)} characters, more than a number has "
                          f"(at most {max_digits} digits)")
    s = text
    plus = s.startswith("+")
    if plus:
        s = s[1:]
    bad = next((c for c in s if c not in DIGITS), None)
    if bad is not None:
        if bad.isdigit():
            raise NumberError(f"{what}: {shown(text)}: {bad!r} is not an ASCII digit 0-9 "
                              "(the lines carry ASCII digits only)")
        raise NumberError(f"{what}: {shown(text)}: a number is ASCII digits 0-9 (with an "
                          "optional leading +)")
    digits = s
    if not digits:
        raise NumberError(f"{what}: empty: a number is ASCII digits 0-9")
    out = plan.normalise(digits, plus)
    if len(out) > max_digits:
        raise NumberError(f"{what}: {len(out)} digits, more than the {max_digits} the lines "
                          "carry (caller ID, R2, E.164 with its prefix)")
    return out


def check_digits(text, allowed: str = DTMF_DIGITS, *, what: str = "digits",
                 max_len: int = 64) -> str:
    """``text`` when it is 1..``max_len`` of the ``allowed`` ASCII characters (DTMF keys,
    Q.931 IA5 digits); :class:`NumberError` otherwise."""
    if not isinstance(text, str):
        raise NumberError(f"{what}: must be a string, not {type(text).__name__}")
    if not text:
        raise NumberError(f"{what}: empty")
    if len(text) > max_len:
        raise NumberError(f"{what}: {len(text)} characters, at most {max_len}")
    bad = next((c for c in text if c not in allowed), None)
    if bad is not None:
        raise NumberError(f"{what}: {shown(text)}: {bad!r} is not one of {allowed}")
    return text


def fit_caller_id(number: str | None, name: str | None = None, *, dtmf: bool = False
                  ) -> tuple[str | None, str | None, list[str]]:
    """What of a network's calling number and name a phone's caller ID can carry:
    ``(number, name, notes)``. A number of more than 20 characters, or with characters
    other than ``0-9 * # +`` (``0-9`` for DTMF caller ID), is withheld (None: the phone
    shows "unavailable", EN 300 659-3 5.3.4 reason ``O``) rather than cut (a cut number
    is someone else's number); a name is cut to 50 printable ASCII characters, or
    withheld when it has others. ``notes`` names what was changed, for a counter."""
    notes = []
    if number:
        chars = DIGITS if dtmf else IA5_DIGITS + "+"
        if len(number) > CALLER_ID_MAX or any(c not in chars for c in number):
            number = None
            notes.append("number_withheld")
    if name:
        if any(not 0x20 <= ord(c) <= 0x7E for c in name):
            name = None
            notes.append("name_withheld")
        elif len(name) > 50:
            name = name[:50]
            notes.append("name_cut")
    return number or None, name or None, notes


def subscriber_key(number: str, plan: NumberPlan = CHINA) -> str:
    """The normal form of ``number`` to compare subscribers by, or ``number`` itself when
    it is not one :func:`parse_number` takes (such a number can only match itself)."""
    try:
        return parse_number(number, plan)
    except NumberError:
        return number


class NumberSet:
    """A set of subscribers' numbers compared in their normal form (the do-not-call list:
    ``013900000002`` is on it when ``+8613900000002`` was put there)."""

    def __init__(self, numbers=(), plan: NumberPlan = CHINA):
        self.plan = plan
        self._keys: set[str] = {subscriber_key(n, plan) for n in numbers}

    def __contains__(self, number: object) -> bool:
        return isinstance(number, str) and subscriber_key(number, self.plan) in self._keys

    def add(self, number: str) -> None:
        self._keys.add(subscriber_key(number, self.plan))

    def discard(self, number: str) -> None:
        self._keys.discard(subscriber_key(number, self.plan))

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(sorted(self._keys))
