#!/usr/bin/python3
"""Sessions: clean start, persistence of subscriptions and queued messages,
retransmission on reconnect, session expiry, takeover."""

import time

from mqtt_test import *  # noqa: F401,F403

EXP = {"session_expiry_interval": 60}


def _persistent(srv, cid, version=5, session_present=None, expiry=60):
    if version == 5:
        return connect(srv.port, cid, clean_start=False, session_present=session_present,
                       properties={"session_expiry_interval": expiry})
    return connect(srv.port, cid, version=4, clean_start=False, session_present=session_present)


@case()
def subscriptions_kept(srv):
    for v in (5, 4):
        cid = "c07-keep%d" % v
        c = _persistent(srv, cid, v, session_present=False)
        c.subscribe("s/keep%d" % v, 1)
        c.disconnect()
        c = _persistent(srv, cid, v, session_present=True)
        pub = connect(srv.port, "c07-keep-pub%d" % v)
        pub.publish("s/keep%d" % v, b"still", qos=1)
        c.expect_publish("s/keep%d" % v, b"still", qos=1, ack=True)
        c.disconnect()
        pub.disconnect()


@case()
def clean_start_discards_session(srv):
    cid = "c07-clean"
    c = _persistent(srv, cid)
    c.subscribe("s/clean", 1)
    c.disconnect()
    c = connect(srv.port, cid, clean_start=True, session_present=False, properties=EXP)
    pub = connect(srv.port, "c07-clean-pub")
    pub.publish("s/clean", b"gone", qos=1)
    c.expect_nothing("message for a discarded subscription", via=pub)
    c.disconnect()
    pub.disconnect()


@case()
def offline_messages_delivered_on_reconnect(srv):
    for v in (5, 4):
        cid = "c07-off%d" % v
        t = "s/off%d" % v
        c = _persistent(srv, cid, v)
        c.subscribe(t, 1)
        c.disconnect()
        pub = connect(srv.port, "c07-off-pub%d" % v)
        for i in range(5):
            pub.publish(t, b"m%d" % i, qos=1, packet_id=i + 1)
        pub.publish(t, b"q2", qos=2, packet_id=10)
        pub.disconnect()
        c = _persistent(srv, cid, v, session_present=True)
        got = [c.expect_publish(t, qos=1, ack=True).payload for _ in range(6)]
        # In order per topic and QoS (4.6); the QoS 2 message (downgraded to
        # the subscription's QoS 1) may come anywhere.
        check_eq([x for x in got if x != b"q2"], [b"m%d" % i for i in range(5)], "QoS 1 messages")
        check(b"q2" in got, "the QoS 2 message: %r" % got)
        c.expect_nothing("a 7th queued message", topic=t)
        c.disconnect()


@case()
def inflight_qos1_retransmitted_with_dup(srv):
    for v in (5, 4):
        cid = "c07-dup%d" % v
        t = "s/dup%d" % v
        c = _persistent(srv, cid, v)
        c.subscribe(t, 1)
        pub = connect(srv.port, "c07-dup-pub%d" % v)
        pub.publish(t, b"unacked", qos=1)
        p = c.expect_publish(t, b"unacked", qos=1, dup=False)
        c.abort()  # no PUBACK
        c = _persistent(srv, cid, v, session_present=True)
        # [MQTT-4.4.0-1]: resent with DUP=1 and the same packet id.
        p2 = c.expect_publish(t, b"unacked", qos=1, dup=True)
        check_eq(p2.packet_id, p.packet_id, "packet id of the retransmission")
        c.send(gen_puback(p2.packet_id, version=v))
        c.expect_nothing("a second retransmission", via=pub, topic=t)
        c.disconnect()
        pub.disconnect()


@case()
def inflight_qos2_pubrel_resent(srv):
    cid = "c07-rel"
    c = _persistent(srv, cid)
    c.subscribe("s/rel", 2)
    pub = connect(srv.port, "c07-rel-pub")
    pub.publish("s/rel", b"two", qos=2)
    p = c.expect_publish("s/rel", b"two", qos=2)
    c.send(gen_pubrec(p.packet_id))
    expect_ack(c, PUBREL, p.packet_id)
    c.abort()  # no PUBCOMP
    c = _persistent(srv, cid, session_present=True)
    # The server resends the PUBREL, not the PUBLISH.
    expect_ack(c, PUBREL, p.packet_id)
    c.send(gen_pubcomp(p.packet_id))
    c.expect_nothing("a packet after PUBCOMP", via=pub, topic="s/rel")
    c.disconnect()
    pub.disconnect()


