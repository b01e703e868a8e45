#!/usr/bin/python3
"""Sessions as the platform API sees them (docs/platform.md, "Sessions"):
their properties, sessions/list by session filter (paged), sessions/get,
sessions/set-properties, sessions/close (DISCONNECT 0x98, also to
mosquitto_sub), and the rights they need."""

import json
import os
import subprocess
import time

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok, request


def connect_with(srv, cid, props=(), **kw):
    properties = dict(kw.pop("properties", {}))
    if props:
        properties["user_property"] = list(props)
    return connect(srv.port, cid, properties=properties, **kw)


def listed(admin, flt, **more):
    body = {"filter": flt}
    body.update(more)
    return ok(request(admin, "sessions/list", body))


def client_ids(answer):
    return sorted(s["properties"]["$ClientId"] for s in answer["sessions"])


@case(castor_only=True)
def list_get_and_set_properties(srv):
    eu = connect_with(srv, "c34-eu", [("region", "eu"), ("kind", "pump")])
    us = connect_with(srv, "c34-us", [("region", "us")])
    v3 = connect(srv.port, "c34-v3", version=4)
    admin = connect(srv.port, "c34-admin")
    check_eq(client_ids(listed(admin, "region is 'eu'")), ["c34-eu"], "region is eu")
    check_eq(client_ids(listed(admin, "region in ['eu', 'us'] and not kind eq 'pump'")),
             ["c34-us"], "in, not")
    check_eq(client_ids(listed(admin, "$ClientId matches 'c34-.*'")),
             ["c34-admin", "c34-eu", "c34-us", "c34-v3"], "matches")
    check_eq(client_ids(listed(admin, "not has region and $ClientId ne 'c34-admin'")),
             ["c34-v3"], "has, ne")
    s = listed(admin, "$ClientId is 'c34-eu'")["sessions"][0]
    p = s["properties"]
    check_eq((p["$SessionId"], p["$Principal"], p["$ClientIP"], p["$Transport"],
              p["$Listener"], p["$Connected"], p["region"], p["kind"]),
             (s["id"], "", "127.0.0.1", "tcp", "mqtt", "true", "eu", "pump"),
             "properties")
    check(abs(int(p["$StartTime"]) / 1000 - time.time()) < 60, "start time %r" % p)
    # Paged in the order of their ids.
    everyone = listed(admin, "all")
    first = listed(admin, "all", limit=2)
    check(first["more"] and len(first["sessions"]) == 2, "a first page of 2")
    rest = listed(admin, "all", after=first["sessions"][-1]["id"], limit=1000)
    check_eq([x["id"] for x in first["sessions"] + rest["sessions"]],
             [x["id"] for x in everyone["sessions"]], "pages")
    check_eq(rest["more"], False, "no more")
    # get, set-properties, then select by them.
    got = ok(request(admin, "sessions/get", {"session": s["id"]}))["session"]
    check(isinstance(got.pop("subscriptions", None), list), "get lists subscriptions")
    check_eq(got, s, "get")
    ok(request(admin, "sessions/set-properties",
               {"session": s["id"], "properties": {"tier": "gold"}}))
    check_eq(client_ids(listed(admin, "tier is 'gold'")), ["c34-eu"], "set property")
    check_eq(error_code(request(admin, "sessions/set-properties",
                                {"session": s["id"], "properties": {"$Principal": "x"}})),
             "INVALID_REQUEST", "the server's property")
    check_eq(error_code(request(admin, "sessions/get", {"session": "nope"})),
             "NO_SUCH_SESSION", "unknown session")
    a = request(admin, "sessions/list", {"filter": "region is eu"})
    check_eq(error_code(a), "INVALID_FILTER", "bad filter")
    check("at offset 10" in a["error"]["message"], a["error"]["message"])
    for c in (eu, us, v3):
        c.disconnect()


