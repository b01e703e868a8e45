#!/usr/bin/python3
"""The platform API over MQTT 5 (docs/platform.md): requests are PUBLISHes
to `$castor/api/<operation>` with a response topic and correlation data;
the JSON answer goes to the requesting connection alone. `$castor/` is the
server's: nobody publishes into it or subscribes to it."""

import base64
import json

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok, request

MAPPING = """
topics:
  mapping:
    - {filter: "api/int/#", type: int64}
    - {filter: "api/num/#", type: double}
"""


@case(castor_only=True, server=False)
def fetch_answers_values_of_every_kind_in_path_order():
    srv = Server(extra_config=MAPPING)
    srv.start()
    try:
        pub = connect(srv.port, "c21-pub")
        pub.publish("api/j", b'{"a": [1, "x"]}', qos=1,
                    properties={"content_type": "application/json"})
        pub.publish("api/pfi", b"[true]", qos=1, properties={"payload_format_indicator": 1})
        pub.publish("api/text", b'{"not": "hinted"}', qos=1)
        pub.publish("api/bin", b"\xff\x00\x01", qos=1)
        pub.publish("api/int/a", b"-17", qos=1)
        pub.publish("api/num/a", b"2.5e1", qos=1)
        pub.publish("api/text", b"second", qos=0)  # the last update is the value
        pub.publish("other/x", b"elsewhere", qos=1)
        c = connect(srv.port, "c21-req")
        # A subscriber with nothing published yet: its topic has no value.
        c.subscribe("api/empty", 0)
        a = ok(request(c, "topics/fetch", {"selector": "api/#"}))
        check_eq(a["more"], False, "more")
        got = [(t["path"], t["type"], t["value"]) for t in a["topics"]]
        check_eq(got, [("api/bin", "binary", base64.b64encode(b"\xff\x00\x01").decode()),
                       ("api/int/a", "int64", -17),
                       ("api/j", "json", {"a": [1, "x"]}),
                       ("api/num/a", "double", 25.0),
                       ("api/pfi", "json", [True]),
                       ("api/text", "string", "second")], "fetched topics")
        a = ok(request(c, "topics/fetch", {"selector": "api/+", "values": False, "limit": 2}))
        check_eq(a["topics"], [{"path": "api/bin", "type": "binary"},
                               {"path": "api/j", "type": "json"}], "without values, limited")
        check_eq(a["more"], True, "more")
        a = ok(request(c, "topics/fetch", {"selector": "api/j"}))
        check_eq([t["path"] for t in a["topics"]], ["api/j"], "one topic by name")
        a = ok(request(c, "topics/fetch", {"selector": "none/#"}))
        check_eq((a["topics"], a["more"]), ([], False), "nothing matches")
        c.disconnect()
        pub.disconnect()
    finally:
        srv.stop()


@case(castor_only=True)
def the_answer_reaches_the_requester_alone(srv):
    reply = unique("reply/shared")
    other = connect(srv.port, "c21-other")
    other.subscribe(reply, 0)
    other.subscribe("#", 0)
    c = connect(srv.port, "c21-asker")
    c.subscribe(reply, 0)
    ok(request(c, "topics/fetch", {"selector": "#"}, response_topic=reply, qos=0))
    # Without subscribing to the response topic, too (QoS 2 request).
    c2 = connect(srv.port, "c21-asker2")
    ok(request(c2, "topics/fetch", {"selector": "#"}, response_topic=reply, qos=2))
    other.expect_nothing("an answer meant for another client", via=c)
    for x in (other, c, c2):
        x.disconnect()


