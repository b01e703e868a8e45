#!/usr/bin/python3
"""Typed topics across a node group (docs/cluster.md, "Typed topics"): a
topic the API adds on one node is typed on every member (a member that
joins later included), and topics/remove removes it everywhere. Each typed
topic has one owner, which orders its updates: publishes made on three
nodes at once reach the subscribers of every node in one order, `$delta/`
subscribers everywhere rebuild the same value (with python3-jsonpatch),
and a constraint is decided against the one value of the group. When the
owner is killed, the others keep every acknowledged update and go on."""

import json
import random
import subprocess
import threading
import time

import jsonpatch

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import error_code, ok, request

NODES = ["n1", "n2", "n3"]
JSON = {"content_type": "application/json"}


def owned_by(owner, prefix):
    return topic_owned_by(owner, prefix, NODES)


api = api_on


def fetched(node, path):
    """(type, value) of `path` as topics/fetch on `node` answers, or None."""
    got = ok(api(node, "topics/fetch", {"selector": path}))["topics"]
    if not got:
        return None
    return got[0]["type"], got[0].get("value")


def refuses_text(node, path):
    """Whether a QoS 1 publish of text that is neither JSON nor a number to
    `path` on `node` gets PUBACK 0x99 (the topic is a JSON or int64 topic
    there). topics/fetch lists topics with a value only."""
    c = connect(node.port, unique("p58"))
    try:
        c.publish(path, b"not json", qos=1, packet_id=5, ack=False)
        p = c.recv()
        check_eq(p.type, PUBACK, "the answer")
        return p.reason_code == 0x99
    finally:
        c.disconnect()


def rebuild(conn, n):
    """Receives `n` updates of a `$delta/` subscription: the value they
    make (each patch applied with python3-jsonpatch to what came before)
    and how many were patches."""
    have, patches = None, 0
    for _ in range(n):
        p = conn.expect_publish(ack=True)
        if p.props.get("content_type") == "application/json-patch+json":
            check(have is not None, "a patch before a value")
            have = jsonpatch.apply_patch(have, json.loads(p.payload))
            patches += 1
        else:
            have = json.loads(p.payload)
    return have, patches


@case(server=False, castor_only=True, timeout=120)
def topics_added_on_one_node_are_typed_on_every_member():
    with group(mesh=False) as g:
        n1, n2 = g.start("n1"), g.start("n2")
        wait_members(n1, ["n2"], what="n2 joined")
        ok(api(n1, "topics/add", {"path": "t58/doc", "type": "json"}))
        ok(api(n2, "topics/add", {"path": "t58/count", "type": "int64"}))
        settle(lambda: refuses_text(n2, "t58/doc"), "t58/doc is JSON on n2")
        settle(lambda: refuses_text(n1, "t58/count"), "t58/count reached n1")
        # A member that joins later gets every topic added before.
        n3 = g.start("n3")
        g.wait_mesh("n3 joined")
        settle(lambda: refuses_text(n3, "t58/count"), "t58/count reached n3")
        check(refuses_text(n3, "t58/doc"), "t58/doc is JSON on n3")
        # The same path added again elsewhere with the same specification
        # exists; with another, it is refused as on one server.
        check_eq(ok(api(n3, "topics/add", {"path": "t58/doc", "type": "json"})),
                 {"ok": True, "exists": True}, "added again on n3")
        check_eq(error_code(api(n2, "topics/add", {"path": "t58/doc",
                                                   "type": "string"})),
                 "TOPIC_EXISTS", "another type on n2")
        # An update through the API on n3 is the value on every node.
        ok(api(n3, "topics/update", {"path": "t58/count", "value": 41}))
        for n in (n1, n2, n3):
            check_eq(fetched(n, "t58/count"), ("int64", 41),
                     "t58/count's value on " + n.name)
        # topics/remove on n2 removes it from every member: publishes to
        # the path take any payload again, and no node has a value.
        check_eq(ok(api(n2, "topics/remove", {"selector": "t58/#"}))["removed"],
                 2, "removed on n2")
        for n in (n1, n3):
            settle(lambda: not refuses_text(n, "t58/doc"),
                   "t58/doc is not typed on %s any more" % n.name)
            settle(lambda: fetched(n, "t58/count") is None,
                   "t58/count's value gone from " + n.name)


