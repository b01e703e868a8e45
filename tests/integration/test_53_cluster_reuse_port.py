#!/usr/bin/python3
"""More cores on one machine (docs/cluster.md): the three nodes of a group
listen on one MQTT port with `reuse_port` (SO_REUSEPORT). The kernel
spreads the clients that connect to it over the three processes, and the
group routes between them, so a subscriber gets what is published through
the same port whichever process each one landed on. A process without
`reuse_port` cannot take the port; when one node stops, the others take
every new connection."""

import json
import subprocess

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from transport_util import expect_startup_failure


def shared_listener(port):
    return {"name": "shared", "transport": "tcp", "port": port,
            "reuse_port": True}


@case(server=False, castor_only=True, timeout=120)
def three_processes_share_one_port():
    port = free_port()
    with group(listeners=[shared_listener(port)]) as g:
        nodes = [g.nodes[n] for n in ("n1", "n2", "n3")]
        n = 60
        conns = [connect(port, "spread-%d" % i) for i in range(n)]
        held = {nd.name: nd.listener_connections("shared") for nd in nodes}
        check_eq(sum(held.values()), n, "connections held: %r" % held)
        # 60 connections all on one of three processes: 3 * 3^-60.
        check(all(v > 0 for v in held.values()),
              "every process took some of the connections: %r" % held)
        subs = conns[:n - 1]
        for c in subs:
            c.subscribe("spread/x", qos=1)
        # Each node holds the others' filter before the publish.
        for nd in nodes:
            wait_metric(nd, "castor_cluster_routes", lambda v: v == 2,
                        "the other two nodes' filter at %s" % nd.name)
        payloads = ["m%d" % i for i in range(20)]
        # mosquitto_pub through the shared port, on whichever process.
        r = subprocess.run(
            ["mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", str(port),
             "-t", "spread/x", "-q", "1", "-l"],
            input=("\n".join(payloads) + "\n").encode(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check_eq(r.returncode, 0, "mosquitto_pub's status (%r)" % r.stderr)
        for i, c in enumerate(subs):
            check_eq(collect(c, len(payloads)), payloads,
                     "subscriber %d got every message, in order" % i)
        for c in conns:
            c.disconnect()

        # A process that does not ask for SO_REUSEPORT cannot take the port.
        out = expect_startup_failure(
            "listeners:\n"
            "  - {name: mqtt, transport: tcp, bind: 127.0.0.1, port: %d}\n"
            % port)
        check("listener mqtt: cannot listen on 127.0.0.1:%d" % port in out,
              "the listener and its port named: %s" % out)

        # n3 stops: n1 and n2 take every new connection.
        g.nodes["n3"].stop()
        wait_members(g.nodes["n1"], ["n2"], what="n3 left")
        late = [connect(port, "late-%d" % i) for i in range(20)]
        held = {nd.name: nd.listener_connections("shared") for nd in nodes[:2]}
        check_eq(sum(held.values()), 20, "n1 and n2 hold the new connections")
        for c in late:
            c.disconnect()


@case(server=False, castor_only=True, timeout=60)
def reuse_port_is_shown_and_checked():
    port = free_port()
    with group(mesh=False, listeners=[shared_listener(port)]) as g:
        n1 = g.start("n1")
        doc = json.loads(n1.get("/api/v1/listeners"))
        by_name = {l["name"]: l for l in doc["listeners"]}
        check_eq(by_name["shared"]["reuse_port"], True, "shared's reuse_port")
        check_eq(by_name["mqtt"]["reuse_port"], False, "mqtt's reuse_port")
    out = expect_startup_failure(
        "listeners:\n"
        "  - {name: mqtt, transport: tcp, bind: 127.0.0.1, port: %d,"
        " reuse_port: 1}\n" % port)
    check("listeners[0].reuse_port" in out, "the key named: %s" % out)


if __name__ == "__main__":
    run_cases()
