#!/usr/bin/python3
"""Castor vs Mosquitto 2.0 on this machine, side by side.

Starts each broker fresh for every scenario run: Castor with its default
configuration (config/castor.yaml) except the port, and Mosquitto twice, as
shipped (Nagle on) and with `set_tcp_nodelay true`, both with persistence
off on 127.0.0.1. Runs every scenario of castor-loadgen against each in turn,
alternating, for several rounds, and prints one table of medians with the
ratio Castor / Mosquitto-best (the better of Mosquitto's two configurations
for that figure).

    bench/run_bench.py                 # 3 rounds, full length
    bench/run_bench.py --quick         # 1 short round
    bench/run_bench.py --rounds 5 --json results.json
    bench/run_bench.py --scenarios json   # JSON topics and $delta/ only
    bench/run_bench.py --scenarios request  # request/response round trips
    bench/run_bench.py --scenarios tls      # fan-in and fan-out over TLS

Only the standard library is used. Every server it starts listens on
127.0.0.1 only and is killed before the script exits; the whole run stops by
itself after --max-minutes.
"""

import argparse
import json
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from tls_idle import (make_certs, mosquitto_tls_listener, readable_by_all,
                      with_tls_listener)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SERVERS = ["castor", "mosquitto", "mosquitto-nodelay"]

# Scenario runs: name -> loadgen arguments (durations are added later).
FLOWS = {
    "fan-in-q0": ["--scenario", "fan-in", "--qos", "0"],
    "fan-in-q1": ["--scenario", "fan-in", "--qos", "1"],
    "fan-out": ["--scenario", "fan-out", "--qos", "0"],
    "p2p-q1": ["--scenario", "p2p", "--qos", "1"],
    "closed-loop": ["--scenario", "closed-loop"],
    "latency": ["--scenario", "latency"],
    # Unpaced publishers into one slow subscriber (bench/README.md).
    "overload-q1": ["--scenario", "overload", "--qos", "1"],
    "overload-q0": ["--scenario", "overload", "--qos", "0"],
}
# JSON topics (opt-in: `--scenarios json`): 2 KB documents of which one
# field (the sequence number) changes per update, to one topic, whole
# values against $delta/ subscriptions (JSON Patches); and JSON payloads
# with a content type on the plain fan-in.
JSON_DOC = ["--json-doc", "2048"]
FLOWS.update({
    "json-fan-in-q0": ["--scenario", "fan-in", "--qos", "0",
                       "--json-doc", "64"],
    "json-fan-out-1": ["--scenario", "fan-out", "--qos", "0",
                       "--subscribers", "1"] + JSON_DOC,
    "json-fan-out-1000": ["--scenario", "fan-out", "--qos", "0",
                          "--subscribers", "1000"] + JSON_DOC,
    "json-delta-fan-out-1": ["--scenario", "fan-out", "--qos", "0",
                             "--subscribers", "1", "--delta"] + JSON_DOC,
    "json-delta-fan-out-1000": ["--scenario", "fan-out", "--qos", "0",
                                "--subscribers", "1000",
                                "--delta"] + JSON_DOC,
})
# Bytes per delivered update: two runs each (whole values, then $delta/ on
# a fresh broker), one subscriber, 2,000 updates/s, at most 3 s.
BYTES_BASE = ["--scenario", "fan-out", "--qos", "0", "--subscribers", "1",
              "--rate", "2000"] + JSON_DOC
PAIRS = {
    "json-bytes-1field": BYTES_BASE + ["--changed-fields", "1"],
    "json-bytes-2fields": BYTES_BASE + ["--changed-fields", "2"],
}
BYTES_MAX_S = 3
# Mosquitto has no $delta/: these run against Castor only (n/a otherwise).
CASTOR_ONLY = {"json-delta-fan-out-1", "json-delta-fan-out-1000"}
JSON_SCENARIOS = ["fan-in-q0", "json-fan-in-q0", "json-fan-out-1",
                  "json-delta-fan-out-1", "json-fan-out-1000",
                  "json-delta-fan-out-1000", "json-bytes-1field",
                  "json-bytes-2fields"]