@case(castor_only=True)
def bad_requests_get_clear_errors_and_harm_nothing(srv):
    c = connect(srv.port, "c21-bad")
    check_eq(error_code(request(c, "topics/nope", {})), "UNKNOWN_OPERATION", "unknown")
    check_eq(error_code(request(c, "topics/fetch", b"{not json")), "INVALID_REQUEST",
             "malformed JSON")
    check_eq(error_code(request(c, "topics/fetch", {"selector": "a/#/b"})),
             "INVALID_REQUEST", "bad selector")
    check_eq(error_code(request(c, "topics/fetch", {"selector": "#", "bogus": 1})),
             "INVALID_REQUEST", "unknown field")
    check_eq(error_code(request(c, "topics/update", {"path": "x", "value": 1,
                                                     "constraint": {"locked": "l"}})),
             "CONSTRAINT_FAILED", "a lock the session does not hold")
    check_eq(error_code(request(c, "topics/update", {"path": "x", "value": 1,
                                                     "constraint": {"valu": 1}})),
             "INVALID_CONSTRAINT", "a malformed constraint")
    check_eq(error_code(request(c, "topics/add", {"path": "x/+", "type": "json"})),
             "INVALID_REQUEST", "a filter as a path")
    check_eq(error_code(request(c, "topics/add", {"path": "x", "type": "jsn"})),
             "INVALID_SPECIFICATION", "an unknown type")
    # Without a response topic: dropped (acknowledged, nothing answered).
    c.subscribe("probe/#", 0)
    c.publish("$castor/api/topics/fetch", b'{"selector": "#"}', qos=1, packet_id=3)
    c.expect_nothing("an answer without a response topic", via=c, topic="probe/x")
    ok(request(c, "topics/fetch", {"selector": "#"}))
    c.disconnect()


@case(castor_only=True)
def castor_topics_are_the_servers(srv):
    c = connect(srv.port, "c21-rules")
    c.subscribe("$castor/#", 0, codes=[0x87])
    c.subscribe("$share/g/$castor/api/x", 0, packet_id=2, codes=[0x87])
    c.subscribe("$castor", 0, packet_id=3, codes=[0x87])
    # Publishing into $castor/ other than a request: refused.
    c.publish("$castor/other", b"x", qos=1, packet_id=4, ack=False)
    expect_ack(c, PUBACK, 4, 0x87)
    # MQTT 3.1.1 has no response topic: a request is acknowledged and
    # dropped (3.1.1 cannot say why).
    old = connect(srv.port, "c21-v311", version=4)
    old.subscribe("#", 0)
    old.publish("$castor/api/topics/fetch", b'{"selector": "#"}', qos=1, packet_id=5,
                ack=False)
    expect_ack(old, PUBACK, 5, 0)
    old.expect_nothing("an answer to a 3.1.1 client", via=old, topic="v311/probe")
    c.disconnect()
    old.disconnect()


