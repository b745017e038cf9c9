#!/usr/bin/python3
"""The burst comparison: a table over runs, authgate/Apache ratios, RESULT lines, gnuplot PNGs.

usage: burst_report.py OUTDIR RUN...
Each RUN has OUTDIR/RUN.out (authgate-burst output with its RESULT line), RUN.meta (key=value:
server, persist, validations), RUN.series, RUN.cdf and, for authgate, RUN.samples.
"""
import os
import subprocess
import sys


def kv(line):
    return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)


def load(out, run):
    r = {"run": run}
    with open(os.path.join(out, run + ".out")) as f:
        for line in f:
            if line.startswith("RESULT "):
                r.update(kv(line))
    with open(os.path.join(out, run + ".meta")) as f:
        r.update(kv("META " + f.read().replace("\n", " ")))
    r["has_result"] = "wall_s" in r
    samples = os.path.join(out, run + ".samples")
    r["peak_waiters"] = r["peak_holders"] = None
    if os.path.exists(samples):
        rows = [l.split() for l in open(samples) if not l.startswith("#") and l.strip()]
        if rows:
            r["peak_waiters"] = max(int(x[4]) for x in rows)
            r["peak_holders"] = max(int(x[5]) for x in rows)
    return r


def num(r, k, cast=float):
    try:
        return cast(r[k])
    except (KeyError, ValueError):
        return None


def fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def table(runs):
    rows = [
        ("server", lambda r: r["server"]),
        ("persistence", lambda r: r["persist"]),
        ("link", lambda r: r.get("link", "-")),
        ("client GRO", lambda r: r.get("client_gro", "-")),
        ("wall time s", lambda r: fmt(num(r, "wall_s"), "{:.2f}")),
        ("connections ok / failed", lambda r: f"{r.get('conns_ok', '-')} / {r.get('conns_failed', '-')}"),
        ("requests ok", lambda r: r.get("requests_ok", "-")),
        ("requests failed / not run", lambda r: f"{r.get('requests_failed', '-')} / {r.get('requests_not_run', '-')}"),
        ("HTTP exchanges", lambda r: r.get("exchanges", "-")),
        ("requests/s", lambda r: fmt(num(r, "rps"))),
        ("body MiB/s", lambda r: fmt(num(r, "mib_per_s"), "{:.1f}")),
        ("401s / 503s", lambda r: f"{r.get('status_401', '-')} / {r.get('status_503', '-')}"),
        ("reconnects (idle-close retries)", lambda r: f"{r.get('reconnects', '-')} ({r.get('retried_closed', '-')})"),
        ("tokens sent (closed unanswered)", lambda r: f"{r.get('tokens_sent', '-')} ({r.get('tokens_unanswered', '-')})"),
        ("validations", lambda r: r.get("validations", "-")),
        ("requests per validation", lambda r: fmt(rpv(r), "{:.2f}")),
        ("peak sem. waiters / holders", lambda r: "-" if r["peak_waiters"] is None else f"{r['peak_waiters']} / {r['peak_holders']}"),
        ("latency p50 ms", lambda r: fmt(num(r, "p50_ms"), "{:.1f}")),
        ("latency p90 ms", lambda r: fmt(num(r, "p90_ms"), "{:.1f}")),
        ("latency p99 ms", lambda r: fmt(num(r, "p99_ms"), "{:.1f}")),
        ("latency max ms", lambda r: fmt(num(r, "max_ms"), "{:.1f}")),
        ("tokens minted ahead (s)", lambda r: f"{r.get('tokens_minted', '-')} ({fmt(num(r, 'mint_s'), '{:.1f}')})"),
    ]
    fails = sorted({k for r in runs for k in r if k.startswith("fail_") and r[k] != "0"})
    for k in fails:
        rows.append((k.replace("fail_", "failed: "), lambda r, k=k: r.get(k, "-")))
    w0 = max(len(n) for n, _ in rows)
    cells = [[f(r) for r in runs] for _, f in rows]
    ws = [max(len(r["run"]), *(len(c[i]) for c in cells)) for i, r in enumerate(runs)]
    print("| " + "metric".ljust(w0) + " | " + " | ".join(r["run"].rjust(w) for r, w in zip(runs, ws)) + " |")
    print("| " + "-" * w0 + " | " + " | ".join("-" * w for w in ws) + " |")
    for (name, _), c in zip(rows, cells):
        print("| " + name.ljust(w0) + " | " + " | ".join(v.rjust(w) for v, w in zip(c, ws)) + " |")


def rpv(r):
    ok, v = num(r, "requests_ok"), num(r, "validations")
    return ok / v if ok is not None and v else None


