#!/usr/bin/python3
"""Request-response messaging across a node group (docs/cluster.md,
"Request-response messaging"): a message handler registered on one node
serves requests made on any node (mosquitto_rr over MQTT 5, and the API's
messages/send), the most specific prefix wins and one prefix's handlers
take turns wherever they are connected; a handler's registrations end with
its connection, and with its node when that dies. Requests to sessions
(messages/send-to-session, messages/send-to-filter) reach sessions on
any node."""

import json
import subprocess
import threading

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import error_code, ok, request


class Handler:
    """A raw MQTT 5 connection on `node` registered as the handler of
    `path`; serve() answers requests with "<name>:<payload>" in a thread."""

    def __init__(self, node, path, name):
        self.name = name
        self.conn = connect(node.port, unique("h59" + name))
        check_eq(ok(request(self.conn, "handlers/add", {"path": path}))
                 .get("added"), True, "handlers/add on " + node.name)
        self.served = []
        self.thread = None

    def serve(self, n):
        def run():
            for _ in range(n):
                p = self.conn.expect_publish(timeout=20)
                rt = p.props.get("response_topic")
                self.served.append(p.topic)
                self.conn.publish(rt, ("%s:" % self.name).encode() + p.payload,
                                  qos=0)
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def join(self):
        self.thread.join(30)
        check(not self.thread.is_alive(), "%s served its requests" % self.name)


