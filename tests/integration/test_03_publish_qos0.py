#!/usr/bin/python3
"""QoS 0 publish: end to end across protocol versions, payloads, order."""

import time

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


# QoS 0 fan-in over 10,000 distinct topics: two publishers (MQTT 5 and
# 3.1.1) each publish to 5,000 topics of their own, twice over, as fast as
# the server takes it; one wildcard subscriber reads meanwhile. Nothing is
# lost (the subscriber keeps up, so nothing justifies dropping a message),
# nothing is duplicated, and per topic the two messages keep their order
# [MQTT-4.6.0-5 (3.1.1: 4.6)]. Every topic is new to the server, so each
# publish creates one (and a connection's cache of topic actors overflows).
@case(timeout=150)
def fan_in_ten_thousand_topics(srv):
    import threading
    per_pub, rounds = 5000, 2
    sub = connect(srv.port, "c03-fanin-sub")
    sub.subscribe("fanin/#", 0)
    pubs = [connect(srv.port, "c03-fanin-pub%d" % i, version=v) for i, v in enumerate((5, 4))]
    errors = []

    def publish(k, c):
        try:
            c.sock.settimeout(60)
            # The PINGRESP follows 10,000 publishes to new topics, each
            # created on the way: a slow (sanitizer) build takes seconds.
            c.timeout = 60
            for r in range(rounds):
                batch = b"".join(gen_publish("fanin/%d/%d" % (k, i), 0, b"%d" % r,
                                             version=c.version) for i in range(per_pub))
                c.send(batch)
            c.ping()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=publish, args=(k, c), daemon=True)
               for k, c in enumerate(pubs)]
    for th in threads:
        th.start()
    total = len(pubs) * per_pub * rounds
    seen = {}
    n = dups = disorder = 0
    deadline = t0 + 90
    while n < total and time.monotonic() < deadline:
        p = sub.poll(5)
        if p is None:
            break
        check_packet(p, PUBLISH, qos=0)
        r = int(p.payload)
        last = seen.get(p.topic)
        if last is not None and r <= last:
            if r == last:
                dups += 1
            else:
                disorder += 1
        seen[p.topic] = r if last is None else max(last, r)
        n += 1
    for th in threads:
        th.join(10)
    dt = time.monotonic() - t0
    print("      %d of %d messages on %d topics in %.1f s" % (n, total, len(seen), dt))
    check(not errors, "publisher errors: %r" % errors)
    check_eq(len(seen), len(pubs) * per_pub, "topics heard of")
    check_eq(dups, 0, "duplicates")
    check_eq(disorder, 0, "messages out of order on their topic")
    check_eq(n, total, "messages received")
    check(all(r == rounds - 1 for r in seen.values()), "the last round on every topic")
    sub.expect_nothing("a message more", via=pubs[0])
    for c in pubs + [sub]:
        c.disconnect()


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
