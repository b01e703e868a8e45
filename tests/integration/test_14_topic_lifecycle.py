#!/usr/bin/python3
"""Topic lifecycle: a topic with no subscribers, no retained message and no
publish for mqtt.topic_idle_timeout_ms is retired (its actor ends); the name
works again on next use, also for a publisher whose connection still had the
retired topic cached. Subscribers and retained messages keep a topic."""

from mqtt_test import *  # noqa: F401,F403

IDLE_MS = 300


def start_server():
    srv = Server(overrides={"topic_idle_timeout_ms": IDLE_MS}, log_level="debug")
    srv.start()
    return srv


def retired(srv, name):
    return ("topic %s retired (idle)" % name) in srv.log()


def wait_retired(srv, name):
    if not wait_until(lambda: retired(srv, name), timeout=5.0):
        raise TestError("topic %s was not retired:\n%s" % (name, srv.log_tail()))


@case(server=False, castor_only=True)
def idle_topic_retired_and_used_again():
    srv = start_server()
    try:
        pub = connect(srv.port, "c14-pub")
        # The publisher's connection caches the topic actor.
        pub.publish("life/a", b"1", qos=1)
        wait_retired(srv, "life/a")
        # A subscriber makes the name live again; the publisher's cached
        # actor has gone, its next publishes must still arrive, in order.
        sub = connect(srv.port, "c14-sub")
        sub.subscribe("life/a", 1)
        pub.publish("life/a", b"2", qos=1, packet_id=2)
        for i in range(3, 13):
            pub.publish("life/a", b"%d" % i)
        sub.expect_publish("life/a", b"2", qos=1, ack=True)
        for i in range(3, 13):
            sub.expect_publish("life/a", b"%d" % i, qos=0)
        sub.expect_nothing("a message twice", via=pub, topic="life/a")
        pub.disconnect()
        sub.disconnect()
    finally:
        srv.stop()
        srv.cleanup()


@case(server=False, castor_only=True)
def subscribers_and_retained_keep_a_topic():
    srv = start_server()
    try:
        pub = connect(srv.port, "c14-keep-pub")
        pub.publish("life/r", b"kept", qos=1, retain=True)
        sub = connect(srv.port, "c14-keep-sub")
        sub.subscribe("life/s", 0)
        wild = connect(srv.port, "c14-keep-wild")
        wild.subscribe("life/w/#", 0)
        pub.publish("life/w/x", b"w1")
        wild.expect_publish("life/w/x", b"w1")
        pub.publish("life/gone", b"g")
        # Several idle periods: only the topic nobody holds goes.
        wait_retired(srv, "life/gone")
        time.sleep(3 * IDLE_MS / 1000.0)
        for name in ("life/r", "life/s", "life/w/x"):
            check(not retired(srv, name), "%s retired while held" % name)
        late = connect(srv.port, "c14-keep-late")
        late.subscribe("life/r", 1)
        late.expect_publish("life/r", b"kept", qos=1, retain=True, ack=True)
        late.disconnect()
        pub.publish("life/s", b"s1")
        sub.expect_publish("life/s", b"s1")
        pub.publish("life/w/x", b"w2")
        wild.expect_publish("life/w/x", b"w2")
        # Once released (retained deleted, subscriber gone) they retire too.
        pub.publish("life/r", b"", qos=1, retain=True)
        sub.unsubscribe("life/s")
        wait_retired(srv, "life/r")
        wait_retired(srv, "life/s")
        for c in (pub, sub, wild):
            c.disconnect()
    finally:
        srv.stop()
        srv.cleanup()


if __name__ == "__main__":
    run_cases()