# Request/response (opt-in: `--scenarios request`): MQTT 5 requests with a
# Response Topic and Correlation Data, one in flight per requester, answered
# by one handler: on Castor registered with $castor/api/handlers/add
# (--handler-mode castor), on Mosquitto subscribed to bench/req/# (mqtt).
FLOWS.update({
    "request-1": ["--scenario", "request", "--requesters", "1"],
    "request-100": ["--scenario", "request", "--requesters", "100"],
})
REQUEST_SCENARIOS = ["request-1", "request-100"]
# Over TLS (opt-in: `--scenarios tls`): the same runs through each server's
# TLS listener (an ECDSA P-256 certificate made for the run), every client
# TLS 1.3 with OpenSSL's defaults.
FLOWS.update({
    "tls-fan-in-q0": FLOWS["fan-in-q0"],
    "tls-fan-in-q1": FLOWS["fan-in-q1"],
    "tls-fan-out": FLOWS["fan-out"],
})
TLS_SCENARIOS = ["tls-fan-in-q0", "tls-fan-in-q1", "tls-fan-out"]
# Extra seconds the load generator may need after publishing (its drain).
DRAIN_S = {"overload-q1": 35, "overload-q0": 35}
# The default list (unchanged by the JSON and request scenarios, which are
# opt-in).
SCENARIOS = ["connections"] + [f for f in FLOWS
                               if not f.startswith(("json-", "request-",
                                                    "tls-"))]
ALL_SCENARIOS = (SCENARIOS + [s for s in JSON_SCENARIOS if s not in SCENARIOS]
                 + REQUEST_SCENARIOS + TLS_SCENARIOS)
GROUPS = {"default": SCENARIOS, "json": JSON_SCENARIOS,
          "request": REQUEST_SCENARIOS, "tls": TLS_SCENARIOS,
          "all": ALL_SCENARIOS}

