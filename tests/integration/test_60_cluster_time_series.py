#!/usr/bin/python3
"""Time series across a node group (docs/cluster.md, "Typed topics"): the
series' owner makes every event (its sequence number and timestamp), from
publishes and appends made on any node, and every member keeps the events
as the owner made them. So subscribers on every node get the same events
under the same numbers, and `timeseries/range` answers the same on every
node. A member that joins gets the events the others keep; when the owner
dies, the next owner goes on from the last event."""

import subprocess
import threading

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import ok, request

NODES = ["n1", "n2", "n3"]


def add_series(node, path, limit=1000):
    ok(api_on(node, "topics/add", {"path": path, "type": "time_series",
                                   "properties": {
                                       "TIME_SERIES_EVENT_VALUE_TYPE": "int64",
                                       "TIME_SERIES_RETAINED_RANGE":
                                           "limit %d" % limit}}))


def events(node, path):
    """(seq, value, original) of every event `node` keeps, edits included."""
    a = ok(api_on(node, "timeseries/range", {"path": path, "view": "edits"}))
    return [(e["seq"], e["value"], e.get("original")) for e in a["events"]]


def received(conn, n):
    """(seq, value, original, timestamp) of the next `n` events `conn`
    receives."""
    out = []
    for _ in range(n):
        p = conn.expect_publish(ack=True)
        ups = dict(p.props.getall("user_property"))
        original = ups.get("original")
        out.append((int(ups["seq"]), int(p.payload),
                    None if original is None else int(original),
                    int(ups["timestamp"])))
    return out


def is_series_on(node, path):
    """Whether `node` has the series (a text publish gets PUBACK 0x99)."""
    c = connect(node.port, unique("p60"))
    try:
        c.publish(path, b"not a number", qos=1, packet_id=5, ack=False)
        p = c.recv()
        return p.type == PUBACK and p.reason_code == 0x99
    finally:
        c.disconnect()


@case(server=False, castor_only=True, timeout=150)
def every_member_keeps_the_owners_events():
    with group() as g:
        nodes = [g.nodes[n] for n in NODES]
        path = topic_owned_by("n2", "t60/meter", NODES)
        add_series(nodes[0], path)
        subs = {}
        for n in nodes:
            settle(lambda: is_series_on(n, path), path + " on " + n.name)
            subs[n.name] = connect(n.port, unique("s60" + n.name))
            subs[n.name].subscribe(path, qos=1)
        for n in nodes:
            wait_metric(n, "castor_cluster_routes", lambda v: v >= 2,
                        "the others' filters reached " + n.name)
        # mosquitto_pub on every node at once, 60 events each, while the
        # API appends 30 on n1 and 30 on n3 (4000 + i, 5000 + i).
        per_node, appends = 60, 30
        procs = [subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(n.port), "-t", path,
             "-q", "1", "-l"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            for n in nodes]
        errors = []

        def append(node, base):
            c = connect(node.port, unique("a60" + node.name))
            try:
                for i in range(appends):
                    ok(request(c, "timeseries/append",
                               {"path": path, "value": base + i}))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                c.disconnect()

        threads = [threading.Thread(target=append, args=(nodes[0], 4000)),
                   threading.Thread(target=append, args=(nodes[2], 5000))]
        for t in threads:
            t.start()
        for k, p in enumerate(procs):
            p.stdin.write("".join("%d\n" % (1000 * (k + 1) + i)
                                  for i in range(per_node)).encode())
        for p in procs:
            p.stdin.close()
        for p in procs:
            check_eq(p.wait(timeout=60), 0, "mosquitto_pub (%r)" % p.stderr.read())
        for t in threads:
            t.join(60)
        check(not errors, "the appends were answered: %r" % errors)
        total = per_node * len(nodes) + 2 * appends
        # An append on a node that is not the owner, and an edit on another.
        a = ok(api_on(nodes[2], "timeseries/append", {"path": path, "value": 7}))
        check_eq(a["seq"], total, "the append's number (after every publish)")
        e = ok(api_on(nodes[0], "timeseries/edit",
                      {"path": path, "original": 3, "value": 9}))
        check_eq(e["seq"], total + 1, "the edit's number")
        got = {name: received(c, total + 2) for name, c in subs.items()}
        first = got["n1"]
        check_eq([x[0] for x in first], list(range(total + 2)),
                 "n1's subscriber got every event, numbered in order")
        for name in ("n2", "n3"):
            check(got[name] == first,
                  "%s's subscriber got n1's events, numbers and timestamps "
                  "(first difference at %r)" % (name, next(
                      (i for i, (x, y) in enumerate(zip(first, got[name]))
                       if x != y), None)))
        # Each publisher's events in its order, and the appends'.
        for k in range(5):
            mine = [v for _, v, o, _ in first[:total] if v // 1000 == k + 1]
            check_eq(mine, [1000 * (k + 1) + i
                            for i in range(per_node if k < 3 else appends)],
                     "the events of publisher %d, in its order" % (k + 1))
        check_eq(first[-1][1:3], (9, 3), "the edit")
        kept = [(s, v, o) for s, v, o, _ in first]
        for n in nodes:
            check_eq(events(n, path), kept, "the events %s keeps" % n.name)


@case(server=False, castor_only=True, timeout=150)
def a_member_that_joins_gets_the_events_and_a_new_owner_goes_on():
    with group(mesh=False) as g:
        n1, n2 = g.start("n1"), g.start("n2")
        wait_members(n1, ["n2"], what="n2 joined")
        # n3 owns the series once it has joined; n1 or n2 before.
        path = topic_owned_by("n3", "t60/join", NODES)
        add_series(n1, path, limit=4)
        settle(lambda: is_series_on(n2, path), path + " on n2")
        for i in range(6):
            ok(api_on([n1, n2][i % 2], "timeseries/append",
                      {"path": path, "value": i}))
        before = [(s, s, None) for s in range(2, 6)]  # the last 4 kept
        for n in (n1, n2):
            check_eq(events(n, path), before, "the events on " + n.name)
        n3 = g.start("n3")
        g.wait_mesh("n3 joined")
        settle(lambda: events(n3, path) == before, "n3 got the events")
        # n3 makes the next events, as their owner.
        for i, n in enumerate((n1, n2, n3)):
            a = ok(api_on(n, "timeseries/append",
                          {"path": path, "value": 10 + i}))
            check_eq(a["seq"], 6 + i, "the number of the append on " + n.name)
        after = [(3, 3, None), (4, 4, None), (5, 5, None), (6, 10, None),
                 (7, 11, None), (8, 12, None)][-4:]
        for n in (n1, n2, n3):
            check_eq(events(n, path), after, "the events on " + n.name)
        # Killed: the next owner goes on from the last event.
        n3.kill()
        wait_members(n1, ["n2"], what="n3 removed from n1")
        wait_members(n2, ["n1"], what="n3 removed from n2")
        a = ok(api_on(n1, "timeseries/append", {"path": path, "value": 13}))
        check_eq(a["seq"], 9, "the number after the owner died")
        for n in (n1, n2):
            check_eq(events(n, path), after[1:] + [(9, 13, None)],
                     "the events on %s after the kill" % n.name)


if __name__ == "__main__":
    run_cases()
