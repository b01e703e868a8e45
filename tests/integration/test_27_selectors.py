#!/usr/bin/python3
"""Topic selectors in the platform API (docs/platform.md, "Topic
selectors"): topics/fetch, topics/remove, topics/subscribe and
topics/unsubscribe select by MQTT filter, path, split-path and full-path
patterns, sets and qualifiers."""

import json

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok, request

TOPICS = ["plant/a", "plant/a/temp", "plant/a/hum", "plant/b/temp", "plant/b/x/temp",
          "site/a/temp", "plantx/temp", "$sys/plant"]


def paths(c, selector):
    return [t["path"] for t in ok(request(c, "topics/fetch", {"selector": selector,
                                                               "values": False}))["topics"]]


@case(castor_only=True)
def fetch_by_every_kind_of_selector(srv):
    c = connect(srv.port, "c27-fetch")
    for t in TOPICS:
        c.publish(t, b"v", qos=1)
    cases = [
        ("plant/+/temp", ["plant/a/temp", "plant/b/temp"]),
        (">plant/a", ["plant/a"]),
        (">plant/a/", ["plant/a/hum", "plant/a/temp"]),
        (">plant/a//", ["plant/a", "plant/a/hum", "plant/a/temp"]),
        ("?plant/.*/temp", ["plant/a/temp", "plant/b/temp"]),
        ("?plant/[ab]//", ["plant/a", "plant/a/hum", "plant/a/temp", "plant/b/temp",
                           "plant/b/x/temp"]),
        ("*plant.*/temp", ["plant/a/temp", "plant/b/temp", "plant/b/x/temp", "plantx/temp"]),
        ("*.*/temp", ["plant/a/temp", "plant/b/temp", "plant/b/x/temp", "plantx/temp",
                      "site/a/temp"]),
        ("#>site/a/temp////?plant/b/x/.*", ["plant/b/x/temp", "site/a/temp"]),
        ("*\\$sys/.*", ["$sys/plant"]),
    ]
    for selector, want in cases:
        check_eq(paths(c, selector), want, selector)


@case(castor_only=True)
def remove_by_selector_and_errors(srv):
    c = connect(srv.port, "c27-remove")
    for t in TOPICS:
        c.publish(t, b"v", qos=1, retain=True)
    check_eq(ok(request(c, "topics/remove", {"selector": "?plant/.*/temp"}))["removed"], 2,
             "removed")
    check_eq(paths(c, ">plant//"), ["plant/a", "plant/a/hum", "plant/b/x/temp"], "left")
    for bad, offset in (("?plant/(a", 7), (">plant/+", 1), ("#>a////#>b", 7)):
        a = request(c, "topics/fetch", {"selector": bad})
        check_eq(error_code(a), "INVALID_REQUEST", bad)
        check("at offset %d" % offset in a["error"]["message"], a["error"]["message"])


def publish_all(pub, topics, payload=b"v", retain=False):
    for t in topics:
        pub.publish(t, payload, qos=1, retain=retain)


