#!/usr/bin/python3
"""Persistent sessions outlive their node (docs/cluster.md, "Sessions"): a
session with an expiry has a replica on another member (its subscriptions,
principal and expiry), and when its node dies (kill -9) or stops, a CONNECT
of its client id on any other node resumes it there: CONNACK session
present, and its subscriptions deliver without a new SUBSCRIBE. A clean
start, a session that ended before, or one whose expiry has passed since
its node went, does not come back. The wills of the dead node's clients go
out from the group, as their delays say, unless their session resumes
first or the client had said DISCONNECT."""

import subprocess
import time

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import ok, request

EXPIRY = {"session_expiry_interval": 300}


def ids_on_n3():
    """Client ids for sessions on n3, one of each kind the group treats
    apart: owned by n3 itself (the replica is on the next node in hash
    order, n1 or n2) or by n1 or n2 (the replica is on the owner)."""
    want = {("n3", "n1"): None, ("n3", "n2"): None,
            ("n1", "n1"): None, ("n2", "n2"): None}
    i = 0
    while any(v is None for v in want.values()):
        cid = "g56-%d" % i
        key = (claim_owner(cid, ["n1", "n2", "n3"]),
               claim_owner(cid, ["n1", "n2"]))
        if want.get(key, 1) is None:
            want[key] = cid
        i += 1
    return want


def settle(pred, what, timeout=10):
    check(wait_until(pred, timeout=timeout), "in %ds: %s" % (timeout, what))


def replicas(g, names=("n1", "n2")):
    return sum(g.nodes[n].metric("castor_cluster_session_replicas")
               for n in names)


def replicated(g, n):
    """Waits until n1 and n2 keep `n` replicas, and a second more: they are
    up to date once the last change has gone too (a node sends its
    sessions' changes 20 ms after the first)."""
    settle(lambda: replicas(g) == n, "%d replicas kept" % n)
    time.sleep(1)


def subscriptions(node, cid):
    """(filter, qos) of the session of `cid` as `node` shows it."""
    admin = connect(node.port, unique("adm56"))
    try:
        sid = ok(request(admin, "sessions/list",
                         {"filter": "$ClientId is '%s'" % cid}))["sessions"]
        check_eq(len(sid), 1, "one session of %s" % cid)
        subs = ok(request(admin, "sessions/get",
                          {"session": sid[0]["id"]}))["session"]["subscriptions"]
    finally:
        admin.disconnect()
    return sorted((s["filter"], s["qos"]) for s in subs)


def subscribed(node, cid, n, **kw):
    """`cid` on `node` (no clean start), subscribed to resume56/n/a at QoS 1
    and resume56/n/b at QoS 2, and no longer to resume56/n/gone."""
    c = connect(node.port, cid, clean_start=False,
                properties=kw.get("properties", EXPIRY))
    c.subscribe("resume56/%s/a" % n, qos=1)
    c.subscribe("resume56/%s/b" % n, qos=2, packet_id=2)
    c.subscribe("resume56/%s/gone" % n, qos=1, packet_id=3)
    c.unsubscribe("resume56/%s/gone" % n, packet_id=4)
    return c


