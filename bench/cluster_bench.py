#!/usr/bin/python3
"""Node groups on one machine (docs/cluster.md), side by side with one
Castor process and with Mosquitto, in one run:

- cross-node delivery: 100 publishers on one node, their subscriber on
  another (`castor-loadgen --sub-port`), fan-in at QoS 0 and 1 and the
  latency scenario; against the same load on one process;
- one port, more processes: fan-in through one port shared with
  SO_REUSEPORT (`reuse_port`) by 1, 2 and 3 processes of a group (the
  kernel spreads publishers and the subscriber over them);
- idle connections held through that port by 1, 2 and 3 processes:
  connections per second, and the growth of their summed RSS.

Usage (a release build, as for run_bench.py):

    cmake -S . -B build-bench -DCASTOR_TESTS=OFF
    cmake --build build-bench -j2 --target castor castor-loadgen
    bench/cluster_bench.py --rounds 3

Medians of the rounds; every figure of one table comes from this run.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import run_bench as rb

SECRET = "cluster-bench-secret-0123456789abcdef"


class Node:
    """One castor process of a group (or alone, with nodes == 1 and no
    cluster section)."""

    def __init__(self, args, tmp, name, mqtt_port, cluster_port, seed,
                 group=True, reuse_port=False):
        self.kind = "castor"
        self.name = name
        self.port = mqtt_port
        self.http = rb.free_port()
        conf = os.path.join(tmp, f"{name}-{mqtt_port}.yaml")
        lines = [
            "listeners:",
            f"  - {{name: mqtt, transport: tcp, bind: 127.0.0.1, port: "
            f"{mqtt_port}, reuse_port: {str(reuse_port).lower()}}}",
            f"  - {{name: http, transport: http, bind: 127.0.0.1, port: "
            f"{self.http}}}",
        ]
        if group:
            secret = os.path.join(tmp, "secret")
            with open(secret, "w") as f:
                f.write(SECRET)
            os.chmod(secret, 0o600)
            lines += ["cluster:", "  enabled: true", f"  node_name: {name}",
                      "  bind: 127.0.0.1", f"  port: {cluster_port}",
                      f"  seeds: [\"127.0.0.1:{seed}\"]",
                      f"  secret_file: {secret}"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(tmp, f"{name}-{mqtt_port}.log")
        self.log = open(self.log_path, "w")
        # Each node's store (storage.data_dir) in a directory of its own.
        cwd = os.path.join(tmp, f"{name}-{mqtt_port}.d")
        os.makedirs(cwd, exist_ok=True)
        self.proc = subprocess.Popen([os.path.abspath(args.castor), "--config", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd)
        rb.started.append(self.proc)

    def members(self):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http}/api/v1/cluster",
                    timeout=2) as r:
                return len(json.loads(r.read())["members"])
        except (OSError, ValueError, KeyError):
            return -1

    def stop(self):
        rb.stop(self.proc)
        if self.proc in rb.started:
            rb.started.remove(self.proc)
        self.log.close()


class Group:
    """`n` nodes on this machine: each on its own MQTT port, or all on one
    (`shared`, with reuse_port). n == 1 without `shared`: one process
    without a cluster section."""

    def __init__(self, args, tmp, n, shared=False):
        self.shared_port = rb.free_port() if shared else None
        cports = [rb.free_port() for _ in range(n)]
        grouped = n > 1
        self.nodes = [
            Node(args, tmp, f"n{i + 1}", self.shared_port or rb.free_port(),
                 cports[i], cports[0], grouped, shared)
            for i in range(n)]
        self.label = (f"castor x{n}" + (" (one port)" if shared else "")
                      if grouped or shared else "castor")

    def ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while True:
                if node.proc.poll() is not None or time.monotonic() > deadline:
                    return False
                try:
                    with socket.create_connection(("127.0.0.1", node.port),
                                                  timeout=0.5):
                        break
                except OSError:
                    time.sleep(0.1)
        want = len(self.nodes) - 1
        while want > 0 and time.monotonic() < deadline:
            if all(nd.members() == want for nd in self.nodes):
                time.sleep(0.5)  # let the routes settle
                return True
            time.sleep(0.2)
        return want == 0

    def rss_kb(self):
        vals = [rb.read_rss_kb(nd.proc.pid) for nd in self.nodes]
        return None if None in vals else sum(vals)

    def stop(self):
        for nd in self.nodes:
            nd.stop()

    def tail(self):
        out = []
        for nd in self.nodes:
            with open(nd.log_path) as f:
                out.append(f"--- {nd.name}\n" + f.read()[-800:])
        return "\n".join(out)


def flow_on(args, group, name, flow, cross):
    """A loadgen flow: publishers on node 1, the subscribers on node 2 when
    `cross`."""
    first = group.nodes[0]
    flow = list(flow)
    if cross:
        # The subscriptions reach n1 a few ms after their SUBACKs.
        flow += ["--sub-port", str(group.nodes[1].port), "--settle-ms", "200"]
    first.kind = group.label
    return rb.run_flow(args, first, name, flow)


def with_group(args, tmp, n, shared, body):
    g = Group(args, tmp, n, shared)
    try:
        if not g.ready():
            return {"ok": False, "error": "group did not form: " + g.tail()}
        res = body(g)
        for nd in g.nodes:
            if nd.proc.poll() is not None:
                res["ok"] = False
                res["error"] = (res.get("error") or "") + f" {nd.name} exited"
        return res
    finally:
        g.stop()


def with_mosquitto(args, tmp, body):
    return rb.with_server("mosquitto", args, tmp, body)


# scenario -> the rows it gives: (label, figure)
CROSS = [("fan-in-q0", [("fan-in QoS 0 (msg/s)", "rate")]),
         ("fan-in-q1", [("fan-in QoS 1 (msg/s)", "rate")]),
         ("latency", [("latency p50 (us)", "lat_p50_us"),
                      ("latency p99 (us)", "lat_p99_us")])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--connections", type=int, default=15000)
    ap.add_argument("--build-dir", default=os.path.join(rb.ROOT, "build-bench"))
    ap.add_argument("--castor")
    ap.add_argument("--loadgen")
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--coalesce-us", type=int, default=0)
    ap.add_argument("--json", help="write every raw result here")
    args = ap.parse_args()
    args.castor = args.castor or os.path.join(args.build_dir, "castor")
    args.loadgen = args.loadgen or os.path.join(args.build_dir, "bench",
                                                "castor-loadgen")
    for path in (args.castor, args.loadgen):
        if not os.access(path, os.X_OK):
            ap.error(f"no {path} (build castor and castor-loadgen)")
    hard = rb.raise_nofile()
    args.connections = min(args.connections, hard - 1000)
    signal.signal(signal.SIGTERM, lambda *a: (rb.stop_all(), sys.exit(1)))
    signal.signal(signal.SIGINT, lambda *a: (rb.stop_all(), sys.exit(1)))
    tmp = tempfile.mkdtemp(prefix="castor-cluster-bench-")
    shutil.copy2(args.loadgen, os.path.join(tmp, "castor-loadgen"))
    args.loadgen = os.path.join(tmp, "castor-loadgen")

    # (table, row label, column) -> [values]
    figures = {}
    raw = []

    def note(table, row, col, res, key):
        raw.append({"table": table, "row": row, "column": col, **res})
        if not res.get("ok"):
            rb.log(f"  FAILED {table} / {row} / {col}: {res.get('error')}")
        v = res.get(key)
        if v is not None and res.get("ok"):
            figures.setdefault((table, row, col), []).append(v)

    try:
        for rnd in range(args.rounds):
            rb.log(f"round {rnd + 1} of {args.rounds}")
            for name, rows in CROSS:
                flow = rb.FLOWS[name]
                for col, run in (
                        ("castor x2, across nodes", lambda: with_group(
                            args, tmp, 2, False,
                            lambda g: flow_on(args, g, name, flow, True))),
                        ("castor", lambda: with_group(
                            args, tmp, 1, False,
                            lambda g: flow_on(args, g, name, flow, False))),
                        ("mosquitto", lambda: with_mosquitto(
                            args, tmp,
                            lambda s: rb.run_flow(args, s, name, flow)))):
                    res = run()
                    for row, key in rows:
                        note("cross", row, col, res, key)
            for n in (1, 2, 3):
                col = f"{n} process" + ("es" if n > 1 else "")
                note("port", "fan-in QoS 0 (msg/s)", col, with_group(
                    args, tmp, n, True, lambda g: flow_on(
                        args, g, "fan-in-q0", rb.FLOWS["fan-in-q0"], False)),
                    "rate")

                def conns(g):
                    g.nodes[0].kind = g.label
                    return rb.run_connections(args, g.nodes[0], g.rss_kb)
                res = with_group(args, tmp, n, True, conns)
                note("port", "connect rate (conn/s)", col, res, "connect_rate")
                note("port", "RSS per connection (kB)", col, res,
                     "rss_per_conn_kb")
            res = with_mosquitto(args, tmp, lambda s: rb.run_flow(
                args, s, "fan-in-q0", rb.FLOWS["fan-in-q0"]))
            note("port", "fan-in QoS 0 (msg/s)", "mosquitto", res, "rate")
            res = with_mosquitto(args, tmp,
                                 lambda s: rb.run_connections(args, s))
            note("port", "connect rate (conn/s)", "mosquitto", res,
                 "connect_rate")
            note("port", "RSS per connection (kB)", "mosquitto", res,
                 "rss_per_conn_kb")
    finally:
        rb.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(raw, f, indent=1)

    def table(name, title, cols):
        rows = []
        for (t, row, _), _v in figures.items():
            if t == name and row not in rows:
                rows.append(row)
        print(f"\n{title} ({args.rounds} rounds, medians)\n")
        print("| | " + " | ".join(cols) + " |")
        print("|---" * (len(cols) + 1) + "|")
        for row in rows:
            cells = []
            for c in cols:
                vals = figures.get((name, row, c))
                cells.append(rb.fmt(statistics.median(vals)) if vals else "-")
            print(f"| {row} | " + " | ".join(cells) + " |")

    table("cross", "Across two nodes of a group: publishers on n1, "
          "subscribers on n2", ["castor x2, across nodes", "castor",
                                "mosquitto"])
    table("port", f"One MQTT port (SO_REUSEPORT), {args.connections} idle "
          "connections", ["1 process", "2 processes", "3 processes",
                          "mosquitto"])


if __name__ == "__main__":
    main()
