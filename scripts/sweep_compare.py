#!/usr/bin/env python3
"""Two sweep folders hold the same results (a threaded run against `mpirun -n K uvmsim sweep`): every point's
stats.json byte-identical, results.csv identical once its rows are sorted by point key, the SQLite tables
equal in content. Exits 1 naming the first difference.

  python3 scripts/sweep_compare.py DIR_A DIR_B
"""
import os
import sqlite3
import sys


def fail(msg):
    sys.exit("sweep_compare: " + msg)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = sys.argv[1:]
    pa, pb = sorted(os.listdir(os.path.join(a, "points"))), sorted(os.listdir(os.path.join(b, "points")))
    if pa != pb:
        fail(f"the point folders differ: {sorted(set(pa) ^ set(pb))}")
    for k in pa:
        for name in ("stats.json", "error.txt"):
            fa, fb = os.path.join(a, "points", k, name), os.path.join(b, "points", k, name)
            if os.path.exists(fa) != os.path.exists(fb):
                fail(f"{k}/{name} is in one folder only")
            if os.path.exists(fa) and open(fa, "rb").read() != open(fb, "rb").read():
                fail(f"{k}/{name} differs")
    ra, rb = open(os.path.join(a, "results.csv")).read().splitlines(), open(os.path.join(b, "results.csv")).read().splitlines()
    if ra[:1] != rb[:1] or sorted(ra[1:], key=lambda r: r.split(",")[1]) != sorted(rb[1:], key=lambda r: r.split(",")[1]):
        fail("results.csv differs")

    def rows(d):
        c = sqlite3.connect(os.path.join(d, "results.db"))
        cols = [r[1] for r in c.execute("pragma table_info(points)")]
        return cols, sorted(c.execute("select * from points").fetchall(), key=lambda r: r[1])

    if rows(a) != rows(b):
        fail("the SQLite tables differ")
    print(f"sweep_compare: {len(pa)} points, {len(ra) - 1} rows: the same in both")


if __name__ == "__main__":
    main()