@case(castor_only=True)
def offline_sessions_and_ended_ones(srv):
    admin = connect(srv.port, "c34-admin2")
    keep = connect(srv.port, "c34-keep", clean_start=False,
                   properties={"session_expiry_interval": 60})
    gone = connect(srv.port, "c34-gone")
    keep.disconnect()
    gone.disconnect()
    # The persistent session stays, offline; the other one has ended.
    deadline = time.monotonic() + 5
    while True:
        a = listed(admin, "$ClientId matches 'c34-(keep|gone)'")
        states = {s["properties"]["$ClientId"]: s["properties"]["$Connected"]
                  for s in a["sessions"]}
        if states == {"c34-keep": "false"} or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check_eq(states, {"c34-keep": "false"}, "after the disconnects")
    # Back: the same session, connected again.
    before = a["sessions"][0]["id"]
    keep = connect(srv.port, "c34-keep", clean_start=False, session_present=True,
                   properties={"session_expiry_interval": 60})
    a = listed(admin, "$ClientId is 'c34-keep'")
    check_eq((a["sessions"][0]["id"], a["sessions"][0]["properties"]["$Connected"]),
             (before, "true"), "resumed")
    keep.disconnect()


@case(castor_only=True)
def close_one_and_by_filter(srv):
    admin = connect(srv.port, "c34-admin3")
    victim = connect_with(srv, "c34-victim", [("group", "x")], clean_start=False,
                          properties={"session_expiry_interval": 300})
    sid = listed(admin, "$ClientId is 'c34-victim'")["sessions"][0]["id"]
    check_eq(ok(request(admin, "sessions/close", {"session": sid})),
             {"ok": True, "closed": 1, "offline": 0}, "closed")
    victim.expect_disconnect(reason_code=0x98)
    # The session has ended with its connection, expiry or not.
    check(wait_until(lambda: listed(admin, "$ClientId is 'c34-victim'")["sessions"] == []),
          "the session ended")
    # By filter, a mosquitto_sub among them: it is told and ends.
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(srv.port), "-V", "mqttv5",
         "-i", "c34-mosq", "-t", "c34/t", "-D", "connect", "user-property", "group", "y"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        other = connect_with(srv, "c34-other", [("group", "y")])
        check(wait_until(lambda: len(listed(admin, "group is 'y'")["sessions"]) == 2),
              "both connected")
        check_eq(ok(request(admin, "sessions/close", {"filter": "group is 'y'"}))["closed"],
                 2, "closed by filter")
        other.expect_disconnect(reason_code=0x98)
        try:
            _, err = sub.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            raise TestError("mosquitto_sub still running after sessions/close")
        # It ends by itself (it does not reconnect after a DISCONNECT).
        check(sub.returncode is not None, "mosquitto_sub ended")
    finally:
        if sub.poll() is None:
            sub.kill()
    check_eq(error_code(request(admin, "sessions/close", {})), "INVALID_REQUEST",
             "neither session nor filter")


@case(castor_only=True)
def subscribe_and_unsubscribe_on_behalf_of_a_session(srv):
    admin = connect(srv.port, "c34-subadmin")
    pub = connect(srv.port, "c34-subpub")
    target = connect(srv.port, "c34-target")
    sid = listed(admin, "$ClientId is 'c34-target'")["sessions"][0]["id"]
    check_eq(ok(request(admin, "sessions/subscribe",
                        {"session": sid, "selector": ">t34/a//", "qos": 1})),
             {"ok": True, "qos": 1}, "subscribed")
    for t in ("t34/a", "t34/a/x", "t34/b"):
        pub.publish(t, b"v", qos=1)
    check_eq(sorted(receive_topics(target, ["t34/a", "t34/a/x"], via=pub)),
             ["t34/a", "t34/a/x"], "delivered to the target")
    check_eq(ok(request(admin, "sessions/unsubscribe",
                        {"session": sid, "selector": ">t34/a//"})),
             {"ok": True, "existed": True}, "unsubscribed")
    pub.publish("t34/a/x", b"after", qos=1)
    target.expect_nothing("a message after sessions/unsubscribe", via=pub)
    keep = connect(srv.port, "c34-off", clean_start=False,
                   properties={"session_expiry_interval": 60})
    keep.disconnect()
    off = listed(admin, "$ClientId is 'c34-off'")["sessions"][0]["id"]
    check(wait_until(lambda: error_code(request(admin, "sessions/subscribe",
                                                {"session": off, "selector": "x"}))
                     == "NOT_CONNECTED"), "an offline session")
    check_eq(error_code(request(admin, "sessions/subscribe",
                                {"session": "nope", "selector": "x"})),
             "NO_SUCH_SESSION", "unknown session")


