#!/usr/bin/python3
"""The admin REST API under /api/v1/ (docs/operations.md, "Admin REST
API") on an http listener, against a server with a security store and JWT:
authentication (Basic, Bearer, anonymous refused; 401 and 403), sessions
(list, get, close: a paho MQTT 5 client gets DISCONNECT 0x98), topics (add,
fetch, update seen by mosquitto_sub, remove), publish (QoS 1 to
mosquitto_sub), listeners and their connection counts, the configuration
without secrets, HTTP statuses of errors."""

import base64
import hashlib
import hmac
import json
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import paho.mqtt.client as paho

from mqtt_test import *  # noqa: F401,F403

PASSWORDS = {
    "admin": "admin-secret",       # ADMIN: every permission
    "viewer": "viewer-Pw-41c2",    # VIEWER: VIEW_SESSION, reads data/
    "device": "device-Pw-9ab7",    # DEVICE: no global permission, all of dev/
}
JWT_SECRET = b"jwt-secret-for-the-castor-rest-test-0123456789"

STORE = """
principals:
  admin: {password: "%(admin)s", roles: [ADMIN]}
  viewer: {password: "%(viewer)s", roles: [VIEWER]}
  device: {password: "%(device)s", roles: [DEVICE]}
roles:
  ADMIN:
    global: [VIEW_SESSION, MODIFY_SESSION, REGISTER_HANDLER, VIEW_SERVER,
             CONTROL_SERVER, VIEW_SECURITY, MODIFY_SECURITY]
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC,
                   SEND_TO_MESSAGE_HANDLER, SEND_TO_SESSION]
  VIEWER:
    global: [VIEW_SESSION]
    paths:
      data: [SELECT_TOPIC, READ_TOPIC]
  DEVICE:
    paths:
      dev: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
anonymous:
  allow: false
"""

_HASHES = {}


def hash_of(user):
    if user not in _HASHES:
        r = run_castor(["passwd", "--iterations", "1000"],
                       input=(PASSWORDS[user] + "\n").encode())
        _HASHES[user] = r.stdout.decode().strip()
    return _HASHES[user]


class RestServer(Server):
    """Castor with an http listener (self.http_port) before the mqtt one,
    the test store and JWT (HS256), or without a store (store=False)."""

    def __init__(self, store=True, overrides=None, anonymous_roles=None, threshold=3,
                 delay_ms=500):
        super().__init__(overrides=overrides)
        self.http_port = None
        self.store = store
        if not store:
            return
        path = os.path.join(self.dir, "store.yaml")
        text = STORE % {u: hash_of(u) for u in PASSWORDS}
        if anonymous_roles:
            text = text.replace("  allow: false", "  allow: true\n  roles: [%s]"
                                % ", ".join(anonymous_roles))
        with open(path, "w") as f:
            f.write(text)
        secret = os.path.join(self.dir, "jwt.secret")
        with open(secret, "wb") as f:
            f.write(JWT_SECRET)
        self.extra_config = "\n".join([
            "security:",
            "  store_file: %s" % path,
            "  anonymous: store",
            "  jwt:",
            "    hs256_secret_file: %s" % secret,
            "  hash_threads_priority: normal",
            "  failed_login_threshold: %d" % threshold,
            "  failed_login_delay_ms: %d" % delay_ms,
        ])

    def _write_castor_config(self, port):
        path = super()._write_castor_config(port)
        self.http_port = free_port()
        while self.http_port == port:
            self.http_port = free_port()
        with open(path) as f:
            text = f.read()
        text = text.replace(
            "listeners:\n",
            "listeners:\n  - {name: http, transport: http, bind: 127.0.0.1, port: %d}\n"
            % self.http_port, 1)
        with open(path, "w") as f:
            f.write(text)
        return path


def with_server(**kw):
    def deco(fn):
        def run():
            srv = RestServer(**kw)
            srv.start()
            fn(srv)
        run.__name__ = fn.__name__
        return case(name=fn.__name__, server=False, castor_only=True)(run)
    return deco