@case(castor_only=True)
def subscribe_by_selector_also_to_topics_made_later(srv):
    pub = connect(srv.port, "c27-sub-pub")
    publish_all(pub, TOPICS, b"old", retain=True)
    c = connect(srv.port, "c27-sub")
    check_eq(ok(request(c, "topics/subscribe", {"selector": "?plant/.*/temp", "qos": 1})),
             {"ok": True, "qos": 1}, "answer")
    # The current values of the selected topics, with RETAIN.
    got = {}
    while len(got) < 2:
        p = c.expect_publish()
        check(p.retain, "current value with RETAIN: %r" % p)
        got[p.topic] = p.payload
        c.ack(p)
    check_eq(got, {"plant/a/temp": b"old", "plant/b/temp": b"old"}, "current values")
    # Updates of the selected topics, and of those made later; nothing of
    # the others.
    later = ["plant/c/temp", "plant/c/hum", "plant/c/temp/x", "site/c/temp"]
    publish_all(pub, TOPICS + later, b"new")
    check_eq(sorted(receive_topics(c, ["plant/a/temp", "plant/b/temp", "plant/c/temp"],
                                   via=pub)),
             ["plant/a/temp", "plant/b/temp", "plant/c/temp"], "updates")
    # A second selector on the same session, in the delta form.
    check_eq(ok(request(c, "topics/subscribe", {"selector": "*site/.*", "delta": True,
                                                "qos": 0}))["qos"], 0, "granted")
    got = {}
    while len(got) < 2:
        p = c.expect_publish()
        check(p.retain, "current value with RETAIN: %r" % p)
        got[p.topic] = p.payload
    check_eq(got, {"$delta/site/a/temp": b"new", "$delta/site/c/temp": b"new"},
             "current values in the delta form")
    # Unsubscribed: nothing more of the first selector; the second stays.
    check_eq(ok(request(c, "topics/unsubscribe", {"selector": "?plant/.*/temp"})),
             {"ok": True, "existed": True}, "unsubscribe")
    check_eq(ok(request(c, "topics/unsubscribe", {"selector": "?plant/.*/temp"})),
             {"ok": True, "existed": False}, "unsubscribe again")
    publish_all(pub, ["plant/a/temp", "plant/d/temp", "site/d/temp"], b"after")
    check_eq(receive_topics(c, ["$delta/site/d/temp"], via=pub), ["$delta/site/d/temp"],
             "after")


@case(castor_only=True)
def a_persistent_session_keeps_its_selector_subscriptions(srv):
    pub = connect(srv.port, "c27-keep-pub")
    c = connect(srv.port, "c27-keep", clean_start=False,
                properties={"session_expiry_interval": 60})
    ok(request(c, "topics/subscribe", {"selector": ">keep/a//"}))
    c.disconnect()
    # Published while the session is offline: queued for it.
    publish_all(pub, ["keep/a", "keep/a/b", "keep/ab", "keep/b"], b"offline")
    c = connect(srv.port, "c27-keep", clean_start=False, session_present=True,
                properties={"session_expiry_interval": 60})
    check_eq(sorted(receive_topics(c, ["keep/a", "keep/a/b"], via=pub)),
             ["keep/a", "keep/a/b"], "queued while offline")


@case(castor_only=True)
def subscribe_errors(srv):
    c = connect(srv.port, "c27-sub-err")
    a = request(c, "topics/subscribe", {"selector": "?a/(b"})
    check_eq(error_code(a), "INVALID_REQUEST", "bad selector")
    check_eq(error_code(request(c, "topics/subscribe", {"selector": "*a", "qos": 3})),
             "INVALID_REQUEST", "qos 3")
    check_eq(error_code(request(c, "topics/subscribe", {"selector": ">$castor/api//"})),
             "PERMISSION_DENIED", "the server's topics")


def notify_request(c, operation, body, reply, events_to=None):
    """A topics/notify or topics/unnotify request answered on `reply`; its
    events come to `events_to` (the selection's response topic, by default
    `reply`) before the answer. Returns the events and the answer."""
    events_to = events_to or reply
    c.publish("$castor/api/" + operation, json.dumps(body), qos=0,
              properties={"response_topic": reply, "correlation_data": b"n1"})
    events = []
    while True:
        p = c.expect_publish()
        m = json.loads(p.payload)
        check_eq((p.topic, p.props.get("correlation_data")),
                 (reply if "ok" in m else events_to, b"n1"), "topic of %r" % m)
        if "ok" in m:
            return events, m
        events.append((m["event"], m["path"]))


def events_until(c, reply, last):
    """Events on `reply` up to and including `last`; then nothing more
    within 0.2 s."""
    got = []
    while not got or got[-1] != last:
        p = c.expect_publish()
        check_eq(p.topic, reply, "event topic")
        m = json.loads(p.payload)
        got.append((m["event"], m["path"]))
    c.expect_quiet(0.2, "event after %r" % (last,))
    return got


