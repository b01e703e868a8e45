"""A paho-mqtt client for the tests (Python; run with /usr/bin/python3,
which has Debian's python3-paho-mqtt): connects, waits for CONNACK and
SUBACK, and queues what it receives."""

import queue
import socket
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_test import TestError, check_eq

TIMEOUT = 5.0
VERSIONS = (mqtt.MQTTv5, mqtt.MQTTv311)
VNAME = {mqtt.MQTTv5: "v5", mqtt.MQTTv311: "v311"}


class Client:
    def __init__(self, port, cid, version, clean=True, expiry=None, will=None):
        self.version = version
        if version == mqtt.MQTTv5:
            self.c = mqtt.Client(client_id=cid, protocol=version)
        else:
            self.c = mqtt.Client(client_id=cid, protocol=version, clean_session=clean)
        self.msgs = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.msgs.put(m)
        self.c.on_subscribe = lambda c, u, mid, granted, *a: self.subacks.put((mid, granted))
        if will:
            topic, payload, qos, retain = will
            self.c.will_set(topic, payload, qos, retain)
        if version == mqtt.MQTTv5:
            props = None
            if expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = expiry
            self.c.connect("127.0.0.1", port, 30, clean_start=clean, properties=props)
        else:
            self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()
        try:
            flags, rc = self.connacks.get(timeout=TIMEOUT)
        except queue.Empty:
            self.stop()
            raise TestError("paho %s: no CONNACK" % cid)
        check_eq(int(rc) if not hasattr(rc, "value") else rc.value, 0, "CONNACK reason")
        self.session_present = bool(flags.get("session present"))

    def _on_connect(self, c, u, flags, rc, properties=None):
        self.connacks.put((flags, rc))

    def subscribe(self, topic, qos):
        _rc, mid = self.c.subscribe(topic, qos)
        got_mid, granted = self.subacks.get(timeout=TIMEOUT)
        check_eq(got_mid, mid, "SUBACK id")
        g = granted[0]
        g = g.value if hasattr(g, "value") else g
        check_eq(g, qos, "granted QoS")

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        info = self.c.publish(topic, payload, qos, retain, properties=properties)
        deadline = time.monotonic() + TIMEOUT
        while not info.is_published():
            if time.monotonic() > deadline:
                raise TestError("paho: publish %s not completed" % topic)
            time.sleep(0.01)

    def message(self, timeout=TIMEOUT):
        try:
            return self.msgs.get(timeout=timeout)
        except queue.Empty:
            raise TestError("paho: no message within %.0f s" % timeout)

    def no_message(self, timeout=0.5):
        try:
            m = self.msgs.get(timeout=timeout)
        except queue.Empty:
            return
        raise TestError("paho: unexpected message %s %r" % (m.topic, m.payload))

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()

    def die(self):
        """Stops without DISCONNECT, like a crashed client."""
        self.c.loop_stop()
        s = self.c.socket()
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self):
        try:
            self.c.loop_stop()
        except Exception:  # noqa: BLE001
            pass


class ApiPeer:
    """A paho MQTT 5 client of the platform API: API answers come on its own
    reply topic (matched by correlation data); requests to its request
    streams are answered with `answer` (unless None: then they are queued,
    as other messages are). Subclasses name their client ids by `prefix`."""

    prefix = "peer"

    def __init__(self, port, cid=None, username=None, password=None,
                 answer=None, clean=True):
        import json
        import threading
        from mqtt_test import unique
        self._json = json
        self.cid = cid or unique(self.prefix)
        self.answer = answer
        self.c = mqtt.Client(client_id=self.cid, protocol=mqtt.MQTTv5)
        if username:
            self.c.username_pw_set(username, password)
        self.msgs = queue.Queue()
        self.answers = {}
        self.cond = threading.Condition()
        self.reply = unique(self.prefix + "/api-reply")
        connacks = queue.Queue()
        self.c.on_connect = lambda c, u, f, rc, p=None: connacks.put(rc)
        self.c.on_message = self._on_message
        props = None
        if not clean:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 300
        self.c.connect("127.0.0.1", port, 30, clean_start=clean, properties=props)
        self.c.loop_start()
        rc = connacks.get(timeout=TIMEOUT)
        check_eq(rc.value if hasattr(rc, "value") else rc, 0, "CONNACK")

    def _on_message(self, c, u, m):
        corr = getattr(m.properties, "CorrelationData", None)
        rt = getattr(m.properties, "ResponseTopic", None)
        if m.topic == self.reply and corr is not None:
            with self.cond:
                self.answers[bytes(corr)] = self._json.loads(m.payload)
                self.cond.notify_all()
        elif rt and rt.startswith("$castor/reply/") and self.answer is not None:
            c.publish(rt, self._json.dumps(self.answer), 0)
        else:
            self.msgs.put(m)

    def publish(self, topic, payload, qos=1, response_topic=None, corr=None,
                content_type=None, user=None):
        props = Properties(PacketTypes.PUBLISH)
        if response_topic:
            props.ResponseTopic = response_topic
        if corr is not None:
            props.CorrelationData = corr
        if content_type:
            props.ContentType = content_type
        if user:
            props.UserProperty = user
        info = self.c.publish(topic, payload, qos, properties=props)
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            raise TestError("publish to %s not completed" % topic)

    def api_async(self, operation, body):
        """Sends a request; returns a function that waits for its answer."""
        from mqtt_test import unique
        corr = unique("corr").encode()
        self.publish("$castor/api/" + operation, self._json.dumps(body),
                     response_topic=self.reply, corr=corr)

        def wait(timeout=10.0):
            deadline = time.monotonic() + timeout
            with self.cond:
                while corr not in self.answers:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TestError("%s: no answer within %.1f s"
                                        % (operation, timeout))
                    self.cond.wait(left)
                return self.answers.pop(corr)
        return wait

    def api(self, operation, body, timeout=10.0):
        return self.api_async(operation, body)(timeout)

    def message(self, timeout=TIMEOUT):
        try:
            return self.msgs.get(timeout=timeout)
        except queue.Empty:
            raise TestError("%s: no message within %.1f s" % (self.cid, timeout))

    def subscribe(self, flt):
        import threading
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(flt, 1)
        if not done.wait(TIMEOUT):
            raise TestError("no SUBACK for %s" % flt)

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()
