// Requests of the topic API (protocol/api_request.hpp): every operation read
// from its JSON, malformed requests refused with stable codes and a message
// naming the field, and the answers' shape.

#include <doctest/doctest.h>

#include <string>

#include "api_request_util.hpp"
#include "protocol/api_request.hpp"

using namespace castor;
using namespace castor::api;
using json = nlohmann::json;

using namespace castor::api::test;

TEST_CASE("api: a NUL byte ends nothing: the whole payload is read") {
  CHECK_EQ(refused("topics/fetch",
                   std::string_view{"{\"selector\": \"#\"}\0x", 19})
               .code,
           "INVALID_REQUEST");
}

TEST_CASE("api: topics/add, remove, fetch") {
  auto a = parsed<add_topic>("topics/add",
                             R"({"path": "plant/line1", "type": "json",
          "properties": {"CONFLATION": "always"}})");
  CHECK(a.path == "plant/line1");
  CHECK(a.spec.type == topic_type::json);
  CHECK(a.spec.conflation == conflation_mode::always);
  CHECK(parsed<add_topic>("topics/add", R"({"path": "x", "type": "int64"})")
            .spec.type
        == topic_type::int64);
  CHECK(parsed<remove_topics>("topics/remove", R"({"selector": "plant/#"})")
            .selector
        == "plant/#");
  auto f = parsed<fetch_topics>("topics/fetch", R"({"selector": "+/line1"})");
  CHECK(f.values);
  CHECK(f.limit == 1000);
  f = parsed<fetch_topics>("topics/fetch",
                           R"({"selector": "#", "values": false, "limit": 5})");
  CHECK_FALSE(f.values);
  CHECK(f.limit == 5);
}

TEST_CASE("api: topics/update and patch") {
  auto u = parsed<update_topic>(
      "topics/update",
      R"({"path": "p", "value": {"t": 1}, "constraint": {"no_topic": true},
          "specification": {"type": "json"}})");
  CHECK(u.value == json{{"t", 1}});
  REQUIRE(u.constraint);
  CHECK(u.constraint->what == update_constraint::kind::no_topic);
  REQUIRE(u.spec);
  CHECK(u.spec->type == topic_type::json);
  auto p = parsed<patch_topic>(
      "topics/patch",
      R"({"path": "p", "patch": [{"op": "replace", "path": "/t", "value": 2}]})");
  CHECK(p.patch.size() == 1);
  CHECK_FALSE(p.constraint);
}

TEST_CASE("api: time series and locks") {
  CHECK(parsed<append_event>("timeseries/append",
                             R"({"path": "ts", "value": 2.5})")
            .value
        == 2.5);
  auto e = parsed<edit_event>("timeseries/edit",
                              R"({"path": "ts", "original": 7, "value": 3})");
  CHECK(e.original == 7);
  auto q = parsed<query_range>(
      "timeseries/range",
      R"({"path": "ts", "view": "edits", "from": {"last_for": "10m"},
          "to": {"next": 5}, "limit": 3})");
  CHECK(q.query.what == range_query::view::edits);
  CHECK(q.query.from_last_for == std::chrono::minutes(10));
  CHECK(q.query.next == 5u);
  CHECK(q.query.limit == 3u);
  auto all = parsed<query_range>("timeseries/range", R"({"path": "ts"})");
  CHECK(all.query.what == range_query::view::values);
  CHECK_FALSE(all.query.from_seq);
  CHECK(parsed<acquire_lock>("locks/acquire", R"({"name": "L"})").name == "L");
  CHECK(parsed<release_lock>("locks/release", R"({"name": "L"})").name == "L");
}

