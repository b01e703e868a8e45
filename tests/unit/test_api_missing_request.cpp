// Requests of missing-topic handlers (protocol/api_request.hpp):
// handlers/missing-topic and handlers/remove-missing-topic read from their
// JSON, invalid paths refused; the literal prefix of what a request selects
// (protocol/missing_topic.hpp).

#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "api_request_util.hpp"
#include "protocol/api_request.hpp"
#include "protocol/missing_topic.hpp"

using namespace castor;
using namespace castor::api;
using namespace castor::api::test;

TEST_CASE("api: handlers/missing-topic and handlers/remove-missing-topic") {
  CHECK(parsed<add_missing_handler>("handlers/missing-topic",
                                     R"({"path": "a/b"})")
            .path
        == "a/b");
  CHECK(parsed<remove_missing_handler>("handlers/remove-missing-topic",
                                        R"({"path": "a"})")
            .path
        == "a");
  for (auto op : {"handlers/missing-topic", "handlers/remove-missing-topic"})
    for (auto bad : {R"({"path": "a/+"})", R"({"path": "a/#"})",
                     R"({"path": "$castor/x"})", R"({"path": "a//b"})",
                     R"({"path": "a/"})", R"({"path": ""})", R"({})",
                     R"({"path": 3})", R"({"path": "a", "extra": 1})", "[]"})
      CHECK_MESSAGE(refused(op, bad).code == "INVALID_REQUEST", op << " " << bad);
}

TEST_CASE("missing topic: the literal prefix of a filter or selector") {
  CHECK(missing_prefix("a/b/c") == "a/b/c");
  CHECK(missing_prefix("a/b/+") == "a/b");
  CHECK(missing_prefix("a/+/c") == "a");
  CHECK(missing_prefix("a/#") == "a");
  CHECK(missing_prefix("#") == "");
  CHECK(missing_prefix("+/a") == "");
  CHECK(missing_prefix(">a/b//") == "a/b");
  CHECK(missing_prefix("?a/b/.*") == "a/b");
  CHECK(missing_prefix("*a/b/.*") == "a/b");
  CHECK(missing_prefix("#>a/b////>a/c") == "a");
  CHECK(missing_prefix("?[") == ""); // not a selector: nothing literal
}

TEST_CASE("missing topic: the request payload and topic") {
  auto j = nlohmann::json::parse(
      missing_request_payload("?a/.*", "abc-1", "fetch"));
  CHECK(j == nlohmann::json{{"selector", "?a/.*"},
                            {"session", "abc-1"},
                            {"operation", "fetch"}});
  CHECK(missing_request_topic("a/b") == "$castor/missing/a/b");
  CHECK(missing_request_topic("") == "$castor/missing");
}