def ratios(runs):
    out = []
    for p in ("on", "off"):
        a = [r for r in runs if r["server"] == "authgate" and r["persist"] == p and r["has_result"]]
        b = [r for r in runs if r["server"] == "apache" and r["persist"] == p and r["has_result"]]
        if not a or not b:
            continue
        a, b = a[0], b[0]
        for key, name in (("rps", "requests/s"), ("mib_per_s", "body MiB/s"), ("p50_ms", "latency p50"),
                          ("p99_ms", "latency p99"), ("validations", "validations")):
            x, y = num(a, key), num(b, key)
            if x is not None and y:
                out.append((p, name, key, x / y))
    if not out:
        return
    print()
    print("authgate / Apache, same persistence, measured in this run (above 1: authgate has more):")
    for p, name, key, v in out:
        print(f"  persistence {p:3}  {name:12} {v:6.2f}")
    for p, name, key, v in out:
        print(f"RESULT ratio persist={p} metric={key} authgate_over_apache={v:.3f}")


def derive_samples(out, r):
    """RUN.samples (epoch, counters) as seconds since the burst began, waiters, holders, validations/s."""
    s0 = num(r, "start_epoch") or 0
    rows = [[float(x) for x in l.split()] for l in open(os.path.join(out, r["run"] + ".samples"))
            if l.strip() and not l.startswith("#")]
    dat = os.path.join(out, r["run"] + ".samples.dat")
    with open(dat, "w") as f:
        f.write("# t_s waiters holders validations_per_s\n")
        for prev, cur in zip(rows, rows[1:]):
            dt = cur[0] - prev[0]
            if cur[0] - s0 < 0 or dt <= 0:
                continue
            f.write(f"{cur[0] - s0:.2f} {cur[4]:.0f} {cur[5]:.0f} {(cur[1] - prev[1]) / dt:.1f}\n")
    return dat


def plots(out, runs):
    gp = os.path.join(out, "plots.gp")
    good = [r for r in runs if r["has_result"]]
    ag = [r for r in good if r["server"] == "authgate"]
    with open(gp, "w") as f:
        f.write('set terminal pngcairo size 1000,600 font "sans,11"\nset grid\nset key left top\n')
        # latency CDF
        f.write(f'set output "{out}/latency-cdf.png"\n')
        f.write('set title "Request latency CDF (each HTTP exchange, send to last byte)"\n')
        f.write('set xlabel "latency (ms, log scale)"\nset ylabel "percent of requests"\nset logscale x\n')
        f.write('set yrange [0:100]\nset key right bottom\n')
        f.write("plot " + ", ".join(f'"{out}/{r["run"]}.cdf" using 2:1 with linespoints title "{r["run"]}"' for r in good) + "\n")
        f.write("unset logscale x\nset yrange [*:*]\nset key left top\n")
        # requests/s over time
        f.write(f'set output "{out}/requests-per-second.png"\n')
        f.write('set title "Requests answered per second (0.5 s samples, from the client)"\n')
        f.write('set xlabel "seconds since the burst started"\nset ylabel "requests/s"\nset key right top\n')
        f.write("plot " + ", ".join(f'"{out}/{r["run"]}.series" using 1:2 with lines lw 2 title "{r["run"]}"' for r in good) + "\n")
        # semaphore waiters and holders, validations/s
        if ag:
            f.write(f'set output "{out}/semaphore.png"\n')
            f.write('set title "authgate trust semaphore (MaxConcurrentApi) and validations, 0.5 s samples"\n')
            f.write('set xlabel "seconds since the burst started"\nset ylabel "waiters / holders"\n')
            f.write('set y2label "validations/s"\nset y2tics\nset ytics nomirror\n')
            parts = []
            for r in ag:
                dat = derive_samples(out, r)
                parts.append(f'"{dat}" using 1:2 with steps lw 2 title "{r["run"]} waiters"')
                parts.append(f'"{dat}" using 1:3 with steps lw 2 title "{r["run"]} holders"')
                parts.append(f'"{dat}" using 1:4 axes x1y2 with lines lw 2 dt 2 title "{r["run"]} validations/s"')
            top = max([10] + [r["peak_waiters"] or 0 for r in ag] + [r["peak_holders"] or 0 for r in ag])
            f.write(f"set xrange [0:*]\nset yrange [0:{top * 1.15:.0f}]\nset y2range [0:*]\nset key right top\n")
            f.write("plot " + ", ".join(parts) + "\n")
    p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if p.returncode != 0:
        print(f"burst: gnuplot failed: {p.stderr.strip()}", file=sys.stderr)
    else:
        print()
        print("plots: " + ", ".join(os.path.join(out, n) for n in
                                     ("latency-cdf.png", "requests-per-second.png") + (("semaphore.png",) if ag else ())))


def main():
    out, names = sys.argv[1], sys.argv[2:]
    runs = [load(out, n) for n in names]
    table(runs)
    ratios(runs)
    plots(out, runs)


if __name__ == "__main__":
    main()