@case(server=False, castor_only=True, timeout=150)
def sessions_of_a_node_killed_resume_on_the_others():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        ids = ids_on_n3()
        conns = {key: subscribed(n3, cid, k)
                 for k, (key, cid) in enumerate(sorted(ids.items()))}
        replicated(g, 4)
        check_eq(n3.metric("castor_cluster_session_replicas"), 0.0,
                 "n3 keeps no replica of its own sessions")
        n3.kill()
        wait_members(n1, ["n2"], what="n3 removed from n1")
        wait_members(n2, ["n1"], what="n3 removed from n2")
        for c in conns.values():
            c.close()
        # Every session resumes on n1, whichever node keeps its replica
        # (n1 itself, or n2, asked through the claim). The CONNACK waits
        # until the group routes to it: a publish on n2 sent the moment it
        # has come reaches the session.
        resumed = {}
        early = connect(n2.port, unique("early56"))
        for k, (key, cid) in enumerate(sorted(ids.items())):
            resumed[k] = connect(n1.port, cid, clean_start=False,
                                 properties=EXPIRY, session_present=True)
            early.publish("resume56/%d/b" % k, b"early%d" % k, qos=1,
                          packet_id=k + 1)
            p = resumed[k].expect_publish(ack=True, timeout=10)
            check_eq((p.topic, p.payload), ("resume56/%d/b" % k,
                                            b"early%d" % k),
                     "the publish on n2 right after the CONNACK")
            check_eq(subscriptions(n1, cid),
                     [("resume56/%d/a" % k, 1), ("resume56/%d/b" % k, 2)],
                     "the subscriptions of %s (owner %s, replica on %s)"
                     % (cid, key[0], key[1]))
            check_eq(sessions_of(n2, cid), [(cid, "n1")],
                     "n2 lists %s on n1" % cid)
        check_eq(n1.metric("castor_cluster_sessions_resumed_total")
                 + n2.metric("castor_cluster_sessions_resumed_total"), 4.0,
                 "four sessions resumed from replicas")
        # They deliver without a new SUBSCRIBE, at their QoS, from either
        # node.
        for k, c in resumed.items():
            mosquitto_pub(n2, "resume56/%d/a" % k, 1, ["a%d" % k])
            mosquitto_pub(n1, "resume56/%d/b" % k, 2, ["b%d" % k])
            got = sorted((p.topic, p.qos, p.payload.decode())
                         for p in (c.expect_publish(ack=True)
                                   for _ in range(2)))
            check_eq(got, [("resume56/%d/a" % k, 1, "a%d" % k),
                           ("resume56/%d/b" % k, 2, "b%d" % k)],
                     "what resumed session %d receives" % k)
        # Each now has a replica on n2, the one other member; n1 keeps
        # none (those it kept for n3 were taken).
        settle(lambda: n2.metric("castor_cluster_session_replicas") == 4,
               "n2 keeps the 4 replicas of n1's sessions")
        check_eq(n1.metric("castor_cluster_session_replicas"), 0.0,
                 "n1 keeps none")


