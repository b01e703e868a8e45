#!/usr/bin/python3
"""Time series topics (docs/platform.md, "Time series"): each MQTT publish
and each `timeseries/append` appends an event; subscribers receive each
event's value with its sequence number, timestamp and author as user
properties; `timeseries/edit` overrides an event; `timeseries/range`
answers the retained events as values (edits merged) or edits; a new
subscriber first gets the events of the subscription range."""

import subprocess
import time

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok, request
from paho_util import Client

import paho.mqtt.client as mqtt


def user_props(p):
    return dict(p.props.getall("user_property"))


def expect_event(c, topic, value, seq, original=None, retain=None):
    p = c.expect_publish(topic=topic, payload=value, retain=retain, ack=True)
    ups = user_props(p)
    check_eq(int(ups.get("seq", -1)), seq, "seq of %r" % value)
    check(abs(int(ups["timestamp"]) - time.time() * 1000) < 60000, "timestamp %r" % ups)
    check("author" in ups, "author of %r" % value)
    check_eq(ups.get("original"), None if original is None else str(original),
             "original of %r" % value)
    check_eq(p.props.get("payload_format_indicator"), 1, "payload format")
    return ups


def add_series(c, path, event_type="int64", **props):
    properties = {"TIME_SERIES_EVENT_VALUE_TYPE": event_type}
    properties.update(props)
    ok(request(c, "topics/add", {"path": path, "type": "time_series",
                                 "properties": properties}))


def values(answer):
    return [(e["seq"], e["value"], e.get("original")) for e in ok(answer)["events"]]


@case(castor_only=True)
def events_from_publishes_and_the_api_reach_subscribers_in_order(srv):
    api = connect(srv.port, "c26-api")
    add_series(api, "ts/meter", TIME_SERIES_SUBSCRIPTION_RANGE="limit 2")
    sub = connect(srv.port, "c26-sub")
    sub.subscribe(["ts/#"], qos=1)
    pub = connect(srv.port, "c26-pub")
    pub.publish("ts/meter", b"10", qos=1)
    # A user property of the server's names is the server's.
    pub.publish("ts/meter", b"11", qos=1,
                properties={"user_property": [("seq", "77"), ("unit", "kWh")]})
    # Not an int64: refused, nothing appended.
    pub.publish("ts/meter", b"eleven", qos=1, packet_id=5, ack=False)
    check_packet(pub.recv(), PUBACK, packet_id=5, reason_code=0x99)
    check_eq(ok(request(api, "timeseries/append", {"path": "ts/meter", "value": 12}))["seq"],
             2, "appended seq")
    expect_event(sub, "ts/meter", b"10", 0)
    ups = expect_event(sub, "ts/meter", b"11", 1)
    check_eq(ups.get("unit"), None, "events carry only the server's properties")
    expect_event(sub, "ts/meter", b"12", 2)
    # An edit reaches subscribers as an event naming its original.
    edit = ok(request(api, "timeseries/edit", {"path": "ts/meter", "original": 1, "value": 99}))
    check_eq(edit["seq"], 3, "edit seq")
    expect_event(sub, "ts/meter", b"99", 3, original=1)
    # Values: originals with their latest edit merged; edits: everything.
    check_eq(values(request(api, "timeseries/range", {"path": "ts/meter"})),
             [(0, 10, None), (3, 99, 1), (2, 12, None)], "values view")
    check_eq(values(request(api, "timeseries/range", {"path": "ts/meter", "view": "edits"})),
             [(0, 10, None), (1, 11, None), (2, 12, None), (3, 99, 1)], "edits view")
    # A new subscriber gets the subscription range (the last 2 originals).
    late = connect(srv.port, "c26-late")
    late.subscribe(["ts/meter"], qos=1)
    expect_event(late, "ts/meter", b"99", 3, original=1, retain=True)
    expect_event(late, "ts/meter", b"12", 2, retain=True)
    # fetch answers the latest value.
    got = ok(request(api, "topics/fetch", {"selector": "ts/meter"}))["topics"]
    check_eq(got, [{"path": "ts/meter", "type": "time_series", "value": 12}], "fetch")


