// Requests of request-response messaging (protocol/api_request.hpp):
// handlers/add, handlers/remove and messages/send read from their JSON,
// invalid paths refused.

#include <doctest/doctest.h>

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
