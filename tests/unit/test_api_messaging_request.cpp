// Requests of request-response messaging (protocol/api_request.hpp):
// handlers/add, handlers/remove, messages/send and the requests to sessions
// (streams/add, streams/remove, messages/send-to-session and
// messages/send-to-filter) read from their JSON,
// invalid paths refused.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "protocol/api_request.hpp"

using namespace castor;
using namespace castor::api;

namespace {

template <class T>
T read_as(std::string_view op, const char* payload) {
  auto r = parse_request(op, payload);
  if (auto e = std::get_if<error>(&r))
    FAIL(op << " " << payload << ": " << e->code << " " << e->message);
  auto& req = std::get<request>(r);
  REQUIRE(std::holds_alternative<T>(req));
  return std::get<T>(req);
}

std::string code_of(std::string_view op, std::string_view payload) {
  auto r = parse_request(op, payload);
  REQUIRE(std::holds_alternative<error>(r));
  return std::get<error>(r).code;
}

} // namespace

TEST_CASE("api: handlers/add, handlers/remove and messages/send") {
  CHECK(read_as<add_handler>("handlers/add", R"({"path": "a/b"})").path
        == "a/b");
  CHECK(read_as<remove_handler>("handlers/remove", R"({"path": "a"})").path
        == "a");
  auto s = read_as<send_message>("messages/send",
                                 R"({"path": "a/b/c", "value": {"x": [1]}})");
  CHECK(s.path == "a/b/c");
  CHECK(s.value == nlohmann::json{{"x", {1}}});
  CHECK(code_of("messages/send", R"({"path": "a"})") == "INVALID_REQUEST");
  for (auto bad : {R"({"path": "a/+"})", R"({"path": "a/#"})",
                   R"({"path": "$castor/x"})", R"({"path": "a//b"})",
                   R"({"path": "a/"})", R"({"path": ""})", R"({})",
                   R"({"path": "a", "extra": 1})"})
    CHECK_MESSAGE(code_of("handlers/add", bad) == "INVALID_REQUEST", bad);
}

TEST_CASE("api: streams/add and streams/remove") {
  CHECK(read_as<add_stream>("streams/add", R"({"path": "a/b"})").path
        == "a/b");
  CHECK(read_as<remove_stream>("streams/remove", R"({"path": "a"})").path
        == "a");
  for (auto bad : {R"({"path": "a/+"})", R"({"path": "a/#"})",
                   R"({"path": "$castor/x"})", R"({"path": "a//b"})",
                   R"({"path": "a/"})", R"({"path": ""})", R"({})",
                   R"({"path": 3})", R"({"path": "a", "value": 1})",
                   R"({"path": "a", "session": "s"})"}) {
    CHECK_MESSAGE(code_of("streams/add", bad) == "INVALID_REQUEST", bad);
    CHECK_MESSAGE(code_of("streams/remove", bad) == "INVALID_REQUEST", bad);
  }
}

TEST_CASE("api: messages/send-to-session") {
  auto s = read_as<send_to_session>(
      "messages/send-to-session",
      R"({"session": "s-1", "path": "a/b", "value": [1, "x"]})");
  CHECK(s.session == "s-1");
  CHECK(s.path == "a/b");
  CHECK(s.value == nlohmann::json::array({1, "x"}));
  // A null value is a value; a missing one is not.
  CHECK(read_as<send_to_session>(
            "messages/send-to-session",
            R"({"session": "s", "path": "a", "value": null})")
            .value.is_null());
  for (auto bad :
       {R"({"path": "a", "value": 1})", R"({"session": "s", "value": 1})",
        R"({"session": "s", "path": "a"})",
        R"({"session": 1, "path": "a", "value": 1})",
        R"({"session": "s", "path": "a/+", "value": 1})",
        R"({"session": "s", "path": "$castor/a", "value": 1})",
        R"({"session": "s", "filter": "all", "path": "a", "value": 1})"})
    CHECK_MESSAGE(code_of("messages/send-to-session", bad)
                      == "INVALID_REQUEST",
                  bad);
}

TEST_CASE("api: messages/send-to-filter") {
  auto f = read_as<send_to_filter>(
      "messages/send-to-filter",
      R"({"filter": "$Principal is 'a'", "path": "x/y", "value": {"q": 1}})");
  CHECK(f.filter == "$Principal is 'a'");
  CHECK(f.path == "x/y");
  CHECK(f.value == nlohmann::json{{"q", 1}});
  CHECK(read_as<send_to_filter>("messages/send-to-filter",
                                R"({"filter": "all", "path": "x", "value": 0})")
            .filter
        == "all");
  // A filter that does not parse is INVALID_FILTER, as for sessions/list.
  CHECK(code_of("messages/send-to-filter",
                R"({"filter": "$Principal is", "path": "x", "value": 0})")
        == "INVALID_FILTER");
  for (auto bad :
       {R"({"path": "a", "value": 1})", R"({"filter": "all", "value": 1})",
        R"({"filter": "all", "path": "a"})",
        R"({"filter": 1, "path": "a", "value": 1})",
        R"({"filter": "all", "path": "a/#", "value": 1})",
        R"({"filter": "all", "session": "s", "path": "a", "value": 1})"})
    CHECK_MESSAGE(code_of("messages/send-to-filter", bad) == "INVALID_REQUEST",
                  bad);
}

TEST_CASE("api: the operations list the requests to sessions") {
  auto& ops = operations();
  for (auto op : {"streams/add", "streams/remove", "messages/send-to-session",
                  "messages/send-to-filter"})
    CHECK_MESSAGE(std::find(ops.begin(), ops.end(), op) != ops.end(), op);
}
