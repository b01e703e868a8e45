#!/usr/bin/python3
"""Requests to sessions (docs/platform.md, "Requests to sessions"): a
session sets request streams on message paths ($castor/api/streams/add);
messages/send-to-session sends a request to one session, which gets it as a
message handler does (a QoS 0 PUBLISH to the path with a `$castor/reply/<n>`
Response Topic) and answers there; messages/send-to-filter sends it to
every connected session a session filter selects that has a stream for the
path and gathers their answers. Errors: NO_SUCH_SESSION, NOT_CONNECTED,
NO_STREAM, PERMISSION_DENIED (SEND_TO_SESSION), TIMEOUT, HANDLER_GONE. The
clients are paho (MQTT 5), and castor-cli on the C++ SDK (`serve --stream`:
add_request_stream; `request --session` and `request --filter`:
send_to_session and send_to_filter)."""

import json
import os
import queue
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_test import *  # noqa: F401,F403
from paho_util import ApiPeer
import mqtt_test
from api_util import ok, error_code
from test_33_sdk_cli import cli_path, fails, ok_cli

del mqtt_test._CASES[:]  # test_33's cases run in their own file

PASSWORDS = {"caller": "caller-Pw-5e1d2", "nobody": "nobody-Pw-0a7c3"}
TIMEOUT = 5.0


class Peer(ApiPeer):
    prefix = "c35"


def session_ids(peer, flt):
    """Client id -> session id of the sessions `flt` selects."""
    a = ok(peer.api("sessions/list", {"filter": flt, "limit": 1000}))
    return {s["properties"]["$ClientId"]: s["id"] for s in a["sessions"]}


def session_of(peer, cid):
    return session_ids(peer, "$ClientId is '%s'" % cid)[cid]


def add_stream(peer, path, added=True):
    check_eq(ok(peer.api("streams/add", {"path": path}))["added"], added,
             "streams/add " + path)


def server_with(timeout_ms):
    srv = Server(extra_config="messaging:\n  request_timeout_ms: %d\n"
                 % timeout_ms)
    srv.start()
    return srv


@case(castor_only=True)
def send_to_session_and_its_errors(srv):
    base = unique("svc")
    target = Peer(srv.port)
    requester = Peer(srv.port)
    sid = session_of(requester, target.cid)
    send = {"session": sid, "path": base + "/calc/sum", "value": {"xs": [1, 2]}}
    # No stream yet.
    check_eq(error_code(requester.api("messages/send-to-session", send)),
             "NO_STREAM", "before streams/add")
    add_stream(target, base + "/calc")
    add_stream(target, base + "/calc", added=False)
    wait = requester.api_async("messages/send-to-session", send)
    m = target.message()
    check_eq(m.topic, base + "/calc/sum", "request topic")
    check_eq(json.loads(m.payload), {"xs": [1, 2]}, "request payload")
    check_eq(m.properties.ContentType, "application/json", "content type")
    check_eq(m.qos, 0, "request QoS")
    rt = m.properties.ResponseTopic
    check(rt.startswith("$castor/reply/"), "response topic %r" % rt)
    target.publish(rt, json.dumps({"sum": 3}), content_type="application/json")
    check_eq(ok(wait())["answer"], {"sum": 3}, "answer")
    # Prefixes by whole levels: calc serves calc, not calcx; a text answer
    # comes back as a string.
    wait = requester.api_async("messages/send-to-session",
                               {"session": sid, "path": base + "/calc",
                                "value": 1})
    m = target.message()
    target.publish(m.properties.ResponseTopic, b"plain words")
    check_eq(ok(wait())["answer"], "plain words", "text answer")
    for path in (base + "/calcx", base, base + "/other"):
        check_eq(error_code(requester.api("messages/send-to-session",
                                          {"session": sid, "path": path,
                                           "value": 1})),
                 "NO_STREAM", "no stream for " + path)
    check_eq(error_code(requester.api("messages/send-to-session",
                                      {"session": "no-such-id", "path": base,
                                       "value": 1})),
             "NO_SUCH_SESSION", "unknown session")
    check_eq(error_code(target.api("streams/add", {"path": base + "/+"})),
             "INVALID_REQUEST", "a wildcard path")
    # A request to the requester's own session is served alike.
    add_stream(requester, base + "/self")
    wait = requester.api_async("messages/send-to-session",
                               {"session": session_of(requester, requester.cid),
                                "path": base + "/self", "value": "me"})
    m = requester.message()
    requester.publish(m.properties.ResponseTopic, json.dumps("mine"))
    check_eq(ok(wait())["answer"], "mine", "answer to itself")
    # streams/remove ends it.
    ok(target.api("streams/remove", {"path": base + "/calc"}))
    check_eq(error_code(target.api("streams/remove", {"path": base + "/calc"})),
             "NO_STREAM", "removed twice")
    check_eq(error_code(requester.api("messages/send-to-session", send)),
             "NO_STREAM", "after streams/remove")
    # A plain publish to the path is a topic update, not a request to the
    # stream: the subscriber sees it, the stream's client nothing before
    # the next request.
    add_stream(target, base + "/calc")
    requester.subscribe(base + "/#")
    requester.publish(base + "/calc/sum", b"update", response_topic="c35/x")
    check_eq(requester.message().payload, b"update", "a topic update")
    wait = requester.api_async("messages/send-to-session", send)
    m = target.message()
    check_eq(json.loads(m.payload), {"xs": [1, 2]},
             "the first message the stream's client gets")
    target.publish(m.properties.ResponseTopic, b"1")
    ok(wait())
    target.disconnect()
    requester.disconnect()


