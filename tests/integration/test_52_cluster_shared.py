#!/usr/bin/python3
"""Shared subscriptions in a node group (docs/cluster.md, "Shared
subscriptions"): three castor processes on loopback. A share group with
members on several nodes gets each message once, wherever it was published
(mosquitto_pub on one node, the test's client on another), spread over its
members by their number on each node; another share group and a plain
subscriber get every message; when the members of a node leave, the
others get their share, and a node whose members have all gone is sent
nothing for the group."""

import time

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403


def gather(conns, want, timeout=30.0):
    """Receives (and acknowledges) PUBLISHes on `conns` until `want`
    messages have come in all: the payloads each connection got. A payload
    that comes twice, to one member or two, fails at once."""
    got = {name: [] for name in conns}
    seen = set()
    total = 0
    deadline = time.time() + timeout
    while total < want:
        check(time.time() < deadline,
              "%d of %d messages within %.0f s: %r"
              % (total, want, timeout, {k: len(v) for k, v in got.items()}))
        for name, c in conns.items():
            p = c.poll(0.02)
            while p is not None:
                check(p.type == PUBLISH, "a PUBLISH on %s: %r" % (name, p))
                c.ack(p)
                payload = p.payload.decode()
                check(payload not in seen,
                      "%s came once to the share group (again on %s)"
                      % (payload, name))
                seen.add(payload)
                got[name].append(payload)
                total += 1
                p = c.poll(0)
    # And nothing more: a copy from another node would come as late as the
    # message itself from its own (both are in flight by now).
    for name, c in conns.items():
        p = c.poll(0.3)
        check(p is None, "nothing more on %s: %r" % (name, p))
    return got


def in_order(payloads, prefix):
    """The payloads of one publisher (`prefix`) are in their order."""
    mine = [int(p[len(prefix):]) for p in payloads if p.startswith(prefix)]
    return mine == sorted(mine)


def publish_qos1(conn, topic, payloads):
    for i, payload in enumerate(payloads):
        conn.publish(topic, payload.encode(), qos=1, packet_id=i % 60000 + 1)