@case(castor_only=True, server=False)
def added_topics_convert_publishes_and_removed_ones_are_gone():
    srv = Server(extra_config=MAPPING)
    srv.start()
    try:
        c = connect(srv.port, "c21-add")
        sub = connect(srv.port, "c21-add-sub")
        sub.subscribe("plant/#", 1)
        check_eq(ok(request(c, "topics/add", {"path": "plant/line1", "type": "json",
                                              "properties": {"CONFLATION": "always"}})),
                 {"ok": True}, "added")
        check_eq(ok(request(c, "topics/add", {"path": "plant/line1", "type": "json",
                                              "properties": {"CONFLATION": "always"}})),
                 {"ok": True, "exists": True}, "added again, the same")
        check_eq(error_code(request(c, "topics/add", {"path": "plant/line1",
                                                      "type": "string"})),
                 "TOPIC_EXISTS", "added again, another specification")
        # Publishes to it convert to JSON or are refused (0x99).
        c.publish("plant/line1", b"not json", qos=1, packet_id=7, ack=False)
        expect_ack(c, PUBACK, 7, 0x99)
        c.publish("plant/line1", b'{"speed": 12}', qos=1)
        sub.expect_publish("plant/line1", b'{"speed": 12}', content_type="application/json",
                           payload_format_indicator=1, ack=True)
        # An added topic comes before a mapping rule (api/int/# is int64).
        ok(request(c, "topics/add", {"path": "api/int/doc", "type": "json"}))
        c.publish("api/int/doc", b"[1]", qos=1)
        c.publish("api/int/doc", b"5", qos=1)
        a = ok(request(c, "topics/fetch", {"selector": "api/int/doc"}))
        check_eq(a["topics"], [{"path": "api/int/doc", "type": "json", "value": 5}],
                 "the added topic's type")
        # Removed: gone from fetch, retained message gone, implicit again.
        c.publish("plant/line1", b'{"speed": 13}', qos=1, retain=True)
        sub.expect_publish("plant/line1", b'{"speed": 13}', ack=True)
        check_eq(ok(request(c, "topics/remove", {"selector": "plant/#"})),
                 {"ok": True, "removed": 1}, "removed")
        a = ok(request(c, "topics/fetch", {"selector": "plant/#"}))
        check_eq(a["topics"], [], "after removal")
        late = connect(srv.port, "c21-add-late")
        late.subscribe("plant/line1", 1)
        late.expect_nothing("the removed topic's retained message", via=c)
        c.publish("plant/line1", b"not json", qos=1)
        sub.expect_publish("plant/line1", b"not json", content_type=None, ack=True)
        check_eq(ok(request(c, "topics/remove", {"selector": "none/#"})),
                 {"ok": True, "removed": 0}, "nothing to remove")
        for x in (c, sub, late):
            x.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def updates_reach_mqtt_subscribers_in_their_types_form():
    srv = Server(extra_config=MAPPING)
    srv.start()
    try:
        c = connect(srv.port, "c21-upd")
        sub = connect(srv.port, "c21-upd-sub")
        sub.subscribe("api/#", 1)
        sub.subscribe("upd/#", 2)
        cases = [("upd/doc", {"a": [1, 2]}, b'{"a":[1,2]}', "application/json", 1),
                 ("upd/text", "hello", b"hello", None, 1),      # implicit: a string
                 ("api/int/u", -5, b"-5", None, 1),              # a rule: int64
                 ("api/num/u", 2.5, b"2.5", None, 1)]            # a rule: double
        for path, value, payload, ctype, pfi in cases:
            check_eq(ok(request(c, "topics/update", {"path": path, "value": value})),
                     {"ok": True}, "update of %s" % path)
            sub.expect_publish(path, payload, qos=1, content_type=ctype,
                               payload_format_indicator=pfi, ack=True)
        a = ok(request(c, "topics/fetch", {"selector": "#"}))
        check_eq([(t["path"], t["type"], t["value"]) for t in a["topics"]],
                 [("api/int/u", "int64", -5), ("api/num/u", "double", 2.5),
                  ("upd/doc", "json", {"a": [1, 2]}), ("upd/text", "string", "hello")],
                 "the values")
        # Values that do not convert to the topic's type are refused.
        check_eq(error_code(request(c, "topics/update", {"path": "api/int/u", "value": 1.5})),
                 "INVALID_VALUE", "a double to an int64 topic")
        check_eq(error_code(request(c, "topics/update", {"path": "api/num/u", "value": "x"})),
                 "INVALID_VALUE", "a string to a double topic")
        # Add if absent: with a specification the topic is added first.
        ok(request(c, "topics/update", {"path": "upd/bin", "value": "AAH/",
                                        "specification": {"type": "binary"}}))
        sub.expect_publish("upd/bin", b"\x00\x01\xff", content_type=None,
                           payload_format_indicator=None, ack=True)
        check_eq(error_code(request(c, "topics/update", {"path": "upd/bin", "value": "%%"})),
                 "INVALID_VALUE", "not base64")
        check_eq(error_code(request(c, "topics/add", {"path": "upd/bin", "type": "json"})),
                 "TOPIC_EXISTS", "added by the update")
        sub.expect_nothing("a refused update", via=c)
        for x in (c, sub):
            x.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, overrides={"topic_idle_timeout_ms": 200})