def call(srv, method, path, body=None, user="admin", password=None, bearer=None,
         raw_auth=None, headers=None):
    """(status, headers, JSON answer) of a request to /api/v1/<path>."""
    url = "http://127.0.0.1:%d/api/v1/%s" % (srv.http_port, path)
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    if raw_auth is not None:
        headers["Authorization"] = raw_auth
    elif bearer is not None:
        headers["Authorization"] = "Bearer " + bearer
    elif user is not None:
        pw = password if password is not None else PASSWORDS[user]
        headers["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % (user, pw)).encode()).decode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def expect(srv, status, method, path, **kw):
    got, headers, answer = call(srv, method, path, **kw)
    check_eq(got, status, "%s /api/v1/%s status (answer %r)" % (method, path, answer))
    return answer, headers


def error_code_of(answer):
    check(isinstance(answer, dict) and answer.get("ok") is False,
          "an error answer: %r" % (answer,))
    return answer["error"]["code"]


def jwt(claims, secret=JWT_SECRET):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, head + b"." + body, hashlib.sha256).digest()
    return (head + b"." + body + b"." + b64(sig)).decode()


class Sub:
    """mosquitto_sub (MQTT 5) printing "topic qos payload" lines, read by a
    thread; subscribed to `topics` and a marker topic of its own."""

    def __init__(self, srv, topics, qos=1, user="admin"):
        self.srv = srv
        self.marker = unique("m45/marker")
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(srv.port), "-V", "mqttv5",
                "-q", str(qos), "-F", "%t %q %p", "-u", user, "-P", PASSWORDS[user],
                "-i", unique("c45-sub")]
        for t in list(topics) + [self.marker]:
            args += ["-t", t]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._wait_subscribed()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.decode().rstrip("\n"))

    def _wait_subscribed(self):
        # Markers published through REST until one arrives: from then on
        # the subscription is in force.
        deadline = time.time() + 10
        while time.time() < deadline:
            expect(self.srv, 200, "POST", "publish",
                   body={"topic": self.marker, "payload": "m", "qos": 1})
            try:
                line = self.lines.get(timeout=0.3)
            except queue.Empty:
                continue
            if line.startswith(self.marker):
                # Later markers may still be on their way: drain them.
                time.sleep(0.3)
                while not self.lines.empty():
                    check(self.lines.get().startswith(self.marker), "only markers")
                return
        raise TestError("mosquitto_sub never received its marker")

    def next(self, timeout=5.0):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TestError("mosquitto_sub received nothing in %.1f s" % timeout)

    def ordered_after_marker(self):
        """The lines received before a new marker arrives (proves that
        nothing else is on its way)."""
        expect(self.srv, 200, "POST", "publish",
               body={"topic": self.marker, "payload": "end", "qos": 1})
        out = []
        while True:
            line = self.next()
            if line == "%s 1 end" % self.marker:
                return out
            out.append(line)

    def stop(self):
        self.p.terminate()
        self.p.wait(5)


# -- authentication ------------------------------------------------------------

@with_server()
def authentication_and_permissions(srv):
    answer, headers = expect(srv, 401, "GET", "sessions", user=None)
    check_eq(error_code_of(answer), "NOT_AUTHORIZED", "no credentials")
    check_eq(headers.get("WWW-Authenticate"), 'Basic realm="castor"', "challenge")
    # A script (the console) gets no challenge: no browser login dialog.
    answer, headers = expect(srv, 401, "GET", "sessions", user=None,
                             headers={"X-Requested-With": "castor-console"})
    check_eq(headers.get("WWW-Authenticate"), None, "no challenge for scripts")
    answer, _ = expect(srv, 401, "GET", "sessions", password="wrong")
    check_eq(error_code_of(answer), "NOT_AUTHORIZED", "wrong password")
    expect(srv, 401, "GET", "sessions", user="viewer", password="admin-secret")
    answer, _ = expect(srv, 401, "GET", "sessions", raw_auth="Basic !!!")
    check_eq(error_code_of(answer), "NOT_AUTHORIZED", "malformed Basic")
    expect(srv, 401, "GET", "sessions", raw_auth="Digest x=1")
    # Authenticated without the permission: 403.
    answer, _ = expect(srv, 403, "GET", "sessions", user="device")
    check_eq(error_code_of(answer), "PERMISSION_DENIED", "device lists sessions")
    expect(srv, 403, "GET", "listeners", user="viewer")
    expect(srv, 403, "GET", "config", user="device")
    expect(srv, 403, "DELETE", "sessions/whoever", user="viewer")
    # With it.
    answer, _ = expect(srv, 200, "GET", "sessions", user="viewer")
    check_eq(answer["ok"], True, "viewer lists sessions")
    expect(srv, 200, "GET", "listeners")
    # Unknown endpoints and methods.
    check_eq(error_code_of(expect(srv, 404, "GET", "nothing")[0]), "NOT_FOUND", "404")
    answer, headers = expect(srv, 405, "POST", "listeners", body={})
    check_eq(headers.get("Allow"), "GET", "Allow")