@case(server=False, castor_only=True, timeout=180)
def a_share_group_across_nodes_gets_each_message_once():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        # The group `work`: one member on n1, two on n2, one on n3.
        work = {}
        for name, node in (("w1", n1), ("w2a", n2), ("w2b", n2), ("w3", n3)):
            c = connect(node.port, "work-" + name)
            c.subscribe("$share/work/jobs/#", qos=1)
            work[name] = c
        # Another group (one member, on n2) and a plain subscriber (on n3)
        # get every message.
        audit = connect(n2.port, "audit-n2")
        audit.subscribe("$share/audit/jobs/+", qos=0)
        plain = connect(n3.port, "plain-n3")
        plain.subscribe("jobs/#", qos=0)
        # n1 holds n2's two share groups, n3's group and n3's filter; n3
        # holds n1's group and n2's two.
        wait_metric(n1, "castor_cluster_routes", lambda v: v == 4,
                    "n2's and n3's routes at n1")
        wait_metric(n3, "castor_cluster_routes", lambda v: v == 3,
                    "n1's and n2's routes at n3")

        # 200 from the test's client on n1, 100 from mosquitto_pub on n3.
        p1 = connect(n1.port, "jobs-pub-n1")
        from_n1 = ["a%d" % i for i in range(200)]
        from_n3 = ["b%d" % i for i in range(100)]
        publish_qos1(p1, "jobs/x", from_n1)
        mosquitto_pub(n3, "jobs/x", 1, from_n3)
        everything = from_n1 + from_n3

        got = gather(work, len(everything))
        check_eq(sorted(sum(got.values(), [])), sorted(everything),
                 "the share group got every message")
        for name, payloads in got.items():
            check(in_order(payloads, "a") and in_order(payloads, "b"),
                  "%s got each publisher's messages in order" % name)
        # In turn over the four members, wherever they are: a quarter each
        # for the members on n1 and n3, half for n2's two.
        counts = {k: len(v) for k, v in got.items()}
        for name, share in (("w1", 75), ("w3", 75)):
            check(abs(counts[name] - share) <= 5,
                  "%s got about a quarter: %r" % (name, counts))
        check(abs(counts["w2a"] + counts["w2b"] - 150) <= 5,
              "n2's members got about half: %r" % counts)
        check(min(counts["w2a"], counts["w2b"]) >= 60,
              "n2 spreads its half over its two members: %r" % counts)
        # The other group and the plain subscriber got everything.
        for name, c in (("audit", audit), ("plain", plain)):
            mine = gather({name: c}, len(everything))[name]
            check_eq(sorted(mine), sorted(everything),
                     "%s got every message once" % name)
            check(in_order(mine, "a") and in_order(mine, "b"),
                  "%s in order" % name)

        # n3's member leaves: n1 and n2 share the group's messages now, and
        # n3 (with its plain subscriber still) gets every message for it.
        work.pop("w3").unsubscribe("$share/work/jobs/#")
        wait_metric(n1, "castor_cluster_routes", lambda v: v == 3,
                    "n3's share route gone at n1")
        more = ["c%d" % i for i in range(60)]
        publish_qos1(p1, "jobs/x", more)
        got = gather(work, len(more))
        counts = {k: len(v) for k, v in got.items()}
        check(abs(counts["w1"] - 20) <= 3 and
              abs(counts["w2a"] + counts["w2b"] - 40) <= 3,
              "a third on n1, two thirds on n2: %r" % counts)
        for name, c in (("audit", audit), ("plain", plain)):
            check_eq(gather({name: c}, len(more))[name], more,
                     "%s got every message, in order" % name)

        # n2's members go too: n1's own member gets everything, and n2 is
        # sent only what its other group gets.
        forwarded = n1.metric("castor_cluster_forwarded_messages_total")
        work.pop("w2a").disconnect()
        work.pop("w2b").disconnect()
        wait_metric(n1, "castor_cluster_routes", lambda v: v == 2,
                    "n2's share route for `work` gone at n1")
        last = ["d%d" % i for i in range(30)]
        publish_qos1(p1, "jobs/x", last)
        check_eq(gather(work, len(last))["w1"], last, "w1 got all, in order")
        check_eq(gather({"audit": audit}, len(last))["audit"], last,
                 "n2's other group")
        # Once to n2 (for `audit`) and once to n3 (its plain subscriber).
        check_eq(n1.metric("castor_cluster_forwarded_messages_total") - forwarded,
                 2 * len(last), "messages forwarded for the last round")


@case(server=False, castor_only=True, timeout=120)
def a_node_with_only_share_members_gets_only_their_messages():
    with group() as g:
        n1, n2 = g.nodes["n1"], g.nodes["n2"]
        # One member on n1 and one on n2; nothing else anywhere.
        m1 = connect(n1.port, "only-m1")
        m1.subscribe("$share/g/only/x", qos=1)
        m2 = connect(n2.port, "only-m2")
        m2.subscribe("$share/g/only/x", qos=1)
        wait_metric(n1, "castor_cluster_routes", lambda v: v == 1,
                    "n2's share route at n1")
        p = connect(n1.port, "only-pub")
        sent = ["%d" % i for i in range(100)]
        publish_qos1(p, "only/x", sent)
        got = gather({"m1": m1, "m2": m2}, len(sent))
        check_eq(sorted(got["m1"] + got["m2"], key=int), sent,
                 "each message once")
        check_eq((len(got["m1"]), len(got["m2"])), (50, 50), "in turn")
        # n2 was sent its half only, whatever the batches held.
        check_eq(n2.metric("castor_cluster_received_messages_total"), 50,
                 "messages n2 took")


if __name__ == "__main__":
    run_cases()
