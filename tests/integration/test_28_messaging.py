#!/usr/bin/python3
"""Request-response messaging (docs/platform.md, "Request-response
messaging"): clients register message handlers for paths
($castor/api/handlers/add); an MQTT 5 PUBLISH with a Response Topic to a
path a handler serves goes to one handler of the most specific prefix
(round robin), which answers on the server's `$castor/reply/<n>`; the
answer reaches the requester's Response Topic with its correlation data.
Errors: TIMEOUT, HANDLER_GONE, NO_HANDLER, PERMISSION_DENIED. The clients
are paho (MQTT 5) and the raw client of mqtt_test."""

import json
import os
import queue
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_test import *  # noqa: F401,F403
from paho_util import ApiPeer
from api_util import request, ok, error_code

PASSWORDS = {"caller": "caller-Pw-1b7e2", "server": "server-Pw-9c3d0",
             "nobody": "nobody-Pw-44af1"}
_HASHES = {}


def hash_of(user):
    if user not in _HASHES:
        r = run_castor(["passwd", "--iterations", "1000"],
                       input=(PASSWORDS[user] + "\n").encode())
        _HASHES[user] = r.stdout.decode().strip()
    return _HASHES[user]

TIMEOUT = 5.0


class Peer(ApiPeer):
    prefix = "c28"


def user_props(m):
    return [tuple(p) for p in (getattr(m.properties, "UserProperty", None) or [])]


def answer_to(handler_msg, peer, payload, content_type="text/plain",
              user=None):
    """The handler answers a request it received."""
    rt = handler_msg.properties.ResponseTopic
    check(rt.startswith("$castor/reply/"), "response topic %r" % rt)
    peer.publish(rt, payload, content_type=content_type, user=user)


def check_error(m, code, corr):
    check_eq(bytes(m.properties.CorrelationData), corr, "correlation data")
    check_eq(m.properties.ContentType, "application/json", "content type")
    check(("castor-error", code) in user_props(m),
          "castor-error %s in %r" % (code, user_props(m)))
    body = json.loads(m.payload)
    check_eq(body["ok"], False, "ok")
    check_eq(body["error"]["code"], code, "error code")


def register(peer, path):
    check_eq(ok(peer.api("handlers/add", {"path": path})).get("added"), True,
             "handlers/add " + path)


def messaging_server(timeout_ms=10000):
    srv = Server(extra_config="messaging:\n  request_timeout_ms: %d\n"
                 % timeout_ms)
    srv.start()
    return srv


@case(castor_only=True)
def round_trip_between_paho_clients(srv):
    base = unique("svc")
    handler = Peer(srv.port)
    register(handler, base + "/echo")
    requester = Peer(srv.port)
    back = unique("c28/back")
    requester.publish(base + "/echo/x", b"ping", qos=1, response_topic=back,
                      corr=b"corr-1", content_type="text/plain",
                      user=[("k", "v"), ("k", "w")])
    m = handler.message()
    check_eq(m.topic, base + "/echo/x", "request topic")
    check_eq(m.payload, b"ping", "request payload")
    check_eq(bytes(m.properties.CorrelationData), b"corr-1", "correlation")
    check_eq(m.properties.ContentType, "text/plain", "content type")
    check_eq(user_props(m), [("k", "v"), ("k", "w")], "user properties")
    answer_to(m, handler, b"pong", content_type="text/x", user=[("a", "b")])
    r = requester.message()
    check_eq(r.topic, back, "answer topic")
    check_eq(r.payload, b"pong", "answer payload")
    check_eq(bytes(r.properties.CorrelationData), b"corr-1", "correlation")
    check_eq(r.properties.ContentType, "text/x", "answer content type")
    check_eq(user_props(r), [("a", "b")], "answer user properties")
    # QoS 0 and 2 requests as well.
    for qos in (0, 2):
        requester.publish(base + "/echo", b"q%d" % qos, qos=qos,
                          response_topic=back, corr=b"c%d" % qos)
        m = handler.message()
        check_eq(m.payload, b"q%d" % qos, "request payload")
        answer_to(m, handler, b"a%d" % qos)
        r = requester.message()
        check_eq((r.payload, bytes(r.properties.CorrelationData)),
                 (b"a%d" % qos, b"c%d" % qos), "answer")
    # An answer to an unknown or finished request goes nowhere.
    handler.publish("$castor/reply/999999", b"stray")
    handler.publish(m.properties.ResponseTopic, b"again")
    requester.publish(base + "/echo", b"last", response_topic=back, corr=b"z")
    m = handler.message()
    answer_to(m, handler, b"last-answer")
    r = requester.message()
    check_eq(r.payload, b"last-answer", "the next answer, nothing stray first")
    handler.disconnect()
    requester.disconnect()