@with_server()
def jwt_bearer_callers(srv):
    now = int(time.time())
    admin = jwt({"sub": "tok-admin", "exp": now + 300, "roles": ["ADMIN"]})
    answer, _ = expect(srv, 200, "GET", "listeners", bearer=admin)
    check_eq(answer["ok"], True, "token with ADMIN")
    device = jwt({"sub": "tok-dev", "exp": now + 300, "roles": ["DEVICE"]})
    expect(srv, 403, "GET", "listeners", bearer=device)
    expect(srv, 200, "POST", "publish", bearer=device,
           body={"topic": "dev/tok", "payload": "x"})
    expect(srv, 403, "POST", "publish", bearer=device,
           body={"topic": "other/tok", "payload": "x"})
    expired = jwt({"sub": "tok-admin", "exp": now - 60, "roles": ["ADMIN"]})
    expect(srv, 401, "GET", "listeners", bearer=expired)
    forged = jwt({"sub": "tok-admin", "exp": now + 300, "roles": ["ADMIN"]},
                 secret=b"x" * 40)
    expect(srv, 401, "GET", "listeners", bearer=forged)
    expect(srv, 401, "GET", "listeners", bearer="not-a-token")


@with_server(threshold=2, delay_ms=800)
def failed_rest_logins_slow_down_mqtt_and_rest(srv):
    def timed(fn):
        t0 = time.time()
        fn()
        return time.time() - t0
    fast = timed(lambda: expect(srv, 200, "GET", "sessions", user="viewer"))
    check(fast < 0.5, "a login before any failure is not delayed (%.2f s)" % fast)
    # The slow-down of the name counts REST failures: the next login waits,
    # over HTTP as over MQTT (a success ends the slow-down).
    for _ in range(3):
        expect(srv, 401, "GET", "sessions", user="viewer", password="wrong")
    slow = timed(lambda: expect(srv, 200, "GET", "sessions", user="viewer"))
    check(slow >= 0.6, "REST login after REST failures delayed (%.2f s)" % slow)
    fast = timed(lambda: expect(srv, 200, "GET", "sessions", user="viewer"))
    check(fast < 0.5, "not delayed after a success (%.2f s)" % fast)
    for _ in range(3):
        expect(srv, 401, "GET", "sessions", user="viewer", password="wrong")
    slow = timed(lambda: connect(srv.port, unique("c45-slow"), username="viewer",
                                 password=PASSWORDS["viewer"]).disconnect())
    check(slow >= 0.6, "MQTT login after REST failures delayed (%.2f s)" % slow)


@with_server(anonymous_roles=["VIEWER"])
def anonymous_callers_get_the_stores_anonymous_roles(srv):
    answer, _ = expect(srv, 200, "GET", "sessions", user=None)
    check_eq(answer["ok"], True, "anonymous VIEWER lists sessions")
    expect(srv, 403, "GET", "listeners", user=None)
    expect(srv, 403, "POST", "publish", user=None, body={"topic": "data/x", "payload": "x"})
    # A bearer token that is not one is refused, not taken as anonymous.
    expect(srv, 401, "GET", "sessions", bearer="not-a-token")
    expect(srv, 401, "GET", "sessions", password="wrong")


@with_server(store=False)
def without_a_store_everyone_may_do_everything(srv):
    answer, _ = expect(srv, 200, "GET", "listeners", user=None)
    check_eq([l["name"] for l in answer["listeners"]], ["http", "mqtt"], "listeners")
    expect(srv, 200, "POST", "publish", user=None, body={"topic": "a/b", "payload": "x"})


# -- sessions ------------------------------------------------------------------

