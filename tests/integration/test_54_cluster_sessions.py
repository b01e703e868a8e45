#!/usr/bin/python3
"""Sessions in a node group (docs/cluster.md, "Sessions"): sessions/list
on any node lists the sessions of every member, merged by id and paged
across them, each naming its node; the REST API lists them too; a member
that does not answer in time is named in `unanswered`, and the others'
sessions still come."""

import json
import os
import signal
import time
import urllib.parse

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import ok, request


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
        os.killpg(n3.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.time()
            got = ok(request(admin, "sessions/list", {"filter": mine}))
            took = time.time() - t0
        finally:
            os.killpg(n3.proc.pid, signal.SIGCONT)
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


if __name__ == "__main__":
    run_cases()