def added_topics_do_not_retire(srv):
    c = connect(srv.port, "c21-keep")
    ok(request(c, "topics/add", {"path": "kept/a", "type": "string"}))
    c.publish("kept/a", b"stays", qos=1)
    c.publish("loose/a", b"goes", qos=1)
    time.sleep(1.0)  # five idle periods: an implicit topic retires
    a = ok(request(c, "topics/fetch", {"selector": "#"}))
    check_eq([(t["path"], t["value"]) for t in a["topics"]], [("kept/a", "stays")],
             "what is left after the idle period")
    c.disconnect()


STORE = """
principals:
  reader: {password: "%(reader)s", roles: [READER]}
  writer: {password: "%(writer)s", roles: [WRITER]}
roles:
  READER:
    paths:
      public: [SELECT_TOPIC, READ_TOPIC]
      public/hidden: [SELECT_TOPIC]
  WRITER:
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
"""

PASSWORDS = {"reader": "reader-Pw-21", "writer": "writer-Pw-21"}


@case(castor_only=True, server=False)
def fetch_shows_only_what_the_caller_may_select_and_read():
    srv = Server()
    store = os.path.join(srv.dir, "store.yaml")
    hashes = {u: run_castor(["passwd", "--iterations", "1000"],
                            input=(p + "\n").encode()).stdout.decode().strip()
              for u, p in PASSWORDS.items()}
    with open(store, "w") as f:
        f.write(STORE % hashes)
    srv.extra_config = "security:\n  store_file: %s\n  anonymous: deny\n" % store
    srv.start()
    try:
        w = connect(srv.port, "c21-w", username="writer", password=PASSWORDS["writer"])
        for t in ("public/a", "public/hidden/b", "private/c"):
            w.publish(t, b"v", qos=1)
        r = connect(srv.port, "c21-r", username="reader", password=PASSWORDS["reader"])
        a = ok(request(r, "topics/fetch", {"selector": "#"}))
        check_eq([t["path"] for t in a["topics"]], ["public/a"], "what the reader sees")
        a = ok(request(w, "topics/fetch", {"selector": "#"}))
        check_eq([t["path"] for t in a["topics"]],
                 ["private/c", "public/a", "public/hidden/b"], "what the writer sees")
        # Adding and removing need MODIFY_TOPIC; what may not be removed is
        # left alone.
        check_eq(error_code(request(r, "topics/add", {"path": "public/new", "type": "json"})),
                 "PERMISSION_DENIED", "the reader adds")
        check_eq(ok(request(r, "topics/remove", {"selector": "#"}))["removed"], 0,
                 "the reader removes")
        check_eq(error_code(request(r, "topics/update", {"path": "public/a", "value": 1})),
                 "PERMISSION_DENIED", "the reader updates")
        ok(request(w, "topics/update", {"path": "public/a", "value": 2}))
        ok(request(w, "topics/add", {"path": "public/new", "type": "json"}))
        check_eq(ok(request(w, "topics/remove", {"selector": "private/#"}))["removed"], 1,
                 "the writer removes")
        r.disconnect()
        w.disconnect()
    finally:
        srv.stop()


def counter_value(c, path):
    answer = ok(request(c, "topics/fetch", {"selector": path}))
    return answer["topics"][0]["value"] if answer["topics"] else None


@case(castor_only=True, timeout=90)
def competing_writers_by_compare_and_set_lose_no_update(srv):
    """Two writers increment one counter by compare-and-set (fetch, then
    update under the constraint that the value is still what they read):
    every increment counts once, the losers of a race retry, and a
    subscriber sees each value once, in order."""
    import threading
    path = "api/cas/counter"
    setup = connect(srv.port, "c21-cas-setup")
    ok(request(setup, "topics/update", {"path": path, "value": {"n": 0}}))
    sub = connect(srv.port, "c21-cas-sub")
    sub.subscribe(path, 1)
    per_writer = 30
    conflicts = [0, 0]
    errors = []

    def writer(k):
        try:
            c = connect(srv.port, "c21-cas-%d" % k)
            done = 0
            while done < per_writer:
                have = counter_value(c, path)
                answer = request(c, "topics/update", {
                    "path": path, "value": {"n": have["n"] + 1},
                    "constraint": {"value": have}})
                if answer.get("ok"):
                    done += 1
                else:
                    check_eq(error_code(answer), "CONSTRAINT_FAILED", "a lost race")
                    conflicts[k] += 1
            c.disconnect()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(80)
    check(not errors, "writers failed: %r" % errors)
    check_eq(counter_value(setup, path), {"n": 2 * per_writer}, "every increment once")
    seen = [json.loads(sub.expect_publish(topic=path, ack=True).payload)["n"]
            for _ in range(2 * per_writer)]
    check_eq(seen, list(range(1, 2 * per_writer + 1)), "each value once, in order")
    print("    %d lost races retried" % sum(conflicts))