TEST_CASE("api: sessions") {
  auto l = parsed<list_sessions>("sessions/list", R"({})");
  CHECK(l.filter == "all");
  CHECK(l.limit == 100u);
  auto l2 = parsed<list_sessions>(
      "sessions/list", R"({"filter": "has a", "after": "x", "limit": 5})");
  CHECK(l2.after == "x");
  CHECK(l2.limit == 5u);
  CHECK(refused("sessions/list", R"({"filter": "a is"})").code
        == "INVALID_FILTER");
  CHECK(refused("sessions/list", R"({"limit": 1001})").code
        == "INVALID_REQUEST");
  CHECK(parsed<close_sessions>("sessions/close", R"({"session": "s1"})")
            .session
        == "s1");
  CHECK(parsed<close_sessions>("sessions/close", R"({"filter": "all"})").filter
        == "all");
  CHECK(refused("sessions/close", R"({"session": "s", "filter": "all"})").code
        == "INVALID_REQUEST");
  auto p = parsed<set_session_properties>(
      "sessions/set-properties",
      R"({"session": "s1", "properties": {"tier": "gold"}})");
  CHECK(p.properties.at("tier") == "gold");
  CHECK(refused("sessions/set-properties",
                R"({"session": "s1", "properties": {"$Roles": "x"}})")
            .code
        == "INVALID_REQUEST");
  CHECK(refused("sessions/set-properties", R"({"session": "s1"})").code
        == "INVALID_REQUEST");
  auto r = parsed<change_session_roles>(
      "sessions/change-roles",
      R"({"session": "s1", "add": ["ops", "viewer"], "remove": ["guest"]})");
  CHECK(r.session == "s1");
  CHECK(r.add == std::vector<std::string>{"ops", "viewer"});
  CHECK(r.remove == std::vector<std::string>{"guest"});
  CHECK(refused("sessions/change-roles", R"({"session": "s1"})")
            .message.find("'add' or 'remove'")
        != std::string::npos);
  CHECK(refused("sessions/change-roles", R"({"session": "s1", "add": "ops"})")
            .code
        == "INVALID_REQUEST");
  CHECK(refused("sessions/change-roles", R"({"session": "s1", "add": [""]})")
            .code
        == "INVALID_REQUEST");
  CHECK(refused("sessions/change-roles", R"({"add": ["ops"]})").code
        == "INVALID_REQUEST");
  CHECK(refused("sessions/change-roles",
                R"({"session": "s1", "add": ["a"], "roles": ["b"]})")
            .code
        == "INVALID_REQUEST");
}

