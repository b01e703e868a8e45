#!/usr/bin/python3
"""Missing-topic handlers (docs/platform.md, "Missing-topic handlers"): a
client registers for a path ($castor/api/handlers/missing-topic); a
topics/fetch or a subscription (MQTT SUBSCRIBE, topics/subscribe) that
selects no topic and whose literal prefix lies under that path makes the
server send the handler a request, `$castor/missing/<prefix>` with
`{"selector", "session", "operation"}` and a `$castor/reply/<n>` response
topic. The handler may create the topic and then answers; a fetch waits
for the answer (or the timeout) and looks again, a subscription is bound
to what the handler creates. The clients are paho (MQTT 5)."""

import json
import os
import time

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok
from missing_util import Maker, Peer, fetch, register, session_id

PASSWORDS = {"maker": "maker-Pw-5e1a9", "plain": "plain-Pw-77c20"}


def missing_server(timeout_ms=10000):
    srv = Server(extra_config="messaging:\n  request_timeout_ms: %d\n"
                 % timeout_ms)
    srv.start()
    return srv


@case(castor_only=True)
def fetch_of_a_missing_topic_gets_what_the_handler_creates(srv):
    base = unique("m36")
    maker = Maker(srv.port, base)
    caller = Peer(srv.port)
    name = base + "/oven/temp"
    topics = fetch(caller, name)
    check_eq(topics, [{"path": name, "type": "json", "value": {"made": name}}],
             "the fetch's answer")
    topic, body, rt = maker.request()
    check_eq(topic, "$castor/missing/" + name, "the request's topic")
    check(rt.startswith("$castor/reply/"), "response topic %r" % rt)
    check_eq(body["selector"], name, "selector")
    check_eq(body["operation"], "fetch", "operation")
    check_eq(body["session"], session_id(caller, caller), "session")
    # Now it exists: a second fetch asks nobody (the next request the
    # handler gets is the marker's).
    check_eq(len(fetch(caller, name)), 1, "second fetch")
    marker = base + "/marker"
    check_eq(len(fetch(caller, ">" + marker)), 1, "marker fetch")
    topic, body, _ = maker.request()
    check_eq(body["selector"], ">" + marker, "the next request is the marker's")
    check_eq(topic, "$castor/missing/" + marker, "marker request topic")
    maker.close()
    caller.disconnect()


@case(castor_only=True)
def subscriber_to_a_missing_topic_gets_the_created_value(srv):
    base = unique("m36")
    maker = Maker(srv.port, base)
    sub = Peer(srv.port)
    # A topic name (MQTT SUBSCRIBE by name) and a filter with a wildcard.
    name = base + "/pump/speed"
    sub.subscribe(name)
    m = sub.message()
    check_eq(m.topic, name, "topic")
    check_eq(json.loads(m.payload), {"made": name}, "the created value")
    _, body, _ = maker.request()
    check_eq(body, {"selector": name, "operation": "subscribe",
                    "session": session_id(sub, sub)}, "request")
    flt = base + "/tank/+"
    sub.subscribe(flt)
    _, body, _ = maker.request()
    check_eq(body["selector"], flt, "filter in the request")
    check(sub.msgs.empty(), "nothing before the handler makes a topic")
    # The handler makes a topic the filter selects ("tank/+" -> "tank/x"
    # is the test's choice; it creates what it likes).
    made = base + "/tank/x"
    ok(maker.peer.api("topics/update", {"path": made, "value": 7}))
    m = sub.message()
    check_eq((m.topic, json.loads(m.payload)), (made, 7), "wildcard delivery")
    # topics/subscribe by selector.
    sel = "?" + base + "/valve/.*"
    ok(sub.api("topics/subscribe", {"selector": sel}))
    _, body, _ = maker.request()
    check_eq(body["selector"], sel, "selector in the request")
    maker.close()
    sub.disconnect()


@case(castor_only=True)
def mosquitto_sub_gets_the_created_value(srv):
    base = unique("m36")
    maker = Maker(srv.port, base)
    name = base + "/door"
    p = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(srv.port),
                        "-V", "mqttv311", "-t", name, "-C", "1", "-W", "8"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=15)
    check_eq(p.returncode, 0, "mosquitto_sub: %r" % p.stderr)
    check_eq(json.loads(p.stdout), {"made": name}, "mosquitto_sub's message")
    _, body, _ = maker.request()
    check_eq(body["selector"], name, "selector")
    maker.close()


@case(castor_only=True)
def without_a_handler_a_fetch_answers_empty_at_once(srv):
    base = unique("m36")
    caller = Peer(srv.port)
    t0 = time.monotonic()
    check_eq(fetch(caller, base + "/x"), [], "no handler")
    # A handler of another path is not asked; one of a deeper path than
    # the selector's prefix neither.
    other = Maker(srv.port, base + "/other")
    deeper = Maker(srv.port, base + "/a/b")
    check_eq(fetch(caller, base + "/x"), [], "another path's handler")
    check_eq(fetch(caller, base + "/a/+"), [], "prefix above the handler's")
    check(time.monotonic() - t0 < 3, "answered without waiting")
    check_eq(len(fetch(caller, base + "/other/y")), 1, "marker")
    _, body, _ = other.request()
    check_eq(body["selector"], base + "/other/y", "the first request is the marker's")
    check_eq(len(fetch(caller, base + "/a/b/c")), 1, "deeper marker")
    _, body, _ = deeper.request()
    check_eq(body["selector"], base + "/a/b/c", "the deeper handler's first")
    other.close()
    deeper.close()
    caller.disconnect()


