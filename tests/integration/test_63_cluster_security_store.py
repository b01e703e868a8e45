#!/usr/bin/python3
"""The security store of a node group (docs/cluster.md, "The security
store"): the member that has run longest keeps the group's store. An edit
of principals or roles through the REST API on any node is made there and
reaches every member's store and store file; the node where it was made
has the new store before it answers. A node that joins (or comes back
after kill -9) takes the group's store in place of its own file; when the
keeper dies, the next oldest member keeps the store; a store file
reloaded (SIGHUP) on any member becomes the group's. Logins are checked
with mosquitto_pub."""

import base64
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request

import yaml

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403

NODES = ["n1", "n2", "n3"]
PASSWORDS = {"admin": "admin-Pw-63aa", "device": "device-Pw-63bb",
             "stray": "stray-Pw-63cc", "carol": "carol-Pw-63dd"}
STORE = """principals:
  admin: {password: "%(admin)s", roles: [ADMIN]}
  device: {password: "%(device)s", roles: [DEVICE]}
%(more)sroles:
  ADMIN:
    global: [VIEW_SESSION, MODIFY_SESSION, VIEW_SERVER, CONTROL_SERVER,
             VIEW_SECURITY, MODIFY_SECURITY]
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
  DEVICE:
    paths:
      dev: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
anonymous:
  allow: false
"""
def hash_of(user):
    return password_hash(PASSWORDS[user])


def store_file(g, name, more=()):
    """Writes node `name`'s store file (the base store and the principals
    `more`); returns the security section for its configuration."""
    path = os.path.join(os.path.dirname(g.secret), "store-%s.yaml" % name)
    extra = "".join('  %s: {password: "%s", roles: [DEVICE]}\n'
                    % (u, hash_of(u)) for u in more)
    with open(path, "w") as f:
        f.write(STORE % {"admin": hash_of("admin"), "device": hash_of("device"),
                         "more": extra})
    return ("security:\n  store_file: %s\n  anonymous: store\n"
            "  hash_threads_priority: normal\n" % path), path


def rest(node, method, path, body=None):
    """(status, JSON answer) of /api/v1/<path> on `node`, as admin."""
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/v1/%s" % (node.ports["http"], path),
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode(
                     ("admin:" + PASSWORDS["admin"]).encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def login(node, user, password):
    """Whether `user` may publish to dev/<user> on `node` (mosquitto_pub,
    MQTT 5, QoS 1); a refusal must say so."""
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(node.port),
                        "-V", "mqttv5", "-u", user, "-P", password, "-q", "1",
                        "-t", "dev/" + user, "-m", "hi"],
                       capture_output=True, timeout=20)
    if r.returncode == 0:
        return True
    err = r.stderr.decode()
    check("not authori" in err.lower() or "bad user name or password" in err.lower(),
          "%s on %s: a refusal, not another failure: %r" % (user, node.name, err))
    return False


def principals(node):
    status, answer = rest(node, "GET", "principals")
    check_eq(status, 200, "GET principals on %s: %r" % (node.name, answer))
    return sorted(p["name"] for p in answer["principals"])


def start_group(g, more=None):
    """Starts n1..n3 (n1 first: it keeps the store) with their own store
    files; `more`: {node: principals its file has besides the base}."""
    files = {}
    for n in NODES:
        extra, files[n] = store_file(g, n, (more or {}).get(n, ()))
        g.start(n, extra=extra).auth = ("admin", PASSWORDS["admin"])
    g.wait_mesh("the full mesh")
    return files


def file_has(path, text):
    with open(path) as f:
        return text in f.read()


def in_file(path, principal):
    """Whether the store file at `path` names `principal`."""
    with open(path) as f:
        return principal in (yaml.safe_load(f).get("principals") or {})