@case(castor_only=True)
def streams_end_with_the_connection(srv):
    base = unique("svc")
    cid = unique("c35-persistent")
    target = Peer(srv.port, cid=cid, clean=False, answer="here")
    requester = Peer(srv.port)
    sid = session_of(requester, cid)
    add_stream(target, base)
    send = {"session": sid, "path": base + "/x", "value": 1}
    check_eq(ok(requester.api("messages/send-to-session", send))["answer"],
             "here", "answer")
    target.disconnect()
    # Offline (the session persists): NOT_CONNECTED.
    deadline = time.monotonic() + TIMEOUT
    while True:
        a = requester.api("messages/send-to-session", send)
        if error_code(a) == "NOT_CONNECTED" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check_eq(error_code(a), "NOT_CONNECTED", "an offline session")
    # Resumed on a new connection: the same session, no stream.
    target = Peer(srv.port, cid=cid, clean=False, answer="here")
    check_eq(session_of(requester, cid), sid, "the session id kept")
    check_eq(error_code(requester.api("messages/send-to-session", send)),
             "NO_STREAM", "the stream ended with the connection")
    add_stream(target, base)
    check_eq(ok(requester.api("messages/send-to-session", send))["answer"],
             "here", "answer after streams/add again")
    target.disconnect()
    requester.disconnect()


@case(castor_only=True, timeout=60)
def a_connection_sets_at_most_1000_streams(srv):
    base = unique("svc")
    p = Peer(srv.port)
    waits = [p.api_async("streams/add", {"path": "%s/%d" % (base, i)})
             for i in range(1000)]
    for w in waits:
        check_eq(ok(w())["added"], True, "streams/add")
    a = p.api("streams/add", {"path": base + "/one-more"})
    check_eq(error_code(a), "TOO_MANY_STREAMS", "the 1001st")
    add_stream(p, base + "/999", added=False)  # one it has: no change
    ok(p.api("streams/remove", {"path": base + "/0"}))
    add_stream(p, base + "/one-more")
    # Another connection has its own 1,000.
    q = Peer(srv.port)
    add_stream(q, base + "/0")
    p.disconnect()
    q.disconnect()


@case(castor_only=True, server=False)
def timeout_and_handler_gone():
    srv = server_with(1000)
    base = unique("svc")
    silent = Peer(srv.port)
    requester = Peer(srv.port)
    sid = session_of(requester, silent.cid)
    add_stream(silent, base)
    t0 = time.monotonic()
    a = requester.api("messages/send-to-session",
                      {"session": sid, "path": base, "value": 1})
    check_eq(error_code(a), "TIMEOUT", "a session that does not answer")
    check(time.monotonic() - t0 >= 0.9, "TIMEOUT before the timeout")
    silent.message()  # it did get the request
    # The session disconnects with the request pending: HANDLER_GONE.
    wait = requester.api_async("messages/send-to-session",
                               {"session": sid, "path": base, "value": 2})
    silent.message()
    silent.disconnect()
    check_eq(error_code(wait()), "HANDLER_GONE", "disconnected")
    check_eq(error_code(requester.api("messages/send-to-session",
                                      {"session": sid, "path": base,
                                       "value": 3})),
             "NO_SUCH_SESSION", "a clean session ends with its connection")
    requester.disconnect()
    srv.stop()


