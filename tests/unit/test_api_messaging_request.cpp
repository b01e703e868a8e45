// Requests of request-response messaging (protocol/api_request.hpp):
// handlers/add, handlers/remove, messages/send and the requests to sessions
// (streams/add, streams/remove, messages/send-to-session and
// messages/send-to-filter) read from their JSON,
// invalid paths refused.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "api_request_util.hpp"
#include "protocol/api_request.hpp"

using namespace castor;
using namespace castor::api;
using namespace castor::api::test;

TEST_CASE("api: handlers/add, handlers/remove and messages/send") {
  CHECK(parsed<add_handler>("handlers/add", R"({"path": "a/b"})").path
        == "a/b");
  CHECK(parsed<remove_handler>("handlers/remove", R"({"path": "a"})").path
        == "a");
  auto s = parsed<send_message>("messages/send",
                                 R"({"path": "a/b/c", "value": {"x": [1]}})");
  CHECK(s.path == "a/b/c");
  CHECK(s.value == nlohmann::json{{"x", {1}}});
  CHECK(refused("messages/send", R"({"path": "a"})").code == "INVALID_REQUEST");
  for (auto bad : {R"({"path": "a/+"})", R"({"path": "a/#"})",
                   R"({"path": "$castor/x"})", R"({"path": "a//b"})",
                   R"({"path": "a/"})", R"({"path": ""})", R"({})",
                   R"({"path": "a", "extra": 1})"})
    CHECK_MESSAGE(refused("handlers/add", bad).code == "INVALID_REQUEST", bad);
}

TEST_CASE("api: streams/add and streams/remove") {
  CHECK(parsed<add_stream>("streams/add", R"({"path": "a/b"})").path
        == "a/b");
  CHECK(parsed<remove_stream>("streams/remove", R"({"path": "a"})").path
        == "a");
  for (auto bad : {R"({"path": "a/+"})", R"({"path": "a/#"})",
                   R"({"path": "$castor/x"})", R"({"path": "a//b"})",
                   R"({"path": "a/"})", R"({"path": ""})", R"({})",
                   R"({"path": 3})", R"({"path": "a", "value": 1})",
                   R"({"path": "a", "session": "s"})"}) {
    CHECK_MESSAGE(refused("streams/add", bad).code == "INVALID_REQUEST", bad);
    CHECK_MESSAGE(refused("streams/remove", bad).code == "INVALID_REQUEST", bad);
  }
}

TEST_CASE("api: messages/send-to-session") {
  auto s = parsed<send_to_session>(
      "messages/send-to-session",
      R"({"session": "s-1", "path": "a/b", "value": [1, "x"]})");
  CHECK(s.session == "s-1");
  CHECK(s.path == "a/b");
  CHECK(s.value == nlohmann::json::array({1, "x"}));
  // A null value is a value; a missing one is not.
  CHECK(parsed<send_to_session>(
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
    CHECK_MESSAGE(refused("messages/send-to-session", bad).code
                      == "INVALID_REQUEST",
                  bad);
}

TEST_CASE("api: messages/send-to-filter") {
  auto f = parsed<send_to_filter>(
      "messages/send-to-filter",
      R"({"filter": "$Principal is 'a'", "path": "x/y", "value": {"q": 1}})");
  CHECK(f.filter == "$Principal is 'a'");
  CHECK(f.path == "x/y");
  CHECK(f.value == nlohmann::json{{"q", 1}});
  CHECK(parsed<send_to_filter>("messages/send-to-filter",
                                R"({"filter": "all", "path": "x", "value": 0})")
            .filter
        == "all");
  // A filter that does not parse is INVALID_FILTER, as for sessions/list.
  CHECK(refused("messages/send-to-filter",
                R"({"filter": "$Principal is", "path": "x", "value": 0})").code
        == "INVALID_FILTER");
  for (auto bad :
       {R"({"path": "a", "value": 1})", R"({"filter": "all", "value": 1})",
        R"({"filter": "all", "path": "a"})",
        R"({"filter": 1, "path": "a", "value": 1})",
        R"({"filter": "all", "path": "a/#", "value": 1})",
        R"({"filter": "all", "session": "s", "path": "a", "value": 1})"})
    CHECK_MESSAGE(refused("messages/send-to-filter", bad).code == "INVALID_REQUEST",
                  bad);
}

TEST_CASE("api: the operations list the requests to sessions") {
  auto& ops = operations();
  for (auto op : {"streams/add", "streams/remove", "messages/send-to-session",
                  "messages/send-to-filter"})
    CHECK_MESSAGE(std::find(ops.begin(), ops.end(), op) != ops.end(), op);
}
