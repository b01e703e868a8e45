#!/usr/bin/python3
"""Node group membership (docs/cluster.md): three castor processes on
loopback join over CAF's middleman through a seed that starts last, learn
of each other (full mesh), refuse a node with the wrong secret, see a
member leave (SIGTERM), fail (kill -9 and a stopped process that sends no
heartbeat) and come back, through GET /api/v1/cluster, the
castor_cluster_* metrics and the log. Bad cluster settings stop the server
at startup with the key named."""

import json
import os
import time

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from transport_util import expect_startup_failure


@case(server=False, castor_only=True, timeout=120)
def join_through_a_late_seed_and_refuse_a_wrong_secret():
    d = tempfile.mkdtemp(prefix="castor-cluster-")
    g = Group(d)
    try:
        # n2 and n3 start before their only seed: they keep trying it, and
        # learn of each other only through it.
        n3 = g.start("n3")
        n2 = g.start("n2")
        time.sleep(0.8)
        check_eq(n2.members(), {}, "n2 alone before its seed is up")
        wait_log(n2, "cannot join 127.0.0.1:%d" % g.ports["n1"])
        n1 = g.start("n1")
        g.wait_mesh("the full mesh")
        for n in (n1, n2, n3):
            check_eq(n.metric("castor_cluster_members"), 3, "castor_cluster_members")
        check_eq(n1.metric("castor_cluster_member_changes_total", change="joined"), 2,
                 "n1 saw two joins")
        # A node with another secret names n1 as its seed: both sides
        # refuse, and no member ever lists it.
        bad_secret = secret(d, "wrong", "not-the-group-secret-0123456789")
        bad = Node("bad", free_port(), g.seeds, bad_secret).start()
        g.nodes["bad"] = bad
        wait_log(bad, "did not prove the group's secret")
        time.sleep(0.5)
        check_eq(bad.members(), {}, "the node with the wrong secret joined nobody")
        check(bad.metric("castor_cluster_joins_refused_total") >= 1,
              "the refusal counted on the refused node")
        for n in (n1, n2, n3):
            check("bad" not in n.members(), "%s does not list the refused node" % n.name)
        # The API and the metrics agree, and the endpoint needs no more than
        # an ordinary GET.
        doc = json.loads(n1.get("/api/v1/cluster"))
        check_eq(doc["group"], "castor", "the group's name")
        check_eq(doc["node"]["node"], "n1", "this node's name")
        check_eq(doc["node"]["port"], g.ports["n1"], "this node's cluster port")
        check("secret" not in json.dumps(doc), "no secret in the answer")
    finally:
        g.stop()
        shutil.rmtree(d, ignore_errors=True)


@case(server=False, castor_only=True, timeout=120)
def leave_fail_and_come_back():
    d = tempfile.mkdtemp(prefix="castor-cluster-")
    g = Group(d)
    try:
        n1 = g.start("n1")
        n2 = g.start("n2")
        n3 = g.start("n3")
        g.wait_mesh("the full mesh")
        # SIGTERM: n2 says it leaves; the others count a leave, not a
        # failure, and at once (well within the failure timeout).
        n2.stop()
        check_eq(n2.problems, [], "n2 stopped cleanly")
        wait_members(n1, ["n3"], timeout=FAILURE_TIMEOUT_MS / 2000.0,
                     what="n2 gone at once")
        wait_members(n3, ["n1"], timeout=FAILURE_TIMEOUT_MS / 2000.0,
                     what="n2 gone at once")
        check_eq(n1.metric("castor_cluster_member_changes_total", change="left"), 1,
                 "n1 counted n2's leave")
        check_eq(n1.metric("castor_cluster_member_changes_total", change="failed"), 0,
                 "and no failure")
        wait_log(n1, "member n2 (127.0.0.1:%d) left" % g.ports["n2"])
        # kill -9: the link breaks, and the others remove n3 as failed.
        old = n3.incarnation()
        n3.kill()
        wait_members(n1, [], what="n3 removed after kill -9")
        check_eq(n1.metric("castor_cluster_member_changes_total", change="failed"), 1,
                 "n1 counted n3's failure")
        wait_log(n1, "member n3 (127.0.0.1:%d) failed" % g.ports["n3"])
        # Both come back under their names; n3 with a new incarnation.
        n3 = g.start("n3")
        n2 = g.start("n2")
        g.wait_mesh("the mesh again")
        check(n1.members()["n3"] > old, "n3 is back with a newer incarnation")
    finally:
        g.stop()
        shutil.rmtree(d, ignore_errors=True)


