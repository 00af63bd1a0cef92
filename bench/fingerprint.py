"""The peak scenario's fingerprint: what a refactoring must leave unchanged (issue #15).

Runs the new centre's TV-advert peak (cti/scenarios/tv_peak.py, bit-true, one process, seeded) and
prints its account, the centre's counters and a SHA-256 of every row the store holds,
table by table, as JSON. Two runs of the same code give the same fingerprint; a change
that moves code without changing behaviour must too. The reference is the fingerprint of
the code before the change, saved with ``--out`` and compared with ``--compare``.

    python bench/fingerprint.py --out before.json          # before the change
    python bench/fingerprint.py --compare before.json      # after: exit 1 if it differs
    python bench/fingerprint.py --quick                    # a small peak (CI)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from cti.scenarios import tv_peak as scenario  # noqa: E402


def rows_digest(db_path: str) -> dict[str, dict]:
    """Per table: its row count and the SHA-256 of its rows in rowid order."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        out = {}
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for t in tables:
            h, n = hashlib.sha256(), 0
            for row in conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid'):
                h.update(json.dumps(row, default=repr).encode())
                n += 1
            out[t] = {"rows": n, "sha256": h.hexdigest()}
        return out
    finally:
        conn.close()


def fingerprint(scale: float, seed: int) -> dict:
    plan, peak = scenario.NEW_CENTRE, scenario.PeakPlan(seed=seed)
    if scale != 1.0:
        plan, peak = scenario.scaled(plan, scale), scenario.scaled(peak, scale)
    home = tempfile.mkdtemp(prefix="bench-fingerprint-")
    r = scenario.run_centre(plan, peak, home)
    db = [os.path.join(home, f) for f in os.listdir(home) if f.endswith(".db")]
    assert len(db) == 1, f"one store expected in {home}, found {db}"
    return {"scale": scale, "seed": seed, "account": r["account"], "counters": r["counters"],
            "tables": rows_digest(db[0])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a small peak (CI): scale 0.05")
    ap.add_argument("--out", help="write the fingerprint to this file")
    ap.add_argument("--compare", help="compare with a fingerprint saved by --out")
    args = ap.parse_args(argv)
    if args.quick:
        args.scale = 0.05
    fp = fingerprint(args.scale, args.seed)
    text = json.dumps(fp, indent=1, sort_keys=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    acc = fp["account"]
    print(f"peak at scale {args.scale:g}, seed {args.seed}: {acc.get('offered')} calls offered; "
          f"{sum(t['rows'] for t in fp['tables'].values())} rows in "
          f"{len(fp['tables'])} tables")
    if args.compare:
        with open(args.compare) as f:
            ref = json.load(f)
        diff = [k for k in ("account", "counters", "tables") if ref.get(k) != fp[k]]
        if diff:
            for k in diff:
                for key in sorted(set(ref.get(k, {})) | set(fp[k])):
                    if ref.get(k, {}).get(key) != fp[k].get(key):
                        print(f"  differs: {k}.{key}: {ref.get(k, {}).get(key)} -> "
                              f"{fp[k].get(key)}")
            return 1
        print("the same fingerprint as", args.compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