@case(castor_only=True)
def most_specific_prefix_then_round_robin(srv):
    base = unique("svc")
    general = Peer(srv.port)
    register(general, base + "/a")
    h1, h2 = Peer(srv.port), Peer(srv.port)
    register(h1, base + "/a/b")
    register(h2, base + "/a/b")
    sub = Peer(srv.port)
    sub.subscribe(base + "/#")
    requester = Peer(srv.port)
    back = unique("c28/back")
    got = {h1.cid: 0, h2.cid: 0}
    for i in range(4):
        requester.publish(base + "/a/b/c", b"%d" % i, response_topic=back,
                          corr=b"%d" % i)
    # Each of the two handlers of a/b gets two of the four.
    for h in (h1, h2):
        for _ in range(2):
            m = h.message()
            check_eq(m.topic, base + "/a/b/c", "request topic")
            got[h.cid] += 1
            answer_to(m, h, b"from " + h.cid.encode())
    answers = sorted(requester.message().payload for _ in range(4))
    check_eq(answers, sorted([b"from " + h1.cid.encode()] * 2
                             + [b"from " + h2.cid.encode()] * 2), "answers")
    # a/x goes to the handler of a; a/bc (not below a/b) too.
    for path in (base + "/a/x", base + "/a/bc"):
        requester.publish(path, b"g", response_topic=back, corr=b"g")
        m = general.message()
        check_eq(m.topic, path, "request to the handler of a")
        answer_to(m, general, b"general")
        check_eq(requester.message().payload, b"general", "answer")
    # No handler serves base/other: a publish with a response topic there
    # is a plain topic update; the subscriber sees it, not the requests.
    requester.publish(base + "/other", b"update", response_topic=back)
    m = sub.message()
    check_eq((m.topic, m.payload), (base + "/other", b"update"),
             "the first message the subscriber gets")
    for p in (general, h1, h2, sub, requester):
        p.disconnect()


@case(castor_only=True, server=False)
def handler_gone_and_timeout():
    srv = messaging_server(timeout_ms=1000)
    base = unique("svc")
    handler = Peer(srv.port)
    register(handler, base + "/slow")
    requester = Peer(srv.port)
    back = unique("c28/back")
    # Not answered: TIMEOUT after the configured second.
    t0 = time.monotonic()
    requester.publish(base + "/slow", b"1", response_topic=back, corr=b"t1")
    handler.message()
    r = requester.message(timeout=5)
    check_error(r, "TIMEOUT", b"t1")
    check(time.monotonic() - t0 >= 0.9, "TIMEOUT before the timeout")
    # Answering it now is too late: dropped.
    # The handler disconnects with a request pending: HANDLER_GONE.
    requester.publish(base + "/slow", b"2", response_topic=back, corr=b"t2")
    handler.message()
    handler.disconnect()
    r = requester.message(timeout=5)
    check_error(r, "HANDLER_GONE", b"t2")
    # Its registration went with it.
    check_eq(error_code(requester.api("messages/send",
                                      {"path": base + "/slow", "value": 1})),
             "NO_HANDLER", "after the handler left")
    requester.disconnect()
    srv.stop()


@case(castor_only=True, timeout=60)
def a_handler_has_at_most_1000_requests_pending(srv):
    base = unique("svc")
    handler = Peer(srv.port)
    register(handler, base + "/busy")
    requester = Peer(srv.port)
    back = unique("c28/back")
    for i in range(1001):
        requester.publish(base + "/busy", b"%d" % i, qos=0,
                          response_topic=back, corr=b"%d" % i)
    # The 1001st is refused at once; the first 1,000 reach the handler.
    check_error(requester.message(timeout=8), "BUSY", b"1000")
    for i in range(1000):
        check_eq(handler.message().payload, b"%d" % i, "request %d" % i)
    handler.disconnect()
    msgs = [requester.message() for _ in range(1000)]
    for m in msgs:
        check(("castor-error", "HANDLER_GONE") in user_props(m),
              "HANDLER_GONE, got %r" % m.payload)
    gone = sorted(int(m.properties.CorrelationData) for m in msgs)
    check_eq(gone, list(range(1000)), "HANDLER_GONE for each pending request")
    requester.disconnect()


@case(castor_only=True)
def requester_gone_before_the_answer(srv):
    base = unique("svc")
    handler = Peer(srv.port)
    register(handler, base + "/h")
    gone = Peer(srv.port)
    gone.publish(base + "/h", b"1", response_topic=unique("c28/b"), corr=b"x")
    m = handler.message()
    gone.disconnect()
    time.sleep(0.2)
    answer_to(m, handler, b"to nobody")
    other = Peer(srv.port)
    back = unique("c28/back")
    other.publish(base + "/h", b"2", response_topic=back, corr=b"y")
    m = handler.message()
    check_eq(m.payload, b"2", "the next request")
    answer_to(m, handler, b"served")
    r = other.message()
    check_eq((r.payload, bytes(r.properties.CorrelationData)), (b"served", b"y"),
             "answer")
    handler.disconnect()
    other.disconnect()