@case(castor_only=True)
def notifications_of_selected_topics(srv):
    pub = connect(srv.port, "c27-notify-pub")
    publish_all(pub, ["n/a/temp", "n/b/hum", "n/b/temp"], retain=True)
    c = connect(srv.port, "c27-notify")
    reply = unique("c27/events")
    events, answer = notify_request(c, "topics/notify", {"selector": "?n/.*/temp"}, reply)
    check_eq(sorted(events), [("selected", "n/a/temp"), ("selected", "n/b/temp")], "selected")
    check_eq(answer, {"ok": True, "selected": 2}, "answer")
    # Topics that gain a value later; others are not told of.
    publish_all(pub, ["n/c/hum", "n/c/temp"])
    check_eq(events_until(c, reply, ("added", "n/c/temp")), [("added", "n/c/temp")], "added")
    publish_all(pub, ["n/c/temp"])  # a further update is no event
    ok(request(pub, "topics/remove", {"selector": ">n/a/temp"}))
    check_eq(events_until(c, reply, ("removed", "n/a/temp")), [("removed", "n/a/temp")],
             "removed")
    events, answer = notify_request(c, "topics/unnotify", {"selector": "?n/.*/temp"},
                                    unique("c27/other"), events_to=reply)
    check_eq(sorted(events), [("deselected", "n/b/temp"), ("deselected", "n/c/temp")],
             "deselected")
    check_eq(answer, {"ok": True, "existed": True, "deselected": 2}, "unnotify answer")
    _, answer = notify_request(c, "topics/unnotify", {"selector": "?n/.*/temp"}, reply)
    check_eq(answer, {"ok": True, "existed": False}, "unnotify again")
    publish_all(pub, ["n/d/temp"])
    c.expect_nothing("event after unnotify", via=pub)


@case(castor_only=True)
def notifications_of_branches(srv):
    """`branches`: the selected paths that have topics below them, to walk
    a tree a level at a time."""
    pub = connect(srv.port, "c27-branch-pub")
    publish_all(pub, ["b/x/1", "b/x/2", "b/y/deep/1", "b/z"], retain=True)
    c = connect(srv.port, "c27-branch")
    reply = unique("c27/branches")
    level = "?b/.*"
    # Without `branches`: only the topic with a value.
    events, answer = notify_request(c, "topics/notify", {"selector": level}, reply)
    check_eq(events, [("selected", "b/z")], "without branches")
    notify_request(c, "topics/unnotify", {"selector": level}, reply)
    events, answer = notify_request(c, "topics/notify",
                                    {"selector": level, "branches": True}, reply)
    check_eq(sorted(events), [("branch_selected", "b/x"), ("branch_selected", "b/y"),
                              ("selected", "b/z")], "selected with branches")
    check_eq(answer, {"ok": True, "selected": 1}, "answer")
    # The first topic below a path is an event; more below it are not.
    publish_all(pub, ["b/w/new"])
    check_eq(events_until(c, reply, ("branch_added", "b/w")), [("branch_added", "b/w")],
             "first below b/w")
    publish_all(pub, ["b/x/3", "b/w/more/deeper"])
    publish_all(pub, ["b/v/q"])
    check_eq(events_until(c, reply, ("branch_added", "b/v")), [("branch_added", "b/v")],
             "only b/v is new")
    # The last one going is an event, once.
    ok(request(pub, "topics/remove", {"selector": ">b/x//"}))
    check_eq(events_until(c, reply, ("branch_removed", "b/x")),
             [("branch_removed", "b/x")], "b/x emptied")
    events, answer = notify_request(c, "topics/unnotify", {"selector": level},
                                    unique("c27/other"), events_to=reply)
    check_eq(sorted(events), [("branch_deselected", "b/v"), ("branch_deselected", "b/w"),
                              ("branch_deselected", "b/y"), ("deselected", "b/z")],
             "deselected")
    check_eq(error_code(request(c, "topics/notify", {"selector": level, "branches": 1})),
             "INVALID_REQUEST", "branches must be true or false")


if __name__ == "__main__":
    run_cases()
