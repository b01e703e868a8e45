#!/usr/bin/python3
"""Session locks across a node group (docs/cluster.md, "Locks"): the member
that has run longest keeps the group's locks, so a lock is held by one
session of the whole group, whichever node its client connects to; the
others wait in the order they asked, every grant has a larger fencing
token, and only the holder's `locked` updates apply, on any node. A
persistent session keeps its locks when it moves to another node. When
the keeper dies, the waits it kept are answered, and the next oldest
member keeps the locks, with larger tokens. The clients are paho
(MQTT 5)."""

import time

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import error_code, ok
from paho_util import ApiPeer

NODES = ["n1", "n2", "n3"]


def value_on(node, path):
    """The value `node` has for the topic (None: none there yet)."""
    a = api_on(node, "topics/fetch", {"selector": path})
    ts = a.get("topics") or []
    return ts[0].get("value") if ts else None


def end_session(peer):
    """DISCONNECT with session expiry 0: the session ends now."""
    props = Properties(PacketTypes.DISCONNECT)
    props.SessionExpiryInterval = 0
    peer.c.disconnect(properties=props)
    peer.c.loop_stop()


@case(server=False, castor_only=True, timeout=120)
def one_holder_in_the_whole_group():
    with group() as g:
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        lock = unique("line-writer")
        path = unique("t61/count")
        a = ApiPeer(n2.port, unique("a61"))
        b = ApiPeer(n3.port, unique("b61"))
        c = ApiPeer(n1.port, unique("c61"))
        ok(a.api("topics/update", {"path": path, "value": 0,
                                   "specification": {"type": "int64"}}))
        settle(lambda: value_on(n3, path) == 0, path + " on n3")
        ta = ok(a.api("locks/acquire", {"name": lock}))["token"]
        # a's session on n2 holds it: refused at once on n3 and on n1.
        check_eq(error_code(b.api("locks/acquire",
                                  {"name": lock, "wait_ms": 0})),
                 "LOCK_TIMEOUT", "b on n3 while a (n2) holds the lock")
        check_eq(error_code(c.api("locks/acquire",
                                  {"name": lock, "wait_ms": 0})),
                 "LOCK_TIMEOUT", "c on n1 while a (n2) holds the lock")
        # Only the holder's updates apply, wherever they are made.
        check_eq(error_code(b.api("topics/update", {
            "path": path, "value": 7, "constraint": {"locked": lock}})),
            "CONSTRAINT_FAILED", "b's update under a's lock")
        ok(a.api("topics/update", {"path": path, "value": 1,
                                   "constraint": {"locked": lock}}))
        settle(lambda: all(value_on(n, path) == 1 for n in (n1, n2, n3)),
               "a's update on every node")
        # c (n1) and then b (n3) wait; a releases: c gets the lock first.
        wc = c.api_async("locks/acquire", {"name": lock, "wait_ms": 30000})
        time.sleep(1.0)  # c's wait is queued before b's
        wb = b.api_async("locks/acquire", {"name": lock, "wait_ms": 30000})
        time.sleep(1.0)
        ok(a.api("locks/release", {"name": lock}))
        tc = ok(wc(10))["token"]
        check(tc > ta, "c's token %d > a's %d" % (tc, ta))
        check_eq(error_code(a.api("topics/update", {
            "path": path, "value": 9, "constraint": {"locked": lock}})),
            "CONSTRAINT_FAILED", "a's update after its release")
        # c's session ends on n1: b, on n3, is granted next.
        end_session(c)
        tb = ok(wb(10))["token"]
        check(tb > tc, "b's token %d > c's %d" % (tb, tc))
        ok(b.api("topics/update", {"path": path, "value": 2,
                                   "constraint": {"locked": lock}}))
        settle(lambda: all(value_on(n, path) == 2 for n in (n1, n2, n3)),
               "b's update on every node")
        a.disconnect()
        b.disconnect()


@case(server=False, castor_only=True, timeout=120)
def a_persistent_session_keeps_its_locks_on_another_node():
    with group() as g:
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        lock = unique("valve")
        path = unique("t61/valve")
        cid = unique("p61")
        other = ApiPeer(n1.port, unique("o61"))
        p = ApiPeer(n2.port, cid, clean=False)
        ok(p.api("topics/update", {"path": path, "value": 0,
                                   "specification": {"type": "int64"}}))
        ok(p.api("locks/acquire", {"name": lock}))
        p.disconnect()
        # It resumes on n3: it still holds the lock there.
        p = ApiPeer(n3.port, cid, clean=False)
        check_eq(error_code(other.api("locks/acquire",
                                      {"name": lock, "wait_ms": 0})),
                 "LOCK_TIMEOUT", "the lock of the session that moved")
        ok(p.api("topics/update", {"path": path, "value": 5,
                                   "constraint": {"locked": lock}}))
        settle(lambda: value_on(n1, path) == 5, "the holder's update on n1")
        p.disconnect()
        # A clean start of its client id on n1 ends the session (on n3,
        # where it was): its lock goes.
        p = ApiPeer(n1.port, cid, clean=True)
        settle(lambda: "error" not in other.api(
            "locks/acquire", {"name": lock, "wait_ms": 0}),
            "the lock free once the session ended")
        p.disconnect()
        other.disconnect()


@case(server=False, castor_only=True, timeout=150)
def the_next_oldest_member_keeps_the_locks_when_the_keeper_dies():
    with group() as g:
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        lock = unique("door")
        a = ApiPeer(n2.port, unique("a61"))
        w = ApiPeer(n3.port, unique("w61"))
        ta = ok(a.api("locks/acquire", {"name": lock}))["token"]
        ww = w.api_async("locks/acquire", {"name": lock, "wait_ms": 40000})
        time.sleep(1.0)
        # kill -9 of the keeper (n1, started first): w's wait is answered
        # as soon as its link breaks, long before the wait would end.
        started = time.monotonic()
        n1.kill()
        check_eq(error_code(ww(15)), "UNAVAILABLE", "w's wait at the dead keeper")
        check(time.monotonic() - started < 15, "answered when the link broke")
        wait_members(n2, ["n3"], what="n1 removed")
        wait_members(n3, ["n2"], what="n1 removed")
        # n2 keeps the locks now, from nothing (a's lock went with n1), with
        # tokens above n1's.
        t2 = ok(a.api("locks/acquire", {"name": lock}))["token"]
        check(t2 > ta, "the new keeper's token %d > the old one's %d"
              % (t2, ta))
        check_eq(error_code(w.api("locks/acquire",
                                  {"name": lock, "wait_ms": 0})),
                 "LOCK_TIMEOUT", "w on n3 while a holds the lock at n2")
        ok(a.api("locks/release", {"name": lock}))
        tw = ok(w.api("locks/acquire", {"name": lock, "wait_ms": 0}))["token"]
        check(tw > t2, "w's token %d > a's %d" % (tw, t2))
        a.disconnect()
        w.disconnect()


if __name__ == "__main__":
    run_cases()