@case()
def inflight_qos2_unreceived_pubrec_resends_publish(srv):
    cid = "c07-rec"
    c = _persistent(srv, cid)
    c.subscribe("s/rec", 2)
    pub = connect(srv.port, "c07-rec-pub")
    pub.publish("s/rec", b"two", qos=2)
    p = c.expect_publish("s/rec", b"two", qos=2)
    c.abort()  # no PUBREC
    c = _persistent(srv, cid, session_present=True)
    p2 = c.expect_publish("s/rec", b"two", qos=2, dup=True)
    check_eq(p2.packet_id, p.packet_id, "packet id")
    c.ack(p2)
    c.expect_nothing("a packet after PUBCOMP", via=pub, topic="s/rec")
    c.disconnect()
    pub.disconnect()


@case()
def publisher_qos2_state_survives_reconnect(srv):
    sub = connect(srv.port, "c07-p2-sub")
    sub.subscribe("s/p2", 2)
    cid = "c07-p2"
    pub = _persistent(srv, cid)
    pub.send(gen_publish("s/p2", 2, b"once", packet_id=33))
    expect_ack(pub, PUBREC, 33)
    pub.abort()
    pub = _persistent(srv, cid, session_present=True)
    pub.send(gen_pubrel(33))
    expect_ack(pub, PUBCOMP, 33)
    sub.expect_publish("s/p2", b"once", qos=2, ack=True)
    sub.expect_nothing("duplicate delivery", via=pub, topic="s/p2")
    sub.disconnect()
    pub.disconnect()


@case()
def session_expiry_honoured(srv):
    cid = "c07-exp"
    c = _persistent(srv, cid, expiry=1)
    c.subscribe("s/exp", 1)
    c.disconnect()
    time.sleep(0.2)
    c = _persistent(srv, cid, session_present=True, expiry=1)
    c.disconnect()
    time.sleep(2.5)
    c = _persistent(srv, cid, session_present=False, expiry=1)
    pub = connect(srv.port, "c07-exp-pub")
    pub.publish("s/exp", b"x", qos=1)
    c.expect_nothing("message for an expired session's subscription", via=pub)
    c.disconnect()
    pub.disconnect()


@case()
def session_expiry_changed_at_disconnect(srv):
    cid = "c07-chg"
    c = _persistent(srv, cid, expiry=60)
    c.subscribe("s/chg", 1)
    c.disconnect(0, {"session_expiry_interval": 0})
    time.sleep(0.2)
    c = _persistent(srv, cid, session_present=False)
    c.disconnect(0, {"session_expiry_interval": 1})
    time.sleep(0.2)
    c = _persistent(srv, cid, session_present=True, expiry=60)
    c.disconnect(0, {"session_expiry_interval": 1})
    time.sleep(2.5)
    c = _persistent(srv, cid, session_present=False)
    c.disconnect()


@case()
def session_expiry_set_at_disconnect_after_zero_is_error(srv):
    # [MQTT-3.14.2-2]: expiry 0 in CONNECT, non-zero in DISCONNECT is a
    # protocol error; the session must not be kept.
    cid = "c07-zero"
    c = connect(srv.port, cid, clean_start=False)
    c.send(gen_disconnect(0, {"session_expiry_interval": 30}))
    c.expect_disconnect(0x82)
    time.sleep(0.2)
    c = _persistent(srv, cid, session_present=False)
    c.disconnect()


@case()
def expired_session_drops_queued_messages(srv):
    cid = "c07-drop"
    c = _persistent(srv, cid, expiry=1)
    c.subscribe("s/drop", 1)
    c.disconnect()
    pub = connect(srv.port, "c07-drop-pub")
    pub.publish("s/drop", b"lost", qos=1)
    time.sleep(2.5)
    c = _persistent(srv, cid, session_present=False)
    c.expect_nothing("a queued message of the expired session")
    c.disconnect()
    pub.disconnect()


@case()
def takeover_v5(srv):
    cid = "c07-take"
    old = _persistent(srv, cid)
    old.subscribe("s/take", 1)
    new = _persistent(srv, cid, session_present=True)
    old.expect_closed()
    pub = connect(srv.port, "c07-take-pub")
    pub.publish("s/take", b"to new", qos=1)
    new.expect_publish("s/take", b"to new", qos=1, ack=True)
    new.disconnect()
    pub.disconnect()


# [MQTT-3.1.4-3]: the existing connection gets DISCONNECT 0x8E (session
# taken over) and is closed. Mosquitto 2.0.11 closes it without DISCONNECT.
@case()
def takeover_v5_reason_session_taken_over(srv):
    cid = "c07-take8e"
    old = _persistent(srv, cid)
    _new = _persistent(srv, cid, session_present=True)
    old.expect_disconnect(0x8E)
    _new.disconnect()