@case(castor_only=True)
def most_specific_prefix_wins_and_registrations_end(srv):
    base = unique("m36")
    outer = Maker(srv.port, base)
    inner = Maker(srv.port, base + "/in")
    caller = Peer(srv.port)
    check_eq(len(fetch(caller, base + "/in/x")), 1, "inner")
    check_eq(inner.request()[1]["selector"], base + "/in/x", "inner's request")
    check_eq(len(fetch(caller, base + "/out")), 1, "outer")
    check_eq(outer.request()[1]["selector"], base + "/out", "outer's request")
    # Removed: the outer handler serves the inner path again.
    ok(inner.peer.api("handlers/remove-missing-topic", {"path": base + "/in"}))
    check_eq(error_code(inner.peer.api("handlers/remove-missing-topic",
                                       {"path": base + "/in"})),
             "NOT_REGISTERED", "second removal")
    check_eq(len(fetch(caller, base + "/in/y")), 1, "after removal")
    check_eq(outer.request()[1]["selector"], base + "/in/y", "outer's now")
    # A registration ends with its connection.
    outer.close()
    inner.close()
    t0 = time.monotonic()
    check_eq(fetch(caller, base + "/z"), [], "after the handler left")
    check(time.monotonic() - t0 < 3, "answered without waiting")
    caller.disconnect()


@case(castor_only=True, server=False)
def a_handler_that_never_answers_times_out():
    srv = missing_server(timeout_ms=1000)
    base = unique("m36")
    silent = Maker(srv.port, base, answer=None, create=False)
    caller = Peer(srv.port)
    t0 = time.monotonic()
    check_eq(fetch(caller, base + "/q"), [], "answer after the timeout")
    took = time.monotonic() - t0
    check(0.9 <= took < 4, "answered after the timeout (%.2f s)" % took)
    check_eq(silent.request()[1]["selector"], base + "/q", "it was asked")
    # {"proceed": false}: the fetch answers without looking again, even
    # though the handler created the topic.
    refuser = Maker(srv.port, base + "/r", answer=b'{"proceed": false}')
    check_eq(fetch(caller, base + "/r/1"), [], "proceed false")
    check_eq(len(fetch(caller, base + "/r/1")), 1, "it was created")
    silent.close()
    refuser.close()
    caller.disconnect()
    srv.stop()


def example(name):
    return os.path.join(os.path.dirname(castor_bin()), "sdk", "examples",
                        "castor-example-" + name)


@case(castor_only=True)
def sdk_missing_topic_handler_makes_the_fetched_topic(srv):
    """The C++ SDK's add_missing_topic_handler (the example program)."""
    base = unique("m36")
    maker = subprocess.Popen([example("missing_topic_maker"), "127.0.0.1",
                              str(srv.port), base, "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=client_env())
    try:
        line = maker.stderr.readline()
        check_eq(line.strip(), b"registered", "the maker registered")
        caller = Peer(srv.port)
        name = base + "/made/here"
        check_eq(fetch(caller, name),
                 [{"path": name, "type": "json", "value": {"made": name}}],
                 "the fetch's answer")
        out, err = maker.communicate(timeout=10)
        check_eq(maker.returncode, 0, "maker: %r" % err)
        check_eq(json.loads(out), {"selector": name, "operation": "fetch",
                                   "prefix": name,
                                   "session": session_id(caller, caller)},
                 "what the SDK's callback got")
        caller.disconnect()
    finally:
        if maker.poll() is None:
            maker.kill()
            maker.wait()


STORE = """
principals:
  maker: {password: "%(maker)s", roles: [MAKER]}
  plain: {password: "%(plain)s", roles: [PLAIN]}
roles:
  MAKER:
    global: [REGISTER_HANDLER]
  PLAIN:
    paths:
      m36: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
anonymous:
  allow: false
"""


@case(castor_only=True, server=False)
def registering_needs_register_handler():
    srv = Server()
    hashes = {}
    for u in PASSWORDS:
        r = run_castor(["passwd", "--iterations", "1000"],
                       input=(PASSWORDS[u] + "\n").encode())
        hashes[u] = r.stdout.decode().strip()
    store = os.path.join(srv.dir, "store.yaml")
    with open(store, "w") as f:
        f.write(STORE % hashes)
    srv.extra_config = "security:\n  store_file: %s\n  anonymous: store\n" % store
    srv.start()
    path = "m36/" + unique("p")
    plain = Peer(srv.port, username="plain", password=PASSWORDS["plain"])
    check_eq(error_code(plain.api("handlers/missing-topic", {"path": path})),
             "PERMISSION_DENIED", "without REGISTER_HANDLER")
    maker = Peer(srv.port, username="maker", password=PASSWORDS["maker"])
    register(maker, path)
    maker.disconnect()
    plain.disconnect()
    srv.stop()


if __name__ == "__main__":
    run_cases()