# Table rows: (label, run name, JSON key, higher is better, target)
# higher is better: True, False, or None for figures where neither is (the
# ratio column stays empty).
# target: (kind, value[, unit]) where kind is "ratio>=" (vs Mosquitto best),
# "ratio<=nodelay" (vs Mosquitto nodelay) or "abs<=" (Castor's own figure).
ROWS = [
    ("connect rate (conn/s)", "connections", "connect_rate", True, None),
    ("idle RSS per connection (kB)", "connections", "rss_per_conn_kb", False,
     ("abs<=", 5.0)),
    ("fan-in QoS 0 (msg/s)", "fan-in-q0", "rate", True, ("ratio>=", 5.0)),
    ("fan-in QoS 1 (msg/s)", "fan-in-q1", "rate", True, ("ratio>=", 3.0)),
    ("fan-out QoS 0 (deliveries/s)", "fan-out", "rate", True,
     ("ratio>=", 5.0)),
    ("p2p QoS 1 (msg/s)", "p2p-q1", "rate", True, None),
    ("closed loop QoS 0 (msg/s)", "closed-loop", "rate", True,
     ("ratio>=", 1.5)),
    ("latency p50 (us)", "latency", "lat_p50_us", False, None),
    ("latency p99 (us)", "latency", "lat_p99_us", False, None),
    ("latency p99.9 (us)", "latency", "lat_p999_us", False, None),
    ("latency max (us)", "latency", "lat_max_us", False, None),
    ("latency median per-second p99 (us)", "latency",
     "lat_median_p99_per_s_us", False, ("ratio<=nodelay", 1.0)),
    ("CPU s / M msgs, fan-in QoS 0", "fan-in-q0", "cpu_s_per_million", False,
     None),
    ("CPU s / M msgs, fan-in QoS 1", "fan-in-q1", "cpu_s_per_million", False,
     None),
    ("CPU s / M msgs, fan-out", "fan-out", "cpu_s_per_million", False, None),
    ("CPU s / M msgs, p2p QoS 1", "p2p-q1", "cpu_s_per_million", False, None),
    ("CPU s / M msgs, closed loop", "closed-loop", "cpu_s_per_million", False,
     None),
    # Over TLS 1.3 (opt-in: --scenarios tls).
    ("TLS fan-in QoS 0 (msg/s)", "tls-fan-in-q0", "rate", True, None),
    ("TLS fan-in QoS 1 (msg/s)", "tls-fan-in-q1", "rate", True, None),
    ("TLS fan-out QoS 0 (deliveries/s)", "tls-fan-out", "rate", True, None),
    ("CPU s / M msgs, TLS fan-in QoS 0", "tls-fan-in-q0",
     "cpu_s_per_million", False, None),
    ("CPU s / M msgs, TLS fan-in QoS 1", "tls-fan-in-q1",
     "cpu_s_per_million", False, None),
    ("CPU s / M msgs, TLS fan-out", "tls-fan-out", "cpu_s_per_million",
     False, None),
    # Overload: no pacing by the generator; the subscriber reads 2,000 msg/s.
    ("overload QoS 1: publishers' rate (PUBACK/s)", "overload-q1", "pub_rate",
     None, None),
    ("overload QoS 1: subscriber's rate (msg/s)", "overload-q1", "sub_rate",
     True, None),
    ("overload QoS 1: publishers / subscriber rate", "overload-q1",
     "pub_over_sub", None, None),
    ("overload QoS 1: acknowledged (msgs)", "overload-q1", "acked", None,
     None),
    ("overload QoS 1: received by the subscriber", "overload-q1", "delivered",
     None, None),
    ("overload QoS 1: acknowledged but lost", "overload-q1", "acked_lost",
     False, ("abs<=", 0, "")),
    ("overload QoS 1: duplicates", "overload-q1", "duplicates", False, None),
    ("overload QoS 1: server peak RSS (MB)", "overload-q1", "rss_peak_mb",
     False, None),
    ("overload QoS 1: server RSS after drain (MB)", "overload-q1",
     "rss_after_mb", False, None),
    ("overload QoS 1: seconds published", "overload-q1", "published_s", None,
     None),
    ("overload QoS 0: publishers' rate (PUBLISH/s)", "overload-q0",
     "pub_rate", None, None),
    ("overload QoS 0: subscriber's rate (msg/s)", "overload-q0", "sub_rate",
     True, None),
    ("overload QoS 0: sent (msgs)", "overload-q0", "sent", None, None),
    ("overload QoS 0: delivered (msgs)", "overload-q0", "delivered", None,
     None),
    ("overload QoS 0: delivered of sent (%)", "overload-q0", "delivered_pct",
     True, None),
    ("overload QoS 0: server peak RSS (MB)", "overload-q0", "rss_peak_mb",
     False, None),
    ("overload QoS 0: server RSS after drain (MB)", "overload-q0",
     "rss_after_mb", False, None),
    ("overload QoS 0: seconds published", "overload-q0", "published_s", None,
     None),
    # Request/response: one handler; Castor's registered with its API.
    ("request/response, 1 requester (round trips/s)", "request-1", "rate",
     True, None),
    ("request/response, 1 requester: p99 latency (us)", "request-1",
     "lat_p99_us", False, None),
    ("request/response, 100 requesters (round trips/s)", "request-100",
     "rate", True, None),
    ("request/response, 100 requesters: p99 latency (us)", "request-100",
     "lat_p99_us", False, None),
]

