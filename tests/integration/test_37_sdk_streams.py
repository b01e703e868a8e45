#!/usr/bin/python3
"""The C++ SDK's streams and calls against the real binary, through its
test driver (sdk/tests/sdk_driver.cpp: one JSON command a line in, one
JSON answer or event a line out): a value stream equal to the server's
value after 1,000 random JSON updates received as deltas; reconnection
and resumption through a proxy that is cut (QoS 1 messages published
while away arrive, subscriptions continue); request-response between a
paho requester and an SDK handler, and between an MQTT.js handler and
castor-cli; MQTT over WebSocket (ws and wss); subscriptions by selector,
topics/notify, session administration and the update stream."""

import json
import os
import queue
import random
import socket
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_test import *  # noqa: F401,F403
import mqtt_test
from test_33_sdk_cli import Proxy, build_dir, cli_path
from test_40_auth import AuthServer, jwt
from transport_util import TransportServer, pki, tls_settings

del mqtt_test._CASES[:]  # the imported files' cases run in their own files

TIMEOUT = 10.0


def driver_path():
    return os.path.join(build_dir(), "sdk", "castor-sdk-driver")


class Driver:
    """A castor::client in a process: call() runs one SDK call and returns
    its answer; events() are the callbacks' lines so far."""

    def __init__(self):
        self.p = subprocess.Popen([driver_path()], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=client_env())
        self.n = 0
        self.replies = {}
        self.evs = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            j = json.loads(line)
            with self.cond:
                if "re" in j:
                    self.replies[j["re"]] = j
                else:
                    self.evs.append(j)
                self.cond.notify_all()

    def call(self, op, timeout=TIMEOUT, **kw):
        kw["op"] = op
        self.n += 1
        n = self.n
        self.p.stdin.write((json.dumps(kw) + "\n").encode())
        self.p.stdin.flush()
        deadline = time.monotonic() + timeout
        with self.cond:
            while n not in self.replies:
                left = deadline - time.monotonic()
                check(left > 0, "no answer to %s within %.0f s" % (op, timeout))
                self.cond.wait(left)
            return self.replies.pop(n)

    def ok(self, op, **kw):
        r = self.call(op, **kw)
        check(r["ok"], "%s %r: %r" % (op, kw, r))
        return r

    def events(self, pred=lambda e: True):
        with self.cond:
            return [e for e in self.evs if pred(e)]

    def wait_events(self, pred, count, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [e for e in self.evs if pred(e)]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                check(left > 0, "only %d of %d events: %r" % (len(got), count, got[-5:]))
                self.cond.wait(left)

    def close(self):
        """Ends the driver: its client disconnects; it must exit cleanly
        (under the sanitizer build: no report)."""
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()
            self.p.wait()
            raise TestError("the SDK driver did not exit")
        if self.p.returncode != 0:
            raise TestError("the SDK driver exited with %d: %s"
                            % (self.p.returncode, self.p.stderr.read().decode()[-3000:]))


def tagged(tag, ev=None):
    return lambda e: e.get("tag") == tag and (ev is None or e["ev"] == ev)


class Peer:
    """A paho MQTT 5 client: API requests and requests to message paths
    answered on its reply topic (raw messages by correlation data)."""

    def __init__(self, port, cid=None):
        self.cid = cid or unique("c37")
        self.c = mqtt.Client(client_id=self.cid, protocol=mqtt.MQTTv5)
        self.answers = {}
        self.msgs = queue.Queue()
        self.cond = threading.Condition()
        self.reply = unique("c37/reply")
        connacks = queue.Queue()
        self.c.on_connect = lambda c, u, f, rc, p=None: connacks.put(rc)
        self.c.on_message = self._on_message
        self.disconnects = queue.Queue()
        self.c.on_disconnect = lambda c, u, rc, p=None: self.disconnects.put(rc)
        self.c.connect("127.0.0.1", port, 30, clean_start=True)
        self.c.loop_start()
        rc = connacks.get(timeout=TIMEOUT)
        check_eq(rc.value if hasattr(rc, "value") else rc, 0, "CONNACK")

    def _on_message(self, c, u, m):
        corr = getattr(m.properties, "CorrelationData", None)
        if m.topic == self.reply and corr is not None:
            with self.cond:
                self.answers[bytes(corr)] = m
                self.cond.notify_all()
        else:
            self.msgs.put(m)

    def publish(self, topic, payload, qos=1, response_topic=None, corr=None):
        props = Properties(PacketTypes.PUBLISH)
        if response_topic:
            props.ResponseTopic = response_topic
        if corr is not None:
            props.CorrelationData = corr
        info = self.c.publish(topic, payload, qos, properties=props)
        info.wait_for_publish(TIMEOUT)
        check(info.is_published(), "publish to %s not completed" % topic)

    def ask(self, topic, payload, timeout=TIMEOUT):
        """Publishes a request; the answer's paho message."""
        corr = unique("corr").encode()
        self.publish(topic, payload, response_topic=self.reply, corr=corr)
        deadline = time.monotonic() + timeout
        with self.cond:
            while corr not in self.answers:
                left = deadline - time.monotonic()
                check(left > 0, "no answer from %s within %.1f s" % (topic, timeout))
                self.cond.wait(left)
            return self.answers.pop(corr)

    def api(self, operation, body):
        return json.loads(self.ask("$castor/api/" + operation, json.dumps(body)).payload)

    def message(self, timeout=TIMEOUT):
        try:
            return self.msgs.get(timeout=timeout)
        except queue.Empty:
            raise TestError("%s: no message within %.1f s" % (self.cid, timeout))

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


def user_props(m):
    return [tuple(p) for p in (getattr(m.properties, "UserProperty", None) or [])]


def fetch_value(peer, path):
    a = peer.api("topics/fetch", {"selector": path})
    check(a["ok"] and len(a["topics"]) == 1, "fetch %s: %r" % (path, a))
    return a["topics"][0]["value"]


# -- (a) the value stream after 1,000 random JSON updates -------------------------------

def random_change(rng, doc):
    """One random change of a JSON document (a copy)."""
    doc = json.loads(json.dumps(doc))
    k = rng.choice(["a", "b", "c", "d", "e", "f"])
    r = rng.random()
    if r < 0.4:
        doc[k] = rng.randint(-1000, 1000)
    elif r < 0.55:
        doc.pop(k, None)
    elif r < 0.7:
        doc.setdefault("list", []).append(rng.choice(["x", 1.5, None, True, {"n": 1}]))
        if len(doc["list"]) > 20:
            del doc["list"][rng.randrange(len(doc["list"]))]
    elif r < 0.85:
        doc.setdefault("nested", {})[k] = "s%d" % rng.randint(0, 99)
    else:
        doc["text"] = "".join(rng.choice("abcdef ") for _ in range(rng.randint(0, 40)))
    return doc


@case(castor_only=True, timeout=180)
def value_stream_equals_the_server_after_1000_random_updates(srv):
    path = unique("c37/doc")
    n = 1000
    d = Driver()
    peer = Peer(srv.port)
    try:
        d.ok("connect", port=srv.port)
        d.ok("values", filter=path, tag="v")
        rng = random.Random(37)
        doc = {"a": 1, "padding": "p" * 200}
        sent = []
        for _ in range(n):
            doc = random_change(rng, doc)
            a = peer.api("topics/update", {"path": path, "value": doc})
            check(a["ok"], "update: %r" % a)
            sent.append(doc)
        got = d.wait_events(tagged("v"), n, timeout=60)
        check_eq(len(got), n, "values received")
        for i, e in enumerate(got):
            check_eq(e["path"], path, "path")
            check(e["value"] == sent[i], "value %d: %r != %r" % (i, e["value"], sent[i]))
        check_eq(got[-1]["value"], fetch_value(peer, path), "the stream's value is the server's")
        deltas = sum(1 for e in got if e["from_delta"])
        check(deltas > n * 3 // 4, "most values came as deltas: %d of %d" % (deltas, n))
    finally:
        d.close()
        peer.stop()


# -- (b) reconnection and resumption ----------------------------------------------------

@case(castor_only=True, timeout=60)
def reconnects_and_resumes_the_session_after_a_cut(srv):
    proxy = Proxy(srv.port)
    pub = Peer(srv.port)
    path = unique("c37/rv")
    flt = unique("c37/rm") + "/#"
    topic = flt[:-2] + "/x"
    d = Driver()
    try:
        pub.api("topics/update", {"path": path, "value": {"n": 0}})
        d.ok("connect", port=proxy.port, client_id=unique("c37-res"), session_expiry=60,
             keep_alive=5)
        d.ok("subscribe", filter=flt, tag="m")
        d.ok("values", filter=path, tag="v")
        d.wait_events(tagged("v"), 1)
        d.ok("notify", selector=path + "-n/#", tag="n")
        pub.publish(topic, b"m0", qos=1)
        d.wait_events(tagged("m"), 1)
        # (a round trip after it: the server has m0's PUBACK, which the
        # SDK wrote before the request)
        d.ok("request", operation="topics/fetch", body={"selector": path})
        # Cut, and refuse reconnects until the messages are published.
        dead = free_port()
        proxy.target = dead
        proxy.cut()
        d.wait_events(lambda e: e["ev"] == "state" and e["state"] == "disconnected", 1)
        for i in range(1, 6):
            pub.publish(topic, b"m%d" % i, qos=1)
        pub.api("topics/update", {"path": path, "value": {"n": 1}})
        pub.api("topics/update", {"path": path, "value": {"n": 2, "more": [1, 2]}})
        a = pub.api("sessions/list", {"filter": "$Connected is 'false'"})
        check(any(s["properties"]["$ClientId"].startswith("c37-res") for s in a["sessions"]),
              "the session waits offline: %r" % a)
        check_eq(len(d.events(tagged("m"))), 1, "nothing arrives while away")
        proxy.target = srv.port
        st = d.wait_events(lambda e: e["ev"] == "state" and e["state"] == "connected", 2)
        check_eq(st[1]["why"], "session resumed", "the reconnect resumes the session")
        got = d.wait_events(tagged("m"), 6)
        check_eq([e["payload"] for e in got], ["m%d" % i for i in range(6)],
                 "QoS 1 messages published while away arrive, in order")
        vals = d.wait_events(tagged("v"), 3)
        check_eq([e["value"] for e in vals], [{"n": 0}, {"n": 1}, {"n": 2, "more": [1, 2]}],
                 "values while away")
        # The subscriptions go on.
        pub.publish(topic, b"after", qos=1)
        pub.api("topics/update", {"path": path, "value": {"n": 3, "more": [1, 2]}})
        check_eq(d.wait_events(tagged("m"), 7)[-1]["payload"], "after", "message after")
        check_eq(d.wait_events(tagged("v"), 4)[-1]["value"], {"n": 3, "more": [1, 2]},
                 "value after")
        check(proxy.accepted >= 2, "reconnected through the proxy")
        # The topics/notify selection was made again on the new connection.
        pub.api("topics/update", {"path": path + "-n/a", "value": 1})
        check_eq([(e["event"], e["path"]) for e in d.wait_events(tagged("n"), 1)],
                 [("added", path + "-n/a")], "notify after the reconnect")
    finally:
        d.close()
        pub.stop()


# -- (c), (d) request-response ------------------------------------------------------------

@case(castor_only=True)
def paho_requester_and_sdk_handler(srv):
    path = unique("c37/svc")
    d = Driver()
    peer = Peer(srv.port)
    try:
        d.ok("connect", port=srv.port)
        d.ok("handler", path=path, prefix="handled:")
        m = peer.ask(path, b"hello")
        check_eq(m.payload, b"handled:hello", "the SDK handler's answer")
        check_eq(user_props(m), [], "no error property")
        m = peer.ask(path, b"fail")
        check(("castor-error", "NOPE") in user_props(m), "error answer: %r" % user_props(m))
        check_eq(json.loads(m.payload)["error"]["code"], "NOPE", "error payload")
        # messages/send through the SDK, and send_request, to the same handler.
        r = d.ok("send_message", path=path, value={"x": 1})
        check_eq(r["answer"], {"ok": True, "answer": 'handled:{"x":1}'}, "messages/send")
        r = d.call("send_message", path=unique("c37/none"), value=1)
        check_eq(r.get("code"), "NO_HANDLER", "messages/send to no handler: %r" % r)
        check_eq(d.ok("send_request", path=path, payload="own")["payload"], "handled:own",
                 "send_request to its own handler")
    finally:
        d.close()
        peer.stop()


MQTTJS_HANDLER = r"""
const mqtt = require('mqtt');
const [port, path] = process.argv.slice(1);
const c = mqtt.connect('mqtt://127.0.0.1:' + port, {protocolVersion: 5});
c.on('connect', () => {
  c.subscribe('js-reply/' + path, () => {
    c.publish('$castor/api/handlers/add', JSON.stringify({path}),
              {qos: 1, properties: {responseTopic: 'js-reply/' + path,
                                    correlationData: Buffer.from('add')}});
  });
});
c.on('message', (topic, payload, packet) => {
  const p = packet.properties || {};
  if (topic === 'js-reply/' + path) {
    console.log(JSON.parse(payload.toString()).ok ? 'ready' : 'refused');
    return;
  }
  if (!p.responseTopic) return;
  const text = payload.toString();
  const props = {correlationData: p.correlationData};
  let answer = text.toUpperCase();
  if (text === 'fail') {
    props.userProperties = {'castor-error': 'JS_SAYS_NO'};
    props.contentType = 'application/json';
    answer = JSON.stringify({ok: false, error: {code: 'JS_SAYS_NO', message: 'refused in JS'}});
  }
  c.publish(p.responseTopic, answer, {qos: 1, properties: props});
});
"""


@case(castor_only=True)
def mqttjs_handler_and_cli_requester(srv):
    path = unique("c37/js")
    node = subprocess.Popen(["node", "-e", MQTTJS_HANDLER, str(srv.port), path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.abspath(__file__)))
    try:
        check_eq(node.stdout.readline().strip(), b"ready", "MQTT.js registered its handler")
        r = subprocess.run([cli_path(), "-h", "127.0.0.1", "-p", str(srv.port), "request",
                            path, "hello js"], capture_output=True, timeout=20,
                           env=client_env())
        check_eq((r.returncode, r.stdout), (0, b"HELLO JS\n"), "castor-cli request: %r" % r.stderr)
        r = subprocess.run([cli_path(), "-h", "127.0.0.1", "-p", str(srv.port), "request",
                            path, "fail"], capture_output=True, timeout=20, env=client_env())
        check_eq(r.returncode, 1, "an error answer: exit 1")
        check_eq(r.stderr, b"castor-cli: error JS_SAYS_NO: refused in JS\n", "its error")
    finally:
        node.kill()
        node.wait()


# -- WebSocket ----------------------------------------------------------------------------

@case(server=False, castor_only=True, timeout=60)
def sdk_and_cli_over_ws_and_wss():
    p = pki()
    listeners = [{"name": "ws", "transport": "ws"},
                 {"name": "wss", "transport": "wss", "tls": tls_settings()},
                 {"name": "ws2", "transport": "ws", "websocket": {"path": "/other"}}]
    with TransportServer(listeners) as srv:
        for name, extra in (("ws", {}), ("wss", {"tls": True, "ca_file": p["ca.pem"]}),
                            ("ws2", {"ws_path": "/other"})):
            path = unique("c37/ws")
            d = Driver()
            try:
                d.ok("connect", host="localhost", port=srv.ports[name], ws=True, **extra)
                d.ok("values", filter=path, tag="v")
                big = {"blob": "x" * 100000, "n": 0}  # frames with a 64-bit length
                d.ok("request", operation="topics/update", body={"path": path, "value": big})
                big["n"] = 1
                d.ok("request", operation="topics/update", body={"path": path, "value": big})
                small = {"n": 2}
                d.ok("request", operation="topics/update", body={"path": path, "value": small})
                got = d.wait_events(tagged("v"), 3)
                check_eq(got[1]["value"]["n"], 1, name + ": the second value")
                check(got[1]["from_delta"], name + ": a delta")
                check_eq(got[2]["value"], small, name + ": the third value")
                s = d.ok("request", operation="sessions/list", body={"filter": "all"})
                transports = {x["properties"]["$Transport"]
                              for x in s["answer"]["sessions"]}
                check(("wss" if name == "wss" else "ws") in transports,
                      name + ": the server sees the transport: %r" % transports)
            finally:
                d.close()
        # Refusals: a wrong path, a CA that does not verify.
        d = Driver()
        try:
            r = d.call("connect", port=srv.ports["ws"], ws=True, ws_path="/nope")
            check(not r["ok"] and "refused" in r["message"] and "404" in r["message"],
                  "a wrong path: %r" % r)
            r = d.call("connect", host="localhost", port=srv.ports["wss"], ws=True, tls=True)
            check(not r["ok"] and "TLS" in r["message"], "an unknown CA: %r" % r)
        finally:
            d.close()
        # castor-cli: --ws, --ws-path, -L.
        path = unique("c37/wscli")
        base = [cli_path(), "-h", "localhost"]
        for args in (["-p", str(srv.ports["ws"]), "--ws"],
                     ["-p", str(srv.ports["ws2"]), "--ws-path", "/other"],
                     ["-L", "ws://localhost:%d/other" % srv.ports["ws2"]],
                     ["-L", "wss://localhost:%d/mqtt" % srv.ports["wss"], "--cafile",
                      p["ca.pem"]],
                     ["-p", str(srv.ports["wss"]), "--ws", "--cafile", p["ca.pem"]]):
            v = unique("v")
            r = subprocess.run(base + args + ["update", path, json.dumps(v)],
                               capture_output=True, timeout=20, env=client_env())
            check_eq(r.returncode, 0, "castor-cli %r update: %r" % (args, r.stderr))
            r = subprocess.run(base + args + ["fetch", path], capture_output=True,
                               timeout=20, env=client_env())
            check_eq(r.stdout.decode(), "%s %s\n" % (path, json.dumps(v)),
                     "castor-cli %r fetch" % args)
        r = subprocess.run([cli_path(), "-L", "ftp://x", "fetch", "a"], capture_output=True,
                           timeout=20, env=client_env())
        check_eq(r.returncode, 2, "a URL of another scheme is a usage error")


# -- selectors, notifications, sessions, the update stream ------------------------------

@case(castor_only=True)
def subscriptions_by_selector(srv):
    base = unique("c37sel")
    peer = Peer(srv.port)
    d = Driver()
    try:
        d.ok("connect", port=srv.port)
        # (a retained message: the whole form's first message is the
        # retained one, as an MQTT subscription's)
        peer.c.publish(base + "/a/temp", b"1", 1, retain=True).wait_for_publish(TIMEOUT)
        r = d.call("sel_subscribe", selector="?%s/(b" % base, tag="bad")
        check(not r["ok"] and r["code"] == "INVALID_REQUEST", "a bad selector: %r" % r)
        r = d.ok("sel_subscribe", selector="?%s/.*/temp" % base, tag="s")
        check_eq(r["answer"], {"ok": True, "qos": 1}, "topics/subscribe's answer")
        d.ok("sel_subscribe", selector="?%s/.*/hum" % base, delta=True, tag="sv")
        check_eq([(e["topic"], e["payload"]) for e in d.wait_events(tagged("s"), 1)],
                 [(base + "/a/temp", "1")], "the current value first")
        for p, v in (("/b/temp", {"t": 2}), ("/b/other", 0), ("/b/hum", {"h": 1, "x": "y" * 50}),
                     ("/b/hum", {"h": 2, "x": "y" * 50}), ("/c/temp", 3)):
            peer.api("topics/update", {"path": base + p, "value": v})
        got = d.wait_events(tagged("s"), 3)
        check_eq([(e["topic"], json.loads(e["payload"])) for e in got],
                 [(base + "/a/temp", 1), (base + "/b/temp", {"t": 2}), (base + "/c/temp", 3)],
                 "the selected topics' messages, not the others'")
        vals = d.wait_events(tagged("sv"), 2)
        check_eq([(e["path"], e["value"]["h"], e["from_delta"]) for e in vals],
                 [(base + "/b/hum", 1, False), (base + "/b/hum", 2, True)],
                 "the value form: whole values, kept from deltas")
        r = d.ok("sel_unsubscribe", selector="?%s/.*/temp" % base)
        check_eq(r["answer"], {"ok": True, "existed": True}, "topics/unsubscribe")
        peer.api("topics/update", {"path": base + "/a/temp", "value": 9})
        peer.api("topics/update", {"path": base + "/b/hum", "value": {"h": 3}})
        d.wait_events(tagged("sv"), 3)  # the marker, after the update of a/temp
        check_eq(len(d.events(tagged("s"))), 3, "no message after the unsubscribe")
        check_eq(d.events(tagged("bad")), [], "a refused subscription gets nothing")
    finally:
        d.close()
        peer.stop()


@case(castor_only=True)
def notifications_of_topics(srv):
    base = unique("c37n")
    peer = Peer(srv.port)
    d = Driver()
    try:
        d.ok("connect", port=srv.port)
        peer.api("topics/update", {"path": base + "/a", "value": 1})
        r = d.ok("notify", selector=base + "/#", tag="n")
        check_eq(r["answer"], {"ok": True, "selected": 1}, "topics/notify's answer")
        check_eq([(e["event"], e["path"]) for e in d.events(tagged("n"))],
                 [("selected", base + "/a")], "selected, before the answer")
        peer.api("topics/update", {"path": base + "/b", "value": 2})
        peer.api("topics/update", {"path": base + "/b", "value": 3})  # no event
        peer.api("topics/remove", {"selector": base + "/a"})
        got = d.wait_events(tagged("n"), 3)
        check_eq([(e["event"], e["path"]) for e in got[1:]],
                 [("added", base + "/b"), ("removed", base + "/a")], "added, removed")
        r = d.ok("unnotify", selector=base + "/#")
        check_eq(r["answer"], {"ok": True, "existed": True, "deselected": 1}, "unnotify")
        check_eq([(e["event"], e["path"]) for e in d.events(tagged("n"))][3:],
                 [("deselected", base + "/b")], "deselected, before the answer")
        peer.api("topics/update", {"path": base + "/c", "value": 1})
        r = d.ok("notify", selector=base + "/c", tag="marker")  # a later marker
        check_eq(len(d.events(tagged("n"))), 4, "no event after unnotify")
    finally:
        d.close()
        peer.stop()


@case(castor_only=True)
def session_administration(srv):
    admin = Driver()
    target = Peer(srv.port, cid=unique("c37-target"))
    try:
        admin.ok("connect", port=srv.port)
        flt = "$ClientId is '%s'" % target.cid
        r = admin.ok("sessions_list", filter=flt)["answer"]
        check_eq(len(r["sessions"]), 1, "sessions/list: %r" % r)
        sid = r["sessions"][0]["id"]
        got = admin.ok("session_get", session=sid)["answer"]["session"]
        check_eq(got["properties"]["$ClientId"], target.cid, "sessions/get")
        admin.ok("session_props", session=sid, properties={"region": "eu"})
        got = admin.ok("session_get", session=sid)["answer"]["session"]
        check_eq(got["properties"].get("region"), "eu", "sessions/set-properties")
        check_eq(len(admin.ok("sessions_list", filter="region is 'eu'")["answer"]["sessions"]),
                 1, "selected by the new property")
        path = unique("c37/sess")
        r = admin.ok("session_subscribe", session=sid, selector=path)["answer"]
        check_eq(r["qos"], 1, "sessions/subscribe")
        admin.ok("request", operation="topics/update", body={"path": path, "value": {"v": 1}})
        m = target.message()
        check_eq((m.topic, json.loads(m.payload)), (path, {"v": 1}), "the session receives")
        r = admin.ok("session_unsubscribe", session=sid, selector=path)["answer"]
        check_eq(r["existed"], True, "sessions/unsubscribe")
        r = admin.ok("session_roles", session=sid, add=["OPS", "VIEW"])["answer"]
        check_eq(r["roles"], ["OPS", "VIEW"], "sessions/change-roles")
        r = admin.ok("session_roles", session=sid, remove=["OPS"])["answer"]
        check_eq(r["roles"], ["VIEW"], "sessions/change-roles: removed")
        got = admin.ok("session_get", session=sid)["answer"]["session"]
        check_eq(got["properties"]["$Roles"], "VIEW", "$Roles after the change")
        r = admin.ok("session_close", session=sid)["answer"]
        check_eq(r["closed"], 1, "sessions/close")
        target.disconnects.get(timeout=TIMEOUT)  # (paho: the connection ended)
        r = admin.call("session_get", session=sid)
        check_eq(r.get("code"), "NO_SUCH_SESSION", "the session is gone: %r" % r)
        r = admin.ok("session_close_filter", filter=flt)["answer"]
        check_eq(r["closed"], 0, "sessions/close by filter: none left")
    finally:
        admin.close()
        target.c.loop_stop()


@case(castor_only=True)
def update_stream_sends_patches_when_smaller(srv):
    path = unique("c37/us")
    d = Driver()
    peer = Peer(srv.port)
    try:
        d.ok("connect", port=srv.port)
        doc = {"items": list(range(100)), "name": "x"}
        r = d.ok("stream_set", path=path, value=doc)
        check_eq((r["patches"], r["updates"]), (0, 1), "the first value is whole")
        doc["name"] = "y"
        r = d.ok("stream_set", path=path, value=doc)
        check_eq((r["patches"], r["updates"]), (1, 1), "a small change is a patch")
        check_eq(fetch_value(peer, path), doc, "the server's value after the patch")
        pad = "p" * 100
        r = d.ok("stream_set", path=path, value={"other": 1, "pad": pad})
        check_eq((r["patches"], r["updates"]), (1, 2), "a new value is whole")
        check_eq(fetch_value(peer, path), {"other": 1, "pad": pad}, "the server's value")
        # Someone else removes the topic: the patch fails, the next is whole.
        peer.api("topics/remove", {"selector": path})
        r = d.call("stream_set", path=path, value={"other": 2, "pad": pad})
        check(not r["ok"] and r["code"] == "NO_VALUE", "a patch of a removed topic: %r" % r)
        r = d.ok("stream_set", path=path, value={"other": 3, "pad": pad})
        check_eq((r["patches"], r["updates"]), (2, 3), "after a failure: whole")
        check_eq(fetch_value(peer, path), {"other": 3, "pad": pad}, "the server's value")
    finally:
        d.close()
        peer.stop()


@case(server=False, castor_only=True)
def a_jwt_as_the_password():
    srv = AuthServer()
    srv.start()
    try:
        now = int(time.time())
        d = Driver()
        try:
            good = jwt({"sub": "device-9", "exp": now + 300, "roles": ["DEVICE"]})
            d.ok("connect", port=srv.port, username="token", password=good)
            # The token's roles apply: DEVICE may publish below dev/ only.
            d.ok("publish", topic="dev/sdk-jwt", payload="x", qos=1)
            r = d.call("publish", topic="other/sdk-jwt", payload="x", qos=1)
            check(not r["ok"] and r["code"] == "REFUSED" and "0x87" in r["message"],
                  "outside the token's rights: %r" % r)
            d.ok("disconnect")
            forged = jwt({"sub": "device-9", "exp": now + 300}, secret=b"x" * 40)
            r = d.call("connect", port=srv.port, username="token", password=forged)
            check(not r["ok"] and r.get("reason") == 0x87, "a forged token: %r" % r)
        finally:
            d.close()
    finally:
        srv.stop()


@case(castor_only=True, timeout=60)
def selector_subscriptions_are_made_again_on_a_new_session(srv):
    proxy = Proxy(srv.port)
    base = unique("c37ns")
    d = Driver()
    srv2 = None
    try:
        d.ok("connect", port=proxy.port, client_id=unique("c37-ns"), session_expiry=60)
        d.ok("sel_subscribe", selector="?%s/.*/w" % base, tag="s")
        d.ok("sel_subscribe", selector="?%s/.*/v" % base, delta=True, tag="sv")
        # The server restarts (in memory: no session survives).
        srv.kill()
        srv2 = Server()
        srv2.start()
        proxy.target = srv2.port
        proxy.cut()
        st = d.wait_events(lambda e: e["ev"] == "state" and e["state"] == "connected", 2)
        check_eq(st[1]["why"], "new session", "no session after the restart")
        peer = Peer(srv2.port)
        try:
            # Updates until each subscription, made again, receives one.
            deadline = time.monotonic() + 10
            k = 0
            while not (d.events(tagged("s")) and d.events(tagged("sv"))):
                check(time.monotonic() < deadline, "the subscriptions were not made again")
                k += 1
                peer.api("topics/update", {"path": base + "/a/w", "value": k})
                peer.api("topics/update", {"path": base + "/a/v", "value": {"k": k}})
                time.sleep(0.1)
            got = d.events(tagged("s"))[0]
            check_eq(got["topic"], base + "/a/w", "whole form")
            got = d.events(tagged("sv"))[0]
            check_eq(got["path"], base + "/a/v", "value form")
        finally:
            peer.stop()
    finally:
        d.close()
        if srv2:
            srv2.stop()


if __name__ == "__main__":
    run_cases()
