#!/usr/bin/python3
"""Topic specification properties that act in the server (docs/platform.md,
"Topic specifications"): a removal policy (REMOVAL) removes its topic, as
topics/remove does, when it becomes due; TIDY_ON_UNSUBSCRIBE drops what an
unsubscribing session still has queued of the topic; CONFLATION unsubscribe
cuts a subscriber that falls behind instead of holding the topic up.

Requests go through the platform API (`$castor/api/`); whether a topic is
there is what topics/fetch answers. Waits are bounded: a topic that should
go is polled for until a deadline, one that should stay is kept busy and
checked again after its period has passed more than once."""

import json
import time

from mqtt_test import *  # noqa: F401,F403

MAPPING = """
topics:
  mapping:
    - {filter: "rule/#", type: string, properties: {REMOVAL: "when no updates for 1s"}}
    - {filter: "tidy/#", type: string, properties: {TIDY_ON_UNSUBSCRIBE: "true"}}
    - {filter: "cut/#", type: string, properties: {CONFLATION: unsubscribe}}
"""

# Long enough for the server to act on a due policy (timer resolution,
# a loaded machine), short enough for the suite.
GONE_WITHIN = 8.0


def request(c, operation, body):
    """Sends a request at QoS 0 and returns the answer (other PUBLISHes that
    come meanwhile, for subscriptions of `c`, are skipped)."""
    response_topic = unique("reply")
    correlation = unique("corr").encode()
    c.publish("$castor/api/" + operation, json.dumps(body), qos=0,
              properties={"response_topic": response_topic,
                          "correlation_data": correlation})
    while True:
        p = c.expect_publish()
        if p.topic == response_topic:
            check_eq(p.props.get("correlation_data"), correlation, "correlation data")
            return json.loads(p.payload)


def ok(answer):
    check(answer.get("ok") is True, "expected an ok answer, got %r" % answer)
    return answer


def paths(c, selector):
    return [t["path"] for t in ok(request(c, "topics/fetch",
                                          {"selector": selector}))["topics"]]


def there(c, path):
    return paths(c, path) == [path]


def wait_gone(c, path, within=GONE_WITHIN):
    """Polls topics/fetch until `path` is gone; returns how long it took."""
    start = time.monotonic()
    while there(c, path):
        check(time.monotonic() - start < within,
              "%s still there after %.1f s" % (path, within))
        time.sleep(0.1)
    return time.monotonic() - start