def rr(node, topic, message):
    """mosquitto_rr: one request, its answer's payload (or None)."""
    r = subprocess.run(
        ["mosquitto_rr", "-V", "5", "-h", "127.0.0.1", "-p", str(node.port),
         "-t", topic, "-e", unique("rr59/replies"), "-m", message, "-W", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check_eq(r.returncode, 0, "mosquitto_rr's status (%r)" % r.stderr)
    return r.stdout.decode().strip()


def send(node, path, value):
    c = connect(node.port, unique("s59"))
    try:
        return request(c, "messages/send", {"path": path, "value": value})
    finally:
        c.disconnect()


@case(server=False, castor_only=True, timeout=120)
def a_handler_on_one_node_serves_requests_from_every_node():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        oven = Handler(n2, "rr59/oven", "n2-oven")
        # The registration reaches the other nodes: each counts it.
        for n in (n1, n3):
            wait_metric(n, "castor_message_handlers", lambda v: v == 1,
                        "n2's handler known on " + n.name)
        oven.serve(3)
        check_eq(rr(n1, "rr59/oven/setpoint", "180"), "n2-oven:180",
                 "mosquitto_rr on n1")
        check_eq(rr(n3, "rr59/oven/setpoint", "181"), "n2-oven:181",
                 "mosquitto_rr on n3")
        a = ok(send(n3, "rr59/oven/door", {"open": False}))
        check_eq(a["answer"], 'n2-oven:{"open":false}', "messages/send on n3")
        oven.join()
        check_eq(oven.served, ["rr59/oven/setpoint", "rr59/oven/setpoint",
                               "rr59/oven/door"], "what n2's handler got")
        # The most specific prefix wins across nodes; one prefix's
        # handlers on two nodes take turns.
        door = [Handler(n3, "rr59/oven/door", "n3-door"),
                Handler(n1, "rr59/oven/door", "n1-door")]
        wait_metric(n2, "castor_message_handlers", lambda v: v == 3,
                    "the door's handlers known on n2")
        for h in door:
            h.serve(2)
        got = [rr(n2, "rr59/oven/door/%d" % i, str(i)) for i in range(4)]
        for h in door:
            h.join()
        check_eq(sorted(x.split(":")[0] for x in got),
                 ["n1-door", "n1-door", "n3-door", "n3-door"],
                 "the door's handlers took turns (%r)" % got)


@case(server=False, castor_only=True, timeout=120)
def a_request_to_a_session_on_another_node():
    """messages/send-to-session on n1 of a session on n3: the request goes
    to its connection there, the answer comes back."""
    with group() as g:
        n1, n3 = g.nodes["n1"], g.nodes["n3"]
        base = unique("svc59")
        cid = unique("t59")
        target = connect(n3.port, cid)
        check_eq(ok(request(target, "streams/add", {"path": base + "/calc"}))
                 ["added"], True, "streams/add on n3")
        requester = connect(n1.port, unique("r59"))
        listed = ok(request(requester, "sessions/list",
                            {"filter": "$ClientId is '%s'" % cid}))
        sid = listed["sessions"][0]["id"]
        answers = []

        def ask():
            answers.append(request(requester, "messages/send-to-session",
                                   {"session": sid, "path": base + "/calc/sum",
                                    "value": {"xs": [1, 2]}}))
        t = threading.Thread(target=ask, daemon=True)
        t.start()
        p = target.expect_publish(timeout=10)
        check_eq(p.topic, base + "/calc/sum", "the request on n3")
        target.publish(p.props.get("response_topic"), b'{"sum": 3}', qos=0)
        t.join(15)
        check(answers, "an answer on n1")
        check_eq(ok(answers[0])["answer"], {"sum": 3}, "the answer on n1")
        check_eq(error_code(request(requester, "messages/send-to-session",
                                    {"session": sid, "path": base + "/other",
                                     "value": 1})),
                 "NO_STREAM", "a path the session has no stream for")
        check_eq(error_code(request(requester, "messages/send-to-session",
                                    {"session": "nobody", "path": base,
                                     "value": 1})),
                 "NO_SUCH_SESSION", "an id no member has")
        target.disconnect()
        requester.disconnect()


@case(server=False, castor_only=True, timeout=120)
def a_request_to_the_sessions_of_a_filter_on_every_node():
    """messages/send-to-filter on n2 reaches the sessions the filter selects
    on every node (MQTT 5 connections on n1, n2 and n3 with a request
    stream, and one on n3 without, which is not counted); the answers come
    back in session-id order."""
    with group() as g:
        n1, n2, n3 = (g.nodes[n] for n in ("n1", "n2", "n3"))
        base = unique("f59")
        prefix = unique("t59f")
        targets = {}
        for name, node in (("a", n1), ("b", n2), ("c", n3)):
            c = connect(node.port, "%s-%s" % (prefix, name))
            check_eq(ok(request(c, "streams/add", {"path": base}))["added"],
                     True, "streams/add on " + node.name)
            targets[name] = c
        # Selected, but without a stream for the path: not counted.
        quiet = connect(n3.port, "%s-d" % prefix)
        requester = connect(n2.port, unique("r59f"))
        answers = []

        def ask():
            answers.append(request(
                requester, "messages/send-to-filter",
                {"filter": "$ClientId matches '%s-.*'" % prefix,
                 "path": base + "/ping", "value": {"n": 1}}))
        t = threading.Thread(target=ask, daemon=True)
        t.start()
        for name, c in targets.items():
            p = c.expect_publish(timeout=10)
            check_eq((p.topic, json.loads(p.payload)), (base + "/ping", {"n": 1}),
                     "the request at " + name)
            c.publish(p.props.get("response_topic"),
                      json.dumps({"pong": name}).encode(), qos=0)
        t.join(20)
        check(answers, "an answer on n2")
        doc = ok(answers[0])
        check_eq(doc["sent"], 3, "three sessions answered: %r" % doc)
        check("unanswered" not in doc, "every member answered: %r" % doc)
        ids = [a["session"] for a in doc["answers"]]
        check_eq(ids, sorted(ids), "the answers in session-id order")
        check_eq(sorted(a["answer"]["pong"] for a in doc["answers"]),
                 ["a", "b", "c"], "one answer from each node's session")
        # n3 hangs: its sessions are not reached, the others are, and the
        # answer names n3.
        stop_node(n3)
        answers.clear()
        t = threading.Thread(target=ask, daemon=True)
        t.start()
        for name in ("a", "b"):
            p = targets[name].expect_publish(timeout=10)
            targets[name].publish(p.props.get("response_topic"),
                                  json.dumps({"pong": name}).encode(), qos=0)
        t.join(20)
        check(answers, "an answer on n2 while n3 hangs")
        doc = ok(answers[0])
        check_eq((doc["sent"], doc.get("unanswered")), (2, ["n3"]),
                 "n3 named as unanswered: %r" % doc)
        resume_node(n3)
        for c in (targets["a"], targets["b"], requester):
            c.disconnect()


@case(server=False, castor_only=True, timeout=120)
def registrations_end_with_their_connection_and_their_node():
    with group() as g:
        n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
        h2 = Handler(n2, "rr59/gone", "n2")
        h3 = Handler(n3, "rr59/dies", "n3")
        for n in g.nodes.values():
            wait_metric(n, "castor_message_handlers", lambda v: v == 2,
                        "both handlers known on " + n.name)
        h2.conn.disconnect()
        wait_metric(n1, "castor_message_handlers", lambda v: v == 1,
                    "n2's handler went with its connection")
        check_eq(error_code(send(n3, "rr59/gone/y", 1)), "NO_HANDLER",
                 "n3 knows it gone too")
        n3.kill()
        wait_members(n1, ["n2"], what="n3 removed from n1")
        for n in (n1, n2):
            # At once (a list from a node that never became a member goes
            # after 5 s: not what is checked here).
            wait_metric(n, "castor_message_handlers", lambda v: v == 0,
                        "n3's handler went with its node from " + n.name,
                        timeout=3)
        check_eq(error_code(send(n2, "rr59/dies/y", 1)), "NO_HANDLER",
                 "on n2 too")


if __name__ == "__main__":
    run_cases()