def run_publishers(nodes, path, per_node):
    """mosquitto_pub on each node at once, publishing `per_node` JSON
    documents at QoS 1 each ({"p": node, "i": i, "pad": ...}); returns the
    payloads each published, in order."""
    pad = "x" * 200  # big enough that a patch is smaller than the value
    sent = {n.name: ["{\"p\": \"%s\", \"i\": %d, \"pad\": \"%s\"}"
                     % (n.name, i, pad) for i in range(per_node)]
            for n in nodes}
    procs = []
    for n in nodes:
        procs.append(subprocess.Popen(
            ["mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", str(n.port),
             "-t", path, "-q", "1", "-l", "-D", "publish", "content-type",
             "application/json"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE))
    for p, n in zip(procs, nodes):
        p.stdin.write(("\n".join(sent[n.name]) + "\n").encode())
    for p in procs:
        p.stdin.close()
    for p in procs:
        check_eq(p.wait(timeout=60), 0, "mosquitto_pub's status (%r)"
                 % p.stderr.read())
    return sent


@case(server=False, castor_only=True, timeout=150)
def the_owner_orders_updates_made_on_every_node():
    with group() as g:
        nodes = [g.nodes[n] for n in NODES]
        path = owned_by("n2", "t58/order")
        ok(api(nodes[0], "topics/add", {"path": path, "type": "json"}))
        plain, delta = {}, {}
        for n in nodes:
            settle(lambda: refuses_text(n, path), path + " typed on " + n.name)
            plain[n.name] = connect(n.port, unique("s58" + n.name))
            plain[n.name].subscribe(path, qos=1)
            delta[n.name] = connect(n.port, unique("d58" + n.name))
            delta[n.name].subscribe("$delta/" + path, qos=1)
        for n in nodes:
            wait_metric(n, "castor_cluster_routes", lambda v: v >= 2,
                        "the others' filters reached " + n.name)
        per_node = 150
        sent = run_publishers(nodes, path, per_node)
        total = per_node * len(nodes)
        seqs = {name: collect(c, total) for name, c in plain.items()}
        first = seqs["n1"]
        for name in ("n2", "n3"):
            check(seqs[name] == first,
                  "%s's subscriber got the updates in n1's order (first "
                  "difference at %r)" % (name, next(
                      (i for i, (a, b) in enumerate(zip(first, seqs[name]))
                       if a != b), None)))
        for name, payloads in sent.items():
            mine = [p for p in first if json.loads(p)["p"] == name]
            check_eq(mine, payloads, "%s's publishes, in its order" % name)
        # The publishes interleave: the test made them concurrent.
        switches = sum(1 for a, b in zip(first, first[1:])
                       if json.loads(a)["p"] != json.loads(b)["p"])
        check(switches >= 2, "publishers interleaved (%d switches)" % switches)
        last = json.loads(first[-1])
        # Every node's value is the last one, and the delta subscribers
        # rebuild it: each patch applies to what they had.
        for n in nodes:
            check_eq(fetched(n, path), ("json", last), "value on " + n.name)
            have, patches = rebuild(delta[n.name], total)
            check_eq(have, last, "the value %s's delta subscriber rebuilt"
                     % n.name)
            check(patches > total // 2, "%s's delta subscriber got patches "
                  "(%d of %d)" % (n.name, patches, total))


@case(server=False, castor_only=True, timeout=120)
def the_owner_decides_constraints_for_the_group():
    with group() as g:
        nodes = [g.nodes[n] for n in NODES]
        path = owned_by("n1", "t58/cas")
        ok(api(nodes[1], "topics/add", {"path": path, "type": "int64"}))
        ok(api(nodes[1], "topics/update", {"path": path, "value": 0}))
        for n in nodes:
            settle(lambda: fetched(n, path) == ("int64", 0),
                   path + " is 0 on " + n.name)
        # Compare-and-set increments from every node in turn: each holds
        # against the value the last one left (acknowledged once every
        # member has it), and a stale one fails wherever it is made.
        rounds = 12
        for i in range(rounds):
            n = nodes[i % 3]
            ok(api(n, "topics/update", {"path": path, "value": i + 1,
                                        "constraint": {"value": i}}))
            stale = nodes[(i + 1) % 3]
            check_eq(error_code(api(stale, "topics/update", {
                "path": path, "value": 100 + i, "constraint": {"value": i}})),
                "CONSTRAINT_FAILED", "a stale constraint on " + stale.name)
        for n in nodes:
            check_eq(fetched(n, path), ("int64", rounds), "value on " + n.name)
        # A patch on a non-owner is decided by the owner too.
        doc = owned_by("n3", "t58/patch")
        ok(api(nodes[0], "topics/update", {
            "path": doc, "value": {"n": 0},
            "specification": {"type": "json"}}))
        for n in (nodes[0], nodes[1], nodes[0]):
            cur = fetched(n, doc)[1]["n"]
            ok(api(n, "topics/patch", {
                "path": doc, "patch": [{"op": "replace", "path": "/n",
                                        "value": cur + 1}],
                "constraint": {"value": {"n": cur}}}))
        for n in nodes:
            check_eq(fetched(n, doc), ("json", {"n": 3}), "patched on " + n.name)


@case(server=False, castor_only=True, timeout=240)
def killing_the_owner_loses_no_acknowledged_update():
    """Kill -9 of a typed topic's owner at a random moment while another
    node publishes to it at QoS 1, three times: every publish is
    acknowledged, each survivor holds the last one, their delta
    subscribers rebuild it, and the new owner takes updates from both."""
    rng = random.Random(58)
    for round_ in range(3):
        with group() as g:
            n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
            path = owned_by("n3", "t58/kill%d" % round_)
            ok(api(n1, "topics/add", {"path": path, "type": "json"}))
            settle(lambda: refuses_text(n2, path), path + " typed on n2")
            d2 = connect(n2.port, unique("d58k"))
            d2.subscribe("$delta/" + path, qos=1)
            wait_metric(n1, "castor_cluster_routes", lambda v: v >= 1,
                        "n2's filter reached n1")
            pub = connect(n1.port, unique("p58k"))
            # The publish in flight to the owner when it dies is taken on
            # n1 once the owner has not answered in 5 s.
            pub.timeout = 15
            acked = []
            stop = threading.Event()
            errors = []

            def publish():
                try:
                    i = 0
                    while not stop.is_set() and i < 2000:
                        doc = json.dumps({"i": i, "pad": "y" * 120})
                        pub.publish(path, doc.encode(), qos=1,
                                    packet_id=1 + i % 60000,
                                    properties=JSON)
                        acked.append(i)
                        i += 1
                except Exception as e:  # reported below
                    errors.append(e)

            t = threading.Thread(target=publish)
            t.start()
            time.sleep(rng.uniform(0.3, 1.2))
            n3.kill()
            time.sleep(0.5)
            stop.set()
            t.join(30)
            check(not t.is_alive() and not errors,
                  "the publisher ended without an error: %r" % errors)
            check(len(acked) >= 5, "publishes before the kill (%d)" % len(acked))
            wait_members(n1, ["n2"], what="n3 removed from n1")
            wait_members(n2, ["n1"], what="n3 removed from n2")
            want = {"i": acked[-1], "pad": "y" * 120}
            for n in (n1, n2):
                check_eq(fetched(n, path), ("json", want),
                         "the last acknowledged value on " + n.name)
            have, _ = rebuild(d2, len(acked))
            check_eq(have, want, "what n2's delta subscriber rebuilt")
            # The survivors order it from now on: updates from both agree.
            for k, n in enumerate((n2, n1, n2)):
                ok(api(n, "topics/update", {"path": path,
                                            "value": {"after": k}}))
            for n in (n1, n2):
                check_eq(fetched(n, path), ("json", {"after": 2}),
                         "the value after the kill on " + n.name)
            pub.disconnect()


if __name__ == "__main__":
    run_cases()