@with_server()
def sessions_list_get_and_close(srv):
    cid = unique("c45-victim")
    got = queue.Queue()
    c = paho.Client(client_id=cid, protocol=paho.MQTTv5)
    c.username_pw_set("device", PASSWORDS["device"])
    c.on_connect = lambda cl, u, flags, rc, props=None: got.put(("connack", rc))
    c.on_disconnect = lambda cl, u, rc, props=None: got.put(("closed", None))
    # paho 1.6.1 reads a DISCONNECT's reason code only when properties
    # follow it: the packet as paho received it tells.
    handle_disconnect = c._handle_disconnect

    def spy():
        packet = c._in_packet["packet"]
        got.put(("disconnect", packet[0] if packet else 0))
        return handle_disconnect()
    c._handle_disconnect = spy
    c.connect("127.0.0.1", srv.port, 30)
    c.loop_start()
    try:
        kind, rc = got.get(timeout=5)
        check_eq((kind, rc.value if hasattr(rc, "value") else rc), ("connack", 0), "connected")
        answer, _ = expect(srv, 200, "GET", "sessions?filter="
                           + urllib.parse.quote("$ClientId is '%s'" % cid))
        check_eq(len(answer["sessions"]), 1, "listed by filter")
        props = answer["sessions"][0]["properties"]
        check_eq((props["$ClientId"], props["$Principal"], props["$Connected"]),
                 (cid, "device", "true"), "properties")
        sid = answer["sessions"][0]["id"]
        answer, _ = expect(srv, 200, "GET", "sessions/" + cid)
        check_eq(answer["session"]["id"], sid, "get by client id")
        check_eq(answer["session"]["subscriptions"], [], "nothing subscribed")
        answer, _ = expect(srv, 200, "GET", "sessions/" + sid)
        check_eq(answer["session"]["properties"]["$ClientId"], cid, "get by session id")
        expect(srv, 400, "GET", "sessions?limit=x")
        answer, _ = expect(srv, 400, "GET", "sessions?filter=" + urllib.parse.quote("(("))
        check_eq(error_code_of(answer), "INVALID_FILTER", "bad filter")
        answer, _ = expect(srv, 200, "DELETE", "sessions/" + cid)
        check_eq((answer["closed"], answer["offline"]), (1, 0), "closed")
        check_eq(got.get(timeout=5), ("disconnect", 0x98), "DISCONNECT administrative action")
        check_eq(got.get(timeout=5), ("closed", None), "then closed")
        check(wait_until(lambda: call(srv, "GET", "sessions/" + cid)[0] == 404),
              "the session has gone")
        answer, _ = expect(srv, 404, "DELETE", "sessions/" + cid)
        check_eq(error_code_of(answer), "NO_SUCH_SESSION", "closed twice")
    finally:
        c.loop_stop()


@with_server()
def a_session_lists_its_subscriptions(srv):
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.subscribeoptions import SubscribeOptions
    cid = unique("c45-subs")
    subacks = queue.Queue()
    c = paho.Client(client_id=cid, protocol=paho.MQTTv5)
    c.username_pw_set("device", PASSWORDS["device"])
    c.on_subscribe = lambda cl, u, mid, granted, *a: subacks.put(mid)
    c.connect("127.0.0.1", srv.port, 30)
    c.loop_start()
    try:
        props = Properties(PacketTypes.SUBSCRIBE)
        props.SubscriptionIdentifier = 42
        _, mid = c.subscribe([("dev/a/#", SubscribeOptions(qos=1, noLocal=True,
                                                           retainAsPublished=True,
                                                           retainHandling=2))],
                             properties=props)
        check_eq(subacks.get(timeout=5), mid, "SUBACK of dev/a/#")
        _, mid = c.subscribe([("dev/b", SubscribeOptions(qos=0, retainHandling=1))])
        check_eq(subacks.get(timeout=5), mid, "SUBACK of dev/b")
        answer, _ = expect(srv, 200, "GET", "sessions/" + cid)
        subs = sorted(answer["session"]["subscriptions"], key=lambda s: s["filter"])
        check_eq(subs, [
            {"filter": "dev/a/#", "qos": 1, "no_local": True,
             "retain_as_published": True, "retain_handling": 2,
             "subscription_id": 42},
            {"filter": "dev/b", "qos": 0, "no_local": False,
             "retain_as_published": False, "retain_handling": 1},
        ], "the subscriptions with their options")
        # The API's sessions/get answers the same (GET by session id).
        answer, _ = expect(srv, 200, "GET", "sessions/" + answer["session"]["id"])
        check_eq(len(answer["session"]["subscriptions"]), 2, "by session id")
        c.unsubscribe("dev/b")
        check(wait_until(lambda: [s["filter"] for s in expect(
            srv, 200, "GET", "sessions/" + cid)[0]["session"]["subscriptions"]]
            == ["dev/a/#"]), "unsubscribed: no longer listed")
    finally:
        c.disconnect()
        c.loop_stop()