def keep_busy(c, path, seconds, every=0.2):
    """Updates `path` every `every` s for `seconds`, checking it is there
    after each update."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        ok(request(c, "topics/update", {"path": path, "value": "v%d" % n}))
        check(there(c, path), "%s removed while updated (update %d)" % (path, n))
        time.sleep(every)


@case(castor_only=True, server=False)
def no_updates_for_removes_an_idle_topic_and_not_a_busy_one():
    srv = Server(extra_config=MAPPING)
    srv.start()
    try:
        c = connect(srv.port, "c25-idle")
        spec = {"type": "string", "properties": {"REMOVAL": "when no updates for 1s"}}
        ok(request(c, "topics/add", dict(spec, path="rm/idle")))
        ok(request(c, "topics/update", {"path": "rm/idle", "value": "a"}))
        # Updated every 0.2 s for 3 s (three periods): it stays.
        keep_busy(c, "rm/idle", 3.0)
        # Then left alone: gone after about a second.
        took = wait_gone(c, "rm/idle")
        check(took >= 0.5, "removed too early (%.2f s after the last update)" % took)
        # Its specification went with it: the path takes any payload again,
        # and a new value is there to stay (an implicit topic).
        c.publish("rm/idle", b"\xff\x00", qos=1)
        check(there(c, "rm/idle"), "implicit again after the removal")
        # A mapping rule's topic: its value and retained message go, the
        # rule stays (the topic is explicit again at its next publish).
        sub = connect(srv.port, "c25-idle-sub")
        c.publish("rule/a", b"kept?", qos=1, retain=True)
        wait_gone(c, "rule/a")
        sub.subscribe("rule/a", 1)
        sub.expect_nothing("the removed topic's retained message", via=c)
        c.publish("rule/a", b"again", qos=1)
        sub.expect_publish("rule/a", b"again", payload_format_indicator=1, ack=True)
        check(there(c, "rule/a"), "a new value after the removal")
        wait_gone(c, "rule/a")
        for x in (c, sub):
            x.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def subscriptions_below_removes_a_topic_nobody_follows():
    srv = Server()
    srv.start()
    try:
        c = connect(srv.port, "c25-subs")
        sub = connect(srv.port, "c25-subs-sub")
        sub.subscribe("rm/subs", 1)
        shared = connect(srv.port, "c25-subs-shared")
        shared.subscribe("$share/g/rm/subs", 1)
        ok(request(c, "topics/add", {"path": "rm/subs", "type": "string", "properties":
                                     {"REMOVAL": "when subscriptions < 1 for 1s"}}))
        ok(request(c, "topics/update", {"path": "rm/subs", "value": "a"}))
        sub.expect_publish("rm/subs", b"a", ack=True)
        shared.expect_publish("rm/subs", b"a", ack=True)
        # Subscribed to (a plain and a shared subscription): it stays.
        time.sleep(2.5)
        check(there(c, "rm/subs"), "removed while subscribed")
        sub.unsubscribe("rm/subs")
        time.sleep(2.5)
        check(there(c, "rm/subs"), "removed while a share group member subscribes")
        # Nobody left: gone a second later.
        shared.unsubscribe("$share/g/rm/subs")
        took = wait_gone(c, "rm/subs")
        check(took >= 0.5, "removed too early (%.2f s after the last unsubscribe)" % took)
        for x in (c, sub, shared):
            x.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def this_session_closes_removes_the_topics_it_added():
    srv = Server()
    srv.start()
    try:
        watcher = connect(srv.port, "c25-close-watch")
        adder = connect(srv.port, "c25-close-adder")
        spec = {"type": "string", "properties": {"REMOVAL": "when this session closes"}}
        ok(request(adder, "topics/add", dict(spec, path="rm/close/a")))
        ok(request(adder, "topics/update", {"path": "rm/close/b", "value": "b",
                                            "specification": spec}))
        ok(request(adder, "topics/update", {"path": "rm/close/a", "value": "a"}))
        # A topic another session added stays when this one closes.
        ok(request(watcher, "topics/add", dict(spec, path="rm/close/other")))
        ok(request(watcher, "topics/update", {"path": "rm/close/other", "value": "o"}))
        time.sleep(1.0)
        check_eq(paths(watcher, "rm/close/#"), ["rm/close/a", "rm/close/b", "rm/close/other"],
                 "while the adding session is open")
        adder.disconnect()
        start = time.monotonic()
        while paths(watcher, "rm/close/#") != ["rm/close/other"]:
            check(time.monotonic() - start < GONE_WITHIN,
                  "still there: %r" % paths(watcher, "rm/close/#"))
            time.sleep(0.1)
        # Through a persistent session: it closes when it expires, not when
        # its connection does.
        p = connect(srv.port, "c25-close-persist",
                    properties={"session_expiry_interval": 2})
        ok(request(p, "topics/add", dict(spec, path="rm/close/p")))
        ok(request(p, "topics/update", {"path": "rm/close/p", "value": "p"}))
        p.disconnect()
        time.sleep(0.8)
        check(there(watcher, "rm/close/p"), "removed before the session expired")
        wait_gone(watcher, "rm/close/p")
        watcher.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def no_session_has_a_filter_removes_the_topic_once_none_has():
    srv = Server()
    srv.start()
    try:
        c = connect(srv.port, "c25-nosess")
        spec = {"type": "string", "properties": {
            "REMOVAL": "when no session has \"$ClientId is 'c25-pump'\" for 1s"}}
        ok(request(c, "topics/add", dict(spec, path="rm/nosess")))
        ok(request(c, "topics/update", {"path": "rm/nosess", "value": "v"}))
        # While the pump is connected (and after, while it is a persistent
        # session offline) the topic stays.
        pump = connect(srv.port, "c25-pump", properties={"session_expiry_interval": 3})
        time.sleep(2.5)
        check(there(c, "rm/nosess"), "removed while the pump is connected")
        pump.disconnect()
        gone_at = time.monotonic()
        time.sleep(1.5)
        check(there(c, "rm/nosess"), "removed while the pump's session is kept")
        # Its session expires 3 s after the disconnect: a second later (the
        # policy's period, to the poll) the topic goes.
        wait_gone(c, "rm/nosess")
        took = time.monotonic() - gone_at
        check(took >= 3.5, "removed %.2f s after the disconnect" % took)
        # A session that matches a property set through the API counts too.
        spec2 = {"type": "string", "properties": {
            "REMOVAL": "when no session has 'line is \"L1\"' for 1s"}}
        ok(request(c, "topics/add", dict(spec2, path="rm/nosess2")))
        ok(request(c, "topics/update", {"path": "rm/nosess2", "value": "v"}))
        me = request(c, "sessions/list", {"filter": "$ClientId is 'c25-nosess'"})
        sid = me["sessions"][0]["id"]
        ok(request(c, "sessions/set-properties", {"session": sid,
                                                  "properties": {"line": "L1"}}))
        time.sleep(2.5)
        check(there(c, "rm/nosess2"), "removed while a session has line L1")
        ok(request(c, "sessions/set-properties", {"session": sid,
                                                  "properties": {"line": "L2"}}))
        wait_gone(c, "rm/nosess2")
        c.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def and_or_combine_conditions():
    srv = Server()
    srv.start()
    try:
        c = connect(srv.port, "c25-comb")
        sub = connect(srv.port, "c25-comb-sub")
        sub.subscribe("rm/and", 1)
        # and: idle for a second, but still subscribed: it stays until the
        # subscriber leaves too.
        ok(request(c, "topics/add", {"path": "rm/and", "type": "string", "properties":
                                     {"REMOVAL": "when no updates for 1s and "
                                                 "subscriptions < 1 for 1s"}}))
        ok(request(c, "topics/update", {"path": "rm/and", "value": "a"}))
        sub.expect_publish("rm/and", b"a", ack=True)
        time.sleep(2.5)
        check(there(c, "rm/and"), "removed while subscribed")
        sub.unsubscribe("rm/and")
        wait_gone(c, "rm/and")
        # or: kept busy (the first condition never holds), removed when the
        # time has passed.
        at_ms = int(time.time() * 1000) + 2500
        ok(request(c, "topics/add", {"path": "rm/or", "type": "string", "properties":
                                     {"REMOVAL": "when no updates for 10m or "
                                                 "time after %d" % at_ms}}))
        keep_busy(c, "rm/or", 1.5)
        wait_gone(c, "rm/or")
        check(time.time() * 1000 >= at_ms, "removed before its time")
        for x in (c, sub):
            x.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def tidy_on_unsubscribe_drops_what_is_queued():
    srv = Server(extra_config=MAPPING)
    srv.start()
    try:
        # A subscriber that takes one message at a time and has not
        # acknowledged the first: the others wait in its session's queue.
        s = connect(srv.port, "c25-tidy", properties={"receive_maximum": 1})
        s.subscribe(["tidy/a", "other/a"], 1, codes=[1, 1])
        pub = connect(srv.port, "c25-tidy-pub")
        for n in range(20):
            pub.publish("tidy/a", b"t%d" % n, qos=1)
            pub.publish("other/a", b"o%d" % n, qos=1)
        first = s.expect_publish()
        s.send(gen_unsubscribe(2, ["tidy/a", "other/a"]))
        s.expect(UNSUBACK, packet_id=2)
        s.send(gen_puback(first.packet_id))
        # The queue is one line: a tidied topic's messages would come before
        # the other topic's last one. Only the other topic's come.
        got = [first.payload]
        while got[-1] != b"o19":
            p = s.expect_publish(ack=True)
            got.append(p.payload)
        check_eq(got[1:], [b"o%d" % n for n in range(20) if b"o%d" % n != first.payload],
                 "after the unsubscribe")
        for x in (s, pub):
            x.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def conflation_unsubscribe_cuts_a_subscriber_that_falls_behind():
    srv = Server(extra_config=MAPPING)
    srv.start()
    try:
        stalled = connect(srv.port, "c25-cut-stalled", properties={"receive_maximum": 1})
        stalled.subscribe("cut/a", 1)
        fast = connect(srv.port, "c25-cut-fast")
        fast.subscribe("cut/a", 1)
        pub = connect(srv.port, "c25-cut-pub")
        pad = "p" * 300
        # Far more than a stalled session takes before it holds a topic up:
        # every publish is acknowledged all the same (publish() waits for
        # each PUBACK), and the fast subscriber gets every one.
        for n in range(300):
            pub.publish("cut/a", ("%d %s" % (n, pad)).encode(), qos=1, packet_id=1 + n % 100)
            p = fast.expect_publish("cut/a", ack=True)
            check_eq(int(p.payload.split()[0]), n, "the fast subscriber's order")
        # Cut: a publish now does not reach it. Subscribing again brings the
        # topic back: the update after that is the next it gets, after what
        # was sent to it before it was cut (in order, not all of it).
        pub.publish("cut/a", b"after", qos=1)
        fast.expect_publish("cut/a", b"after", ack=True)
        stalled.send(gen_subscribe(7, "cut/a", qos=1))
        got = []
        while True:
            p = stalled.recv()
            if p.type == SUBACK:
                check_eq(p.packet_id, 7, "SUBACK")
                pub.publish("cut/a", b"again", qos=1)
                continue
            check_eq(p.type, PUBLISH, "a PUBLISH")
            stalled.send(gen_puback(p.packet_id))
            if p.payload == b"again":
                break
            check(p.payload != b"after", "the cut subscriber got a later update")
            got.append(int(p.payload.split()[0]))
        check(0 < len(got) < 300, "got %d of the 300 updates" % len(got))
        check_eq(got, list(range(len(got))), "the stalled subscriber's order")
        for x in (stalled, fast, pub):
            x.disconnect()
    finally:
        srv.stop()


if __name__ == "__main__":
    run_cases()
