#!/usr/bin/python3
"""Sessions across a node group (docs/cluster.md, "Sessions"): the client-id
registry is group-wide. A CONNECT on one node takes over the session its
client id has on another: the connection there gets DISCONNECT 0x8E, and
without clean start the session moves (its subscriptions, and the QoS 1
messages queued while it was offline, in order); with clean start it ends
there (its will goes out) and a new one starts. CONNECTs of one client id on
three nodes at once leave one session, on one node, with one connection.
A session of another principal on another node is neither taken over nor
resumed (CONNACK 0x87)."""

import os
import subprocess
import threading
import time

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import ok, request

EXPIRY = {"session_expiry_interval": 300}


def subscribed_on_n1(g, cid, flt, watcher="n3"):
    """A connection of `cid` on n1 (no clean start, expiry 300 s) subscribed
    to `flt` at QoS 1, once the node `watcher` routes to it."""
    c = connect(g.nodes["n1"].port, cid, clean_start=False, properties=EXPIRY)
    c.subscribe(flt, qos=1)
    wait_metric(g.nodes[watcher], "castor_cluster_routes", lambda v: v >= 1,
                "n1's filter reached " + watcher)
    return c


def kicked(conn, what):
    """`conn` gets DISCONNECT 0x8E (session taken over) and is closed."""
    got = conn.expect_closed(timeout=10)
    check(any(p.type == DISCONNECT and p.reason_code == 0x8E for p in got),
          "%s got DISCONNECT 0x8E before the close: %r" % (what, got))


@case(server=False, castor_only=True, timeout=120)
def a_connect_on_another_node_takes_the_session_over():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        c1 = connect(n1.port, "g55-a", clean_start=False, properties=EXPIRY)
        c1.subscribe("takeover55/a/#", qos=1)
        c1.subscribe("takeover55/b", qos=2, packet_id=2)
        wait_metric(n3, "castor_cluster_routes", lambda v: v >= 2,
                    "n1's filters reached n3")
        check_eq(sessions_of(n3, "g55-a"), [("g55-a", "n1")], "on n1 first")
        c2 = connect(n2.port, "g55-a", clean_start=False, properties=EXPIRY,
                     session_present=True)
        kicked(c1, "the connection on n1")
        # The subscriptions moved: a publish on n3 reaches the client on n2
        # without a new SUBSCRIBE, at each subscription's QoS, once each.
        payloads = ["a%d" % i for i in range(5)] + ["end"]
        mosquitto_pub(n3, "takeover55/a/x", 1, payloads)
        got = [c2.expect_publish(topic="takeover55/a/x", qos=1, ack=True)
               .payload.decode() for _ in payloads]
        check_eq(got, payloads, "QoS 1 on n2 after the takeover, in order")
        mosquitto_pub(n1, "takeover55/b", 2, ["b0", "b1"])
        got = [c2.expect_publish(topic="takeover55/b", qos=2, ack=True)
               .payload.decode() for _ in range(2)]
        check_eq(got, ["b0", "b1"], "QoS 2 from the old node n1")
        # One session in the group, on n2; n2 counts the move.
        for node in (n1, n2, n3):
            check_eq(sessions_of(node, "g55-a"), [("g55-a", "n2")],
                     "the session as %s lists it" % node.name)
        admin = connect(n2.port, unique("adm55"))
        sid = ok(request(admin, "sessions/list",
                         {"filter": "$ClientId is 'g55-a'"}))["sessions"][0]
        subs = ok(request(admin, "sessions/get",
                          {"session": sid["id"]}))["session"]["subscriptions"]
        check_eq(sorted((s["filter"], s["qos"]) for s in subs),
                 [("takeover55/a/#", 1), ("takeover55/b", 2)],
                 "the subscriptions on n2, with their QoS")
        admin.disconnect()
        check_eq(n2.metric("castor_cluster_sessions_moved_total"), 1.0,
                 "n2 counted the session that moved to it")
        check_eq(n2.metric("castor_cluster_claims_failed_total"), 0.0,
                 "no claim failed")
        # And back to n1, by mosquitto_sub: the session moves again.
        msub = mosquitto_sub_resume(n1, "g55-a", 3)
        kicked(c2, "the connection on n2")
        wait_until(lambda: sessions_of(n3, "g55-a") == [("g55-a", "n1")],
                   timeout=10)
        mosquitto_pub(n3, "takeover55/a/y", 1, ["y0", "y1", "y2"])
        out, err = msub.communicate(timeout=30)
        check_eq(msub.returncode, 0, "mosquitto_sub's status (%r)" % err)
        check_eq(out.decode().split(), ["y0", "y1", "y2"],
                 "mosquitto_sub on n1 got the moved session's messages")


