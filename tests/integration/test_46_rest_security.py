#!/usr/bin/python3
"""Principals and roles in the admin REST API (docs/operations.md,
"Principals and roles"): GET /api/v1/principals and /api/v1/roles list the
store's names, roles, permissions and includes (never a password hash),
need VIEW_SECURITY; changes need MODIFY_SECURITY, are saved to the store
file (no plaintext) and take effect at once: a new principal logs in with
mosquitto_pub, a connected client's subscriptions follow its new roles, a
removed principal is refused; a connected client loses the subscriptions
its new rights no longer allow (and gets nothing through them, even once
the rights come back). Roles are checked as the store file is
(unknown permission, include cycle, unknown role); a role still used is
not removed. Without a store the lists are empty and changes are refused
with NO_STORE."""

import json
import os
import queue
import subprocess

import paho.mqtt.client as paho
import yaml

import mqtt_test
import test_45_rest as base
from mqtt_test import *  # noqa: F401,F403

# test_45's cases are not run here: only its server and helpers are used.
del mqtt_test._CASES[:]

expect = base.expect
error_code_of = base.error_code_of
with_server = base.with_server


@with_server()
def lists_principals_and_roles_without_hashes(srv):
    answer, _ = expect(srv, 200, "GET", "principals")
    check_eq(answer.get("ok"), True, "ok")
    check_eq(answer["principals"],
             [{"name": "admin", "roles": ["ADMIN"]},
              {"name": "device", "roles": ["DEVICE"]},
              {"name": "viewer", "roles": ["VIEWER"]}], "principals")
    text = json.dumps(answer)
    for user in base.PASSWORDS:
        check(base.hash_of(user) not in text, "no hash of %s" % user)
        check(base.PASSWORDS[user] not in text, "no password of %s" % user)
    answer, _ = expect(srv, 200, "GET", "roles")
    roles = {r["name"]: r for r in answer["roles"]}
    check_eq(sorted(roles), ["ADMIN", "DEVICE", "VIEWER"], "role names")
    check_eq(roles["VIEWER"]["global"], ["VIEW_SESSION"], "VIEWER global")
    check_eq(roles["VIEWER"]["paths"], {"data": ["SELECT_TOPIC", "READ_TOPIC"]},
             "VIEWER paths")
    check_eq(roles["DEVICE"]["global"], [], "DEVICE global")
    check_eq(roles["ADMIN"]["default_path"],
             ["SELECT_TOPIC", "READ_TOPIC", "UPDATE_TOPIC", "MODIFY_TOPIC",
              "SEND_TO_MESSAGE_HANDLER", "SEND_TO_SESSION"], "ADMIN default_path")
    check_eq(roles["ADMIN"]["includes"], [], "ADMIN includes")


@with_server()
def listing_needs_view_security_and_changes_modify_security(srv):
    for path in ("principals", "roles"):
        answer, _ = expect(srv, 403, "GET", path, user="viewer")
        check_eq(error_code_of(answer), "PERMISSION_DENIED", "GET %s code" % path)
    answer, _ = expect(srv, 403, "POST", "principals", user="viewer",
                       body={"name": "x", "password": "x-Pw-123", "roles": []})
    check_eq(error_code_of(answer), "PERMISSION_DENIED", "POST code")
    answer, _ = expect(srv, 403, "DELETE", "principals/device", user="device")
    check_eq(error_code_of(answer), "PERMISSION_DENIED", "DELETE code")
    answer, _ = expect(srv, 403, "PUT", "roles/NEW", user="viewer",
                       body={"global": []})
    check_eq(error_code_of(answer), "PERMISSION_DENIED", "PUT role code")
    answer, _ = expect(srv, 405, "PATCH", "roles/ADMIN", body={})
    check_eq(error_code_of(answer), "METHOD_NOT_ALLOWED", "PATCH code")


@with_server(store=False)
def without_a_store_lists_are_empty_and_changes_refused(srv):
    answer, _ = expect(srv, 200, "GET", "principals", user=None)
    check_eq(answer, {"ok": True, "principals": []}, "principals")
    answer, _ = expect(srv, 200, "GET", "roles", user=None)
    check_eq(answer, {"ok": True, "roles": []}, "roles")
    answer, _ = expect(srv, 409, "POST", "principals", user=None,
                       body={"name": "x", "password": "x-Pw-123", "roles": []})
    check_eq(error_code_of(answer), "NO_STORE", "POST code")
    answer, _ = expect(srv, 409, "DELETE", "roles/ADMIN", user=None)
    check_eq(error_code_of(answer), "NO_STORE", "DELETE code")


NEW_PW = "newbie-Pw-77x1"


def store_text(srv):
    with open(os.path.join(srv.dir, "store.yaml")) as f:
        return f.read()


def mosquitto_pub(srv, user, password):
    """The exit status and stderr of a QoS 1 publish as `user`."""
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.port),
                        "-V", "mqttv5", "-u", user, "-P", password, "-q", "1",
                        "-t", "dev/hello", "-m", "hi"],
                       capture_output=True, timeout=20)
    return r.returncode, r.stderr.decode()