@case(castor_only=True)
def constraints_and_patches_decided_by_the_topic(srv):
    c = connect(srv.port, "c21-cond")
    path = "api/cond/doc"
    # No topic yet: "no_topic" holds once, for the first of two writers.
    ok(request(c, "topics/update", {"path": path, "value": {"a": 1, "list": [1]},
                                    "constraint": {"no_topic": True}}))
    check_eq(error_code(request(c, "topics/update", {"path": path, "value": {"a": 9},
                                                     "constraint": {"no_topic": True}})),
             "CONSTRAINT_FAILED", "the topic exists now")
    # Pointers, and/or.
    ok(request(c, "topics/update", {"path": path, "value": {"a": 2, "list": [1]},
                                    "constraint": {"and": [{"pointer": "/a", "equals": 1},
                                                           {"pointer": "/b", "exists": False}]}}))
    check_eq(error_code(request(c, "topics/update", {
        "path": path, "value": {"a": 3},
        "constraint": {"or": [{"pointer": "/a", "equals": 1}, {"no_value": True}]}})),
        "CONSTRAINT_FAILED", "neither holds")
    check_eq(counter_value(c, path), {"a": 2, "list": [1]}, "the failed update changed nothing")
    # A patch is applied to the value by the topic, and delivered whole.
    sub = connect(srv.port, "c21-cond-sub")
    sub.subscribe(path, 1, retain_handling=2)
    ok(request(c, "topics/patch", {"path": path, "patch": [
        {"op": "replace", "path": "/a", "value": 5}, {"op": "add", "path": "/list/-", "value": 2}]}))
    p = sub.expect_publish(topic=path, ack=True, content_type="application/json",
                           payload_format_indicator=1)
    check_eq(json.loads(p.payload), {"a": 5, "list": [1, 2]}, "patched value")
    check_eq(counter_value(c, path), {"a": 5, "list": [1, 2]}, "patched value fetched")
    # A patch that does not apply, or whose constraint fails, changes nothing.
    check_eq(error_code(request(c, "topics/patch", {"path": path, "patch": [
        {"op": "test", "path": "/a", "value": 4}, {"op": "remove", "path": "/a"}]})),
        "PATCH_FAILED", "a failed test")
    check_eq(error_code(request(c, "topics/patch", {
        "path": path, "patch": [{"op": "remove", "path": "/a"}],
        "constraint": {"pointer": "/a", "equals": 4}})), "CONSTRAINT_FAILED", "constraint")
    check_eq(counter_value(c, path), {"a": 5, "list": [1, 2]}, "unchanged")
    # Only a JSON value can be patched; a missing topic has none.
    c.publish("api/cond/text", b"plain words", qos=1)
    check_eq(error_code(request(c, "topics/patch", {"path": "api/cond/text", "patch": []})),
             "NOT_JSON", "a text value")
    check_eq(error_code(request(c, "topics/patch", {"path": "api/cond/none", "patch": []})),
             "NO_VALUE", "no topic")
    # After topics/remove "no_topic" holds again.
    ok(request(c, "topics/remove", {"selector": path}))
    ok(request(c, "topics/update", {"path": path, "value": {"again": True},
                                    "constraint": {"no_topic": True}}))


if __name__ == "__main__":
    run_cases()