def castor_cli(port, *args):
    cli = os.path.join(os.path.dirname(castor_bin()), "castor-cli")
    r = subprocess.run([cli, "-h", "127.0.0.1", "-p", str(port)] + list(args),
                       capture_output=True, timeout=20, env=client_env())
    return r.returncode, r.stdout.decode(), r.stderr.decode()


@case(castor_only=True)
def castor_cli_lists_and_closes_sessions(srv):
    a = connect_with(srv, "c34-cli-a", [("site", "north")])
    b = connect_with(srv, "c34-cli-b", [("site", "south")])
    code, out, err = castor_cli(srv.port, "sessions", "site in ['north', 'south']")
    check_eq(code, 0, "exit code (%r)" % err)
    rows = sorted(line.split()[1:3] for line in out.strip().split("\n"))
    check_eq(rows, [["c34-cli-a", "true"], ["c34-cli-b", "true"]], "rows")
    code, out, err = castor_cli(srv.port, "--json", "sessions", "site is 'north'")
    check_eq([x["properties"]["site"] for x in json.loads(out)["sessions"]], ["north"],
             "--json")
    code, out, err = castor_cli(srv.port, "close-session", "--filter", "site is 'south'")
    check_eq((code, out.strip()), (0, "1"), "close-session (%r)" % err)
    b.expect_disconnect(reason_code=0x98)
    code, out, err = castor_cli(srv.port, "sessions", "site is")
    check_eq(code, 1, "an error answer")
    check("INVALID_FILTER" in err, err)
    code, out, err = castor_cli(srv.port, "close-session")
    check_eq(code, 2, "usage")
    a.disconnect()


PASSWORDS = {"viewer": "viewer-Pw-31a9c", "nobody": "nobody-Pw-8e2f0"}


@case(castor_only=True, server=False)
def rights_to_view_and_modify(srv=None):
    srv = Server()
    store = os.path.join(srv.dir, "store.yaml")
    hashes = {}
    for u, pw in PASSWORDS.items():
        r = run_castor(["passwd", "--iterations", "1000"], input=(pw + "\n").encode())
        hashes[u] = r.stdout.decode().strip()
    with open(store, "w") as f:
        f.write("principals:\n"
                "  viewer: {password: \"%(viewer)s\", roles: [VIEWER]}\n"
                "  nobody: {password: \"%(nobody)s\", roles: []}\n"
                "roles:\n"
                "  VIEWER:\n"
                "    global: [VIEW_SESSION]\n"
                "anonymous:\n"
                "  allow: false\n" % hashes)
    srv.extra_config = "security:\n  store_file: %s\n  anonymous: store\n" % store
    srv.start()
    try:
        viewer = connect(srv.port, "c34-viewer", username="viewer",
                         password=PASSWORDS["viewer"])
        nobody = connect(srv.port, "c34-nobody", username="nobody",
                         password=PASSWORDS["nobody"])
        a = listed(viewer, "$Principal is 'nobody'")
        check_eq(client_ids(a), ["c34-nobody"], "the viewer sees sessions")
        check_eq(a["sessions"][0]["properties"]["$Principal"], "nobody", "principal")
        check_eq(a["sessions"][0]["properties"]["$Roles"], "", "roles")
        check_eq(listed(viewer, "$Principal is 'viewer'")["sessions"][0]["properties"]
                 ["$Roles"], "VIEWER", "the viewer's roles")
        check_eq(error_code(request(viewer, "sessions/close", {"filter": "all"})),
                 "PERMISSION_DENIED", "close without MODIFY_SESSION")
        check_eq(error_code(request(nobody, "sessions/list", {})),
                 "PERMISSION_DENIED", "list without VIEW_SESSION")
        viewer.disconnect()
        nobody.disconnect()
    finally:
        srv.stop()


ROLE_PASSWORDS = {"admin": "admin-Pw-7c1d2", "dev": "dev-Pw-55e0a"}