class User:
    """A paho MQTT 5 client logged in as `user`."""

    def __init__(self, srv, user, password):
        self.c = paho.Client(client_id="rest-sec-" + user, protocol=paho.MQTTv5)
        self.c.username_pw_set(user, password)
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.c.on_connect = lambda c, u, f, rc, p=None: self.connacks.put(rc)
        self.c.on_subscribe = lambda c, u, mid, granted, *a: self.subacks.put((mid, granted))
        self.messages = queue.Queue()
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload.decode()))
        self.c.connect("127.0.0.1", srv.port, 30)
        self.c.loop_start()
        rc = self.connacks.get(timeout=20)
        check_eq(getattr(rc, "value", rc), 0, "CONNACK of %s" % user)

    def suback(self, topic):
        _, mid = self.c.subscribe(topic, 1)
        got, granted = self.subacks.get(timeout=20)
        check_eq(got, mid, "SUBACK id")
        g = granted[0]
        return getattr(g, "value", g)

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


@with_server()
def a_principal_added_changed_and_removed_takes_effect_at_once(srv):
    code, err = mosquitto_pub(srv, "newbie", NEW_PW)
    check(code != 0, "an unknown principal is refused (%r)" % err)
    answer, _ = expect(srv, 201, "POST", "principals",
                       body={"name": "newbie", "password": NEW_PW,
                             "roles": ["DEVICE"]})
    check_eq(answer, {"ok": True, "principal": {"name": "newbie",
                                                "roles": ["DEVICE"]}}, "answer")
    text = store_text(srv)
    check("newbie" in text, "the store file holds the new principal")
    check(NEW_PW not in text, "no plaintext password in the store file")
    check(NEW_PW not in json.dumps(answer), "no password in the answer")
    code, err = mosquitto_pub(srv, "newbie", NEW_PW)
    check_eq(code, 0, "the new principal logs in and publishes (%r)" % err)
    code, err = mosquitto_pub(srv, "newbie", "wrong-Pw-0000")
    check(code != 0, "a wrong password is refused")
    answer, _ = expect(srv, 409, "POST", "principals",
                       body={"name": "newbie", "password": "x-Pw-123"})
    check_eq(error_code_of(answer), "PRINCIPAL_EXISTS", "twice")

    u = User(srv, "newbie", NEW_PW)
    try:
        check_eq(u.suback("dev/a"), 1, "DEVICE may subscribe to dev/a")
        check_eq(u.suback("data/a"), 0x87, "DEVICE may not subscribe to data/a")
        expect(srv, 200, "PUT", "principals/newbie", body={"roles": ["VIEWER"]})
        # The connected client's rights follow the store at once.
        check_eq(u.suback("dev/b"), 0x87, "VIEWER may not subscribe to dev/b")
        check_eq(u.suback("data/b"), 1, "VIEWER may subscribe to data/b")
    finally:
        u.stop()
    saved = yaml.safe_load(store_text(srv))
    check_eq(saved["principals"]["newbie"]["roles"], ["VIEWER"],
             "the store file holds the new roles")

    expect(srv, 200, "PUT", "principals/newbie", body={"password": "other-Pw-55"})
    code, _ = mosquitto_pub(srv, "newbie", NEW_PW)
    check(code != 0, "the old password is refused")
    answer, _ = expect(srv, 200, "GET", "principals")
    check({"name": "newbie", "roles": ["VIEWER"]} in answer["principals"], "listed")

    expect(srv, 200, "DELETE", "principals/newbie")
    code, _ = mosquitto_pub(srv, "newbie", "other-Pw-55")
    check(code != 0, "a removed principal is refused")
    check("newbie" not in store_text(srv), "gone from the store file")
    answer, _ = expect(srv, 404, "DELETE", "principals/newbie")
    check_eq(error_code_of(answer), "NO_SUCH_PRINCIPAL", "removed twice")
    answer, _ = expect(srv, 400, "POST", "principals",
                       body={"name": "bad", "password": "x-Pw-123",
                             "roles": ["NO_SUCH"]})
    check_eq(error_code_of(answer), "INVALID_PRINCIPAL", "unknown role")
    check("NO_SUCH" in answer["error"]["message"], "the message names the role")


READER_PW = "reader-Pw-31q9"


def publish(srv, topic, payload):
    expect(srv, 200, "POST", "publish",
           body={"topic": topic, "payload": payload, "qos": 1})


def received_until(u, topic, payload, timeout=10):
    """What `u` received up to and including (topic, payload)."""
    got = []
    while True:
        try:
            m = u.messages.get(timeout=timeout)
        except queue.Empty:
            raise TestError("%s %s never arrived (got %r)" % (topic, payload, got))
        got.append(m)
        if m == (topic, payload):
            return got


def filters_of(srv, client_id):
    answer, _ = expect(srv, 200, "GET", "sessions/" + client_id)
    return sorted(s["filter"] for s in answer["session"]["subscriptions"])


