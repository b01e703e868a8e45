#!/usr/bin/python3
"""Authentication and access control: the security store, JWT bearer tokens,
SCRAM-SHA-256 over AUTH, the failed-login slow-down, and every path
permission an MQTT operation needs (docs/security.md, "Enforcement").

The store is written at test time with hashes from `castor passwd`."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok, request

PASSWORDS = {
    "alice": "alice-Pw-7f3a9",    # DEVICE
    "ops": "ops-Pw-c81d2",        # OPERATOR
    "reader": "reader-Pw-05be4",  # READER
    "admin": "admin-Pw-e9a61",    # WRITER: may do everything
}
JWT_SECRET = b"jwt-secret-for-the-castor-auth-test-0123456789"

_HASHES = {}


def hash_of(user):
    if user not in _HASHES:
        r = run_castor(["passwd", "--iterations", "1000"],
                       input=(PASSWORDS[user] + "\n").encode())
        _HASHES[user] = r.stdout.decode().strip()
    return _HASHES[user]


STORE = """
principals:
  alice: {password: "%(alice)s", roles: [DEVICE]}
  ops: {password: "%(ops)s", roles: [OPERATOR]}
  reader: {password: "%(reader)s", roles: [READER]}
  admin: {password: "%(admin)s", roles: [WRITER]}
roles:
  DEVICE:
    paths:
      dev: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
      dev/ro: [SELECT_TOPIC, READ_TOPIC]
  OPERATOR:
    paths:
      ops: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC]
  READER:
    paths:
      data: [SELECT_TOPIC, READ_TOPIC]
  WRITER:
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
    paths:
      data/secret: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
isolated_paths: [data/secret]
anonymous:
  allow: false
