# Calibration table: measured communication per epoch (median, range over repeats) against the
# model before (RATE:100us, no wait) and after (the fitted model plus the measured wait).
# Usage: python3 table.py ALPHA RUNS.csv...            (after: per-step latency ALPHA seconds)
#        python3 table.py "P=o,a,e;P=o,a,e" RUNS.csv... (after: overhead o, latency a, efficiency e
#                                                        per rank count P, e.g. "2=0,100e-6,1;4=45.6e-3,100e-6,1")
import csv, statistics, sys
n = 421642 * 4
spec = sys.argv[1]; files = sys.argv[2:]
if "=" in spec:
    PARAMS = {int(p): tuple(float(x) for x in v.split(",")) for p, v in (part.split("=") for part in spec.split(";"))}
else:
    PARAMS = None; ALPHA = float(spec)
beta = {"1gbit": 1.25e8, "100mbit": 1.25e7}
cases = {}
for f in files:
    for r in csv.DictReader(open(f)):
        cases.setdefault((r["rate"], int(r["ranks"]), r["algorithm"] != "minibatch", int(r["H"])), []).append(r)
print("| ranks | rate | H | repeats | load | measured s (median, range) | wait s | modelled before | error | modelled after | error |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for key in sorted(cases, key=lambda k: (k[1], -beta[k[0]], k[2], k[3])):
    rs = cases[key]; rate, P, local, H = key
    c = [float(r["communication_seconds"]) for r in rs]
    C = statistics.median(c); W = statistics.median(float(r["sync_wait_seconds"]) for r in rs)
    S = int(rs[0]["syncs"]); ring = 2 * (P - 1) / P * n / beta[rate]
    before = S * (ring + 2 * (P - 1) * 100e-6)
    if PARAMS is None:
        after = S * (ring + 2 * (P - 1) * ALPHA) + W
    else:
        o, a, e = PARAMS[P]
        after = S * (o + ring / e + 2 * (P - 1) * a) + W
    prod = [float(r["modelled_communication_seconds"]) for r in rs if r["modelled_communication_seconds"]]
    loads = [float(r["load1"]) for r in rs]
    print("| %d | %s | %s | %d | %.1f–%.1f | %.2f (%.2f–%.2f) | %.2f | %.2f | %+.0f %% | %.2f | %+.0f %% |" % (
        P, rate.replace("gbit", " Gbit/s").replace("mbit", " Mbit/s"), ("%d" % H) + ("" if local else " (minibatch)"), len(rs), min(loads), max(loads),
        C, min(c), max(c), W, before, 100 * (before / C - 1), after, 100 * (after / C - 1)))
