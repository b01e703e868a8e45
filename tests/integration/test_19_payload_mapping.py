#!/usr/bin/python3
"""The payload mapping (config topics.mapping, docs/platform.md): explicit
topics convert every publish to their type or refuse it (PUBACK/PUBREC 0x99
in MQTT 5, dropped otherwise, the topic unchanged); subscribers receive the
type's MQTT form; topics no rule matches stay plain MQTT."""

import subprocess

from mqtt_test import *  # noqa: F401,F403

MAPPING = """
topics:
  mapping:
    - filter: map/int/#
      type: int64
    - filter: map/num/#
      type: double
    - filter: map/doc/#
      type: json
    - filter: map/text/#
      type: string
    - filter: map/blob/#
      type: binary
    - filter: map/+/first
      type: json
"""

INVALID = 0x99


def start():
    srv = Server(extra_config=MAPPING)
    srv.start()
    return srv


def sub_and_pub(srv, name, filt="map/#", version=5):
    sub = connect(srv.port, "c19-%s-sub" % name)
    sub.subscribe(filt, 2)
    pub = connect(srv.port, "c19-%s-pub" % name, version=version)
    return sub, pub


def refused(pub, topic, payload, qos, packet_id=5, code=INVALID):
    """Publishes and expects the refusal in PUBACK or PUBREC."""
    pub.publish(topic, payload, qos=qos, packet_id=packet_id, ack=False)
    return expect_ack(pub, PUBACK if qos == 1 else PUBREC, packet_id, code)


