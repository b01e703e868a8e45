#!/usr/bin/python3
"""Missing-topic handlers across a node group (docs/cluster.md,
"Missing-topic handlers"): every node's table holds the registrations of
every member, so a subscription or a fetch on any node that selects no
topic under a handler's path asks the handler on its own node; the topic
it creates is the group's, and the subscriber or the fetch gets it. A
registration ends with its connection on every node. The clients are paho
(MQTT 5) and mosquitto_sub."""

import json
import subprocess

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from missing_util import Maker, Peer, fetch, session_id

NODES = ["n1", "n2", "n3"]


@case(server=False, castor_only=True, timeout=120)
def a_handler_on_one_node_serves_every_node():
    with group() as g:
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        base = unique("m62")
        maker = Maker(n1.port, base)
        for n in (n2, n3):
            wait_metric(n, "castor_missing_topic_handlers", lambda v: v == 1,
                        "n1's registration on " + n.name)
        # A subscriber on n3: asked on n1, gets what the handler made there.
        sub = Peer(n3.port)
        name = base + "/pump/speed"
        sub.subscribe(name)
        m = sub.message(timeout=10)
        check_eq((m.topic, json.loads(m.payload)), (name, {"made": name}),
                 "the created value on n3")
        topic, body, rt = maker.request()
        check_eq(topic, "$castor/missing/" + name, "the request's topic")
        check_eq(body, {"selector": name, "operation": "subscribe",
                        "session": session_id(sub, sub)},
                 "the request names the session on n3")
        # A fetch on n2 waits for the handler's answer, and finds the topic.
        caller = Peer(n2.port)
        oven = base + "/oven/temp"
        check_eq(fetch(caller, oven),
                 [{"path": oven, "type": "json", "value": {"made": oven}}],
                 "the fetch's answer on n2")
        _, body, _ = maker.request()
        check_eq((body["selector"], body["operation"]), (oven, "fetch"),
                 "the fetch's request")
        # mosquitto_sub (MQTT 3.1.1) on n2.
        door = base + "/door"
        p = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p",
                            str(n2.port), "-V", "mqttv311", "-t", door,
                            "-C", "1", "-W", "8"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=15)
        check_eq(p.returncode, 0, "mosquitto_sub: %r" % p.stderr)
        check_eq(json.loads(p.stdout), {"made": door},
                 "mosquitto_sub's message on n2")
        # The handler goes: its registration ends on every node, and a fetch
        # on n3 answers at once with nothing.
        maker.close()
        for n in (n1, n2, n3):
            wait_metric(n, "castor_missing_topic_handlers", lambda v: v == 0,
                        "the registration gone on " + n.name)
        check_eq(fetch(sub, base + "/none", timeout=3), [],
                 "a fetch without a handler")
        sub.disconnect()
        caller.disconnect()


if __name__ == "__main__":
    run_cases()