@case(castor_only=True, server=False, timeout=120)
def send_to_a_filter_of_100_sessions():
    srv = server_with(2000)
    base = unique("svc")
    group = unique("c35-g")
    # 100 sessions answer their client id; 10 have no stream; one has a
    # stream and never answers; one outside the filter has a stream.
    answering = [Peer(srv.port, cid="%s-%03d" % (group, i)) for i in range(100)]
    for p in answering:
        p.answer = p.cid
    without = [Peer(srv.port, cid="%s-n%02d" % (group, i)) for i in range(10)]
    silent = Peer(srv.port, cid=group + "-silent")
    outside = Peer(srv.port, answer="outside")
    waits = [p.api_async("streams/add", {"path": base})
             for p in answering + [silent, outside]]
    for w in waits:
        check_eq(ok(w())["added"], True, "streams/add")
    requester = Peer(srv.port)
    ids = session_ids(requester, "$ClientId matches '%s-.*'" % group)
    check_eq(len(ids), 111, "sessions in the filter")
    t0 = time.monotonic()
    a = ok(requester.api("messages/send-to-filter",
                         {"filter": "$ClientId matches '%s-.*'" % group,
                          "path": base + "/ping", "value": {"q": 1}},
                         timeout=15))
    elapsed = time.monotonic() - t0
    check_eq(a["sent"], 101, "sent: the sessions with a stream")
    check_eq(len(a["answers"]), 101, "answers")
    by_session = {x["session"]: x for x in a["answers"]}
    for p in answering:
        x = by_session.get(ids[p.cid])
        check(x is not None, "no answer of %s" % p.cid)
        check_eq(x.get("answer"), p.cid, "the answer of " + p.cid)
    x = by_session[ids[silent.cid]]
    check_eq(x["error"]["code"], "TIMEOUT", "the silent session")
    check("answer" not in x, "no answer of the silent session")
    for p in without:
        check(ids[p.cid] not in by_session, "%s has no stream" % p.cid)
    check_eq([x["session"] for x in a["answers"]],
             sorted(x["session"] for x in a["answers"]), "in session id order")
    check(elapsed >= 1.9, "gathered before the silent session timed out")
    # Every one got the request once, with the value as JSON.
    m = silent.message()
    check_eq((m.topic, json.loads(m.payload)), (base + "/ping", {"q": 1}),
             "the request")
    # A filter that selects nobody with a stream: sent 0.
    a = ok(requester.api("messages/send-to-filter",
                         {"filter": "$ClientId matches '%s-n.*'" % group,
                          "path": base, "value": 1}))
    check_eq((a["sent"], a["answers"]), (0, []), "no streams")
    a = ok(requester.api("messages/send-to-filter",
                         {"filter": "$ClientId is 'nobody-at-all'",
                          "path": base, "value": 1}))
    check_eq((a["sent"], a["answers"]), (0, []), "no sessions")
    a = requester.api("messages/send-to-filter",
                      {"filter": "$ClientId is", "path": base, "value": 1})
    check_eq(error_code(a), "INVALID_FILTER", "a filter that does not parse")
    for p in answering + without + [silent, outside, requester]:
        p.disconnect()
    srv.stop()


STORE = """
principals:
  caller: {password: "%(caller)s", roles: [CALLER]}
  nobody: {password: "%(nobody)s", roles: [READER]}
roles:
  CALLER:
    global: [VIEW_SESSION]
    paths:
      svc: [SEND_TO_SESSION]
      svc/closed: [SELECT_TOPIC]
      c35: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
  READER:
    paths:
      svc: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC,
            SEND_TO_MESSAGE_HANDLER]
      c35: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
anonymous:
  allow: false
"""


@case(castor_only=True, server=False)
def send_to_session_needs_send_to_session():
    srv = Server()
    store = os.path.join(srv.dir, "store.yaml")
    hashes = {}
    for u in PASSWORDS:
        r = run_castor(["passwd", "--iterations", "1000"],
                       input=(PASSWORDS[u] + "\n").encode())
        hashes[u] = r.stdout.decode().strip()
    with open(store, "w") as f:
        f.write(STORE % hashes)
    srv.extra_config = "security:\n  store_file: %s\n  anonymous: store\n" % store
    srv.start()
    path = "svc/" + unique("p")
    caller = Peer(srv.port, username="caller", password=PASSWORDS["caller"])
    # Anyone may set a request stream (no permission needed): nobody has
    # neither REGISTER_HANDLER nor SEND_TO_SESSION.
    nobody = Peer(srv.port, username="nobody", password=PASSWORDS["nobody"],
                  answer="served")
    add_stream(nobody, "svc")
    add_stream(caller, "svc")
    sid = session_of(caller, nobody.cid)
    caller_sid = session_of(caller, caller.cid)
    check_eq(ok(caller.api("messages/send-to-session",
                           {"session": sid, "path": path, "value": 1}))["answer"],
             "served", "with SEND_TO_SESSION on svc")
    check_eq(error_code(nobody.api("messages/send-to-session",
                                   {"session": caller_sid, "path": path,
                                    "value": 1})),
             "PERMISSION_DENIED", "without SEND_TO_SESSION")
    check_eq(error_code(nobody.api("messages/send-to-filter",
                                   {"filter": "all", "path": path,
                                    "value": 1})),
             "PERMISSION_DENIED", "send-to-filter without SEND_TO_SESSION")
    # svc/closed replaces what svc grants: no SEND_TO_SESSION there.
    check_eq(error_code(caller.api("messages/send-to-session",
                                   {"session": sid, "path": "svc/closed/x",
                                    "value": 1})),
             "PERMISSION_DENIED", "below a path without SEND_TO_SESSION")
    # The permission is checked before the session is looked up.
    check_eq(error_code(nobody.api("messages/send-to-session",
                                   {"session": "no-such", "path": path,
                                    "value": 1})),
             "PERMISSION_DENIED", "an unknown session, without the permission")
    a = ok(caller.api("messages/send-to-filter",
                      {"filter": "$ClientId is '%s'" % nobody.cid,
                       "path": path, "value": 1}))
    check_eq(a, {"ok": True, "sent": 1,
                 "answers": [{"session": sid, "answer": "served"}]},
             "send-to-filter with SEND_TO_SESSION")
    caller.disconnect()
    nobody.disconnect()
    srv.stop()