@case(castor_only=True)
def api_send_add_and_remove(srv):
    base = unique("svc")
    handler = Peer(srv.port)
    requester = Peer(srv.port)
    check_eq(error_code(requester.api("messages/send",
                                      {"path": base + "/calc", "value": 1})),
             "NO_HANDLER", "before handlers/add")
    register(handler, base + "/calc")
    check_eq(ok(handler.api("handlers/add", {"path": base + "/calc"}))["added"],
             False, "a second add")
    done = []

    def serve():
        m = handler.message()
        check_eq(m.properties.ContentType, "application/json", "content type")
        body = json.loads(m.payload)
        done.append(body)
        answer_to(m, handler, json.dumps({"sum": sum(body["xs"])}),
                  content_type="application/json")

    t = threading.Thread(target=serve)
    t.start()
    a = ok(requester.api("messages/send",
                         {"path": base + "/calc/sum", "value": {"xs": [1, 2]}}))
    t.join()
    check_eq(done, [{"xs": [1, 2]}], "the request the handler got")
    check_eq(a["answer"], {"sum": 3}, "answer")
    # A text answer comes back as a string.
    t = threading.Thread(target=lambda: answer_to(handler.message(), handler,
                                                   b"plain words"))
    t.start()
    a = ok(requester.api("messages/send", {"path": base + "/calc", "value": 0}))
    t.join()
    check_eq(a["answer"], "plain words", "text answer")
    ok(handler.api("handlers/remove", {"path": base + "/calc"}))
    check_eq(error_code(handler.api("handlers/remove", {"path": base + "/calc"})),
             "NOT_REGISTERED", "removed twice")
    check_eq(error_code(requester.api("messages/send",
                                      {"path": base + "/calc", "value": 1})),
             "NO_HANDLER", "after handlers/remove")
    check_eq(error_code(handler.api("handlers/add", {"path": "a/+/b"})),
             "INVALID_REQUEST", "a wildcard path")
    handler.disconnect()
    requester.disconnect()


STORE = """
principals:
  caller: {password: "%(caller)s", roles: [CALLER]}
  server: {password: "%(server)s", roles: [SERVER]}
  nobody: {password: "%(nobody)s", roles: [READER]}
roles:
  CALLER:
    paths:
      svc: [SEND_TO_MESSAGE_HANDLER]
      c28: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
  SERVER:
    global: [REGISTER_HANDLER]
  READER:
    paths:
      svc: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
anonymous:
  allow: false
"""


@case(castor_only=True, server=False)
def permissions_for_add_and_send():
    srv = Server()
    store = os.path.join(srv.dir, "store.yaml")
    with open(store, "w") as f:
        f.write(STORE % {u: hash_of(u) for u in PASSWORDS})
    srv.extra_config = "security:\n  store_file: %s\n  anonymous: store\n" % store
    srv.start()
    path = "svc/" + unique("p")
    handler = Peer(srv.port, username="server", password=PASSWORDS["server"])
    caller = Peer(srv.port, username="caller", password=PASSWORDS["caller"])
    nobody = Peer(srv.port, username="nobody", password=PASSWORDS["nobody"])
    check_eq(error_code(caller.api("handlers/add", {"path": path})),
             "PERMISSION_DENIED", "handlers/add without REGISTER_HANDLER")
    register(handler, path)
    check_eq(error_code(nobody.api("messages/send", {"path": path, "value": 1})),
             "PERMISSION_DENIED", "messages/send without SEND_TO_MESSAGE_HANDLER")
    # MQTT: the publish is refused 0x87 and the handler gets nothing.
    raw = connect(srv.port, unique("c28"), username="nobody",
                  password=PASSWORDS["nobody"])
    raw.publish(path, b"no", qos=1, packet_id=5,
                properties={"response_topic": "c28/x", "correlation_data": b"n"},
                ack=False)
    p = raw.recv()
    check_packet(p, PUBACK, packet_id=5, reason_code=0x87)
    raw.close()
    back = "c28/" + unique("back")
    caller.publish(path, b"yes", response_topic=back, corr=b"ok")
    m = handler.message()
    check_eq(m.payload, b"yes", "the first request the handler gets")
    answer_to(m, handler, b"fine")
    check_eq(caller.message().payload, b"fine", "answer")
    for p in (handler, caller, nobody):
        p.disconnect()
    srv.stop()


if __name__ == "__main__":
    run_cases()