# The JSON table. Pseudo-runs: "json-fan-in-cost" (JSON fan-in rate over
# plain fan-in rate), "json-delta-cost-1"/"-1000" ($delta/ updates/s over
# whole-value updates/s), computed from the medians (derive_json()).
JSON_ROWS = [
    ("2 KB JSON, 1 subscriber, whole (updates/s)", "json-fan-out-1",
     "updates_per_s", True, None),
    ("2 KB JSON, 1 subscriber, $delta/ (updates/s)", "json-delta-fan-out-1",
     "updates_per_s", True, None),
    ("  $delta/ / whole, 1 subscriber (%)", "json-delta-cost-1", "pct",
     None, None),
    ("2 KB JSON, 1,000 subscribers, whole (updates/s)", "json-fan-out-1000",
     "updates_per_s", True, None),
    ("2 KB JSON, 1,000 subscribers, $delta/ (updates/s)",
     "json-delta-fan-out-1000", "updates_per_s", True, None),
    ("  $delta/ / whole, 1,000 subscribers (%)", "json-delta-cost-1000",
     "pct", None, None),
    ("CPU s / M deliveries, 1,000 subscribers, whole", "json-fan-out-1000",
     "cpu_s_per_million", False, None),
    ("CPU s / M deliveries, 1,000 subscribers, $delta/",
     "json-delta-fan-out-1000", "cpu_s_per_million", False, None),
    ("1 changed field: wire bytes per update, whole", "json-bytes-1field",
     "whole_wire_per_msg", None, None),
    ("1 changed field: wire bytes per update, $delta/", "json-bytes-1field",
     "delta_wire_per_msg", None, None),
    ("1 changed field: saved by $delta/, wire (%)", "json-bytes-1field",
     "saved_wire_pct", None, ("abs>=", 70, " %")),
    ("1 changed field: saved by $delta/, payload (%)", "json-bytes-1field",
     "saved_payload_pct", None, None),
    ("2 changed fields: wire bytes per update, whole", "json-bytes-2fields",
     "whole_wire_per_msg", None, None),
    ("2 changed fields: wire bytes per update, $delta/", "json-bytes-2fields",
     "delta_wire_per_msg", None, None),
    ("2 changed fields: saved by $delta/, wire (%)", "json-bytes-2fields",
     "saved_wire_pct", None, ("abs>=", 70, " %")),
    ("2 changed fields: saved by $delta/, payload (%)", "json-bytes-2fields",
     "saved_payload_pct", None, None),
    ("fan-in QoS 0, 64 B binary (msg/s)", "fan-in-q0", "rate", True, None),
    ("fan-in QoS 0, 64 B JSON + content type (msg/s)", "json-fan-in-q0",
     "rate", True, None),
    ("  JSON / binary fan-in (%)", "json-fan-in-cost", "pct", None,
     ("abs>=", 90, " %")),
]

started = []  # every server process this script started


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_all(*_):
    for p in started:
        stop(p)
    started.clear()


class Server:
    """One broker instance on a fresh free port."""

    def __init__(self, kind, args, tmp):
        self.kind = kind
        self.port = free_port()
        self.log_path = os.path.join(tmp, f"{kind}-{self.port}.log")
        self.log = open(self.log_path, "w")
        # With TLS runs selected, every server has a TLS listener too.
        self.tls_port = free_port() if getattr(args, "tls_dir", None) else None
        cwd = None
        if kind == "castor":
            config = os.path.abspath(args.config)
            if self.tls_port:
                config = os.path.join(tmp, f"{kind}-{self.port}.yaml")
                with open(args.config) as f:
                    text = f.read()
                with open(config, "w") as f:
                    f.write(with_tls_listener(text, self.tls_port,
                                              args.tls_dir))
            cmd = [os.path.abspath(args.castor), "--config", config,
                   "--mqtt-port", str(self.port)]
            # Its store (storage.data_dir, relative) in a directory of its
            # own: every run starts empty.
            cwd = os.path.join(tmp, f"{kind}-{self.port}.d")
            os.makedirs(cwd, exist_ok=True)
        else:
            conf = os.path.join(tmp, f"{kind}-{self.port}.conf")
            with open(conf, "w") as f:
                f.write(f"listener {self.port} 127.0.0.1\n"
                        "allow_anonymous true\npersistence false\n"
                        "log_dest stderr\nlog_type error\n"
                        "log_type warning\n")
                if kind == "mosquitto-nodelay":
                    f.write("set_tcp_nodelay true\n")
                if self.tls_port:
                    f.write(mosquitto_tls_listener(self.tls_port,
                                                   args.tls_dir))
            cmd = [args.mosquitto, "-c", conf]
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd)
        started.append(self.proc)

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                for port in (self.port, self.tls_port):
                    if port:
                        socket.create_connection(("127.0.0.1", port),
                                                 timeout=0.5).close()
                time.sleep(0.2)  # let it finish starting up
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self):
        stop(self.proc)
        if self.proc in started:
            started.remove(self.proc)
        self.log.close()

    def tail(self, n=1500):
        try:
            with open(self.log_path) as f:
                return f.read()[-n:]
        except OSError:
            return ""