# -- topics ----------------------------------------------------------------------

@with_server()
def topics_add_fetch_update_remove(srv):
    sub = Sub(srv, ["c45/t/#"])
    try:
        answer, _ = expect(srv, 201, "POST", "topics",
                           body={"path": "c45/t/a", "type": "json"})
        check_eq(answer, {"ok": True}, "added")
        answer, _ = expect(srv, 200, "POST", "topics",
                           body={"path": "c45/t/a", "type": "json"})
        check_eq(answer.get("exists"), True, "added again")
        answer, _ = expect(srv, 409, "POST", "topics",
                           body={"path": "c45/t/a", "type": "string"})
        check_eq(error_code_of(answer), "TOPIC_EXISTS", "another specification")
        expect(srv, 400, "POST", "topics", body={"path": "c45/+", "type": "json"})
        expect(srv, 400, "POST", "topics", body=b"not json")
        expect(srv, 200, "PUT", "topics/c45/t/a", body={"value": {"n": 1}})
        check_eq(sub.ordered_after_marker(), ['c45/t/a 1 {"n":1}'], "the update")
        expect(srv, 201, "POST", "topics", body={"path": "c45/t/n", "type": "int64"})
        answer, _ = expect(srv, 400, "PUT", "topics/c45/t/n", body={"value": "x"})
        check_eq(error_code_of(answer), "INVALID_VALUE", "not an integer")
        answer, _ = expect(srv, 400, "PUT", "topics/c45/t/n",
                           body={"path": "c45/t/a", "value": 1})
        check_eq(error_code_of(answer), "INVALID_REQUEST", "another path in the body")
        expect(srv, 200, "PUT", "topics/c45/t/n", body={"path": "c45/t/n", "value": 7})
        check_eq(sub.ordered_after_marker(), ["c45/t/n 1 7"], "the int64 update")
        answer, _ = expect(srv, 200, "GET", "topics?selector=" + urllib.parse.quote("c45/t/#"))
        check_eq(answer["topics"], [{"path": "c45/t/a", "type": "json", "value": {"n": 1}},
                                    {"path": "c45/t/n", "type": "int64", "value": 7}],
                 "fetched")
        answer, _ = expect(srv, 200, "GET", "topics?values=false&selector=c45/t/a")
        check_eq(answer["topics"], [{"path": "c45/t/a", "type": "json"}], "without values")
        expect(srv, 400, "GET", "topics?values=maybe")
        # Permissions: DEVICE may add and update below dev/ only.
        expect(srv, 403, "POST", "topics", user="device",
               body={"path": "c45/t/x", "type": "json"})
        expect(srv, 201, "POST", "topics", user="device",
               body={"path": "dev/x", "type": "json"})
        expect(srv, 403, "PUT", "topics/c45/t/a", user="device", body={"value": 2})
        answer, _ = expect(srv, 200, "DELETE", "topics/c45/t/a")
        check_eq(answer["removed"], 1, "removed")
        answer, _ = expect(srv, 200, "DELETE", "topics/c45/t/n")
        check_eq(answer["removed"], 1, "removed")
        answer, _ = expect(srv, 200, "GET", "topics?selector=" + urllib.parse.quote("c45/t/#"))
        check_eq(answer["topics"], [], "gone")
        expect(srv, 400, "DELETE", "topics")
        expect(srv, 201, "POST", "topics", body={"path": "c45/s/1", "type": "int64"})
        expect(srv, 201, "POST", "topics", body={"path": "c45/s/2", "type": "int64"})
        answer, _ = expect(srv, 200, "DELETE",
                           "topics?selector=" + urllib.parse.quote("c45/s/#"))
        check_eq(answer["removed"], 2, "removed by selector")
    finally:
        sub.stop()


# -- publish ---------------------------------------------------------------------

