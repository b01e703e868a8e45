#!/usr/bin/python3
"""Conflation (the CONFLATION property of a topic, docs/platform.md): a
subscriber that falls behind gets, for a conflating topic, only the latest
update of those that waited for it, not every one; other topics keep every
update. The subscribers here stall by not acknowledging (Receive Maximum 1),
so everything after the first message waits in their sessions."""

import json

from mqtt_test import *  # noqa: F401,F403

CONFIG = """
topics:
  mapping:
    - {filter: "conf/latest/#", type: json, properties: {CONFLATION: conflate}}
    - {filter: "conf/always/#", type: json, properties: {CONFLATION: always}}
"""


def stalled(port, cid, filters):
    c = connect(port, cid, properties={"receive_maximum": 1})
    c.subscribe(filters, qos=1, codes=[1] * len(filters))
    return c


def drain(c, last):
    """Receives and acknowledges until the last update of every topic of
    `last` (topic -> n) came; returns what came, per topic."""
    per = {}
    left = dict(last)
    while left:
        p = c.expect_publish(ack=True)
        n = json.loads(p.payload)["n"]
        per.setdefault(p.topic, []).append((n, p.props.get("content_type")))
        if left.get(p.topic) == n:
            del left[p.topic]
    return per


@case(castor_only=True, server=False)
def a_stalled_subscriber_gets_the_latest_of_a_conflating_topic():
    srv = Server(extra_config=CONFIG)
    srv.start()
    try:
        plain = stalled(srv.port, "c23-plain", ["conf/latest/a", "conf/always/a", "conf/other/a"])
        delta = stalled(srv.port, "c23-delta", ["$delta/conf/latest/a"])
        pub = connect(srv.port, "c23-pub")
        pad = "p" * 300
        for n in range(200):
            for t in ("conf/latest/a", "conf/always/a"):
                pub.publish(t, json.dumps({"n": n, "pad": pad}).encode(), qos=1,
                            packet_id=1 + n % 100)
        for n in range(20):
            pub.publish("conf/other/a", json.dumps({"n": n}).encode(), qos=1, packet_id=1)
        # Every publish was acknowledged: the stalled subscribers held none
        # of them up. A conflating topic: the update in flight when the
        # subscriber stalled (the first one sent), if it was that topic's,
        # and the latest; the other topic: every update.
        per = drain(plain, {"conf/latest/a": 199, "conf/always/a": 199, "conf/other/a": 19})
        check_eq([n for n, _ in per["conf/latest/a"]], [0, 199], "conflated (under back pressure)")
        check_eq([n for n, _ in per["conf/always/a"]], [199], "conflated (always)")
        check_eq([n for n, _ in per["conf/other/a"]], list(range(20)), "not conflating: every update")
        plain.expect_nothing(via=pub, topic="conf/other/a")
        # A delta subscriber gets the latest whole: it missed the updates
        # in between, so no delta applies.
        per = drain(delta, {"$delta/conf/latest/a": 199})
        check_eq(per["$delta/conf/latest/a"], [(0, "application/json"), (199, "application/json")],
                 "delta form")
        delta.expect_nothing(via=pub)  # (a marker is no JSON: not on that topic)
    finally:
        srv.stop()


if __name__ == "__main__":
    run_cases()
