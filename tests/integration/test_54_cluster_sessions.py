#!/usr/bin/python3
"""Sessions in a node group (docs/cluster.md, "Sessions"): sessions/list
on any node lists the sessions of every member, merged by id and paged
across them, each naming its node; the REST API lists them too; a member
that does not answer in time is named in `unanswered`, and the others'
sessions still come. Every node's /metrics shows every member's
connections, sessions, subscriptions and messages with a `node` label.
sessions/close on any node closes the sessions it names or selects on
every member."""

import json
import re
import time
import urllib.parse

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import error_code, ok, request


def with_props(node, cid, props):
    return connect(node.port, cid,
                   properties={"user_property": list(props)})


def by_client(answer):
    """{client id: node} of the sessions listed; fails on a client listed
    twice."""
    out = {}
    for s in answer["sessions"]:
        cid = s["properties"]["$ClientId"]
        check(cid not in out, "%s listed once: %r" % (cid, answer))
        out[cid] = s["node"]
    return out


@case(server=False, castor_only=True, timeout=120)
def every_node_lists_the_whole_group():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        held = [with_props(n1, "g54-a", [("line", "L1")]),
                with_props(n2, "g54-b", [("line", "L1")]),
                with_props(n2, "g54-c", [("line", "L2")]),
                with_props(n3, "g54-d", [("line", "L1")])]
        want = {"g54-a": "n1", "g54-b": "n2", "g54-c": "n2", "g54-d": "n3"}
        mine = "$ClientId matches 'g54-.*'"
        for node in (n1, n2, n3):
            admin = connect(node.port, unique("adm54"))
            got = ok(request(admin, "sessions/list", {"filter": mine}))
            check_eq(by_client(got), want, "sessions/list on " + node.name)
            check_eq(got["more"], False, "one page on " + node.name)
            check("unanswered" not in got, "everyone answered: %r" % got)
            ids = [s["id"] for s in got["sessions"]]
            check_eq(ids, sorted(ids), "ordered by id")
            # A filter on a property, across the nodes.
            l1 = ok(request(admin, "sessions/list",
                            {"filter": mine + " and line is 'L1'"}))
            check_eq(by_client(l1), {"g54-a": "n1", "g54-b": "n2",
                                     "g54-d": "n3"}, "line L1 on " + node.name)
            admin.disconnect()
        # Pages of 1 and 3 walk the whole group by id, once each.
        admin = connect(n3.port, unique("adm54"))
        for limit in (1, 3):
            seen, after, pages = {}, "", 0
            while True:
                page = ok(request(admin, "sessions/list",
                                  {"filter": mine, "after": after,
                                   "limit": limit}))
                check(len(page["sessions"]) <= limit, "a page of %d: %r"
                      % (limit, page))
                pages += 1
                for s in page["sessions"]:
                    check(s["id"] > after, "after the cursor")
                    cid = s["properties"]["$ClientId"]
                    check(cid not in seen, "%s once in the pages" % cid)
                    seen[cid] = s["node"]
                if not page["more"]:
                    break
                after = page["sessions"][-1]["id"]
                check(pages < 10, "the pages end")
            check_eq(seen, want, "pages of %d" % limit)
        # The REST API lists the group too.
        q = urllib.parse.urlencode({"filter": mine})
        doc = json.loads(n2.get("/api/v1/sessions?" + q))
        check_eq(by_client(doc), want, "GET /api/v1/sessions on n2")
        # A session that ends leaves the lists of every node.
        held[2].disconnect()
        del want["g54-c"]
        check(wait_until(lambda: by_client(ok(request(
            admin, "sessions/list", {"filter": mine}))) == want, 5),
            "g54-c gone from the list on n3")
        admin.disconnect()
        for c in held:
            c.close()


@case(server=False, castor_only=True, timeout=120)
def a_member_that_does_not_answer_is_named():
    with group(failure_timeout_ms=30000) as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        held = [connect(n1.port, "g54-x1"), connect(n2.port, "g54-x2"),
                connect(n3.port, "g54-x3")]
        admin = connect(n1.port, unique("adm54"))
        mine = "$ClientId matches 'g54-x.*'"
        stop_node(n3)
        try:
            t0 = time.time()
            got = ok(request(admin, "sessions/list", {"filter": mine}))
            took = time.time() - t0
        finally:
            resume_node(n3)
        check_eq(by_client(got), {"g54-x1": "n1", "g54-x2": "n2"},
                 "the sessions of the nodes that answered")
        check_eq(got.get("unanswered"), ["n3"], "n3 named")
        check(1.5 < took < 5, "waited for n3 about 2 s (%.2f s)" % took)
        # Once it runs again, it answers again.
        got = ok(request(admin, "sessions/list", {"filter": mine}))
        check_eq(by_client(got), {"g54-x1": "n1", "g54-x2": "n2",
                                  "g54-x3": "n3"}, "all three again")
        check("unanswered" not in got, "everyone answered: %r" % got)
        admin.disconnect()
        for c in held:
            c.close()


