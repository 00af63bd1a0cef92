"""Routing by the caller's area (the ANI's prefix), for the IVR's ``by_area`` queue node
and the centre's ``[routing]`` table.
"""
from __future__ import annotations


class AreaRouter:
    """Route by the caller's area: the queue of the longest ANI prefix among ``rules``
    (e.g. ``[("010", "beijing"), ("021", "shanghai"), ("0755", "shenzhen")]``), else
    ``default``. An ANI in international form is tried as given and, for ``country``
    (default "86"), also with ``+86`` or ``0086`` replaced by the trunk prefix "0", so
    "+861088886666" matches the rule "010"."""

    def __init__(self, rules: list[tuple[str, str]], default: str | None,
                 *, country: str = "86") -> None:
        self.rules = {}
        for prefix, queue in rules:
            if prefix in self.rules and self.rules[prefix] != queue:
                raise ValueError(f"AreaRouter: prefix {prefix!r} routed to "
                                 f"{self.rules[prefix]!r} and {queue!r}")
            self.rules[prefix] = queue
        self.default = default
        self.country = country
        self._lengths = sorted({len(p) for p in self.rules}, reverse=True)

    def _forms(self, ani: str) -> list[str]:
        ani = (ani or "").strip()
        forms = [ani]
        if self.country:
            for intl in ("+" + self.country, "00" + self.country):
                if ani.startswith(intl):
                    forms.append("0" + ani[len(intl):])
        return forms

    def match(self, ani: str) -> tuple[str, str] | None:
        """(prefix, queue) of the longest matching prefix, or None."""
        best = None
        for form in self._forms(ani):
            for n in self._lengths:
                if best is not None and n <= len(best[0]):
                    break
                if len(form) >= n and form[:n] in self.rules:
                    best = (form[:n], self.rules[form[:n]])
                    break
        return best

    def route(self, ani: str) -> str | None:
        m = self.match(ani)
        return m[1] if m else self.default

    __call__ = route