TEST_CASE("api: topics/subscribe and topics/unsubscribe") {
  auto s = parsed<subscribe_topics>(
      "topics/subscribe", R"({"selector": "?a/.*", "qos": 2, "delta": true})");
  CHECK(s.selector == "?a/.*");
  CHECK(s.qos == 2);
  CHECK(s.delta);
  auto d = parsed<subscribe_topics>("topics/subscribe", R"({"selector": "a/#"})");
  CHECK(d.qos == 1);
  CHECK_FALSE(d.delta);
  auto u = parsed<unsubscribe_topics>("topics/unsubscribe",
                                      R"({"selector": ">a//"})");
  CHECK(u.selector == ">a//");
  CHECK_FALSE(u.delta);
  CHECK(refused("topics/subscribe", R"({"selector": "a", "qos": 3})").code
        == "INVALID_REQUEST");
  CHECK(refused("topics/subscribe", R"({"selector": "?a/(b"})").code
        == "INVALID_REQUEST");
  CHECK(refused("topics/unsubscribe", R"({})").code == "INVALID_REQUEST");
  CHECK(parsed<notify_topics>("topics/notify", R"({"selector": "*a/.*"})")
            .selector
        == "*a/.*");
  CHECK(parsed<unnotify_topics>("topics/unnotify", R"({"selector": "a/#"})")
            .selector
        == "a/#");
  CHECK(refused("topics/notify", R"({"selector": "?("})").code
        == "INVALID_REQUEST");
  CHECK_FALSE(parsed<notify_topics>("topics/notify", R"({"selector": "a"})")
                  .branches);
  CHECK(parsed<notify_topics>("topics/notify",
                              R"({"selector": "a", "branches": true})")
            .branches);
}

TEST_CASE("api: malformed requests get stable codes naming the field") {
  CHECK(refused("topics/explode", "{}").code == "UNKNOWN_OPERATION");
  CHECK(refused("", "{}").code == "UNKNOWN_OPERATION");
  auto e = refused("topics/add", "{not json");
  CHECK(e.code == "INVALID_REQUEST");
  CHECK(e.message == "the payload is not JSON");
  CHECK(refused("topics/add", "[1]").message
        == "the payload must be a JSON object");
  CHECK(refused("topics/add", R"({"type": "json"})").message
        == "missing 'path'");
  CHECK(refused("topics/add", R"({"path": 5, "type": "json"})").message
        == "'path' must be a string");
  CHECK(refused("topics/add", R"({"path": "a/+", "type": "json"})").message
        == "'a/+' is not a valid topic path");
  CHECK(
      refused("topics/add", R"({"path": "$castor/x", "type": "json"})").message
      == "topics under $castor/ are the server's");
  e = refused("topics/add", R"({"path": "a", "type": "jsn"})");
  CHECK(e.code == "INVALID_SPECIFICATION");
  CHECK(e.message.find("unknown type 'jsn'") != std::string::npos);
  e = refused("topics/add",
              R"({"path": "a", "type": "json", "properties": {"OWNER": 1}})");
  CHECK(e.message == "property 'OWNER' must be a string");
  e = refused("topics/add", R"({"path": "a", "type": "json",
                                 "properties": {"REMOVAL": "when never"}})");
  CHECK(e.code == "INVALID_SPECIFICATION");
  CHECK(e.message.rfind("REMOVAL: ", 0) == 0);
  CHECK(
      refused("topics/add", R"({"path": "a", "type": "json", "x": 1})").message
      == "unknown field 'x'");
  CHECK(refused("topics/fetch", R"({"selector": "$share/g/a"})").message
        == "selector '$share/g/a' at offset 0: '$share/g/a' is not a topic "
           "filter or selector");
  CHECK(refused("topics/fetch", R"({"selector": "?a/(b"})").message.rfind(
            "selector '?a/(b' at offset 3: bad regular expression '(b'", 0)
        == 0);
  CHECK(refused("topics/fetch", R"({"selector": "#", "limit": 0})").message
        == "'limit' must be a whole number from 1 to 10000");
  CHECK(refused("topics/fetch", R"({"selector": "#", "values": "yes"})").message
        == "'values' must be true or false");
  CHECK(refused("topics/update", R"({"path": "p"})").message
        == "missing 'value'");
  e = refused("topics/update",
              R"({"path": "p", "value": 1, "constraint": {"when": 1}})");
  CHECK(e.code == "INVALID_CONSTRAINT");
  CHECK(refused("topics/patch", R"({"path": "p", "patch": {}})").message
        == "'patch' must be a list of JSON Patch operations");
  CHECK(refused("timeseries/edit", R"({"path": "p", "value": 1})").message
        == "missing 'original'");
  CHECK(refused("timeseries/range", R"({"path": "p", "view": "all"})").message
        == "'view' is values or edits");
  CHECK(refused("timeseries/range",
                R"({"path": "p", "from": {"last_for": "10"}})")
            .message
        == "'last_for' takes a period such as \"10s\"");
  CHECK(refused("timeseries/range",
                R"({"path": "p", "from": {"seq": 1, "time": 2}})")
            .message
        == "'from' takes one of seq, time, last, last_for");
  CHECK(refused("timeseries/range", R"({"path": "p", "to": {"until": 1}})")
            .message
        == "'to' takes one of seq, time, next, next_for, not 'until'");
  CHECK(refused("locks/acquire", R"({"name": ""})").message
        == "'name' must not be empty");
}

TEST_CASE("api: locks/acquire's wait and release mode") {
  auto a = parsed<acquire_lock>("locks/acquire", R"({"name": "L"})");
  CHECK(a.wait_ms == 10000u);
  CHECK(a.release_on == lock_release::session_close);
  a = parsed<acquire_lock>(
      "locks/acquire",
      R"({"name": "L", "wait_ms": 0, "release_on": "disconnect"})");
  CHECK(a.wait_ms == 0u);
  CHECK(a.release_on == lock_release::disconnect);
  a = parsed<acquire_lock>(
      "locks/acquire",
      R"({"name": "L", "wait_ms": 50000, "release_on": "session_close"})");
  CHECK(a.wait_ms == 50000u);
  CHECK(a.release_on == lock_release::session_close);
  CHECK(refused("locks/acquire", R"({"name": "L", "wait_ms": 50001})").message
        == "'wait_ms' must be a whole number from 0 to 50000");
  CHECK(refused("locks/acquire", R"({"name": "L", "wait_ms": -1})").message
        == "'wait_ms' must be a whole number from 0 to 50000");
  CHECK(refused("locks/acquire", R"({"name": "L", "release_on": "never"})")
            .message
        == "'release_on' is session_close or disconnect");
  CHECK(refused("locks/acquire", R"({"name": "L", "release_on": 1})").message
        == "'release_on' must be a string");
  // release takes the name alone
  CHECK(refused("locks/release", R"({"name": "L", "wait_ms": 5})").message
        == "unknown field 'wait_ms'");
  CHECK(refused("locks/acquire",
                (R"({"name": ")" + std::string(257, 'x') + R"("})").c_str())
            .message
        == "'name' is longer than 256 bytes");
  CHECK(parsed<acquire_lock>(
            "locks/acquire",
            (R"({"name": ")" + std::string(256, 'x') + R"("})").c_str())
            .name.size()
        == 256u);
}

TEST_CASE("api: answers") {
  CHECK(json::parse(ok_answer()) == json{{"ok", true}});
  CHECK(json::parse(ok_answer({{"removed", 3}, {"ok", false}}))
        == json{{"ok", true}, {"removed", 3}});
  auto e = json::parse(error_answer({"PERMISSION_DENIED", "no MODIFY_TOPIC"}));
  CHECK(e
        == json{
            {"ok", false},
            {"error",
             {{"code", "PERMISSION_DENIED"}, {"message", "no MODIFY_TOPIC"}}}});
  // A message with bytes that are not UTF-8 still makes valid JSON.
  CHECK_NOTHROW(json::parse(error_answer({"X", "bad \xff byte"})));
}