@case(server=False, castor_only=True, timeout=120)
def sessions_close_reaches_every_member():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        a = with_props(n1, "g54c-a", [("line", "L1")])
        b = with_props(n2, "g54c-b", [("line", "L1")])
        c = with_props(n3, "g54c-c", [("line", "L2")])
        # An offline session with L1 on n3.
        off = connect(n3.port, "g54c-off", clean_start=False,
                      properties={"session_expiry_interval": 300,
                                  "user_property": [("line", "L1")]})
        off.disconnect()
        mine = "$ClientId matches 'g54c-.*'"
        admin = connect(n1.port, unique("adm54"))
        settle(lambda: len(ok(request(admin, "sessions/list",
                                      {"filter": mine}))["sessions"]) == 4,
               "every session listed on n1")
        got = ok(request(admin, "sessions/close",
                         {"filter": mine + " and line is 'L1'"}))
        check_eq(got, {"ok": True, "closed": 2, "offline": 1},
                 "closed on n1 and n2, one offline on n3")
        # From the answer on, the group lists them offline (or ended).
        listed = ok(request(admin, "sessions/list", {"filter": mine}))
        connected = sorted(s["properties"]["$ClientId"]
                           for s in listed["sessions"]
                           if s["properties"]["$Connected"] == "true")
        check_eq(connected, ["g54c-c"], "connected right after the close")
        a.expect_disconnect(reason_code=0x98)
        b.expect_disconnect(reason_code=0x98)
        # By id, from another node than the session's.
        cid = [s["id"] for s in listed["sessions"]
               if s["properties"]["$ClientId"] == "g54c-c"][0]
        other = connect(n2.port, unique("adm54"))
        check_eq(ok(request(other, "sessions/close", {"session": cid})),
                 {"ok": True, "closed": 1, "offline": 0}, "closed by id")
        c.expect_disconnect(reason_code=0x98)
        check_eq(error_code(request(other, "sessions/close",
                                    {"session": "nobody"})),
                 "NO_SUCH_SESSION", "an id no member has")
        admin.disconnect()
        other.disconnect()


def route_to(pub, sub, topic):
    """Whether a QoS 1 publish of `pub` to `topic` reaches `sub` (within
    a second; routes take a moment to reach every member)."""
    payload = unique("v").encode()
    pub.publish(topic, payload, qos=1)
    try:
        while True:
            p = sub.expect_publish(timeout=1.0, ack=True)
            if p.payload == payload:
                return True
    except TestError:
        return False


