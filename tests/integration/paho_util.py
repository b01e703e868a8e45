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