@case(castor_only=True)
def range_queries_and_the_retained_range(srv):
    api = connect(srv.port, "c26-range")
    add_series(api, "ts/r", event_type="json", TIME_SERIES_RETAINED_RANGE="limit 5")
    for i in range(8):
        ok(request(api, "timeseries/append", {"path": "ts/r", "value": {"n": i}}))
    # Only the last 5 are kept.
    check_eq([s for s, _, _ in values(request(api, "timeseries/range", {"path": "ts/r"}))],
             [3, 4, 5, 6, 7], "retained")
    q = lambda **kw: values(request(api, "timeseries/range", dict(path="ts/r", **kw)))
    check_eq([s for s, _, _ in q(**{"from": {"seq": 5}})], [5, 6, 7], "from seq")
    check_eq([s for s, _, _ in q(**{"from": {"last": 2}})], [6, 7], "last 2")
    check_eq([s for s, _, _ in q(**{"from": {"seq": 4}, "to": {"next": 2}})], [4, 5], "next 2")
    check_eq([s for s, _, _ in q(**{"to": {"seq": 4}})], [3, 4], "to seq")
    a = ok(request(api, "timeseries/range", {"path": "ts/r", "limit": 2}))
    check_eq(([e["seq"] for e in a["events"]], a["more"]), ([3, 4], True), "limit")
    check_eq(a["events"][0]["value"], {"n": 3}, "JSON value")
    # The edit of a dropped event, and of an edit, are refused.
    check_eq(error_code(request(api, "timeseries/edit", {"path": "ts/r", "original": 0,
                                                         "value": {}})),
             "NO_SUCH_EVENT", "edit of a dropped event")
    ok(request(api, "timeseries/edit", {"path": "ts/r", "original": 7, "value": {"n": 70}}))
    check_eq(error_code(request(api, "timeseries/edit", {"path": "ts/r", "original": 8,
                                                         "value": {}})),
             "NO_SUCH_EVENT", "edit of an edit")
    check_eq(q(**{"from": {"seq": 7}}), [(8, {"n": 70}, 7)], "merged edit")


@case(castor_only=True)
def what_is_refused(srv):
    api = connect(srv.port, "c26-err")
    add_series(api, "ts/e", event_type="double")
    check_eq(error_code(request(api, "timeseries/append", {"path": "ts/e", "value": "x"})),
             "INVALID_VALUE", "not a number")
    check_eq(error_code(request(api, "timeseries/append", {"path": "plain/x", "value": 1})),
             "NOT_TIME_SERIES", "append to a plain topic")
    check_eq(error_code(request(api, "timeseries/range", {"path": "plain/x"})),
             "NOT_TIME_SERIES", "range of a plain topic")
    check_eq(error_code(request(api, "topics/add", {"path": "ts/bad", "type": "time_series"})),
             "INVALID_SPECIFICATION", "no event type")
    # topics/update appends; constraints do not apply.
    ok(request(api, "topics/update", {"path": "ts/e", "value": 2.5}))
    check_eq(values(request(api, "timeseries/range", {"path": "ts/e"})), [(0, 2.5, None)],
             "update appends")
    check_eq(error_code(request(api, "topics/update", {"path": "ts/e", "value": 1,
                                                       "constraint": {"no_value": True}})),
             "INVALID_CONSTRAINT", "constraint on a series")
    # Removed: its events are forgotten with it.
    check_eq(ok(request(api, "topics/remove", {"selector": "ts/e"}))["removed"], 1, "removed")
    check_eq(error_code(request(api, "timeseries/range", {"path": "ts/e"})),
             "NOT_TIME_SERIES", "range after remove")
    add_series(api, "ts/e", event_type="double")
    check_eq(values(request(api, "timeseries/range", {"path": "ts/e"})), [], "a new series")


@case(castor_only=True)
def paho_subscriber_reads_seq_and_timestamp(srv):
    api = connect(srv.port, "c26-paho-api")
    add_series(api, "ts/p", event_type="string")
    sub = Client(srv.port, "c26-paho-sub", mqtt.MQTTv5)
    try:
        sub.subscribe("ts/p", 1)
        pub = Client(srv.port, "c26-paho-pub", mqtt.MQTTv5)
        try:
            for i in range(20):
                pub.publish("ts/p", "v%d" % i, qos=1)
        finally:
            pub.disconnect()
        for i in range(20):
            m = sub.message()
            ups = dict(m.properties.UserProperty)
            check_eq((m.payload, int(ups["seq"])), (b"v%d" % i, i), "event %d" % i)
            check(int(ups["timestamp"]) > 0, "timestamp")
    finally:
        sub.disconnect()


@case(castor_only=True)
def mosquitto_clients_append_and_read_events(srv):
    api = connect(srv.port, "c26-mosq")
    add_series(api, "ts/m", event_type="double", TIME_SERIES_SUBSCRIPTION_RANGE="limit 2")
    for v in ("41.5", "42"):
        r = subprocess.run(["/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.port),
                            "-V", "mqttv5", "-q", "1", "-t", "ts/m", "-m", v],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        check_eq(r.returncode, 0, "mosquitto_pub: %s" % r.stdout)
    r = subprocess.run(["/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", str(srv.port),
                        "-V", "mqttv5", "-q", "1", "-t", "ts/m", "-C", "2", "-W", "10",
                        "-F", "%p %P"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    lines = r.stdout.decode().splitlines()
    check_eq(len(lines), 2, "two events: %r" % lines)
    for i, (line, v) in enumerate(zip(lines, ("41.5", "42"))):
        fields = line.split(" ")
        check_eq(fields[0], v, "value")
        props = dict(f.split(":", 1) for f in fields[1:])
        check_eq((props.get("seq"), props.get("author")), (str(i), ""), "properties %r" % line)
        check(int(props["timestamp"]) > 0, "timestamp")


if __name__ == "__main__":
    run_cases()
