# Usage: [FREE=111] [RATE=1gbit] [A_FIXED=100e-6] [BRIEF=1] python3 fit.py RUNS.csv...
# (RUNS.csv: scripts/throttled-mpi.sh --runs-csv files; FREE: which of o, a, 1/e are fitted.)
# Least-squares fit of overhead o, per-step latency a and efficiency e to the measured
# communication per epoch: C = S*(o + 2(P-1)*a + 2(P-1)/P * n/(e*beta)) + W,
# minimising the sum of squared relative errors (C_model - C)/C over the cases' medians.
import csv, statistics, sys, itertools
import numpy as np
n = 421642 * 4
rows = []
for f in sys.argv[1:]:
    rows += list(csv.DictReader(open(f)))
cases = {}
for r in rows:
    key = (r["rate"], int(r["ranks"]), r["algorithm"], int(r["H"]))
    cases.setdefault(key, []).append(r)
beta = {"1gbit": 1.25e8, "100mbit": 1.25e7}
data = []
for key, rs in sorted(cases.items()):
    rate, P, alg, H = key
    C = statistics.median(float(r["communication_seconds"]) for r in rs)
    W = statistics.median(float(r["sync_wait_seconds"] or 0) for r in rs)
    S = int(rs[0]["syncs"])
    data.append(dict(key=key, C=C, Cmin=min(float(r["communication_seconds"]) for r in rs),
                     Cmax=max(float(r["communication_seconds"]) for r in rs), W=W, S=S, P=P, b=beta[rate], reps=len(rs),
                     load=[float(r["load1"]) for r in rs]))
def design(d):
    return [d["S"], d["S"] * 2 * (d["P"] - 1), d["S"] * 2 * (d["P"] - 1) / d["P"] * n / d["b"]]
import os
FREE = os.environ.get("FREE", "111")          # which of (o, a, 1/e) are fitted; a fixed at A_FIXED
A_FIXED = float(os.environ.get("A_FIXED", "100e-6"))
RATE = os.environ.get("RATE")
if RATE: data = [d for d in data if d["key"][0] == RATE]
A = np.array([[x / d["C"] for x in design(d)] for d in data])
y = np.array([(d["C"] - d["W"]) / d["C"] for d in data])
if FREE[1] == "0":
    y = y - A[:, 1] * A_FIXED
best = None
# Non-negative, e <= 1 (u = 1/e >= 1): search the active sets.
for free in itertools.product(*[[0, 1] if c == "1" else [0] for c in FREE]):
    cols = [i for i in range(3) if free[i]]
    x = np.zeros(3)
    yy = y - A[:, 2] * (0 if free[2] else 1)   # e fixed at 1: its column moves to the right side
    if cols:
        sol, *_ = np.linalg.lstsq(A[:, cols], yy, rcond=None)
        x[cols] = sol
    if not free[2]: x[2] = 1
    if FREE[1] == "0": x[1] = A_FIXED
    if x[0] < 0 or x[1] < 0 or x[2] < 1: continue
    xx = x.copy()
    if FREE[1] == "0": xx[1] = 0
    err = np.sum((A @ xx - y) ** 2)
    if best is None or err < best[0]: best = (err, x)
err, (o, a, u) = best
print("fitted: overhead %.4g ms, latency %.4g us, efficiency %.4f (sum sq rel err %.4f)" % (o * 1e3, a * 1e6, 1 / u, err))
errs = []
for d in data:
    errs.append(100 * ((d["S"] * (o + 2 * (d["P"] - 1) * a + 2 * (d["P"] - 1) / d["P"] * n / d["b"] * u) + d["W"]) / d["C"] - 1))
print("errors %%: %s; max |error| %.0f%%" % (" ".join("%+.0f" % e for e in errs), max(abs(e) for e in errs)))
if os.environ.get("BRIEF"): sys.exit(0)
for d in data:
    old = d["S"] * (2 * (d["P"] - 1) / d["P"] * n / d["b"] + 2 * (d["P"] - 1) * 100e-6)
    new = d["S"] * (o + 2 * (d["P"] - 1) * a + 2 * (d["P"] - 1) / d["P"] * n / d["b"] * u) + d["W"]
    print("%-8s P=%d %-9s H=%-2d  measured %.2f (%.2f-%.2f, n=%d, load %s)  wait %.2f  before %.2f (%+.0f%%)  after %.2f (%+.0f%%)" % (
        d["key"][0], d["P"], d["key"][2], d["key"][3], d["C"], d["Cmin"], d["Cmax"], d["reps"],
        "/".join("%.1f" % l for l in d["load"]), d["W"], old, 100 * (old / d["C"] - 1), new, 100 * (new / d["C"] - 1)))
