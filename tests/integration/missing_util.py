"""Missing-topic handlers for the tests (docs/platform.md, "Missing-topic
handlers"): a paho MQTT 5 API client (Peer) and a handler (Maker) that
creates the topics it is asked for. Run with /usr/bin/python3 (paho)."""

import json
import queue
import threading

from api_util import ok
from mqtt_test import TestError, check, check_eq
from paho_util import ApiPeer

TIMEOUT = 5.0


class Peer(ApiPeer):
    prefix = "c36"


def register(peer, path):
    check_eq(ok(peer.api("handlers/missing-topic", {"path": path})).get("added"),
             True, "handlers/missing-topic " + path)


def session_id(peer, of):
    """The $SessionId of the client `of` (sessions/list)."""
    sessions = ok(peer.api("sessions/list", {"limit": 1000}))["sessions"]
    for s in sessions:
        if s["properties"].get("$ClientId") == of.cid:
            return s["id"]
    raise TestError("no session of %s in %r" % (of.cid, sessions))


def fetch(peer, selector, timeout=10.0):
    return ok(peer.api("topics/fetch", {"selector": selector},
                       timeout=timeout))["topics"]


class Maker:
    """A missing-topic handler: a thread that takes each request, creates
    the topic named by its selector when it names one (topics/add, then
    topics/update with a value) and answers (or not, or
    {"proceed": false})."""

    def __init__(self, port, path, answer=b"done", create=True, **login):
        self.peer = Peer(port, **login)
        self.path = path
        self.answer = answer
        self.create = create
        self.requests = queue.Queue()
        self.errors = []
        register(self.peer, path)
        self.stop = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stop:
            try:
                m = self.peer.msgs.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                body = json.loads(m.payload)
                rt = m.properties.ResponseTopic
                self.requests.put((m.topic, body, rt))
                name = body["selector"].lstrip(">")
                plain = not any(ch in name for ch in "+#?*")
                if self.create and plain:
                    ok(self.peer.api("topics/add", {"path": name, "type": "json"}))
                    ok(self.peer.api("topics/update",
                                     {"path": name, "value": {"made": name}}))
                if self.answer is not None:
                    self.peer.publish(rt, self.answer)
            except Exception as e:  # reported by the case
                self.errors.append(e)

    def request(self, timeout=TIMEOUT):
        try:
            return self.requests.get(timeout=timeout)
        except queue.Empty:
            raise TestError("the handler of %s got no request within %.1f s"
                            % (self.path, timeout))

    def close(self):
        self.stop = True
        self.t.join(2)
        self.peer.disconnect()
        check(not self.errors, "handler errors: %r" % self.errors)