@case(castor_only=True, server=False)
def each_type_converts_or_refuses_with_0x99():
    srv = start()
    try:
        sub, pub = sub_and_pub(srv, "types")
        good = [("map/int/a", b"-42", None), ("map/num/a", b"2.5e3", None),
                ("map/doc/a", b'{"t": [1, 2]}', "application/json"),
                ("map/text/a", "grüße".encode(), None),
                ("map/blob/a", b"\xff\x00\xfe", None)]
        for topic, payload, ctype in good:
            pub.publish(topic, payload, qos=1)
            binary = topic.startswith("map/blob")
            sub.expect_publish(topic, payload, content_type=ctype,
                               payload_format_indicator=None if binary else 1,
                               ack=True)
        bad = [("map/int/a", b"4.5"), ("map/int/a", b"9223372036854775808"),
               ("map/num/a", b"NaN"), ("map/num/a", b"1,5"),
               ("map/doc/a", b"{not json"), ("map/text/a", b"\xc3\x28")]
        for i, (topic, payload) in enumerate(bad):
            refused(pub, topic, payload, qos=1 + i % 2, packet_id=10 + i)
        # QoS 0: dropped; nothing reaches the subscriber from any of them.
        for topic, payload in bad:
            pub.publish(topic, payload, qos=0)
        sub.expect_nothing("a refused publish", via=pub)
        sub.disconnect()
        pub.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def what_the_publisher_said_is_replaced_by_the_types_form():
    srv = start()
    try:
        sub, pub = sub_and_pub(srv, "form")
        pub.publish("map/doc/b", b"[1]", qos=1,
                    properties={"content_type": "text/plain", "payload_format_indicator": 0})
        sub.expect_publish("map/doc/b", b"[1]", content_type="application/json",
                           payload_format_indicator=1, ack=True)
        pub.publish("map/blob/b", b"text", qos=1,
                    properties={"content_type": "text/plain", "payload_format_indicator": 1})
        sub.expect_publish("map/blob/b", b"text", content_type=None,
                           payload_format_indicator=None, ack=True)
        # The first matching rule decides: map/doc/first is json (map/doc/#),
        # map/int/first is int64 although map/+/first says json.
        pub.publish("map/x/first", b'{"a": 1}', qos=1)
        sub.expect_publish("map/x/first", content_type="application/json", ack=True)
        refused(pub, "map/int/first", b'{"a": 1}', qos=1)
        pub.publish("map/int/first", b"7", qos=1)
        sub.expect_publish("map/int/first", b"7", content_type=None, ack=True)
        sub.disconnect()
        pub.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def a_refused_qos2_packet_id_is_free_again():
    # A PUBREC with a reason code >= 0x80 ends the exchange [MQTT-4.3.3]:
    # the same packet identifier starts a new message at once.
    srv = start()
    try:
        sub, pub = sub_and_pub(srv, "qos2")
        refused(pub, "map/int/q", b"x", qos=2, packet_id=9)
        pub.publish("map/int/q", b"9", qos=2, packet_id=9)
        sub.expect_publish("map/int/q", b"9", ack=True)
        sub.expect_nothing("a second copy", via=pub)
        sub.disconnect()
        pub.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def a_refused_retained_publish_leaves_the_retained_value():
    srv = start()
    try:
        pub = connect(srv.port, "c19-ret-pub")
        pub.publish("map/num/r", b"1.5", qos=1, retain=True)
        refused(pub, "map/num/r", b"warm", qos=1)
        pub.publish("map/num/r", b"warm", qos=0, retain=True)
        sub = connect(srv.port, "c19-ret-sub")
        sub.subscribe("map/num/r", 1)
        sub.expect_publish("map/num/r", b"1.5", retain=True, ack=True)
        sub.expect_nothing("a second retained message", via=pub)
        sub.disconnect()
        pub.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def mqtt_311_publishers_are_acknowledged_and_dropped():
    # 3.1.1 has no reason codes in PUBACK or PUBREC: a refused publish is
    # acknowledged (as for a publish the ACL refuses) and not delivered.
    srv = start()
    try:
        sub, pub = sub_and_pub(srv, "v311", version=4)
        pub.publish("map/int/v", b"seven", qos=1, packet_id=3, ack=False)
        expect_ack(pub, PUBACK, 3, 0)
        pub.publish("map/int/v", b"eight", qos=2, packet_id=4, ack=False)
        expect_ack(pub, PUBREC, 4, 0)
        pub.send(gen_pubrel(4, version=4))
        pub.recv_matching(lambda q: q.type == PUBCOMP and q.packet_id == 4)
        sub.expect_nothing("a refused publish", via=pub)
        pub.publish("map/int/v", b"7", qos=1)
        sub.expect_publish("map/int/v", b"7", payload_format_indicator=1, ack=True)
        sub.disconnect()
        pub.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def implicit_topics_stay_plain_mqtt():
    srv = start()
    try:
        sub, pub = sub_and_pub(srv, "implicit", filt="free/#")
        for payload in (b"4.5", b"{not json", b"\xc3\x28", b""):
            pub.publish("free/x", payload, qos=1)
            sub.expect_publish("free/x", payload, content_type=None,
                               payload_format_indicator=None, ack=True)
        pub.publish("free/y", b"{}", qos=1, properties={"content_type": "text/x"})
        sub.expect_publish("free/y", b"{}", content_type="text/x", ack=True)
        sub.disconnect()
        pub.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def mosquitto_clients_see_the_refusal_and_the_form():
    # mosquitto_pub (MQTT 5) reports the 0x99 PUBACK; mosquitto_sub prints
    # the content type and payload format indicator of what it receives.
    srv = start()
    try:
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(srv.port),
                                "-V", "5", "-t", "map/doc/#", "-C", "1", "-W", "10",
                                "-F", "%t|%C|%F|%p"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        time.sleep(0.5)  # mosquitto_sub has no "subscribed" signal
        bad = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.port),
                              "-V", "5", "-q", "1", "-t", "map/doc/m", "-m", "nope"],
                             capture_output=True, timeout=10)
        err = bad.stderr.decode()
        check("ayload format invalid" in err,
              "mosquitto_pub should report the 0x99 PUBACK: %r" % err)
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.port),
                        "-V", "5", "-q", "1", "-t", "map/doc/m", "-m", '{"ok":1}'],
                       check=True, timeout=10)
        out, _ = sub.communicate(timeout=15)
        check_eq(out.decode().strip(), 'map/doc/m|application/json|1|{"ok":1}',
                 "what mosquitto_sub received")
    finally:
        srv.stop()


if __name__ == "__main__":
    run_cases()