@with_server()
def subscriptions_no_longer_allowed_are_removed_at_once(srv):
    expect(srv, 201, "PUT", "roles/AREAD",
           body={"paths": {"a": ["SELECT_TOPIC", "READ_TOPIC"]}})
    expect(srv, 201, "POST", "principals",
           body={"name": "reader", "password": READER_PW,
                 "roles": ["VIEWER", "AREAD"]})
    u = User(srv, "reader", READER_PW)
    try:
        check_eq(u.suback("a/#"), 1, "AREAD may subscribe to a/#")
        check_eq(u.suback("data/#"), 1, "VIEWER may subscribe to data/#")
        # Delivery works before the change.
        publish(srv, "a/x", "before")
        check_eq(received_until(u, "a/x", "before"), [("a/x", "before")],
                 "a/x before the change")
        check_eq(filters_of(srv, "rest-sec-reader"), ["a/#", "data/#"],
                 "subscriptions before the change")
        expect(srv, 200, "PUT", "principals/reader", body={"roles": ["VIEWER"]})
        # Published after the change: a/x first, then data/x, which the
        # client still may read; once data/x is in, a/x would have been
        # too (one publisher, QoS 1, in order).
        publish(srv, "a/x", "revoked")
        publish(srv, "data/x", "allowed")
        check_eq(received_until(u, "data/x", "allowed"), [("data/x", "allowed")],
                 "only data/x after the change")
        check(wait_until(lambda: filters_of(srv, "rest-sec-reader") == ["data/#"]),
              "a/# is no longer listed: %r" % filters_of(srv, "rest-sec-reader"))
        # The subscription is gone, not just muted: rights given back do
        # not revive it.
        expect(srv, 200, "PUT", "principals/reader",
               body={"roles": ["VIEWER", "AREAD"]})
        publish(srv, "a/x", "again")
        publish(srv, "data/x", "again")
        check_eq(received_until(u, "data/x", "again"), [("data/x", "again")],
                 "nothing through the removed subscription")
        check_eq(u.suback("a/#"), 1, "subscribes again")
        publish(srv, "a/x", "resubscribed")
        check_eq(received_until(u, "a/x", "resubscribed"),
                 [("a/x", "resubscribed")], "a/x once subscribed again")
    finally:
        u.stop()
    check(wait_until(lambda: "rest-sec-reader" in srv.log()
                     and "unsubscribed from a/#" in srv.log()),
          "the log names the session and the filter removed")
    check_eq(revoked_count(srv), 1, "castor_subscriptions_revoked_total")


def revoked_count(srv):
    import urllib.request
    with urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % srv.http_port, timeout=5) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith("castor_subscriptions_revoked_total "):
            return float(line.split()[1])
    raise TestError("no castor_subscriptions_revoked_total in the scrape")


@with_server()
def roles_are_checked_as_the_store_file_is(srv):
    answer, _ = expect(srv, 400, "PUT", "roles/OPS",
                       body={"global": ["VIEW_SERVER", "FLY"]})
    check_eq(error_code_of(answer), "INVALID_ROLE", "unknown permission")
    check("FLY" in answer["error"]["message"], "names it: %r" % answer)
    answer, _ = expect(srv, 400, "PUT", "roles/OPS",
                       body={"global": ["READ_TOPIC"]})
    check_eq(error_code_of(answer), "INVALID_ROLE", "a path permission as global")
    answer, _ = expect(srv, 400, "PUT", "roles/OPS", body={"includes": ["NOPE"]})
    check_eq(error_code_of(answer), "INVALID_ROLE", "unknown include")
    answer, _ = expect(srv, 201, "PUT", "roles/OPS",
                       body={"global": ["VIEW_SERVER"], "includes": ["VIEWER"],
                             "paths": {"ops": ["SELECT_TOPIC", "READ_TOPIC"]}})
    check_eq(answer["role"]["includes"], ["VIEWER"], "answer")
    answer, _ = expect(srv, 400, "PUT", "roles/VIEWER", body={"includes": ["OPS"]})
    check_eq(error_code_of(answer), "INVALID_ROLE", "include cycle")
    check("cycle" in answer["error"]["message"], "says cycle: %r" % answer)
    answer, _ = expect(srv, 409, "DELETE", "roles/VIEWER")
    check_eq(error_code_of(answer), "ROLE_IN_USE", "a role still used")
    check("principals.viewer" in answer["error"]["message"], "names the use")
    expect(srv, 200, "PUT", "roles/OPS", body={"global": ["VIEW_SERVER"]})
    text = store_text(srv)
    check("OPS" in text and "VIEW_SERVER" in text, "saved")
    answer, _ = expect(srv, 200, "GET", "roles")
    ops = [r for r in answer["roles"] if r["name"] == "OPS"]
    check_eq(ops, [{"name": "OPS", "global": ["VIEW_SERVER"], "default_path": [],
                    "paths": {}, "includes": []}], "replaced")
    expect(srv, 200, "DELETE", "roles/OPS")
    answer, _ = expect(srv, 404, "DELETE", "roles/OPS")
    check_eq(error_code_of(answer), "NO_SUCH_ROLE", "removed twice")
    # The admin still logs in: the store file reads back.
    expect(srv, 200, "GET", "roles")


if __name__ == "__main__":
    run_cases()