@case(server=False, castor_only=True, timeout=150)
def a_node_that_stops_leaves_its_sessions_to_the_group():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        cid = "g56-stop"
        subscribed(n3, cid, "s").close()
        settle(lambda: n3.metric("castor_sessions", state="offline") == 1,
               "the session offline on n3")
        replicated(g, 1)
        n3.stop()
        check_eq(n3.problems, [], "n3 stopped cleanly")
        wait_members(n2, ["n1"], what="n3 left n2")
        wait_members(n1, ["n2"], what="n3 left n1")
        # mosquitto_sub resumes it on n2, without a subscription of its own.
        msub = subprocess.Popen(
            ["mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", str(n2.port),
             "-i", cid, "-c", "-x", "300", "-t", "unused56/none", "-q", "1",
             "-C", "2", "-W", "30", "-v"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        settle(lambda: sessions_of(n1, cid) == [(cid, "n2")],
               "mosquitto_sub's session on n2")
        # (mosquitto_sub's session may be listed before its CONNACK, which
        # waits until the group routes to it.)
        wait_metric(n1, "castor_cluster_routes", lambda v: v >= 1,
                    "the resumed session's filters reached n1")
        mosquitto_pub(n1, "resume56/s/a", 1, ["one"])
        mosquitto_pub(n2, "resume56/s/b", 2, ["two"])
        out, err = msub.communicate(timeout=40)
        check_eq(msub.returncode, 0, "mosquitto_sub's status (%r)" % err)
        check_eq(sorted(out.decode().splitlines()),
                 ["resume56/s/a one", "resume56/s/b two"],
                 "mosquitto_sub got both through the resumed session")


@case(server=False, castor_only=True, timeout=150)
def what_ended_or_expired_does_not_come_back():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        short = subscribed(n3, "g56-short", "x",
                           properties={"session_expiry_interval": 2})
        clean = subscribed(n3, "g56-clean", "y")
        ended = subscribed(n3, "g56-ended", "z")
        settle(lambda: replicas(g) == 3, "3 replicas kept")
        # A DISCONNECT with session expiry 0 ends the session: its replica
        # goes from the member that kept it.
        ended.disconnect(properties={"session_expiry_interval": 0})
        settle(lambda: replicas(g) == 2, "2 replicas kept")
        n3.kill()
        for c in (short, clean):
            c.close()
        wait_members(n1, ["n2"], what="n3 removed from n1")
        wait_members(n2, ["n1"], what="n3 removed from n2")
        # Its expiry (2 s) passes, counted from when the keeper noticed.
        settle(lambda: replicas(g) == 1, "1 replicas kept")
        # (Expiry 0 now: no new session, and no replica, stays.)
        connect(n1.port, "g56-short", clean_start=False,
                session_present=False).disconnect()
        connect(n2.port, "g56-ended", clean_start=False,
                session_present=False).disconnect()
        # A clean start does not take the replica; it goes.
        connect(n1.port, "g56-clean", clean_start=True,
                session_present=False).disconnect()
        check_eq(replicas(g), 0.0, "no replica is left")
        connect(n2.port, "g56-clean", clean_start=False, properties=EXPIRY,
                session_present=False).disconnect()
        check_eq(n1.metric("castor_cluster_sessions_resumed_total")
                 + n2.metric("castor_cluster_sessions_resumed_total"), 0.0,
                 "nothing resumed")


def id_kept_by(keeper, prefix):
    """A client id whose keeper, once n3 has gone, is `keeper`."""
    i = 0
    while claim_owner("%s-%d" % (prefix, i), ["n1", "n2"]) != keeper:
        i += 1
    return "%s-%d" % (prefix, i)


@case(server=False, castor_only=True, timeout=150)
def wills_of_a_node_killed_go_out_from_the_group():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        watcher = connect(n1.port, unique("w56"))
        watcher.subscribe("will56/#", qos=1)
        # A client that said DISCONNECT: its will goes with its replica.
        bye = connect(n3.port, id_kept_by("n1", "g56-bye"), version=4,
                      will_topic="will56/bye", will_payload=b"bye gone")
        settle(lambda: replicas(g) == 1, "the will of bye kept")
        bye.disconnect()
        settle(lambda: replicas(g) == 0, "the will of bye dropped")
        # The wills are published on their keepers, n1 or n2.
        wait_metric(n2, "castor_cluster_routes", lambda v: v >= 1,
                    "the watcher's filter reached n2")
        # A device that publishes with mosquitto_pub (MQTT 3.1.1, clean
        # session), and one with a raw connection: no session outlives
        # them, so their wills go as soon as the group has lost n3.
        device = subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(n3.port),
             "-i", id_kept_by("n1", "g56-mosq"), "-t", "data56/mosq", "-l",
             "--will-topic", "will56/mosq", "--will-payload", "mosq gone",
             "--will-qos", "1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        plain = connect(n3.port, id_kept_by("n2", "g56-plain"), version=4,
                        will_topic="will56/plain", will_payload=b"plain gone",
                        will_qos=1)
        # Two sessions with an expiry and a will delay of 3 s, both kept by
        # n2: one does not come back (its will goes 3 s after n3's loss),
        # the other resumes on n1 before (its will is cancelled).
        delay = {"will_delay_interval": 3}
        delayed = connect(n3.port, id_kept_by("n2", "g56-delayed"),
                          properties=EXPIRY, will_topic="will56/delayed",
                          will_payload=b"delayed gone", will_qos=1,
                          will_properties=delay)
        back_id = id_kept_by("n2", "g56-back")
        back = connect(n3.port, back_id, properties=EXPIRY,
                       will_topic="will56/back", will_payload=b"back gone",
                       will_qos=1, will_properties=delay)
        # One whose connection broke before n3 died: its session on n3
        # holds the will for its delay, and hands it to the group.
        waiting = connect(n3.port, id_kept_by("n2", "g56-waiting"),
                          properties=EXPIRY, will_topic="will56/waiting",
                          will_payload=b"waiting gone", will_qos=1,
                          will_properties=delay)
        waiting.close()
        settle(lambda: n3.metric("castor_sessions", state="offline") == 1,
               "the session of waiting offline on n3")
        # One replica each, with its will (mosquitto_pub's, plain's, and the
        # three sessions').
        replicated(g, 5)
        n3.kill()
        wait_members(n1, ["n2"], what="n3 removed from n1")
        wait_members(n2, ["n1"], what="n3 removed from n2")
        lost = time.time()
        for c in (plain, delayed, back):
            c.close()
        connect(n1.port, back_id, clean_start=False, properties=EXPIRY,
                session_present=True)
        first = sorted((p.topic, p.payload.decode()) for p in
                       (watcher.expect_publish(ack=True, timeout=10)
                        for _ in range(2)))
        check_eq(first, [("will56/mosq", "mosq gone"),
                         ("will56/plain", "plain gone")],
                 "the wills of the clients without a session")
        later = sorted((p.topic, p.payload.decode()) for p in
                       (watcher.expect_publish(ack=True, timeout=10)
                        for _ in range(2)))
        check_eq(later, [("will56/delayed", "delayed gone"),
                         ("will56/waiting", "waiting gone")],
                 "the delayed wills")
        waited = time.time() - lost
        check(waited >= 2.0, "the delayed will came %.1f s after n3's loss, "
              "before its delay of 3 s" % waited)
        # back's will would have gone in the same tick of n2, bye's at once:
        # neither comes.
        time.sleep(1)
        check_eq(watcher.until_marker(via=connect(n2.port, unique("m56")),
                                      topic="will56/marker"), [],
                 "nothing else (back resumed, bye disconnected)")
        check_eq(n1.metric("castor_cluster_wills_published_total")
                 + n2.metric("castor_cluster_wills_published_total"), 4.0,
                 "four wills published by the group")
        device.kill()
        device.communicate()



@case(server=False, castor_only=True, timeout=150)
def a_node_that_stops_publishes_no_wills():
    # As a server that shuts down publishes no wills (its clients connect
    # again elsewhere), the group publishes none for a node that stops.
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        watcher = connect(n1.port, unique("w56"))
        watcher.subscribe("will56/#", qos=1)
        wait_metric(n2, "castor_cluster_routes", lambda v: v >= 1,
                    "the watcher's filter reached n2")
        clients = [connect(n3.port, id_kept_by(keeper, "g56-stop-" + keeper),
                           version=4, will_topic="will56/" + keeper,
                           will_payload=b"gone")
                   for keeper in ("n1", "n2")]
        replicated(g, 2)
        n3.stop()
        check_eq(n3.problems, [], "n3 stopped cleanly")
        wait_members(n1, ["n2"], what="n3 left n1")
        wait_members(n2, ["n1"], what="n3 left n2")
        for c in clients:
            c.close()
        # A node that died has its clients' wills published at the first
        # tick after the members change (wills_of_a_node_killed_...).
        time.sleep(2)
        check_eq(watcher.until_marker(via=connect(n2.port, unique("m56")),
                                      topic="will56/marker"), [],
                 "no will published")
        check_eq(replicas(g), 0.0, "the will-only replicas are gone")
        check_eq(n1.metric("castor_cluster_wills_published_total")
                 + n2.metric("castor_cluster_wills_published_total"), 0.0,
                 "no will counted")


if __name__ == "__main__":
    run_cases()
