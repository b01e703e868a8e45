#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "app/config.hpp"
#include "app/rest_answers.hpp"

using namespace castor;

TEST_SUITE("rest answers") {
  TEST_CASE("HTTP statuses of API error codes") {
    CHECK_EQ(rest::status_of("PERMISSION_DENIED"), 403);
    CHECK_EQ(rest::status_of("NOT_AUTHORIZED"), 401);
    CHECK_EQ(rest::status_of("NO_SUCH_SESSION"), 404);
    CHECK_EQ(rest::status_of("NO_SUCH_EVENT"), 404);
    CHECK_EQ(rest::status_of("NOT_FOUND"), 404);
    CHECK_EQ(rest::status_of("TOPIC_EXISTS"), 409);
    CHECK_EQ(rest::status_of("PRINCIPAL_EXISTS"), 409);
    CHECK_EQ(rest::status_of("CONFLICT"), 409);
    CHECK_EQ(rest::status_of("LOCKED"), 409);
    CHECK_EQ(rest::status_of("TIMEOUT"), 504);
    CHECK_EQ(rest::status_of("UNAVAILABLE"), 503);
    CHECK_EQ(rest::status_of("BUSY"), 503);
    CHECK_EQ(rest::status_of("INVALID_REQUEST"), 400);
    CHECK_EQ(rest::status_of("LOCK_TIMEOUT"), 400);
    CHECK_EQ(rest::status_of("NO_VALUE"), 400);
  }

  TEST_CASE("API answers as responses") {
    auto ok = rest::from_answer(R"({"ok":true,"removed":2})");
    CHECK_EQ(ok.status, 200);
    CHECK_EQ(ok.body, "{\"ok\":true,\"removed\":2}\n");
    CHECK_EQ(rest::from_answer(R"({"ok":true})", 201).status, 201);
    auto denied = rest::from_answer(
        R"({"ok":false,"error":{"code":"PERMISSION_DENIED","message":"x"}})",
        201);
    CHECK_EQ(denied.status, 403);
    CHECK_EQ(rest::from_answer("not json").status, 500);
    auto e = rest::error("NO_SUCH_SESSION", "no session 'a'");
    CHECK_EQ(e.status, 404);
    CHECK_EQ(nlohmann::json::parse(e.body)["error"]["code"], "NO_SUCH_SESSION");
  }

  TEST_CASE("the configuration as JSON, typed, in file order") {
    auto parsed = parse_config("listeners:\n"
                               "  - {name: a, port: 1884}\n"
                               "  - {name: '123', transport: http, port: 8081,"
                               " websocket: {path: /x}}\n"
                               "mqtt:\n"
                               "  max_packet_size: 5000\n"
                               "  retain_available: false\n"
                               "security:\n"
                               "  anonymous_roles: [GUEST]\n",
                               "test");
    REQUIRE(std::holds_alternative<config>(parsed));
    auto j = rest::config_json(std::get<config>(parsed));
    CHECK_EQ(j["mqtt"]["max_packet_size"], 5000);
    CHECK_EQ(j["mqtt"]["retain_available"], false);
    CHECK_EQ(j["listeners"].size(), 2u);
    CHECK_EQ(j["listeners"][0]["port"], 1884);
    CHECK_EQ(j["listeners"][1]["name"], "123"); // a quoted name stays text
    CHECK_EQ(j["listeners"][1]["websocket"]["path"], "/x");
    CHECK_EQ(j["listeners"][1]["bind"], "127.0.0.1");
    CHECK_EQ(j["security"]["anonymous_roles"], nlohmann::ordered_json{"GUEST"});
    CHECK_EQ(j["security"]["store_file"], "");
    // The order of config/castor.yaml: log_level first, as to_yaml writes.
    CHECK_EQ(j.begin().key(), "log_level");
    CHECK_FALSE(j.contains("source"));
  }
}