def read_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def parse_output(text):
    result, human = None, []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                pass
        elif line.startswith("#"):
            human.append(line)
    return result, human


def run_flow(args, server, name, flow=None, duration=None):
    warmup = args.warmup if duration is None else min(args.warmup,
                                                       duration / 4)
    duration = duration or args.duration
    port = server.port
    if name in TLS_SCENARIOS:
        port = server.tls_port
    cmd = [args.loadgen, "--port", str(port), "--server-pid",
           str(server.proc.pid), "--label", server.kind,
           "--duration", str(duration), "--warmup", str(warmup)]
    cmd += flow or FLOWS[name]
    if name in TLS_SCENARIOS:
        cmd += ["--tls-ca", os.path.join(args.tls_dir, "ca.pem")]
    if name in REQUEST_SCENARIOS:
        cmd += ["--handler-mode",
                "castor" if server.kind == "castor" else "mqtt"]
    if args.coalesce_us and name in ("fan-in-q0", "fan-in-q1", "fan-out",
                                     "p2p-q1") + tuple(TLS_SCENARIOS):
        cmd += ["--coalesce-us", str(args.coalesce_us)]
    limit = args.duration + 60 + 15 + DRAIN_S.get(name, 0)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=limit, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"load generator timed out ({limit} s)"}
    result, human = parse_output(out.stdout)
    for h in human:
        log("  " + h)
    if result is None:
        return {"ok": False,
                "error": f"no result (exit {out.returncode}): "
                         + out.stderr[-500:]}
    # Derived figures for the table.
    for k in ("rss_peak_kb", "rss_after_kb"):
        if result.get(k) is not None:
            result[k[:-3] + "_mb"] = result[k] / 1024
    if result.get("pub_rate") is not None and result.get("sub_rate"):
        result["pub_over_sub"] = result["pub_rate"] / result["sub_rate"]
    if result.get("scenario") == "fan-out" and result.get("subscribers"):
        # Updates delivered to every subscriber per second.
        result["updates_per_s"] = (result.get("rate") or 0) \
            / result["subscribers"]
    return result


def with_server(kind, args, tmp, body):
    """Starts a fresh `kind` server, runs body(server), stops it."""
    srv = Server(kind, args, tmp)
    try:
        if not srv.wait_ready():
            res = {"ok": False, "error": "server did not start: "
                   + srv.tail(500)}
            log("  " + res["error"])
        else:
            res = body(srv)
        if srv.proc.poll() is not None:
            res["ok"] = False
            res["error"] = (res.get("error") or "") + (
                f" server exited ({srv.proc.returncode})")
    finally:
        srv.stop()
    return res


def run_pair(args, kind, tmp, name):
    """Bytes per delivered update: whole values, then (Castor) $delta/, each
    on a fresh broker; one result with both and the share saved."""
    duration = min(args.duration, BYTES_MAX_S)
    halves = [("whole", PAIRS[name])]
    if kind == "castor":
        halves.append(("delta", PAIRS[name] + ["--delta"]))
    res = {"scenario": name, "label": kind, "ok": True, "error": ""}
    for half, flow in halves:
        r = with_server(kind, args, tmp, lambda srv: run_flow(
            args, srv, name, flow, duration))
        if not r.get("ok"):
            res["ok"] = False
            res["error"] += f"{half}: {r.get('error')} "
        for k in ("sub_wire_per_msg", "sub_payload_per_msg", "delivered",
                  "json_patches", "json_values"):
            res[f"{half}_{k[4:] if k.startswith('sub_') else k}"] = r.get(k)
    for unit in ("wire", "payload"):
        w = res.get(f"whole_{unit}_per_msg")
        d = res.get(f"delta_{unit}_per_msg")
        if w and d is not None:
            res[f"saved_{unit}_pct"] = 100 * (1 - d / w)
    return res