@case(castor_only=True, server=False)
def change_roles_of_one_session(srv=None):
    srv = Server()
    store = os.path.join(srv.dir, "store.yaml")
    hashes = {}
    for u, pw in ROLE_PASSWORDS.items():
        r = run_castor(["passwd", "--iterations", "1000"], input=(pw + "\n").encode())
        hashes[u] = r.stdout.decode().strip()
    with open(store, "w") as f:
        f.write("principals:\n"
                "  admin: {password: \"%(admin)s\", roles: [ADMIN]}\n"
                "  dev: {password: \"%(dev)s\", roles: []}\n"
                "roles:\n"
                "  ADMIN:\n"
                "    global: [VIEW_SESSION, MODIFY_SESSION]\n"
                "    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]\n"
                "  READER:\n"
                "    paths:\n"
                "      plant: [SELECT_TOPIC, READ_TOPIC]\n"
                "anonymous:\n"
                "  allow: false\n" % hashes)
    srv.extra_config = "security:\n  store_file: %s\n  anonymous: store\n" % store
    srv.start()
    try:
        admin = connect(srv.port, "c34-admin", username="admin",
                        password=ROLE_PASSWORDS["admin"])
        # Two sessions of one principal: a change of roles is one session's.
        dev1 = connect(srv.port, "c34-dev1", username="dev", password=ROLE_PASSWORDS["dev"])
        dev2 = connect(srv.port, "c34-dev2", username="dev", password=ROLE_PASSWORDS["dev"])
        dev1.subscribe("plant/#", 0, codes=[0x87])
        sid = listed(admin, "$ClientId is 'c34-dev1'")["sessions"][0]["id"]
        a = ok(request(admin, "sessions/change-roles", {"session": sid, "add": ["READER"]}))
        check_eq(a["roles"], ["READER"], "the roles in the answer")
        got = ok(request(admin, "sessions/get", {"session": sid}))["session"]
        check_eq(got["properties"]["$Roles"], "READER", "$Roles after the change")
        check_eq(client_ids(listed(admin, "hasRoles ['READER']")), ["c34-dev1"],
                 "a session filter sees the new roles")
        dev1.subscribe("plant/#", 0, packet_id=2)
        dev2.subscribe("plant/#", 0, codes=[0x87], packet_id=2)
        admin.publish("plant/a", b"1", qos=1)
        dev1.expect_publish("plant/a", b"1")
        # Taken away: the subscription made under them delivers nothing
        # more; given back, it does again. "3" must be the next message:
        # "2" was published while the session could not read it.
        ok(request(admin, "sessions/change-roles", {"session": sid, "remove": ["READER"]}))
        admin.publish("plant/a", b"2", qos=1, packet_id=2)
        dev1.subscribe("plant/b", 0, codes=[0x87], packet_id=3)
        time.sleep(0.5)
        # Given back through castor-cli's api command (any API operation).
        code, out, err = castor_cli(srv.port, "-u", "admin", "-P", ROLE_PASSWORDS["admin"],
                                    "api", "sessions/change-roles",
                                    json.dumps({"session": sid, "add": ["READER"]}))
        check_eq(code, 0, "castor-cli api exit code (%r)" % err)
        check_eq(json.loads(out), {"ok": True, "roles": ["READER"]}, "the roles given back")
        code, out, err = castor_cli(srv.port, "-u", "admin", "-P", ROLE_PASSWORDS["admin"],
                                    "api", "sessions/change-roles", "[1]")
        check_eq(code, 2, "castor-cli api with a body that is no object (%r)" % err)
        admin.publish("plant/a", b"3", qos=1, packet_id=3)
        dev1.expect_publish("plant/a", b"3")
        # Errors.
        check_eq(error_code(request(admin, "sessions/change-roles",
                                    {"session": "nope", "add": ["READER"]})),
                 "NO_SUCH_SESSION", "an unknown session")
        dev2_id = listed(admin, "$ClientId is 'c34-dev2'")["sessions"][0]["id"]
        check_eq(error_code(request(dev2, "sessions/change-roles",
                                    {"session": dev2_id, "add": ["ADMIN"]})),
                 "PERMISSION_DENIED", "without MODIFY_SESSION")
        # A new connection authenticates with the store's roles again.
        dev1.disconnect()
        dev1 = connect(srv.port, "c34-dev1", username="dev", password=ROLE_PASSWORDS["dev"])
        dev1.subscribe("plant/#", 0, codes=[0x87])
        for c in (admin, dev1, dev2):
            c.disconnect()
    finally:
        srv.stop()


if __name__ == "__main__":
    run_cases()
