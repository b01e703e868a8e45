#!/usr/bin/python3
"""Topic selectors in the platform API (docs/platform.md, "Topic
selectors"): topics/fetch and topics/remove select by MQTT filter, path,
split-path and full-path patterns, sets and qualifiers."""

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


if __name__ == "__main__":
    run_cases()