@case(server=False, castor_only=True, timeout=180)
def an_edit_on_any_node_reaches_every_member():
    with group(mesh=False) as g:
        # n3's file has a principal the group's store (n1's) does not.
        files = start_group(g, {"n3": ["stray"]})
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        settle(lambda: principals(n3) == ["admin", "device"],
               "n3 takes the group's store in place of its file")
        check(not in_file(files["n3"], "stray"), "n3's file has the group's store")
        check(not login(n3, "stray", PASSWORDS["stray"]), "stray is refused on n3")
        # An edit on n2, which does not keep the store: in effect on n2
        # when it is answered, and on the others soon after.
        status, answer = rest(n2, "POST", "principals",
                              {"name": "alice", "password": "alice-Pw-63ee",
                               "roles": ["DEVICE"]})
        check_eq(status, 201, "POST principals on n2: %r" % answer)
        check(login(n2, "alice", "alice-Pw-63ee"), "alice logs in on n2 at once")
        for n in (n1, n3):
            settle(lambda: login(n, "alice", "alice-Pw-63ee"),
                   "alice logs in on " + n.name)
        for n in NODES:
            check(in_file(files[n], "alice"), "alice in %s's store file" % n)
            check(not file_has(files[n], "alice-Pw-63ee"),
                  "no plaintext password in %s's file" % n)
        # An error is the keeper's, and changes nothing anywhere.
        status, answer = rest(n3, "POST", "principals",
                              {"name": "alice", "password": "x-Pw-63", "roles": []})
        check_eq((status, answer["error"]["code"]), (409, "PRINCIPAL_EXISTS"),
                 "a second alice from n3")
        status, answer = rest(n3, "PUT", "roles/BROKEN", {"includes": ["NOPE"]})
        check_eq((status, answer["error"]["code"]), (400, "INVALID_ROLE"),
                 "a role including an unknown one, from n3")
        # A role changed and a principal removed on n3.
        status, answer = rest(n3, "PUT", "roles/READER",
                              {"paths": {"dev": ["SELECT_TOPIC", "READ_TOPIC"]}})
        check_eq(status, 201, "PUT roles/READER on n3: %r" % answer)
        status, answer = rest(n3, "DELETE", "principals/alice")
        check_eq(status, 200, "DELETE principals/alice on n3: %r" % answer)
        check(not login(n3, "alice", "alice-Pw-63ee"), "alice refused on n3 at once")
        for n in (n1, n2):
            settle(lambda: not login(n, "alice", "alice-Pw-63ee"),
                   "alice refused on " + n.name)
            settle(lambda: "READER" in [r["name"] for r in
                                        rest(n, "GET", "roles")[1]["roles"]],
                   "the READER role on " + n.name)


@case(server=False, castor_only=True, timeout=180)
def the_next_oldest_keeps_the_store_and_a_node_back_takes_it():
    with group(mesh=False) as g:
        files = start_group(g)
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        # kill -9 of the keeper (n1): n2, the oldest left, keeps the store.
        n1.kill()
        wait_members(n2, ["n3"], what="n1 gone")
        wait_members(n3, ["n2"], what="n1 gone")
        status, answer = rest(n3, "POST", "principals",
                              {"name": "bob", "password": "bob-Pw-63ff",
                               "roles": ["DEVICE"]})
        check_eq(status, 201, "POST principals on n3: %r" % answer)
        check(login(n3, "bob", "bob-Pw-63ff"), "bob logs in on n3")
        settle(lambda: login(n2, "bob", "bob-Pw-63ff"), "bob logs in on n2")
        check(not in_file(files["n1"], "bob"), "n1's file is as it was")
        # n1 comes back with its old file: it takes the group's store.
        n1 = g.start("n1", extra="security:\n  store_file: %s\n  anonymous: store\n"
                     "  hash_threads_priority: normal\n" % files["n1"])
        n1.auth = ("admin", PASSWORDS["admin"])
        g.wait_mesh("n1 back")
        settle(lambda: login(n1, "bob", "bob-Pw-63ff"), "bob logs in on n1")
        check(in_file(files["n1"], "bob"), "bob in n1's store file")
        check_eq(principals(n2), ["admin", "bob", "device"],
                 "n1's old file did not replace the group's store")


@case(server=False, castor_only=True, timeout=180)
def a_store_file_reloaded_on_a_member_is_the_groups():
    with group(mesh=False) as g:
        files = start_group(g)
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        check(not login(n1, "carol", PASSWORDS["carol"]), "no carol at first")
        store_file(g, "n3", ["carol"])
        n3.proc.send_signal(signal.SIGHUP)
        settle(lambda: login(n3, "carol", PASSWORDS["carol"]), "carol on n3")
        for n in (n1, n2):
            settle(lambda: login(n, "carol", PASSWORDS["carol"]),
                   "carol logs in on " + n.name)
            check(in_file(files[n.name], "carol"), "carol in %s's file" % n.name)
        # And a reload that changes nothing leaves the group's store as it is.
        n2.proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        check_eq(principals(n1), ["admin", "carol", "device"], "n1's principals")


if __name__ == "__main__":
    run_cases()