@with_server()
def publish_reaches_subscribers(srv):
    sub = Sub(srv, ["c45/p/#"], qos=1)
    try:
        expect(srv, 200, "POST", "publish",
               body={"topic": "c45/p/a", "payload": "hello", "qos": 1})
        expect(srv, 200, "POST", "publish",
               body={"topic": "c45/p/b", "payload": base64.b64encode(b"bytes").decode(),
                     "encoding": "base64", "qos": 1,
                     "content_type": "text/plain", "user_properties": {"k": "v"}})
        check_eq(sub.ordered_after_marker(), ["c45/p/a 1 hello", "c45/p/b 1 bytes"],
                 "received at QoS 1, in order")
        # Retained: a later subscriber gets it.
        expect(srv, 200, "POST", "publish",
               body={"topic": "c45/r", "payload": "kept", "qos": 1, "retain": True})
        out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(srv.port),
                              "-u", "admin", "-P", PASSWORDS["admin"], "-t", "c45/r",
                              "-C", "1", "-W", "5"], capture_output=True, timeout=10)
        check_eq(out.stdout.decode().strip(), "kept", "retained")
        # Refusals.
        for body, code, status in (
                ({"topic": "c45/+", "payload": "x"}, "INVALID_REQUEST", 400),
                ({"payload": "x"}, "INVALID_REQUEST", 400),
                ({"topic": "c45/x", "qos": 3}, "INVALID_REQUEST", 400),
                ({"topic": "c45/x", "extra": 1}, "INVALID_REQUEST", 400),
                ({"topic": "c45/x", "payload": "%%", "encoding": "base64"},
                 "INVALID_REQUEST", 400),
                ({"topic": "$castor/api/x", "payload": "x"}, "PERMISSION_DENIED", 403)):
            answer, _ = expect(srv, status, "POST", "publish", body=body)
            check_eq(error_code_of(answer), code, "refused %r" % body)
        # A body that does not say it is JSON (what an HTML form sends).
        answer, _ = expect(srv, 415, "POST", "publish",
                           body={"topic": "c45/p/a", "payload": "form"},
                           headers={"Content-Type": "text/plain"})
        check_eq(error_code_of(answer), "UNSUPPORTED_MEDIA_TYPE", "text/plain body")
        answer, _ = expect(srv, 403, "POST", "publish", user="device",
                           body={"topic": "c45/p/a", "payload": "x"})
        check_eq(error_code_of(answer), "PERMISSION_DENIED", "device outside dev/")
        check_eq(sub.ordered_after_marker(), [], "nothing refused was delivered")
    finally:
        sub.stop()


# -- listeners and configuration ---------------------------------------------------

@with_server()
def listeners_count_connections(srv):
    def mqtt_count():
        answer, _ = expect(srv, 200, "GET", "listeners")
        by_name = {l["name"]: l for l in answer["listeners"]}
        check_eq(sorted(by_name), ["http", "mqtt"], "listener names")
        check_eq((by_name["http"]["transport"], by_name["http"]["port"]),
                 ("http", srv.http_port), "http listener")
        check_eq((by_name["mqtt"]["bind"], by_name["mqtt"]["port"],
                  by_name["mqtt"]["max_connections"]),
                 ("127.0.0.1", srv.port, 100000), "mqtt listener")
        check(by_name["http"]["connections"] >= 1, "the caller's own connection")
        return by_name["mqtt"]["connections"]
    check(wait_until(lambda: mqtt_count() == 0), "no MQTT connections")
    a = connect(srv.port, unique("c45-a"), username="device", password=PASSWORDS["device"])
    b = connect(srv.port, unique("c45-b"), username="device", password=PASSWORDS["device"])
    check_eq(mqtt_count(), 2, "two MQTT connections")
    a.disconnect()
    check(wait_until(lambda: mqtt_count() == 1), "one left")
    b.disconnect()


@with_server(overrides={"max_packet_size": 500000})
def config_in_effect_without_secrets(srv):
    answer, _ = expect(srv, 200, "GET", "config")
    cfg = answer["config"]
    check_eq(cfg["mqtt"]["max_packet_size"], 500000, "a setting")
    check_eq(cfg["mqtt"]["retain_available"], True, "a boolean")
    check_eq([l["name"] for l in cfg["listeners"]], ["http", "mqtt"], "listeners")
    check(cfg["security"]["store_file"].endswith("store.yaml"), "the store's file")
    text = json.dumps(answer)
    check(JWT_SECRET.decode() not in text, "no JWT secret")
    for user in PASSWORDS:
        check(hash_of(user) not in text and PASSWORDS[user] not in text,
              "no password or hash of %s" % user)


if __name__ == "__main__":
    run_cases()