"""


class AuthServer(Server):
    """A Castor with the test store, JWT (HS256) and a short slow-down."""

    def __init__(self, log_level="info", threshold=3, delay_ms=500, overrides=None):
        super().__init__(overrides=overrides, log_level=log_level)
        store = os.path.join(self.dir, "store.yaml")
        with open(store, "w") as f:
            f.write(STORE % {u: hash_of(u) for u in PASSWORDS})
        secret = os.path.join(self.dir, "jwt.secret")
        with open(secret, "wb") as f:
            f.write(JWT_SECRET)
        self.extra_config = "\n".join([
            "security:",
            "  store_file: %s" % store,
            "  anonymous: store",
            "  jwt:",
            "    hs256_secret_file: %s" % secret,
            "  failed_login_threshold: %d" % threshold,
            "  failed_login_delay_ms: %d" % delay_ms,
            # Timed cases: hash at the message path's priority, so that
            # other processes on the machine do not decide the timings.
            "  hash_threads_priority: normal",
        ])


def with_server(**kw):
    """Runs the case against its own AuthServer."""
    def deco(fn):
        def run():
            # run_cases() checks the server's exit and prints its log on a
            # failure.
            srv = AuthServer(**kw)
            srv.start()
            fn(srv)
        run.__name__ = fn.__name__
        return case(name=fn.__name__, server=False, castor_only=True)(run)
    return deco


def login(srv, user, version=5, cid=None, **kw):
    return connect(srv.port, cid or unique("c40-" + user), version=version,
                   username=user, password=PASSWORDS[user], **kw)


def connack_of(srv, version=5, **kw):
    """Sends a CONNECT and returns the CONNACK (or raises Closed)."""
    c = Conn(srv.port, version=version)
    c.send(gen_connect(unique("c40"), version=version, **kw))
    p = c.recv()
    check_packet(p, CONNACK)
    return c, p


# -- authentication ------------------------------------------------------------

@with_server()
def anonymous_refused_when_the_store_says_so(srv):
    c, p = connack_of(srv, version=5)
    check_eq(p.reason_code, 0x87, "v5 CONNACK for an anonymous client")
    c.expect_closed()
    c, p = connack_of(srv, version=4)
    check_eq(p.reason_code, 5, "3.1.1 return code (not authorized)")
    c.expect_closed()


@with_server()
def bad_password_and_unknown_user_refused(srv):
    for version, code in ((5, 0x86), (4, 4)):
        c, p = connack_of(srv, version=version, username="alice", password="wrong")
        check_eq(p.reason_code, code, "wrong password, v%d" % version)
        c.expect_closed()
        c, p = connack_of(srv, version=version, username="nobody", password="x")
        check_eq(p.reason_code, code, "unknown user, v%d" % version)
        c.expect_closed()
    for version in (5, 4):
        login(srv, "alice", version=version).disconnect()


def jwt(claims, secret=JWT_SECRET):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, head + b"." + body, hashlib.sha256).digest()
    return (head + b"." + body + b"." + b64(sig)).decode()


@with_server()
def jwt_valid_expired_and_forged(srv):
    now = int(time.time())
    good = jwt({"sub": "device-9", "exp": now + 300, "roles": ["DEVICE"]})
    c = connect(srv.port, unique("c40-jwt"), username="token", password=good)
    # The token's roles apply: DEVICE may publish below dev, not elsewhere.
    c.publish("dev/jwt", b"x", qos=1)
    c.send(gen_publish("other/jwt", 1, b"x", packet_id=2))
    expect_ack(c, PUBACK, 2, 0x87)
    c.disconnect()
    expired = jwt({"sub": "device-9", "exp": now - 60, "roles": ["DEVICE"]})
    for version, code in ((5, 0x87), (4, 5)):
        c, p = connack_of(srv, version=version, username="token", password=expired)
        check_eq(p.reason_code, code, "expired token, v%d" % version)
        c.expect_closed()
    forged = jwt({"sub": "device-9", "exp": now + 300}, secret=b"x" * 40)
    c, p = connack_of(srv, username="token", password=forged)
    check_eq(p.reason_code, 0x87, "token with a wrong signature")


@with_server(threshold=2, delay_ms=700)
def failed_logins_slowed_down(srv):
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        c, p = connack_of(srv, username="alice", password="wrong")
        times.append(time.monotonic() - t0)
        check_eq(p.reason_code, 0x86, "wrong password")
        c.close()
    check(times[0] < 0.4 and times[1] < 0.4, "first two answered at once: %r" % times)
    check(times[2] >= 0.6, "the third is answered after the delay: %r" % times)
    # A success clears the address (after its own delay).
    login(srv, "alice").disconnect()
    t0 = time.monotonic()
    c, p = connack_of(srv, username="alice", password="wrong")
    check(time.monotonic() - t0 < 0.4, "count cleared by the success")


@with_server(log_level="trace")
def passwords_never_logged(srv):
    connack_of(srv, username="alice", password="Hunter2-wrong-pw")[0].close()
    login(srv, "alice", version=4).disconnect()
    login(srv, "admin").disconnect()
    token = jwt({"sub": "s", "exp": int(time.time()) + 300, "roles": []})
    connect(srv.port, unique("c40"), username="t", password=token).disconnect()
    scram_login(srv, "ops", PASSWORDS["ops"]).disconnect()
    time.sleep(0.3)
    log = srv.log()
    check("refused" in log, "the refusal is logged")
    check("DEBUG" in log, "the log is at a level below info")
    for secret in ["Hunter2-wrong-pw", token, token.split(".")[2]] + list(PASSWORDS.values()):
        check(secret not in log, "a secret appears in the log: %s" % secret[:8])


# -- SCRAM-SHA-256 ----------------------------------------------------------------

def gen_auth(data, code=0x18, method="SCRAM-SHA-256"):
    props = pack_properties([("authentication_method", method),
                             ("authentication_data", data)])
    return packet(AUTH, 0, bytes([code]) + props)


def scram_start(srv, user, cid=None):
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, nonce)
    c = Conn(srv.port)
    c.send(gen_connect(cid or unique("c40-scram"), properties=[
        ("authentication_method", "SCRAM-SHA-256"),
        ("authentication_data", "n,," + first_bare)]))
    return c, nonce, first_bare


def scram_login(srv, user, password, expect_rc=0):
    c, nonce, first_bare = scram_start(srv, user)
    p = c.recv()
    check_packet(p, AUTH, reason_code=0x18)
    check_eq(p.props.get("authentication_method"), "SCRAM-SHA-256", "method")
    server_first = p.props.get("authentication_data").decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    check(attrs["r"].startswith(nonce), "server nonce extends ours")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                 base64.b64decode(attrs["s"]), int(attrs["i"]), 32)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_message = ",".join([first_bare, server_first, without_proof]).encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    c.send(gen_auth(without_proof + ",p=" + base64.b64encode(proof).decode()))
    p = c.recv()
    check_packet(p, CONNACK)
    check_eq(p.reason_code, expect_rc, "CONNACK after SCRAM")
    if expect_rc == 0:
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        want = "v=" + base64.b64encode(
            hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
        check_eq(p.props.get("authentication_data"), want.encode(),
                 "server-final proves the server knows the key")
        check_eq(p.props.get("authentication_method"), "SCRAM-SHA-256", "method")
    return c


@with_server()
def scram_success_failure_and_unknown_method(srv):
    c = scram_login(srv, "alice", PASSWORDS["alice"])
    # The store's roles apply to a SCRAM login.
    c.publish("dev/scram", b"x", qos=1)
    c.send(gen_publish("other/scram", 1, b"x", packet_id=3))
    expect_ack(c, PUBACK, 3, 0x87)
    c.disconnect()
    c = scram_login(srv, "alice", "not-her-password", expect_rc=0x87)
    c.expect_closed()
    c = scram_login(srv, "nobody", "whatever", expect_rc=0x87)
    c.expect_closed()
    c = Conn(srv.port)
    c.send(gen_connect(unique("c40"), properties=[("authentication_method", "PLAIN"),
                                                  ("authentication_data", b"x")]))
    c.expect(CONNACK, reason_code=0x8C)
    c.expect_closed()
    # AUTH with another method mid-exchange is a protocol error.
    c, _nonce, _bare = scram_start(srv, "alice")
    c.expect(AUTH, reason_code=0x18)
    c.send(gen_auth("c=biws,r=x,p=AAAA", method="OTHER"))
    c.expect(CONNACK, reason_code=0x82)
    c.expect_closed()


@with_server(threshold=2, delay_ms=700)
def scram_failures_slowed_down_too(srv):
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        scram_login(srv, "alice", "wrong", expect_rc=0x87).close()
        times.append(time.monotonic() - t0)
    check(times[0] < 0.4 and times[1] < 0.4, "first two answered at once: %r" % times)
    check(times[2] >= 0.6, "the third waits for the delay: %r" % times)
    # Password logins from the address share the count.
    t0 = time.monotonic()
    c, p = connack_of(srv, username="alice", password="wrong")
    check(time.monotonic() - t0 >= 0.6, "a password login waits as well")


@with_server(overrides={"connect_timeout_ms": 600})
def scram_client_that_never_answers_is_closed(srv):
    c, _nonce, _bare = scram_start(srv, "alice")
    c.expect(AUTH, reason_code=0x18)
    t0 = time.monotonic()
    c.expect_closed(timeout=3)
    check(time.monotonic() - t0 < 2.0, "closed after the connect timeout")


# -- publish ----------------------------------------------------------------------

@with_server()
def publish_needs_update_topic(srv):
    watch = login(srv, "admin")
    watch.subscribe("#", 0)
    c = login(srv, "alice")
    for qos in (0, 1, 2):
        c.publish("dev/ok", b"q%d" % qos, qos=qos, packet_id=10 + qos if qos else None)
        watch.expect_publish("dev/ok", b"q%d" % qos)
    # Refused: no permission at all, and read-only dev/ro.
    c.publish("other/x", b"dropped0", qos=0)
    c.send(gen_publish("other/x", 1, b"refused1", packet_id=21))
    expect_ack(c, PUBACK, 21, 0x87)
    c.send(gen_publish("dev/ro/x", 2, b"refused2", packet_id=22))
    expect_ack(c, PUBREC, 22, 0x87)
    # The QoS 2 exchange ended with the PUBREC: a PUBREL finds nothing.
    c.send(gen_pubrel(22))
    expect_ack(c, PUBCOMP, 22, 0x92)
    # A marker from alice where she may publish, which `#` matches: her
    # refused publishes were read and dropped before it.
    watch.expect_nothing("refused message", via=c, topic="dev/marker")
    c.disconnect()
    # MQTT 3.1.1 cannot say no: acknowledged and dropped.
    c = login(srv, "alice", version=4)
    c.publish("other/y", b"v311-1", qos=1, packet_id=5)
    c.publish("other/y", b"v311-2", qos=2, packet_id=6)
    c.publish("dev/v311", b"v311-ok", qos=1, packet_id=7)
    watch.expect_publish("dev/v311", b"v311-ok")
    watch.expect_nothing("refused message", via=c, topic="dev/marker")
    c.disconnect()


@with_server()
def creating_a_topic_needs_modify_topic(srv):
    watch = login(srv, "admin")
    watch.subscribe("ops/#", 1)
    # A topic that exists, for the marker of ops (who may not create one).
    admin = login(srv, "admin")
    admin.publish("ops/marker", b"made", qos=1)
    watch.expect_publish("ops/marker", b"made", ack=True)
    c = login(srv, "ops")
    # ops has UPDATE_TOPIC but not MODIFY_TOPIC below ops.
    c.send(gen_publish("ops/new", 1, b"create", packet_id=1))
    expect_ack(c, PUBACK, 1, 0x87)
    c.send(gen_publish("ops/new2", 2, b"create", packet_id=2))
    expect_ack(c, PUBREC, 2, 0x87)
    c.publish("ops/new3", b"create0", qos=0)
    watch.expect_nothing("message that would have created a topic", via=c, topic="ops/marker")
    # Once the topic exists (created by someone who may), updating it works.
    admin.publish("ops/existing", b"made", qos=1)
    watch.expect_publish("ops/existing", b"made", ack=True)
    for qos in (0, 1, 2):
        c.publish("ops/existing", b"upd%d" % qos, qos=qos, packet_id=30 + qos if qos else None)
        watch.expect_publish("ops/existing", b"upd%d" % qos, ack=True)
    c.disconnect()


@with_server()
def publishes_waiting_for_the_topic_keep_their_order(srv):
    admin = login(srv, "admin")
    admin.publish("ops/ordered", b"made", qos=1)
    watch = login(srv, "admin")
    watch.subscribe("ops/ordered", 1)
    c = login(srv, "ops")
    # One burst: the first asks whether the topic exists, the others wait
    # behind it; QoS 0 and 1 mixed.
    burst = b"".join(gen_publish("ops/ordered", i % 2, b"m%02d" % i,
                                 packet_id=(i + 1) if i % 2 else None)
                     for i in range(30))
    c.send(burst)
    for i in range(30):
        watch.expect_publish("ops/ordered", b"m%02d" % i, ack=True)
    acks = [c.recv() for _ in range(15)]
    check_eq(sorted(p.packet_id for p in acks), list(range(2, 31, 2)), "PUBACKs")
    check(all(p.reason_code == 0 for p in acks), "all accepted: %r" % acks)


@with_server()
def will_topic_checked_at_connect(srv):
    c = Conn(srv.port)
    c.send(gen_connect(unique("c40-will"), username="alice", password=PASSWORDS["alice"],
                       will_topic="other/will", will_payload=b"w"))
    c.expect(CONNACK, reason_code=0x87)
    c.expect_closed()
    watch = login(srv, "admin")
    watch.subscribe("dev/will", 0)
    c = login(srv, "alice", will_topic="dev/will", will_payload=b"bye")
    c.abort()
    watch.expect_publish("dev/will", b"bye")


def api(c, operation, body, also=None):
    """A platform API request at QoS 0; its answer. `also`: a (topic,
    payload) PUBLISH that comes too, before or after the answer."""
    reply = unique("reply")
    c.publish("$castor/api/" + operation, json.dumps(body), qos=0,
              properties={"response_topic": reply, "correlation_data": b"c"})
    answer = None
    while answer is None or also is not None:
        p = c.expect_publish(ack=True)
        if p.topic == reply:
            check(answer is None, "a second answer")
            answer = json.loads(p.payload)
        else:
            check_eq((p.topic, p.payload), also, "a PUBLISH besides the answer")
            also = None
    return answer


@with_server()
def owner_of_a_topic_has_its_rights(srv):
    """OWNER (docs/platform.md): the principal named gets SELECT, READ,
    UPDATE and MODIFY_TOPIC on that topic, whatever its roles say; alice's
    roles grant nothing below own/."""
    admin = login(srv, "admin")
    check(api(admin, "topics/add", {"path": "own/mine", "type": "string",
                                    "properties": {"OWNER": "alice"}})["ok"], "added")
    check(api(admin, "topics/add", {"path": "own/theirs", "type": "string",
                                    "properties": {"OWNER": "ops"}})["ok"], "added")
    for t in ("own/mine", "own/theirs"):
        check(api(admin, "topics/update", {"path": t, "value": "v0"})["ok"], "updated")
    c = login(srv, "alice")
    # Another principal's topic: refused as any topic alice has no rights on.
    c.subscribe(["own/theirs", "own/mine", "own/#"], 1, codes=[0x87, 1, 0x87])
    c.send(gen_publish("own/theirs", 1, b"no", packet_id=1))
    expect_ack(c, PUBACK, 1, 0x87)
    check_eq(api(c, "topics/update", {"path": "own/theirs", "value": "no"})["error"]["code"],
             "PERMISSION_DENIED", "update of another's topic")
    check_eq(api(c, "topics/fetch", {"selector": "own/#"})["topics"],
             [{"path": "own/mine", "type": "string", "value": "v0"}], "fetch sees its own only")
    # Its own: publish (delivered to its subscription), update, remove.
    c.send(gen_publish("own/mine", 1, b"v1", packet_id=2))
    expect_ack(c, PUBACK, 2, 0)
    c.expect_publish("own/mine", b"v1", ack=True)
    check(api(c, "topics/update", {"path": "own/mine", "value": "v2"},
              also=("own/mine", b"v2")).get("ok") is True, "update of its own topic")
    check_eq(api(c, "topics/remove", {"selector": "own/#"}), {"ok": True, "removed": 1},
             "removes its own topic, not another's")
    # Removed: no longer its owner.
    c.send(gen_publish("own/mine", 1, b"v3", packet_id=3))
    expect_ack(c, PUBACK, 3, 0x87)
    check_eq(api(admin, "topics/fetch", {"selector": "own/#"})["topics"],
             [{"path": "own/theirs", "type": "string", "value": "v0"}], "what is left")
    c.disconnect()
    admin.disconnect()


# -- subscribe ----------------------------------------------------------------------

@with_server()
def subscribe_needs_select_and_read(srv):
    c = login(srv, "alice")
    c.subscribe(["dev/a", "other/x", "dev/ro/x", "dev/#", "other/#", "+/ro/#"], 1,
                codes=[1, 0x87, 1, 1, 0x87, 1])
    c.disconnect()
    c = login(srv, "alice", version=4)
    c.subscribe(["dev/a", "other/x"], 1, codes=[1, 0x80])
    c.disconnect()
    c = login(srv, "reader")
    # "+" matches "data" itself, which the reader may read; "other/+" and
    # everything below the isolated data/secret match nothing readable.
    c.subscribe(["#", "data/secret/#", "data/+/x", "+", "other/+", "$SYS/#",
                 "+/secret/x"], 0, codes=[0, 0x87, 0, 0, 0x87, 0x87, 0x87])
    c.disconnect()


@with_server()
def wildcard_delivers_only_readable_topics(srv):
    admin = login(srv, "admin")
    for t in ("data/a", "data/secret/b", "other/c"):
        admin.publish(t, b"retained " + t.encode(), qos=1, retain=True)
    r = login(srv, "reader")
    r.subscribe("#", 1, codes=[1])
    p = r.expect_publish("data/a", b"retained data/a", retain=True, ack=True)
    # The reader may subscribe to no marker topic of its own: the marker goes
    # through data/a, which its `#` matches.
    r.expect_nothing("retained message of a topic the reader may not read", via=admin,
                     topic="data/a")
    # Topics that exist, and topics created after the subscription.
    for t in ("data/a", "data/secret/b", "other/c", "data/new", "data/secret/new", "zzz"):
        admin.publish(t, b"live " + t.encode(), qos=1)
    got = receive_topics(r, ["data/a", "data/new"], via=admin, topic="data/a")
    check_eq(sorted(got), ["data/a", "data/new"], "topics delivered to the reader")
    # A shared wildcard subscription obeys it too.
    r2 = login(srv, "reader")
    r2.subscribe("$share/g/data/#", 0, codes=[0])
    admin.publish("data/secret/c", b"s", qos=1)
    admin.publish("data/b", b"ok", qos=1)
    r2.expect_publish("data/b", b"ok")
    r2.expect_nothing("a secret message", via=admin, topic="data/b")


@with_server()
def selector_subscriptions_need_select_and_deliver_only_readable_topics(srv):
    admin = login(srv, "admin")
    for t in ("data/a", "data/secret/b", "other/c"):
        admin.publish(t, b"retained " + t.encode(), qos=1, retain=True)
    r = login(srv, "reader")
    check_eq(api(r, "topics/subscribe", {"selector": "?other/.*"})["error"]["code"],
             "PERMISSION_DENIED", "a selector under other/")
    check_eq(api(r, "topics/subscribe", {"selector": "*data/.*"},
                 also=("data/a", b"retained data/a")),
             {"ok": True, "qos": 1}, "a selector under data/")
    for t in ("data/a", "data/secret/b", "other/c", "data/new", "data/secret/new"):
        admin.publish(t, b"live " + t.encode(), qos=1)
    got = receive_topics(r, ["data/a", "data/new"], via=admin, topic="data/a")
    check_eq(sorted(got), ["data/a", "data/new"], "topics delivered to the reader")


@with_server()
def delta_subscriptions_need_what_their_subject_needs(srv):
    c = login(srv, "alice")
    c.subscribe(["$delta/dev/a", "$delta/other/x", "$delta/dev/#", "$delta/other/#"], 1,
                codes=[1, 0x87, 1, 0x87])
    c.disconnect()
    # A wildcard delta subscription reaches only the topics the reader may
    # read, as a plain one does.
    admin = login(srv, "admin")
    for t in ("data/a", "data/secret/b"):
        admin.publish(t, b"value " + t.encode(), qos=1)
    r = login(srv, "reader")
    r.subscribe("$delta/data/#", 1, codes=[1])
    r.expect_publish("$delta/data/a", b"value data/a", retain=True, ack=True)
    for t in ("data/secret/b", "data/a"):
        admin.publish(t, b"live " + t.encode(), qos=1)
    r.expect_publish("$delta/data/a", ack=True)  # whole or a delta
    r.expect_nothing("a secret value", via=admin, topic="data/a")


@with_server()
def time_series_events_name_their_principal_and_need_rights(srv):
    alice = login(srv, "alice")
    ok(request(alice, "topics/add", {"path": "dev/ts", "type": "time_series", "properties": {
        "TIME_SERIES_EVENT_VALUE_TYPE": "int64"}}))
    # The author is the principal, whatever the publisher claims.
    alice.publish("dev/ts", b"1", qos=1, properties={"user_property": [("author", "mallory")]})
    ok(request(alice, "timeseries/append", {"path": "dev/ts", "value": 2}))
    events = ok(request(alice, "timeseries/range", {"path": "dev/ts"}))["events"]
    check_eq([(e["value"], e["author"]) for e in events], [(1, "alice"), (2, "alice")],
             "authors")
    # Appending needs UPDATE_TOPIC, reading SELECT_TOPIC and READ_TOPIC.
    ops = login(srv, "ops")
    check_eq(error_code(request(ops, "timeseries/append", {"path": "dev/ts", "value": 3})),
             "PERMISSION_DENIED", "append without rights")
    check_eq(error_code(request(ops, "timeseries/edit", {"path": "dev/ts", "original": 0,
                                                         "value": 3})),
             "PERMISSION_DENIED", "edit without rights")
    check_eq(error_code(request(ops, "timeseries/range", {"path": "dev/ts"})),
             "PERMISSION_DENIED", "range without rights")


# -- real clients ---------------------------------------------------------------------

@with_server()
def mosquitto_clients_with_user_and_password(srv):
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(srv.port),
                            "-u", "alice", "-P", PASSWORDS["alice"], "-t", "dev/#",
                            "-C", "1", "-W", "5", "-V", "mqttv5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.port),
                          "-u", "alice", "-P", PASSWORDS["alice"], "-t", "dev/m",
                          "-m", "hello", "-q", "1"], capture_output=True, timeout=10)
    check_eq(pub.returncode, 0, "mosquitto_pub exit status (%r)" % pub.stderr)
    out, err = sub.communicate(timeout=10)
    check_eq(out.strip(), b"hello", "mosquitto_sub received")
    bad = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.port),
                          "-u", "alice", "-P", "wrong", "-t", "dev/m", "-m", "x"],
                         capture_output=True, timeout=10)
    check(bad.returncode != 0, "a wrong password fails mosquitto_pub")


@case(castor_only=True)
def default_config_lets_everyone_in(srv):
    # No security section: user names and passwords are not checked.
    c = connect(srv.port, unique("c40"), username="whoever", password="anything")
    c.subscribe("#", 1)
    c.publish("any/topic", b"x", qos=1)
    c.expect_publish("any/topic", b"x")
    c.disconnect()


if __name__ == "__main__":
    run_cases()
