#!/usr/bin/python3
"""Session locks of the platform API (docs/platform.md, locks/acquire and
locks/release): a lock belongs to one session at a time, other sessions
wait in order, every grant has a larger fencing token, and a `locked`
constraint lets only the holder's updates apply. Locks go when their
session ends (or, with release_on disconnect, when its connection does).
The clients are paho (MQTT 5)."""

import json
import queue
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok
from paho_util import Client


class ApiClient(Client):
    """A paho MQTT 5 client that sends API requests and matches their
    answers by correlation data (answers need no subscription)."""

    def __init__(self, port, cid, clean=True, expiry=None):
        self.answers = {}
        self.cond = threading.Condition()
        super().__init__(port, cid, mqtt.MQTTv5, clean=clean, expiry=expiry)
        self.reply = unique("c24/reply/" + cid)
        self.c.on_message = self._on_message

    def _on_message(self, c, u, m):
        corr = getattr(m.properties, "CorrelationData", None)
        if m.topic == self.reply and corr is not None:
            with self.cond:
                self.answers[bytes(corr)] = json.loads(m.payload)
                self.cond.notify_all()
        else:
            self.msgs.put(m)

    def send(self, operation, body):
        """Sends a request; returns its correlation data."""
        corr = unique("corr").encode()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply
        props.CorrelationData = corr
        self.publish("$castor/api/" + operation, json.dumps(body), qos=1,
                     properties=props)
        return corr

    def answer(self, corr, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while corr not in self.answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestError("no answer within %.1f s" % timeout)
                self.cond.wait(left)
            return self.answers.pop(corr)

    def unanswered(self, corr):
        with self.cond:
            return corr not in self.answers

    def api(self, operation, body, timeout=10.0):
        return self.answer(self.send(operation, body), timeout)

    def disconnect_ending_session(self):
        """DISCONNECT with session expiry 0: the session ends now."""
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0
        self.c.disconnect(properties=props)
        self.c.loop_stop()


def count_of(c, path):
    a = ok(c.api("topics/fetch", {"selector": path}))
    check_eq(len(a["topics"]), 1, "topics fetched")
    return a["topics"][0]["value"]


@case(castor_only=True, timeout=60)
def only_the_holders_updates_apply(srv):
    path = unique("c24/count")
    lock = unique("count-lock")
    w1 = ApiClient(srv.port, "c24-w1")
    w2 = ApiClient(srv.port, "c24-w2")
    ok(w1.api("topics/update", {"path": path, "value": 0,
                                "specification": {"type": "int64"}}))
    # w1 holds the lock: w2's update under the lock is refused, w1's applies.
    t1 = ok(w1.api("locks/acquire", {"name": lock}))["token"]
    check_eq(error_code(w2.api("topics/update", {
        "path": path, "value": 100, "constraint": {"locked": lock}})),
        "CONSTRAINT_FAILED", "update by a session without the lock")
    check_eq(error_code(w2.api("topics/patch", {
        "path": unique("c24/none"), "patch": [],
        "constraint": {"locked": lock}})), "NO_VALUE", "patch of no topic")
    ok(w1.api("topics/update", {"path": path, "value": 1,
                                "constraint": {"and": [{"locked": lock},
                                                       {"value": 0}]}}))
    check_eq(count_of(w2, path), 1, "the holder's update")
    ok(w1.api("locks/release", {"name": lock}))
    # Released: w1's next update under the lock is refused too.
    check_eq(error_code(w1.api("topics/update", {
        "path": path, "value": 50, "constraint": {"locked": lock}})),
        "CONSTRAINT_FAILED", "update after the release")
    check_eq(count_of(w1, path), 1, "nothing applied without the lock")

    # Two competing writers: read, add one, write under the lock.
    rounds = 15
    tokens = []
    errors = []

    def writer(c):
        try:
            for _ in range(rounds):
                a = ok(c.api("locks/acquire", {"name": lock, "wait_ms": 20000},
                             timeout=25))
                tokens.append(a["token"])
                n = count_of(c, path)
                time.sleep(0.005)  # the other writer is waiting now
                ok(c.api("topics/update", {"path": path, "value": n + 1,
                                           "constraint": {"locked": lock}}))
                ok(c.api("locks/release", {"name": lock}))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(c,)) for c in (w1, w2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(50)
    check(not errors, "writers failed: %r" % errors)
    check_eq(count_of(w1, path), 1 + 2 * rounds, "count after both writers")
    check_eq(len(set(tokens)), 2 * rounds, "a token per grant")
    check(min(tokens) > t1, "tokens grow")
    w1.disconnect()
    w2.disconnect()


@case(castor_only=True)
def a_waiter_is_granted_in_order_when_the_holder_releases(srv):
    lock = unique("order-lock")
    a = ApiClient(srv.port, "c24-a")
    b = ApiClient(srv.port, "c24-b")
    c = ApiClient(srv.port, "c24-c")
    ta = ok(a.api("locks/acquire", {"name": lock}))["token"]
    # Asking again: the same grant.
    check_eq(ok(a.api("locks/acquire", {"name": lock}))["token"], ta, "grant again")
    wb = b.send("locks/acquire", {"name": lock, "wait_ms": 20000})
    # b is queued before c asks: b's wait is seen through a refusal of
    # release (b does not hold it) answered after b's acquire was taken.
    check_eq(error_code(b.api("locks/release", {"name": lock})), "NOT_LOCKED",
             "release by a waiter")
    wc = c.send("locks/acquire", {"name": lock, "wait_ms": 20000})
    check_eq(error_code(c.api("locks/acquire", {"name": lock, "wait_ms": 0})),
             "LOCK_TIMEOUT", "wait_ms 0")
    check(b.unanswered(wb) and c.unanswered(wc), "waiters answered while held")
    ok(a.api("locks/release", {"name": lock}))
    tb = ok(b.answer(wb))["token"]
    check(tb > ta, "b's token %d > a's %d" % (tb, ta))
    check(c.unanswered(wc), "c granted while b holds the lock")
    ok(b.api("locks/release", {"name": lock}))
    tc = ok(c.answer(wc))["token"]
    check(tc > tb, "c's token %d > b's %d" % (tc, tb))
    ok(c.api("locks/release", {"name": lock}))
    check_eq(error_code(c.api("locks/release", {"name": lock})), "NOT_LOCKED",
             "release twice")
    for x in (a, b, c):
        x.disconnect()


@case(castor_only=True)
def a_waiter_is_granted_when_the_holders_session_ends(srv):
    lock = unique("session-lock")
    # A persistent session (it has a session actor), ended by DISCONNECT
    # with session expiry 0.
    a = ApiClient(srv.port, "c24-end-a", expiry=300)
    a.subscribe(unique("c24/sub"), 1)
    b = ApiClient(srv.port, "c24-end-b")
    ta = ok(a.api("locks/acquire", {"name": lock}))["token"]
    wb = b.send("locks/acquire", {"name": lock, "wait_ms": 20000})
    check_eq(error_code(b.api("locks/release", {"name": lock})), "NOT_LOCKED",
             "b waits")
    a.disconnect_ending_session()
    tb = ok(b.answer(wb))["token"]
    check(tb > ta, "b's token %d > a's %d" % (tb, ta))
    # A session without an actor (clean start, expiry 0) that disconnects.
    c = ApiClient(srv.port, "c24-end-c")
    wc = c.send("locks/acquire", {"name": lock, "wait_ms": 20000})
    check_eq(error_code(c.api("locks/release", {"name": lock})), "NOT_LOCKED",
             "c waits")
    b.disconnect()
    tc = ok(c.answer(wc))["token"]
    check(tc > tb, "c's token %d > b's %d" % (tc, tb))
    # A clean start of the client id ends the session: its lock goes.
    d = ApiClient(srv.port, "c24-end-d")
    wd = d.send("locks/acquire", {"name": lock, "wait_ms": 20000})
    check_eq(error_code(d.api("locks/release", {"name": lock})), "NOT_LOCKED",
             "d waits")
    c2 = ApiClient(srv.port, "c24-end-c")  # takes c over, clean start
    td = ok(d.answer(wd))["token"]
    check(td > tc, "d's token %d > c's %d" % (td, tc))
    c.stop()
    c2.disconnect()
    d.disconnect()


@case(castor_only=True)
def a_wait_that_times_out_leaves_the_queue(srv):
    lock = unique("timeout-lock")
    a = ApiClient(srv.port, "c24-to-a")
    b = ApiClient(srv.port, "c24-to-b")
    c = ApiClient(srv.port, "c24-to-c")
    ta = ok(a.api("locks/acquire", {"name": lock}))["token"]
    started = time.monotonic()
    e = b.api("locks/acquire", {"name": lock, "wait_ms": 300})
    took = time.monotonic() - started
    check_eq(error_code(e), "LOCK_TIMEOUT", "wait of 300 ms")
    check(took >= 0.25, "answered after %.3f s" % took)
    # c waits; when a releases, c (not b, which gave up) is granted.
    wc = c.send("locks/acquire", {"name": lock, "wait_ms": 20000})
    check_eq(error_code(c.api("locks/release", {"name": lock})), "NOT_LOCKED",
             "c waits")
    ok(a.api("locks/release", {"name": lock}))
    tc = ok(c.answer(wc))["token"]
    check(tc > ta, "c granted")
    check_eq(error_code(b.api("locks/release", {"name": lock})), "NOT_LOCKED",
             "b never granted")
    check_eq(error_code(b.api("locks/acquire", {"name": lock, "wait_ms": 0})),
             "LOCK_TIMEOUT", "c holds it")
    check_eq(error_code(b.api("locks/acquire", {"name": lock, "wait_ms": 50001})),
             "INVALID_REQUEST", "wait_ms above 50000")
    for x in (a, b, c):
        x.disconnect()


@case(castor_only=True)
def release_on_disconnect_or_session_close(srv):
    kept = unique("kept-lock")
    lost = unique("lost-lock")
    other = ApiClient(srv.port, "c24-ro-other")
    p = ApiClient(srv.port, "c24-ro-p", expiry=300)
    tk = ok(p.api("locks/acquire", {"name": kept}))["token"]
    ok(p.api("locks/acquire", {"name": lost, "release_on": "disconnect"}))
    # The connection is lost (no DISCONNECT); the session stays.
    p.die()
    wl = other.send("locks/acquire", {"name": lost, "wait_ms": 10000})
    ok(other.answer(wl))
    check_eq(error_code(other.api("locks/acquire", {"name": kept, "wait_ms": 0})),
             "LOCK_TIMEOUT", "the session's lock is kept")
    p2 = ApiClient(srv.port, "c24-ro-p", clean=False, expiry=300)
    check(p2.session_present, "session present")
    check_eq(ok(p2.api("locks/acquire", {"name": kept}))["token"], tk,
             "the same grant after the reconnect")
    ok(p2.api("topics/update", {"path": unique("c24/ro"), "value": 1,
                                "constraint": {"locked": kept}}))
    check_eq(error_code(p2.api("locks/release", {"name": lost})), "NOT_LOCKED",
             "the lock released at disconnect")
    ok(p2.api("locks/release", {"name": kept}))
    ok(other.api("locks/acquire", {"name": kept, "wait_ms": 0}))
    p2.disconnect_ending_session()
    other.disconnect()


@case(castor_only=True, timeout=90)
def a_session_holds_at_most_1000_locks(srv):
    prefix = unique("many")
    a = ApiClient(srv.port, "c24-many-a")
    b = ApiClient(srv.port, "c24-many-b")
    pending = [a.send("locks/acquire", {"name": "%s-%d" % (prefix, i)})
               for i in range(1000)]
    for corr in pending:
        ok(a.answer(corr, timeout=30))
    check_eq(error_code(a.api("locks/acquire", {"name": prefix + "-more"})),
             "TOO_MANY_LOCKS", "the 1001st lock")
    # One it holds, again: still its grant.
    ok(a.api("locks/acquire", {"name": prefix + "-0"}))
    # b waits for one of them; a's 1001st wait is refused as well.
    ok(b.api("locks/acquire", {"name": prefix + "-b"}))
    check_eq(error_code(a.api("locks/acquire", {"name": prefix + "-b"})),
             "TOO_MANY_LOCKS", "a wait beyond the bound")
    ok(a.api("locks/release", {"name": prefix + "-0"}))
    check_eq(error_code(a.api("locks/acquire", {"name": prefix + "-b",
                                                 "wait_ms": 100})),
             "LOCK_TIMEOUT", "room for a wait again")
    a.disconnect()
    b.disconnect()


if __name__ == "__main__":
    run_cases()