def start_stream_server(port, cid, path, *command, count=None):
    """castor-cli serve --stream: the SDK's add_request_stream."""
    cmd = [cli_path(), "-h", "127.0.0.1", "-p", str(port), "-i", cid, "serve",
           path, "--stream"]
    if count is not None:
        cmd += ["-C", str(count)]
    p = subprocess.Popen(cmd + ["--"] + list(command), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=client_env())
    line = p.stderr.readline().decode()
    check("serving" in line, "serve set its request stream: %r" % line)
    return p


@case(castor_only=True)
def sdk_streams_and_requests_to_sessions(srv):
    base = unique("c35/svc")
    group = unique("c35-cli")
    a = start_stream_server(srv.port, group + "-a", base, "tr", "a-z", "A-Z",
                            count=2)
    b = start_stream_server(srv.port, group + "-b", base, "sed", "s/o/0/g",
                            count=1)
    # A session of the group without a stream is not counted.
    plain = Peer(srv.port, cid=group + "-plain")
    ids = session_ids(plain, "$ClientId matches '%s-.*'" % group)
    check_eq(len(ids), 3, "the group's sessions")
    flt = "$ClientId matches '%s-.*'" % group
    out = ok_cli(srv.port, "request", base + "/x", "hello", "--filter", flt)
    expect = sorted([(ids[group + "-a"], '"HELLO"'),
                     (ids[group + "-b"], '"hell0"')])
    check_eq(out, "".join("%s %s\n" % e for e in expect),
             "request --filter: one line a session, in id order")
    check_eq(ok_cli(srv.port, "request", base, '{"k": "v"}', "--session",
                    ids[group + "-a"]),
             '{"K":"V"}\n', "request --session")
    check_eq(a.wait(timeout=10), 0, "serve -C 2 exits after two requests")
    check_eq(b.wait(timeout=10), 0, "serve -C 1 exits after one request")
    fails(srv.port, 1, "error NO_STREAM: ", "request", base, "x", "--session",
          ids[group + "-plain"])
    fails(srv.port, 1, "error NO_SUCH_SESSION: ", "request", base, "x",
          "--session", "nope")
    fails(srv.port, 2, "--session", "request", base, "x", "--session", "s",
          "--filter", "all")
    # --json: the whole answer.
    a = json.loads(ok_cli(srv.port, "--json", "request", base, "1", "--filter",
                          "$ClientId is 'nobody'"))
    check_eq(a, {"ok": True, "sent": 0, "answers": []}, "--json")
    plain.disconnect()


@case(castor_only=True, timeout=60)
def sdk_sets_its_streams_again_after_a_reconnect(srv):
    base = unique("c35/svc")
    cid = unique("c35-again")
    server = start_stream_server(srv.port, cid, base, "cat", count=2)
    admin = Peer(srv.port)
    flt = {"filter": "$ClientId is '%s'" % cid, "path": base, "value": "one"}
    a = ok(admin.api("messages/send-to-filter", flt))
    check_eq(a["answers"][0]["answer"], "one", "the first answer")
    # The server closes the session: the SDK connects again, with a new
    # session, and sets its stream again.
    check_eq(ok(admin.api("sessions/close", {"filter": flt["filter"]}))["closed"],
             1, "closed")
    flt["value"] = "two"
    deadline = time.monotonic() + 20
    while True:
        a = ok(admin.api("messages/send-to-filter", flt))
        if a["sent"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check_eq(a["answers"], [{"session": a["answers"][0]["session"]
                             if a["answers"] else None, "answer": "two"}],
             "the answer after the reconnect")
    check_eq(server.wait(timeout=10), 0, "serve -C 2 exits after two requests")
    admin.disconnect()


if __name__ == "__main__":
    run_cases()