@case(server=False, castor_only=True, timeout=120)
def silent_member_removed_and_rejoined():
    d = tempfile.mkdtemp(prefix="castor-cluster-")
    g = Group(d)
    try:
        n1 = g.start("n1")
        n2 = g.start("n2")
        n3 = g.start("n3")
        g.wait_mesh("the full mesh")
        # A stopped process keeps its connections open but sends no
        # heartbeat: the failure timeout removes it, not the link.
        stop_node(n3)
        try:
            t0 = time.time()
            wait_members(n1, ["n2"], timeout=8, what="n3 removed when silent")
            waited = time.time() - t0
            check(waited >= FAILURE_TIMEOUT_MS / 1000.0 * 0.8,
                  "removed after the failure timeout, not before (%.2f s)" % waited)
            wait_members(n2, ["n1"], timeout=8, what="n3 removed when silent")
            wait_log(n1, "failed: not heard from for %d ms" % FAILURE_TIMEOUT_MS)
        finally:
            resume_node(n3)
        # Awake again, it is joined again: the others keep trying a member
        # they lost, and it tries its seed.
        g.wait_mesh("the mesh after SIGCONT")
    finally:
        g.stop()
        shutil.rmtree(d, ignore_errors=True)


@case(server=False, castor_only=True, timeout=60)
def bad_cluster_settings_stop_the_server():
    d = tempfile.mkdtemp(prefix="castor-cluster-")
    try:
        short = secret(d, "short", "too-short")
        out = expect_startup_failure(
            "cluster: {enabled: true, port: %d, secret_file: %s}\n" % (free_port(), short))
        check("the secret must be at least 16 bytes" in out and short in out,
              "a short secret is named: " + out)
        out = expect_startup_failure(
            "cluster: {enabled: true, port: %d, secret_file: %s}\n"
            % (free_port(), os.path.join(d, "missing")))
        check("cannot be read" in out, "a missing secret file is named: " + out)
        out = expect_startup_failure("cluster: {enabled: true}\n")
        check("cluster.secret_file" in out, "secret_file required: " + out)
        # The cluster port is taken: the server says so and exits.
        good = secret(d, "good", "a-group-secret-of-32-bytes-0123")
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        try:
            out = expect_startup_failure(
                "listeners: [{name: mqtt, transport: tcp, bind: 127.0.0.1, port: %d}]\n"
                "cluster: {enabled: true, port: %d, secret_file: %s}\n"
                % (free_port(), taken.getsockname()[1], good))
        finally:
            taken.close()
        check("cluster: cannot listen on 127.0.0.1:" in out, "a taken port is named: " + out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case(server=False, castor_only=True, timeout=90)
def a_node_whose_port_is_taken_never_joins():
    """A node that cannot listen on its cluster port stops before it
    contacts its seeds (before, it could join for a moment and be counted
    as failed by the group, and its shutdown waited for the join)."""
    d = tempfile.mkdtemp(prefix="castor-cluster-")
    taken = socket.socket()
    seed = socket.socket()
    try:
        good = secret(d, "good", "a-group-secret-of-32-bytes-0123")
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        # The seed: a socket that never accepts; the kernel completes a
        # node's TCP connect to it all the same, so accept() sees it.
        seed.bind(("127.0.0.1", 0))
        seed.listen(16)
        for attempt in range(5):
            node = Node("n2", taken.getsockname()[1],
                        ["127.0.0.1:%d" % seed.getsockname()[1]], good)
            t0 = time.monotonic()
            try:
                node.start()
            except RuntimeError as e:
                check("cluster: cannot listen" in str(e),
                      "the taken port is named: %s" % e)
                check(time.monotonic() - t0 < 4.0,
                      "attempt %d stopped at once (%.1f s)"
                      % (attempt, time.monotonic() - t0))
                continue
            node.cleanup()
            raise TestError("n2 started on a taken cluster port")
        seed.settimeout(0.5)
        try:
            conn, _ = seed.accept()
            conn.close()
            raise TestError("a node that could not listen contacted its seed")
        except socket.timeout:
            pass
    finally:
        taken.close()
        seed.close()
        shutil.rmtree(d, ignore_errors=True)

if __name__ == "__main__":
    run_cases()
