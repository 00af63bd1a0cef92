"""What the IVR and the screen pop read: customers and orders, and the tables and columns
open to the IVR's lookups (:data:`LOOKUPS`). :class:`LookupsMixin` holds
:class:`cti.store.sqlite.Store`'s methods for these tables (see there why a mixin).
"""
from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from cti.store.checks import _int, _num, _str, _unknown

#: What the IVR may look up: table -> the columns it may key on.
LOOKUPS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "phone"),
    "orders": ("order_id", "customer_id"),
}


_CUSTOMER_FIELDS = ("id", "name", "phone", "points", "email", "area", "notes")
_ORDER_FIELDS = ("order_id", "customer_id", "status", "amount", "updated")


def _check_customer(i: int, c: dict) -> dict:
    w = f"customers[{i}]"
    _unknown(w, c, _CUSTOMER_FIELDS)
    out = {
        "name": _str(f"{w}.name", c.get("name"), none=False),
        "phone": _str(f"{w}.phone", c.get("phone")),
        "points": _int(f"{w}.points", c.get("points", 0), none=False, min=-2 ** 63,
                       max=2 ** 63 - 1),      # what SQLite stores
        "email": _str(f"{w}.email", c.get("email")),
        "area": _str(f"{w}.area", c.get("area")),
        "notes": _str(f"{w}.notes", c.get("notes")),
    }
    if c.get("id") is not None:
        out["id"] = _int(f"{w}.id", c["id"], min=1)
    return out


def _check_order(i: int, o: dict) -> dict:
    w = f"orders[{i}]"
    _unknown(w, o, _ORDER_FIELDS)
    return {
        "order_id": _str(f"{w}.order_id", o.get("order_id"), none=False),
        "customer_id": _int(f"{w}.customer_id", o.get("customer_id"), min=1),
        "status": _str(f"{w}.status", o.get("status"), none=False),
        "amount": _num(f"{w}.amount", o.get("amount")),
        "updated": _num(f"{w}.updated", o.get("updated")),
    }


class LookupsMixin:
    """Customers and orders: loading them, the screen pop, the IVR's lookup (a part of
    :class:`cti.store.sqlite.Store`: ``self.db``)."""

    def add_customers(self, rows: Iterable[dict]) -> int:
        """Add (or replace, by id) customer records; all or nothing. Returns the count."""
        checked = [_check_customer(i, c) for i, c in enumerate(rows)]
        if checked:
            with self.db.atomic():
                self.db["customers"].insert_all(checked, replace=True)
        return len(checked)

    def add_orders(self, rows: Iterable[dict]) -> int:
        """Add (or replace, by order_id) orders; all or nothing. Returns the count."""
        checked = [_check_order(i, o) for i, o in enumerate(rows)]
        if checked:
            try:
                with self.db.atomic():
                    self.db["orders"].insert_all(checked, replace=True)
            except sqlite3.IntegrityError as e:
                raise ValueError(f"orders.customer_id: no such customer ({e})") from None
        return len(checked)

    def customer_by_phone(self, ani: str) -> dict | None:
        """The customer whose phone is ``ani`` (the screen pop), or None."""
        ani = _str("ani", ani, none=False)
        # (the connection's own cursor: a look-up per call offered, at a peak hundreds a
        # minute, and sqlite_utils' generator of dicts costs more than the look-up)
        cur = self.db.conn.execute(
            "SELECT * FROM customers WHERE phone = ? ORDER BY id LIMIT 1", (ani,))
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

    def lookup(self, table: str, key_column: str, value: Any) -> dict | None:
        """The IVR's database lookup: the first row of ``table`` whose ``key_column`` is
        ``value``, or None. Only the tables and columns in :data:`LOOKUPS`."""
        if table not in LOOKUPS:
            raise ValueError(f"table: {table!r} is not open to lookups "
                             f"(allowed: {', '.join(LOOKUPS)})")
        if key_column not in LOOKUPS[table]:
            raise ValueError(f"key_column: {table}.{key_column} is not open to lookups "
                             f"(allowed: {', '.join(LOOKUPS[table])})")
        if value is None or isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"value: must be a string or an integer, got {value!r}")
        return next(self.db.query(
            f'SELECT * FROM "{table}" WHERE "{key_column}" = ? LIMIT 1', (value,)), None)
