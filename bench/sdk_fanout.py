#!/usr/bin/python3
"""SDK fan-out of a JSON topic (see bench/README.md): castor-sdk-fanout with
N subscribers of the C++ SDK on one 2 KB JSON document, against a fresh
broker per run (started as bench/run_bench.py starts them):

  castor-delta     Castor, subscribe_values() ($delta/, JSON Patches applied
                   by the SDK, whole values in the callback)
  castor-plain     Castor, client::subscribe() on the topic (whole values)
  mosquitto-plain  Mosquitto 2.0, client::subscribe() (whole values)

Two kinds of run each: `max` (the updater keeps --window updates in flight,
an update done when every subscriber applied it: the rate the subscribers
keep up with) and `paced` (--rate updates/s: latency at a load all three
sustain).

    bench/sdk_fanout.py                       # 1,000 subscribers, 10 s runs
    bench/sdk_fanout.py --rounds 3 --json /tmp/sdk.json
    bench/sdk_fanout.py --smoke --fanout build/bench/castor-sdk-fanout \\
        --castor build/castor --config config/castor.yaml   # CTest
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402  (Server, stop_all, raise_nofile, log)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {  # name: (server kind, --mode)
    "castor-delta": ("castor", "delta"),
    "castor-plain": ("castor", "plain"),
    "mosquitto-plain": ("mosquitto", "plain"),
}
log = run_bench.log


def run_one(args, tmp, config, kind_of_run):
    server_kind, mode = CONFIGS[config]
    srv = run_bench.Server(server_kind, args, tmp)
    try:
        if not srv.wait_ready():
            return {"ok": False, "error": "server did not start: "
                    + srv.tail(500)}
        cmd = [args.fanout, "--port", str(srv.port), "--mode", mode,
               "--subscribers", str(args.subscribers),
               "--duration", str(args.duration),
               "--warmup", str(args.warmup), "--window", str(args.window),
               "--changed", str(args.changed),
               "--server-pid", str(srv.proc.pid), "--label", config]
        if kind_of_run == "paced":
            cmd += ["--rate", str(args.rate)]
        if args.smoke:  # every old value checked; every 5th update whole
            cmd += ["--check-old", "1", "--whole-every", "5"]
        limit = args.warmup + args.duration + 180
        try:
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=limit, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"timed out ({limit:.0f} s)"}
        result, human = run_bench.parse_output(out.stdout)
        for h in human:
            log("  " + h)
        if result is None:
            return {"ok": False, "error": f"no result (exit {out.returncode}): "
                    + out.stderr[-500:]}
        if srv.proc.poll() is not None:
            result["ok"] = False
            result["error"] = (result.get("error") or "") + \
                f" server exited ({srv.proc.returncode})"
        return result
    finally:
        srv.stop()


def median(vals):
    vals = sorted(v for v in vals if v is not None and v >= 0)
    if not vals:
        return None
    n = len(vals)
    return vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2


ROWS = [  # (label, kind of run, key, format)
    ("values applied/s, all subscribers (max)", "max", "values_per_s", "{:,.0f}"),
    ("updates/s to each subscriber (max)", "max", "updates_per_s", "{:,.1f}"),
    ("values that came as deltas (%)", "max", "delta_pct", "{:.1f}"),
    ("TCP bytes received per value", "max", "rx_bytes_per_value", "{:,.0f}"),
    ("saved against castor-plain (%)", "max", "saved_pct", "{:.1f}"),
    ("client CPU per value (us, all SDK clients)", "max",
     "client_cpu_us_per_value", "{:.1f}"),
    ("server CPU per value (us)", "max", "server_cpu_us_per_value", "{:.1f}"),
    ("latency p50 (ms, max)", "max", "lat_p50_ms", "{:.1f}"),
    ("latency p99 (ms, max)", "max", "lat_p99_ms", "{:.1f}"),
    ("values applied/s (paced)", "paced", "values_per_s", "{:,.0f}"),
    ("latency p50 (ms, paced)", "paced", "lat_p50_ms", "{:.1f}"),
    ("latency p99 (ms, paced)", "paced", "lat_p99_ms", "{:.1f}"),
    ("client CPU per value (us, paced)", "paced", "client_cpu_us_per_value",
     "{:.1f}"),
    ("server CPU per value (us, paced)", "paced", "server_cpu_us_per_value",
     "{:.1f}"),
    ("connect + subscribe all (s)", "max", "setup_s", "{:.2f}"),
    ("client RSS with all connected (MB)", "max", "client_rss_mb", "{:.0f}"),
]


def table(results, configs):
    head = "| figure | " + " | ".join(configs) + " |"
    lines = [head, "|---|" + "---|" * len(configs)]
    for label, run, key, f in ROWS:
        cells = []
        for c in configs:
            runs = results.get(c, {}).get(run, [])
            m = median([r.get(key) for r in runs if r.get("ok")])
            if m is None:
                cells.append("n/a" if runs and all(r.get("ok") for r in runs)
                             else ("failed" if runs else ""))
            else:
                cells.append(f.format(m))
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-rel"))
    ap.add_argument("--castor")
    ap.add_argument("--fanout")
    ap.add_argument("--config", default=os.path.join(ROOT, "config",
                                                     "castor.yaml"))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="comma-separated subset of " + ",".join(CONFIGS))
    ap.add_argument("--runs", default="max,paced",
                    help="max (closed loop), paced (--rate), or both")
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--rate", type=float, default=10,
                    help="updates/s of the paced runs")
    ap.add_argument("--changed", type=int, default=2,
                    help="fields changed per update besides seq and ts")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", help="write every raw result here")
    ap.add_argument("--max-minutes", type=float, default=20)
    ap.add_argument("--smoke", action="store_true",
                    help="20 subscribers, 2 s, Castor only, every 5th "
                         "update whole, each old value checked; fails on "
                         "any failed run or when no value came as a delta")
    args = ap.parse_args()
    if args.smoke:
        args.subscribers, args.duration, args.warmup = 20, 2, 0.5
        args.configs, args.runs, args.rounds = "castor-delta,castor-plain", "max", 1
    args.castor = args.castor or os.path.join(args.build_dir, "castor")
    args.fanout = args.fanout or os.path.join(args.build_dir, "bench",
                                              "castor-sdk-fanout")
    configs = [c for c in args.configs.split(",") if c]
    runs = [r for r in args.runs.split(",") if r]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown configuration {c}")
    for r in runs:
        if r not in ("max", "paced"):
            ap.error(f"unknown run {r}")
    for b in (args.fanout, args.castor):
        if not os.access(b, os.X_OK):
            ap.error(f"no executable at {b} (build the castor and "
                     "castor-sdk-fanout targets)")
    if "mosquitto-plain" in configs and not os.access(args.mosquitto, os.X_OK):
        log(f"no mosquitto at {args.mosquitto}: skipped")
        configs.remove("mosquitto-plain")
    hard = run_bench.raise_nofile()
    if args.subscribers * 4 + 200 > hard:
        ap.error(f"open files capped at {hard}: too few for "
                 f"{args.subscribers} clients (4 each)")
    signal.signal(signal.SIGTERM, lambda *a: (run_bench.stop_all(), sys.exit(1)))
    signal.signal(signal.SIGINT, lambda *a: (run_bench.stop_all(), sys.exit(1)))

    tmp = tempfile.mkdtemp(prefix="castor-sdk-fanout-")
    # A private copy: a rebuild during the run must not pull it away.
    shutil.copy2(args.fanout, os.path.join(tmp, "castor-sdk-fanout"))
    args.fanout = os.path.join(tmp, "castor-sdk-fanout")
    results = {c: {} for c in configs}
    t0 = time.monotonic()
    stopped_early = False
    try:
        for rnd in range(args.rounds):
            for run in runs:
                k = rnd % len(configs)
                for c in configs[k:] + configs[:k]:
                    if time.monotonic() - t0 > args.max_minutes * 60:
                        stopped_early = True
                        break
                    log(f"round {rnd + 1}/{args.rounds} {run} on {c}")
                    res = run_one(args, tmp, c, run)
                    if not res.get("ok"):
                        log(f"  FAILED: {res.get('error')}")
                    res["round"], res["run"] = rnd + 1, run
                    for p in ("p50", "p99"):
                        if res.get(f"lat_{p}_us") is not None:
                            res[f"lat_{p}_ms"] = res[f"lat_{p}_us"] / 1000
                    results[c].setdefault(run, []).append(res)
    finally:
        run_bench.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    plain = median([r.get("rx_bytes_per_value") for r in
                    results.get("castor-plain", {}).get("max", [])
                    if r.get("ok")])
    for c in configs:
        for r in results[c].get("max", []):
            if plain and r.get("ok") and r.get("rx_bytes_per_value") is not None:
                r["saved_pct"] = 100 * (1 - r["rx_bytes_per_value"] / plain)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    print(f"\nSDK fan-out: one JSON topic (about 2 KB, 50 fields; each update "
          f"changes seq, ts and {args.changed} fields) to {args.subscribers} "
          "castor::client subscribers in one process, one updater "
          "(QoS 1 publishes); medians over "
          f"{args.rounds} round(s) of {args.duration:g} s "
          f"({args.warmup:g} s warm-up excluded). max: {args.window} updates "
          f"in flight; paced: {args.rate:g} updates/s.")
    if stopped_early:
        print(f"(stopped early after {args.max_minutes:g} minutes)")
    print(table(results, configs))
    failed = [r for c in results.values() for rs in c.values() for r in rs
              if not r.get("ok")]
    if failed:
        print(f"{len(failed)} run(s) failed; see the log above.")
        return 1
    if args.smoke:
        d = results.get("castor-delta", {}).get("max", [])
        if not d or not d[0].get("delta_pct"):
            print("smoke: no value came as a delta")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