@case()
def takeover_v311(srv):
    cid = "c07-take4"
    old = connect(srv.port, cid, version=4)
    new = connect(srv.port, cid, version=4)
    old.expect_closed()
    new.ping()
    new.disconnect()


@case()
def takeover_with_clean_start(srv):
    cid = "c07-takec"
    old = _persistent(srv, cid)
    old.subscribe("s/takec", 1)
    new = connect(srv.port, cid, clean_start=True, session_present=False)
    old.expect_closed()
    pub = connect(srv.port, "c07-takec-pub")
    pub.publish("s/takec", b"x", qos=1)
    new.expect_nothing("message for the discarded subscription", via=pub)
    new.disconnect()
    pub.disconnect()


@case(overrides={"max_queued_messages": 10})
def offline_queue_bounded(srv):
    cid = "c07-bound"
    c = _persistent(srv, cid)
    c.subscribe("s/bound", 1)
    c.disconnect()
    pub = connect(srv.port, "c07-bound-pub")
    for i in range(30):
        pub.publish("s/bound", b"%d" % i, qos=1, packet_id=(i % 1000) + 1)
    pub.disconnect()
    c = _persistent(srv, cid, session_present=True)
    # Every queued message comes before a marker on the same topic.
    got = []
    for p in c.until_marker(topic="s/bound"):
        check_packet(p, PUBLISH, topic="s/bound")
        got.append(int(p.payload))
        c.ack(p)
    check(1 <= len(got) <= 10, "between 1 and 10 queued messages delivered: %s" % got)
    check_eq(got, sorted(got), "in order")
    if IS_CASTOR:
        # drop_oldest (the default): the newest messages are kept.
        check_eq(got, list(range(20, 30)), "the newest ten")
    c.disconnect()


@case()
def queued_messages_respect_receive_maximum(srv):
    # On reconnect the queued messages are sent within the client's receive
    # maximum [MQTT-3.3.4-7], then the rest as acknowledgements arrive.
    cid = "c07-rm"
    c = _persistent(srv, cid)
    c.subscribe("s/rm", 1)
    c.disconnect()
    pub = connect(srv.port, "c07-rm-pub")
    for i in range(12):
        pub.publish("s/rm", b"%d" % i, qos=1, packet_id=i + 1)
    pub.disconnect()
    c = connect(srv.port, cid, clean_start=False, session_present=True,
                properties={"session_expiry_interval": 60, "receive_maximum": 4})
    first = [c.expect_publish("s/rm", qos=1) for _ in range(4)]
    # All twelve are queued already; a 5th would follow the 4th at once. (No
    # marker: a server may hold QoS 0 back too while the quota is 0, 4.9.)
    c.expect_quiet(0.4, "a 5th unacknowledged message")
    got = [int(p.payload) for p in first]
    for p in first:
        c.send(gen_puback(p.packet_id))
    while len(got) < 12:
        p = c.expect_publish("s/rm", qos=1, ack=True)
        got.append(int(p.payload))
    check_eq(got, list(range(12)), "all queued messages in order")
    c.disconnect()


@case(overrides={"max_queued_messages": 10, "queue_full": "drop_newest"}, castor_only=True)
def offline_queue_drop_newest(srv):
    cid = "c07-newest"
    c = _persistent(srv, cid)
    c.subscribe("s/newest", 1)
    c.disconnect()
    pub = connect(srv.port, "c07-newest-pub")
    for i in range(30):
        pub.publish("s/newest", b"%d" % i, qos=1, packet_id=i + 1)
    pub.disconnect()
    c = _persistent(srv, cid, session_present=True)
    got = []
    for p in c.until_marker(topic="s/newest"):
        check_packet(p, PUBLISH, topic="s/newest")
        got.append(int(p.payload))
        c.ack(p)
    check_eq(got, list(range(10)), "the oldest ten kept")
    c.disconnect()


@case(overrides={"max_session_expiry": 1}, castor_only=True)
def server_limits_session_expiry(srv):
    # [MQTT-3.2.2-?] 3.2.2.3.2: the server's value is returned in CONNACK
    # when it differs from the client's, and it is the one used.
    cid = "c07-maxexp"
    c = _persistent(srv, cid, expiry=3600)
    check_eq(c.connack.props.get("session_expiry_interval"), 1, "session expiry in CONNACK")
    c.subscribe("s/maxexp", 1)
    c.disconnect()
    time.sleep(2.5)
    c = _persistent(srv, cid, session_present=False, expiry=3600)
    c.disconnect()


if __name__ == "__main__":
    run_cases()