def mosquitto_sub_resume(node, cid, count):
    """mosquitto_sub resuming the session of `cid` (no clean start, no
    subscription of its own: -t of a topic nobody publishes)."""
    return subprocess.Popen(
        ["mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", str(node.port),
         "-i", cid, "-c", "-x", "300", "-t", "unused55/none", "-q", "1",
         "-C", str(count), "-W", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@case(server=False, castor_only=True, timeout=120)
def messages_queued_offline_move_with_the_session():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        subscribed_on_n1(g, "g55-q", "queue55/#").disconnect()
        wait_until(lambda: n1.metric("castor_sessions", state="offline") == 1,
                   timeout=10)
        # Acknowledged once n1's topic has handed them to the session.
        payloads = ["q%d" % i for i in range(10)]
        mosquitto_pub(n3, "queue55/x", 1, payloads)
        c2 = connect(n2.port, "g55-q", clean_start=False, properties=EXPIRY,
                     session_present=True)
        check_eq(collect(c2, 10), payloads,
                 "the messages queued on n1, on n2 in order")
        # The old node's publishes reach the session on its new node.
        mosquitto_pub(n1, "queue55/y", 1, ["after"])
        check_eq(collect(c2, 1), ["after"], "a publish on n1 afterwards")
        check_eq(sessions_of(n1, "g55-q"), [("g55-q", "n2")],
                 "one session, on n2")


@case(server=False, castor_only=True, timeout=120)
def clean_start_on_another_node_ends_the_session():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        watcher = connect(n3.port, unique("w55"))
        watcher.subscribe("will55/c", qos=1)
        c1 = connect(n1.port, "g55-c", clean_start=False, properties=EXPIRY,
                     will_topic="will55/c", will_payload=b"gone", will_qos=1)
        c1.subscribe("clean55/#", qos=1)
        wait_metric(n3, "castor_cluster_routes", lambda v: v >= 1,
                    "n1's filter reached n3")
        c2 = connect(n2.port, "g55-c", clean_start=True, properties=EXPIRY,
                     session_present=False)
        kicked(c1, "the connection on n1")
        watcher.expect_publish(topic="will55/c", payload="gone", ack=True)
        # A new session on n2, without the old one's subscriptions.
        admin = connect(n2.port, unique("adm55"))
        sid = ok(request(admin, "sessions/list",
                         {"filter": "$ClientId is 'g55-c'"}))["sessions"]
        check_eq([s["node"] for s in sid], ["n2"], "one session, on n2")
        got = ok(request(admin, "sessions/get", {"session": sid[0]["id"]}))
        check_eq(got["session"]["subscriptions"], [],
                 "the new session has no subscriptions")
        # The old session's subscription has gone from the group's routes.
        wait_metric(n3, "castor_cluster_routes", lambda v: v == 0,
                    "n1's route for the old subscription gone")


@case(server=False, castor_only=True, timeout=120)
def connects_on_three_nodes_at_once_leave_one_session():
    with group() as g:
        nodes = [g.nodes[n] for n in ("n1", "n2", "n3")]
        for rnd in range(4):
            cid = "g55-r%d" % rnd
            conns = [Conn(n.port) for n in nodes]
            start = threading.Barrier(3)

            def send(c):
                start.wait()
                c.send(gen_connect(cid, clean_start=False, properties=EXPIRY))

            threads = [threading.Thread(target=send, args=(c,)) for c in conns]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for c in conns:
                c.expect(CONNACK, reason_code=0)
            # The group serialises the three: two are taken over, in turn.
            alive, gone = [], []
            deadline = time.time() + 15
            while len(gone) < 2 and time.time() < deadline:
                for c in conns:
                    if c in gone:
                        continue
                    packets = []
                    try:
                        while True:
                            packets.append(c.recv(timeout=0.05))
                    except Closed:
                        gone.append(c)
                    except TestError:
                        pass
                    check(all(p.type == DISCONNECT and p.reason_code == 0x8E
                              for p in packets),
                          "only DISCONNECT 0x8E: %r" % packets)
            alive = [c for c in conns if c not in gone]
            check_eq(len(gone), 2, "round %d: connections taken over" % rnd)
            check_eq(len(alive), 1, "round %d: one connection left" % rnd)
            # The one left is the session's, and works.
            where = nodes[conns.index(alive[0])].name
            check_eq(sessions_of(nodes[0], cid), [(cid, where)],
                     "round %d: one session, where the connection is" % rnd)
            alive[0].ping()
            alive[0].disconnect()


def take_acked(conn, got, duration):
    """Reads `conn` for `duration` s, acknowledging each QoS 1 PUBLISH and
    adding its payload to `got` (a message counts once acknowledged)."""
    deadline = time.time() + duration
    while time.time() < deadline:
        try:
            p = conn.recv(timeout=0.02)
        except Closed:
            return
        except TestError:
            continue
        if p.type == PUBLISH:
            conn.send(gen_puback(p.packet_id))
            got.add(p.payload.decode())


@case(server=False, castor_only=True, timeout=120)
def nothing_acknowledged_is_lost_while_the_session_moves():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        cur = subscribed_on_n1(g, "g55-m", "moving55/x")
        published, stop = [], threading.Event()

        def publish():
            p = connect(n3.port, unique("pub55"))
            i = 0
            while not stop.is_set():
                p.publish("moving55/x", b"m%d" % i, qos=1,
                          packet_id=i % 60000 + 1)
                published.append("m%d" % i)  # acknowledged
                i += 1
                time.sleep(0.002)
            p.disconnect()

        t = threading.Thread(target=publish)
        t.start()
        got = set()
        try:
            # Six moves, n1 -> n2 -> n1 ..., while n3 publishes.
            for k in range(6):
                take_acked(cur, got, 0.3)
                node = (n2, n1)[k % 2]
                new = connect(node.port, "g55-m", clean_start=False,
                              properties=EXPIRY, session_present=True)
                kicked(cur, "move %d" % k)
                cur = new
        finally:
            stop.set()
            t.join()
        check(len(published) > 100, "n3 published (%d)" % len(published))
        deadline = time.time() + 15
        while time.time() < deadline and not set(published) <= got:
            take_acked(cur, got, 0.2)
        missing = [m for m in published if m not in got]
        check_eq(missing, [], "acknowledged messages that never arrived "
                 "(of %d)" % len(published))


@case(server=False, castor_only=True, timeout=120)
def owners_move_when_the_members_change():
    with group(mesh=False) as g:
        n1, n2 = g.start("n1"), g.start("n2")
        wait_members(n1, ["n2"])
        # A client id that n3 will own once it joins, held by n1 before.
        cid = next(c for c in ("g55-o%d" % i for i in range(100))
                   if claim_owner(c, ["n1", "n2", "n3"]) == "n3"
                   and claim_owner(c, ["n1", "n2"]) == "n2")
        c1 = subscribed_on_n1(g, cid, "owners55/#", watcher="n2")
        n3 = g.start("n3")
        g.wait_mesh("n3 joined")
        # n1 tells n3 that it holds the client id (within a second of the
        # change): a CONNECT on n2 then takes the session from n1.
        time.sleep(2.5)
        c2 = connect(n2.port, cid, clean_start=False, properties=EXPIRY,
                     session_present=True)
        kicked(c1, "the connection on n1")
        mosquitto_pub(n3, "owners55/x", 1, ["o1"])
        check_eq(collect(c2, 1), ["o1"], "the moved subscription on n2")
        check_eq(sessions_of(n3, cid), [(cid, "n2")], "one session, on n2")
        # Its owner n3 dies: n2 owns it again, and must forget that n1 held
        # it before n3 joined. A CONNECT on n1 takes the session from n2.
        n3.kill()
        wait_members(n1, ["n2"], what="n3 removed")
        time.sleep(2.5)
        c1 = connect(n1.port, cid, clean_start=False, properties=EXPIRY,
                     session_present=True)
        kicked(c2, "the connection on n2")
        mosquitto_pub(n2, "owners55/y", 1, ["o2"])
        check_eq(collect(c1, 1), ["o2"], "the moved subscription on n1")
        check_eq(n1.metric("castor_cluster_claims_failed_total")
                 + n2.metric("castor_cluster_claims_failed_total"), 0.0,
                 "no claim failed")


STORE = """
principals:
  alice: {password: "%(alice)s", roles: [ALL]}
  bob: {password: "%(bob)s", roles: [ALL]}
roles:
  ALL:
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
  MONITOR:
    global: [VIEW_SERVER]
anonymous:
  allow: true
  roles: [MONITOR]
"""


def password_hash(password):
    r = subprocess.run([castor_bin(), "passwd", "--iterations", "1000"],
                       input=(password + "\n").encode(), capture_output=True,
                       timeout=60)
    check_eq(r.returncode, 0, "castor passwd (%r)" % r.stderr)
    return r.stdout.decode().strip()


@case(server=False, castor_only=True, timeout=120)
def a_session_of_another_principal_stays():
    with group(mesh=False) as g:
        store = os.path.join(os.path.dirname(g.secret), "store.yaml")
        with open(store, "w") as f:
            f.write(STORE % {"alice": password_hash("alice-pw"),
                             "bob": password_hash("bob-pw")})
        extra = "security:\n  store_file: %s\n  anonymous: store\n" % store
        for n in ("n1", "n2", "n3"):
            g.start(n, extra)
        g.wait_mesh("the full mesh")
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        alice = dict(username="alice", password="alice-pw")
        a = connect(n1.port, "g55-p", clean_start=False, properties=EXPIRY,
                    **alice)
        a.subscribe("principal55/#", qos=1)
        wait_metric(n3, "castor_cluster_routes", lambda v: v >= 1,
                    "alice's filter reached n3")
        # Bob may not take alice's session over from another node, nor
        # resume it.
        for clean in (False, True):
            c = Conn(n2.port)
            c.connect("g55-p", rc=0x87, clean_start=clean, properties=EXPIRY,
                      username="bob", password="bob-pw")
            c.expect_closed(timeout=5)
        # Alice's connection and session stay on n1: a publish on n3
        # reaches them.
        a.ping()
        p = connect(n3.port, unique("pub55"), **alice)
        p.publish("principal55/x", b"hello", qos=1)
        a.expect_publish(topic="principal55/x", payload="hello", ack=True)
        # Alice herself takes it over on n2, with its subscription.
        a2 = connect(n2.port, "g55-p", clean_start=False, properties=EXPIRY,
                     session_present=True, **alice)
        kicked(a, "alice's connection on n1")
        p.publish("principal55/y", b"moved", qos=1, packet_id=2)
        a2.expect_publish(topic="principal55/y", payload="moved", ack=True)


if __name__ == "__main__":
    run_cases()