def derive_json(results):
    """The JSON table's ratios, from the medians of two runs each."""
    pairs = {"json-fan-in-cost": ("json-fan-in-q0", "fan-in-q0", "rate"),
             "json-delta-cost-1": ("json-delta-fan-out-1", "json-fan-out-1",
                                   "updates_per_s"),
             "json-delta-cost-1000": ("json-delta-fan-out-1000",
                                      "json-fan-out-1000", "updates_per_s")}
    for runs in results.values():
        for name, (num, den, key) in pairs.items():
            a = median_of(runs.get(num, []), key)
            b = median_of(runs.get(den, []), key)
            if a is not None and b:
                ok = all(r.get("ok") for r in runs[num] + runs[den])
                runs[name] = [{"ok": ok, "pct": 100 * a / b}]


def run_connections(args, server, rss_kb=None):
    """Two load generator slices hold args.connections idle connections
    together; the server's RSS is read while all are held (`rss_kb()`
    instead, if given: several processes)."""
    if rss_kb is None:
        def rss_kb():
            return read_rss_kb(server.proc.pid)
    n = args.connections
    half = n // 2
    slices = [(0, half), (half, n - half)]
    rss_before = rss_kb()
    procs = []
    for offset, count in slices:
        cmd = [args.loadgen, "--scenario", "connections", "--port",
               str(server.port), "--count", str(count), "--conn-offset",
               str(offset), "--hold-stdin", "--hold", "120", "--label",
               server.kind, "--id-prefix", f"idle{os.getpid()}-",
               "--setup-timeout", "60", "--connect-concurrency", "50"]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = []
    deadline = time.monotonic() + 90
    try:
        for p in procs:
            # Each slice prints its JSON line once all its connections are up
            # (then it holds them until its stdin closes).
            line = ""
            while time.monotonic() < deadline:
                ready, _, _ = select.select([p.stdout], [], [],
                                            max(0.1, deadline
                                                - time.monotonic()))
                if not ready:
                    continue
                line = p.stdout.readline()
                if not line or line.startswith("{"):
                    break
            results.append(json.loads(line) if line.startswith("{") else None)
        time.sleep(0.5)
        rss_after = rss_kb()
    finally:
        for p in procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if any(r is None for r in results):
        return {"ok": False, "error": "a connection slice gave no result"}
    held = sum(r["connections"] for r in results)
    slowest = max(r["connect_s"] for r in results)
    res = {
        "scenario": "connections", "label": server.kind,
        "ok": all(r["ok"] for r in results) and held == n,
        "error": "; ".join(r["error"] for r in results if r["error"]),
        "connections": held,
        "connect_rate": held / slowest if slowest > 0 else None,
        "rss_before_kb": rss_before, "rss_after_kb": rss_after,
        "rss_per_conn_kb": ((rss_after - rss_before) / held
                            if rss_before and rss_after and held else None),
    }
    log(f"  # connections [{server.kind}]: {held} held, "
        f"{res['connect_rate'] or 0:.0f} conn/s, RSS {rss_before} -> "
        f"{rss_after} kB ({res['rss_per_conn_kb'] or 0:.2f} kB/conn)")
    return res


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100 or v == int(v):
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def median_of(runs, key):
    vals = [r.get(key) for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def table(results, servers, row_specs=ROWS):
    """results[server][run name] -> list of result dicts. Rows of runs that
    no server has results for (scenarios not selected) are left out."""
    head = ["figure"] + servers + ["Castor/Mosq-best", "target"]
    rows = []
    for label, run, key, higher, target in row_specs:
        if not any(run in results.get(s, {}) for s in servers):
            continue
        cells, meds = [label], {}
        for s in servers:
            runs = results.get(s, {}).get(run, [])
            meds[s] = median_of(runs, key)
            failed = sum(1 for r in runs if not r.get("ok"))
            cell = fmt(meds[s])
            if failed:
                cell += f" ({failed} failed)"
            cells.append(cell)
        mosq = [meds.get(m) for m in ("mosquitto", "mosquitto-nodelay")
                if meds.get(m) is not None]
        best = (max(mosq) if higher else min(mosq)) if mosq else None
        c = meds.get("castor")
        ratio = c / best if c is not None and best else None
        if higher is None:
            cells.append("")
        else:
            cells.append(f"{ratio:.2f}x" if ratio is not None else "n/a")
        verdict = ""
        if target:
            kind, val = target[0], target[1]
            unit = target[2] if len(target) > 2 else " kB"
            if kind == "ratio>=":
                verdict = f">= {val}x: " + (
                    "n/a" if ratio is None else
                    "met" if ratio >= val else "NOT met")
            elif kind == "abs<=":
                verdict = f"<= {val}{unit}: " + (
                    "n/a" if c is None else "met" if c <= val else "NOT met")
            elif kind == "abs>=":
                verdict = f">= {val}{unit}: " + (
                    "n/a" if c is None else "met" if c >= val else "NOT met")
            elif kind == "ratio<=nodelay":
                nd = meds.get("mosquitto-nodelay")
                verdict = "<= Mosq nodelay: " + (
                    "n/a" if c is None or nd is None else
                    "met" if c <= nd else "NOT met")
            if run == "fan-in-q1" and c is not None:
                lost = sum(r.get("lost", 0) or 0
                           for r in results["castor"].get(run, []))
                verdict += f", lost {lost}"
        cells.append(verdict)
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in rows + [head])
              for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths))
             + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c).ljust(w)
                                       for c, w in zip(r, widths)) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(
        description="Castor vs Mosquitto benchmark (see bench/README.md)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="1 round, 3 s runs, 4,000 idle connections")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--connections", type=int, default=19000)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--castor")
    ap.add_argument("--loadgen")
    ap.add_argument("--config", default=os.path.join(ROOT, "config",
                                                     "castor.yaml"))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help="comma-separated subset of " + ",".join(SERVERS))
    ap.add_argument("--scenarios", default="default",
                    help="comma-separated list of scenarios and groups "
                         "(default, json, request, tls, all): " + ",".join(ALL_SCENARIOS))
    ap.add_argument("--coalesce-us", type=int, default=0,
                    help="generator pause per loop turn in the throughput "
                         "scenarios (fewer, larger reads; see README)")
    ap.add_argument("--json", help="write every raw result here")
    ap.add_argument("--max-minutes", type=float, default=60,
                    help="stop starting new runs after this long")
    args = ap.parse_args()
    if args.quick:
        if "--rounds" not in sys.argv:
            args.rounds = 1
        if "--duration" not in sys.argv:
            args.duration = 3
        if "--warmup" not in sys.argv:
            args.warmup = 1
        if "--connections" not in sys.argv:
            args.connections = 4000
    args.castor = args.castor or os.path.join(args.build_dir, "castor")
    args.loadgen = args.loadgen or os.path.join(args.build_dir, "bench",
                                                "castor-loadgen")
    servers = [s for s in args.servers.split(",") if s]
    scenarios = []
    for s in (s for s in args.scenarios.split(",") if s):
        for name in GROUPS.get(s, [s]):
            if name not in scenarios:
                scenarios.append(name)
    for s in servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s}")
    for s in scenarios:
        if s not in ALL_SCENARIOS:
            ap.error(f"unknown scenario {s}")
    if not os.access(args.loadgen, os.X_OK):
        ap.error(f"no load generator at {args.loadgen} (build the "
                 "castor-loadgen target)")
    if "castor" in servers and not os.access(args.castor, os.X_OK):
        log(f"no castor binary at {args.castor}: Castor skipped")
        servers.remove("castor")

    hard = raise_nofile()
    if "connections" in scenarios and args.connections + 500 > hard:
        args.connections = max(100, hard - 1000)
        log(f"open files capped at {hard}: {args.connections} idle "
            "connections")
    signal.signal(signal.SIGTERM, lambda *a: (stop_all(), sys.exit(1)))
    signal.signal(signal.SIGINT, lambda *a: (stop_all(), sys.exit(1)))

    tmp = tempfile.mkdtemp(prefix="castor-bench-")
    # Run a private copy of the generator: a rebuild during the run must not
    # pull the binary away under it.
    shutil.copy2(args.loadgen, os.path.join(tmp, "castor-loadgen"))
    args.loadgen = os.path.join(tmp, "castor-loadgen")
    args.tls_dir = None
    if any(n in TLS_SCENARIOS for n in scenarios):
        args.tls_dir = os.path.join(tmp, "tls")
        os.makedirs(args.tls_dir)
        make_certs(args.tls_dir)
        os.chmod(tmp, 0o755)
        readable_by_all(args.tls_dir)
    results = {s: {} for s in servers}
    t_start = time.monotonic()
    stopped_early = False
    try:
        for rnd in range(args.rounds):
            for name in scenarios:
                # Alternate the order from round to round.
                k = rnd % len(servers)
                for kind in servers[k:] + servers[:k]:
                    if time.monotonic() - t_start > args.max_minutes * 60:
                        stopped_early = True
                        break
                    if name in CASTOR_ONLY and kind != "castor":
                        continue  # no $delta/ in Mosquitto: n/a
                    log(f"round {rnd + 1}/{args.rounds} {name} on {kind}")
                    if name in PAIRS:
                        res = run_pair(args, kind, tmp, name)
                    elif name == "connections":
                        res = with_server(kind, args, tmp, lambda srv:
                                          run_connections(args, srv))
                    else:
                        res = with_server(kind, args, tmp, lambda srv:
                                          run_flow(args, srv, name))
                    if not res.get("ok"):
                        log(f"  FAILED: {res.get('error')}")
                    res["round"] = rnd + 1
                    results[kind].setdefault(name, []).append(res)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    print(f"\nMedians over {args.rounds} round(s), {args.duration:g} s runs "
          f"({args.warmup:g} s warm-up excluded), {args.connections} idle "
          "connections; ratio = Castor / the better Mosquitto configuration "
          "(for latency, memory and CPU lower is better, so < 1 is good). "
          "Overload rows: unpaced publishers, one subscriber reading "
          "2,000 msg/s, counts over the whole run and its drain."
          + (" Request/response rows: one request in flight per requester, "
             "64-byte payloads, QoS 0, one handler (Castor: registered "
             "with $castor/api/handlers/add; Mosquitto: subscribed to "
             "bench/req/#)." if any(n in REQUEST_SCENARIOS
                                     for n in scenarios) else ""))
    if stopped_early:
        print(f"(stopped early after {args.max_minutes:g} minutes)")
    main_rows = table(results, servers)
    if main_rows.count("\n") > 1:
        print(main_rows)
    if any(n in JSON_SCENARIOS and n != "fan-in-q0" for n in scenarios):
        derive_json(results)
        print("\nJSON topics and deltas: one topic, 2 KB JSON documents "
              "(content type application/json) of which 1 field changes "
              "per update (2 where said), QoS 0; whole values to plain "
              "subscribers against $delta/ subscribers (JSON Patches; "
              "Castor only, Mosquitto has no $delta/). Bytes: 2,000 "
              f"updates/s to one subscriber for {min(args.duration, BYTES_MAX_S):g} s, "
              "per delivered update, MQTT frames (headers and properties "
              "included) and payloads.")
        print(table(results, servers, JSON_ROWS))
    failed = sum(1 for s in results.values() for runs in s.values()
                 for r in runs if not r.get("ok"))
    if failed:
        print(f"{failed} run(s) failed or lost messages; see the log above.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