@case(server=False, castor_only=True, timeout=120)
def one_session_from_any_node():
    """sessions/get, set-properties and change-roles of a session that
    another member has, as on the session's own node."""
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        s = with_props(n2, "g54g-s", [("line", "L1")])
        s.subscribe("g54g/#", qos=1)
        off = connect(n3.port, "g54g-off", clean_start=False,
                      properties={"session_expiry_interval": 300})
        off.disconnect()
        admin = connect(n1.port, unique("adm54"))
        mine = "$ClientId matches 'g54g-.*'"
        settle(lambda: len(ok(request(admin, "sessions/list",
                                      {"filter": mine}))["sessions"]) == 2,
               "both sessions listed on n1")
        ids = {x["properties"]["$ClientId"]: x for x in ok(request(
            admin, "sessions/list", {"filter": mine}))["sessions"]}
        sid, offid = ids["g54g-s"]["id"], ids["g54g-off"]["id"]
        got = ok(request(admin, "sessions/get", {"session": sid}))["session"]
        subs = got.pop("subscriptions", None)
        check_eq([x.get("filter") for x in subs or []], ["g54g/#"],
                 "the subscriptions of the session on n2: %r" % subs)
        check_eq(got, ids["g54g-s"], "sessions/get on n1 as listed")
        check_eq(got["node"], "n2", "the session's node")
        check_eq(ok(request(admin, "sessions/get", {"session": offid}))
                 ["session"]["node"], "n3", "the offline session's node")
        # Properties set on n1 are the session's on n2.
        ok(request(admin, "sessions/set-properties",
                   {"session": sid, "properties": {"line": "L7"}}))
        mine2 = connect(n2.port, unique("adm54"))
        check_eq(ok(request(mine2, "sessions/get", {"session": sid}))
                 ["session"]["properties"]["line"], "L7",
                 "the property on the session's node")
        # Roles changed on n3 through the connection on n2.
        other = connect(n3.port, unique("adm54"))
        check_eq(ok(request(other, "sessions/change-roles",
                            {"session": sid, "add": ["READER"]}))["roles"],
                 ["READER"], "the roles of the session on n2")
        check_eq(ok(request(mine2, "sessions/get", {"session": sid}))
                 ["session"]["properties"]["$Roles"], "READER",
                 "the roles on the session's node")
        check_eq(error_code(request(other, "sessions/change-roles",
                                    {"session": offid, "add": ["READER"]})),
                 "NOT_CONNECTED", "roles of an offline session")
        # Subscribed from n1 through its connection on n2; a publish on
        # n3 reaches it.
        check_eq(ok(request(admin, "sessions/subscribe",
                            {"session": sid, "selector": "t54g/#", "qos": 1})),
                 {"ok": True, "qos": 1}, "subscribed from n1")
        pub = connect(n3.port, unique("pub54"))
        settle(lambda: route_to(pub, s, "t54g/x"), "t54g/x from n3 to n2")
        check_eq(ok(request(admin, "sessions/unsubscribe",
                            {"session": sid, "selector": "t54g/#"})),
                 {"ok": True, "existed": True}, "unsubscribed from n1")
        check_eq(error_code(request(admin, "sessions/subscribe",
                                    {"session": offid, "selector": "x"})),
                 "NOT_CONNECTED", "subscribing an offline session")
        pub.disconnect()
        for op, body in (("sessions/get", {}),
                         ("sessions/subscribe", {"selector": "x"}),
                         ("sessions/set-properties",
                          {"properties": {"line": "L2"}}),
                         ("sessions/change-roles", {"add": ["READER"]})):
            body["session"] = "nobody"
            check_eq(error_code(request(admin, op, body)), "NO_SUCH_SESSION",
                     op + " of an id no member has")
        for c in (s, admin, mine2, other):
            c.disconnect()


def group_figures(node):
    """{(name, node, state): value} of the castor_group_* samples that
    `node`'s /metrics shows."""
    out = {}
    for line in node.get("/metrics").splitlines():
        m = re.match(r'castor_group_(\w+)\{node="([^"]+)"(?:,state="(\w+)")?\} '
                     r'(\S+)$', line)
        if m:
            out[(m.group(1), m.group(2), m.group(3))] = float(m.group(4))
    return out


@case(server=False, castor_only=True, timeout=120)
def every_node_shows_every_members_figures():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        m1 = connect(n2.port, "g54-m1")
        m1.subscribe("m/#", qos=0)
        m2 = connect(n2.port, "g54-m2")
        m2.subscribe("m/x", qos=0)
        m2.subscribe("m/y", qos=0)
        wait_metric(n3, "castor_cluster_routes", lambda v: v == 3,
                    "n2's filters at n3")
        pub = connect(n3.port, "g54-m3")
        for i in range(5):
            pub.publish("m/x", b"%d" % i)
        pub.publish("m/x", b"last", qos=1)
        for c in (m1, m2):
            got = [c.expect_publish(ack=True).payload for _ in range(6)]
            check_eq(got[-1], b"last", "the messages on n2")
        want = {("connections", "n1", None): 0,
                ("connections", "n2", None): 2,
                ("connections", "n3", None): 1,
                ("sessions", "n2", "connected"): 2,
                ("sessions", "n2", "offline"): 0,
                ("sessions", "n3", "connected"): 1,
                ("subscriptions", "n2", None): 3,
                ("subscriptions", "n3", None): 0,
                ("messages_received_total", "n3", None): 6,
                ("messages_received_total", "n2", None): 0,
                ("messages_sent_total", "n2", None): 12}

        def shows(node, want):
            got = group_figures(node)
            return all(got.get(k) == v for k, v in want.items())
        for node in (n1, n2, n3):
            check(wait_until(lambda: shows(node, want), 5),
                  "%s shows every member's figures: %r"
                  % (node.name, group_figures(node)))
        # A client that leaves n2 leaves the figures n1 shows for n2.
        m2.disconnect()
        check(wait_until(lambda: shows(n1, {("connections", "n2", None): 1,
                                            ("subscriptions", "n2", None): 1}),
                         5), "n1 after m2 left: %r" % group_figures(n1))
        # A node that leaves the group leaves the figures.
        m1.close()
        pub.close()
        n3.stop()
        check(wait_until(lambda: not any(k[1] == "n3"
                                         for k in group_figures(n1)), 10),
              "n3 gone from n1's figures: %r" % group_figures(n1))


if __name__ == "__main__":
    run_cases()
