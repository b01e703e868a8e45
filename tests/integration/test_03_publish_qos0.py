#!/usr/bin/python3
"""QoS 0 publish: end to end across protocol versions, payloads, order."""

from mqtt_test import *  # noqa: F401,F403


def _pair(srv, tag, sub_version=5, pub_version=5, topic="q0/t", qos=0):
    sub = connect(srv.port, "c03-sub-" + tag, version=sub_version)
    sub.subscribe(topic, qos)
    pub = connect(srv.port, "c03-pub-" + tag, version=pub_version)
    return sub, pub


@case()
def end_to_end_all_versions(srv):
    for sv in (5, 4):
        for pv in (5, 4):
            tag = "%d%d" % (sv, pv)
            sub, pub = _pair(srv, tag, sv, pv, topic="q0/" + tag)
            pub.publish("q0/" + tag, b"hello " + tag.encode())
            p = sub.expect_publish("q0/" + tag, b"hello " + tag.encode(), qos=0, retain=False,
                                   dup=False)
            check_eq(p.packet_id, None, "no packet id at QoS 0")
            sub.disconnect()
            pub.disconnect()


@case()
def v311_exact_bytes(srv):
    sub, pub = _pair(srv, "bytes", 4, 4, topic="q0/bytes")
    pub.send(gen_publish("q0/bytes", 0, b"payload", version=4))
    expect_packet(sub, "publish", gen_publish("q0/bytes", 0, b"payload", version=4))
    sub.disconnect()
    pub.disconnect()


@case()
def v5_exact_bytes(srv):
    sub, pub = _pair(srv, "bytes5", 5, 5, topic="q0/bytes5")
    pub.send(gen_publish("q0/bytes5", 0, b"payload"))
    expect_packet(sub, "publish", gen_publish("q0/bytes5", 0, b"payload"))
    sub.disconnect()
    pub.disconnect()


@case()
def empty_and_binary_payloads(srv):
    sub, pub = _pair(srv, "pl", topic="q0/pl")
    for payload in (b"", bytes(range(256)), b"\x00" * 10, "žluťoučký kůň".encode()):
        pub.publish("q0/pl", payload)
        sub.expect_publish("q0/pl", payload)
    sub.disconnect()
    pub.disconnect()


@case()
def large_payload(srv):
    sub, pub = _pair(srv, "big", topic="q0/big")
    payload = bytes((i * 7) % 251 for i in range(200000))
    pub.publish("q0/big", payload)
    sub.expect_publish("q0/big", payload)
    sub.disconnect()
    pub.disconnect()


@case()
def utf8_topics(srv):
    topic = "q0/ünïcødé/with space/日本"
    sub, pub = _pair(srv, "utf8", topic=topic)
    pub.publish(topic, b"u")
    sub.expect_publish(topic, b"u")
    sub.disconnect()
    pub.disconnect()


@case()
def order_preserved(srv):
    sub, pub = _pair(srv, "order", topic="q0/order")
    n = 300
    for i in range(n):
        pub.publish("q0/order", b"%d" % i)
    for i in range(n):
        sub.expect_publish("q0/order", b"%d" % i)
    sub.disconnect()
    pub.disconnect()


@case()
def qos0_to_higher_subscription_stays_qos0(srv):
    sub, pub = _pair(srv, "minq", topic="q0/minq", qos=2)
    pub.publish("q0/minq", b"m")
    sub.expect_publish("q0/minq", b"m", qos=0)
    sub.disconnect()
    pub.disconnect()


@case()
def fan_out_to_many_subscribers(srv):
    subs = []
    for i in range(20):
        c = connect(srv.port, "c03-fan%d" % i, version=5 if i % 2 else 4)
        c.subscribe("q0/fan/#" if i % 3 else "q0/fan/x", 0)
        subs.append(c)
    pub = connect(srv.port, "c03-fanpub")
    pub.publish("q0/fan/x", b"all")
    for c in subs:
        c.expect_publish("q0/fan/x", b"all")
        c.disconnect()
    pub.disconnect()


@case()
def publisher_receives_own_message(srv):
    c = connect(srv.port, "c03-self")
    c.subscribe("q0/self", 0)
    c.publish("q0/self", b"me")
    c.expect_publish("q0/self", b"me")
    c.disconnect()


@case()
def no_subscriber_no_delivery(srv):
    sub, pub = _pair(srv, "none", topic="q0/a")
    pub.publish("q0/b", b"other")
    sub.expect_nothing("a message on a topic it is not subscribed to", via=pub)
    sub.disconnect()
    pub.disconnect()


if __name__ == "__main__":
    run_cases()
