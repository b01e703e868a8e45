#!/usr/bin/python3
"""Smoke run of castor-loadgen: starts a broker on a free loopback port, runs a
few seconds of small scenarios against it and fails on loss, duplicates,
reordering or any error (in the overload run: on any message acknowledged
but never delivered), so that the generator (and the broker's basic
publish paths) cannot rot unnoticed.

    smoke.py --loadgen build/bench/castor-loadgen --castor build/castor \
             --config config/castor.yaml
    smoke.py --loadgen ... --mosquitto /usr/sbin/mosquitto   # by hand
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import shutil
import tempfile
import time

from tls_idle import (make_certs, mosquitto_tls_listener, readable_by_all,
                      with_tls_listener)

RUNS = [
    # (name, arguments)
    ("fan-in QoS 1", ["--scenario", "fan-in", "--qos", "1", "--publishers",
                      "10", "--duration", "2", "--warmup", "0.5"]),
    ("fan-out QoS 1", ["--scenario", "fan-out", "--qos", "1",
                       "--subscribers", "20", "--duration", "2",
                       "--warmup", "0.5"]),
    ("fan-in QoS 2", ["--scenario", "fan-in", "--qos", "2", "--publishers",
                      "5", "--duration", "1", "--warmup", "0.2"]),
    ("latency QoS 0, MQTT 3.1.1", ["--scenario", "latency", "--publishers",
                                   "2", "--rate", "2000", "--duration", "1",
                                   "--warmup", "0.2", "--protocol", "3.1.1"]),
    # JSON documents to $delta/ subscribers: whole values first, then JSON
    # Patches, from which the generator reads the sequence numbers; fails
    # also when no patch arrives (Castor only: Mosquitto has no $delta/).
    ("fan-out JSON $delta/ QoS 1", ["--scenario", "fan-out", "--qos", "1",
                                    "--subscribers", "10", "--json-doc",
                                    "2048", "--changed-fields", "2",
                                    "--delta", "--duration", "1",
                                    "--warmup", "0.2"]),
    # Unpaced publishers into a subscriber reading 1,000 msg/s: fails on any
    # message acknowledged (PUBACK) but never delivered ("lost" is that
    # count here). The drain ends as soon as everything acknowledged has
    # arrived; its bound is only for a broker that loses messages.
    # Through the TLS listener (TLS 1.3; on Castor, its own record layer
    # after the handshake).
    ("fan-in QoS 1 over TLS", ["--scenario", "fan-in", "--qos", "1",
                               "--publishers", "10", "--duration", "1",
                               "--warmup", "0.2", "--tls-ca", "{ca}"]),
    ("fan-out QoS 1 over TLS", ["--scenario", "fan-out", "--qos", "1",
                                "--subscribers", "20", "--duration", "1",
                                "--warmup", "0.2", "--tls-ca", "{ca}"]),
    ("overload QoS 1", ["--scenario", "overload", "--qos", "1",
                        "--publishers", "20", "--sub-rate", "1000",
                        "--duration", "2", "--warmup", "0.5",
                        "--drain-timeout", "20"]),
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--castor", help="castor binary")
    ap.add_argument("--config", help="castor configuration file")
    ap.add_argument("--mosquitto", help="run against this mosquitto instead")
    args = ap.parse_args()

    port = free_port()
    tls_port = free_port()
    tmp = tempfile.mkdtemp(prefix="castor-smoke-")
    make_certs(tmp)
    readable_by_all(tmp)
    ca = os.path.join(tmp, "ca.pem")
    log = open(os.path.join(tmp, "server.log"), "w")
    if args.mosquitto:
        conf = os.path.join(tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nlog_dest stderr\n"
                    + mosquitto_tls_listener(tls_port, tmp))
        cmd = [args.mosquitto, "-c", conf]
    else:
        if not args.castor or not args.config:
            ap.error("--castor and --config are needed (or --mosquitto)")
        conf = os.path.join(tmp, "castor.yaml")
        with open(args.config) as f, open(conf, "w") as out:
            out.write(with_tls_listener(f.read(), tls_port, tmp))
        cmd = [os.path.abspath(args.castor), "--config", conf,
               "--mqtt-port", str(port)]
    # (Castor's store, storage.data_dir, goes in the temporary directory.)
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    failures = 0
    try:
        if not (wait_listening(server, port, 15)
                and wait_listening(server, tls_port, 5)):
            log.flush()
            print(f"server did not listen on 127.0.0.1:{port}: {cmd}")
            print(open(log.name).read()[-3000:])
            return 1
        for name, extra in RUNS:
            if args.mosquitto and "--delta" in extra:
                print(f"skip {name}: no $delta/ in Mosquitto")
                continue
            tls = "--tls-ca" in extra
            extra = [ca if a == "{ca}" else a for a in extra]
            lg = [args.loadgen, "--port", str(tls_port if tls else port),
                  "--server-pid", str(server.pid), "--label", "smoke",
                  "--drain-timeout", "3", "--setup-timeout", "15"] + extra
            try:
                out = subprocess.run(lg, capture_output=True, text=True,
                                     timeout=60)
            except subprocess.TimeoutExpired:
                print(f"FAIL {name}: load generator did not finish in 60 s")
                failures += 1
                continue
            result = None
            for line in out.stdout.splitlines():
                if line.startswith("{"):
                    result = json.loads(line)
                elif line.startswith("#"):
                    print(line)
            ok = (out.returncode == 0 and result is not None
                  and result["ok"] and result["delivered"] > 0
                  and result["lost"] == 0 and result["duplicates"] == 0
                  and result["reordered"] == 0
                  and ("--delta" not in extra
                       or (result["json_patches"] > 0
                           and result["unchecked"] == 0)))
            if not ok:
                failures += 1
                print(f"FAIL {name}: exit {out.returncode}\n{out.stdout}"
                      f"{out.stderr}")
            else:
                print(f"ok   {name}: {result['delivered']} delivered")
            if server.poll() is not None:
                print(f"server exited with {server.returncode}")
                failures += 1
                break
    finally:
        # The server must exit with status 0 within 10 s of SIGTERM and
        # print no sanitizer report (a crash or hang is a failure too).
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
                if server.returncode != 0:
                    print(f"server exited with {server.returncode} after SIGTERM")
                    failures += 1
            except subprocess.TimeoutExpired:
                print("server did not exit within 10 s after SIGTERM")
                server.kill()
                server.wait()
                failures += 1
        log.close()
        with open(log.name, errors="replace") as f:
            reports = [line for line in f if "ERROR: AddressSanitizer" in line
                       or "ERROR: LeakSanitizer" in line or "runtime error:" in line]
        if reports:
            print("sanitizer report in the server's output:\n" + "".join(reports[:10]))
            failures += 1
    if failures:
        print(open(log.name).read()[-3000:])
    print(f"{len(RUNS) - failures} passed, {failures} failed")
    shutil.rmtree(tmp, ignore_errors=True)  # the test keys with the rest
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
