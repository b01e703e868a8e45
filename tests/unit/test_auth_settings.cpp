// The `security:` configuration section and how it is turned into the
// authenticators' settings (files read, references checked).

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <variant>

#include <unistd.h>

#include "actors/authenticator.hpp"
#include "app/config.hpp"
#include "security/password.hpp"

using namespace castor;

namespace {

config parse_sec(const std::string& text) {
  auto r = parse_config(text, "test.yaml");
  if (auto err = std::get_if<config_error>(&r))
    FAIL("unexpected error: " << err->to_string());
  return std::get<config>(r);
}

config_error parse_sec_err(const std::string& text) {
  auto r = parse_config(text, "test.yaml");
  REQUIRE(std::holds_alternative<config_error>(r));
  return std::get<config_error>(r);
}

/// A file that removes itself.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& text) {
    char name[] = "/tmp/castor-auth-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream{path} << text;
  }
  ~temp_file() {
    std::remove(path.c_str());
  }
};

std::string load_err(const security_config& cfg) {
  auto r = load_auth_settings(cfg);
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}

const std::string store_text = "principals:\n"
                               "  alice:\n"
                               "    password: \""
                               + security::make_password_hash("pw", 1000)
                               + "\"\n"
                                 "    roles: [READER]\n"
                                 "roles:\n"
                                 "  READER:\n"
                                 "    default_path: [SELECT_TOPIC]\n";

} // namespace

TEST_SUITE("auth settings") {
  TEST_CASE("defaults let every client in with full access") {
    auto cfg = parse_sec("");
    CHECK(cfg.security.store_file.empty());
    CHECK(cfg.security.anonymous == anonymous_policy::allow);
    CHECK(cfg.security.anonymous_roles.empty());
    auto r = load_auth_settings(cfg.security);
    REQUIRE(std::holds_alternative<auth_settings>(r));
    auto& s = std::get<auth_settings>(r);
    CHECK(s.store == nullptr);
    CHECK(s.jwt == nullptr);
    CHECK(s.can({}, security::permission::update_topic, "any/thing"));
    CHECK(s.can({}, security::permission::control_server));
  }

  TEST_CASE("the section is read and written back") {
    auto cfg = parse_sec("security:\n"
                         "  store_file: /etc/castor/security.yaml\n"
                         "  anonymous: deny\n"
                         "  anonymous_roles: [A, B]\n"
                         "  jwt:\n"
                         "    roles_claim: realm_access.roles\n"
                         "    leeway_seconds: 30\n"
                         "  failed_login_threshold: 5\n");
    CHECK_EQ(cfg.security.store_file, "/etc/castor/security.yaml");
    CHECK(cfg.security.anonymous == anonymous_policy::deny);
    CHECK_EQ(cfg.security.anonymous_roles, std::vector<std::string>{"A", "B"});
    CHECK_EQ(cfg.security.jwt.roles_claim, "realm_access.roles");
    CHECK_EQ(cfg.security.jwt.leeway_seconds, 30u);
    CHECK_EQ(cfg.security.failed_login_threshold, 5u);
    auto again = parse_sec(to_yaml(cfg));
    CHECK_EQ(to_yaml(again), to_yaml(cfg));
  }

  TEST_CASE("bad values name the key and line") {
    auto err = parse_sec_err("security:\n  anonymous: maybe\n");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.key, "security.anonymous");
    err = parse_sec_err("security:\n  anonymous_roles: [ok, \"a b\"]\n");
    CHECK_EQ(err.key, "security.anonymous_roles[1]");
    err = parse_sec_err("security:\n  jwt:\n    leeway_seconds: 100000\n");
    CHECK_EQ(err.line, 3);
    CHECK_EQ(err.key, "security.jwt.leeway_seconds");
    err = parse_sec_err("security:\n  store: x\n");
    CHECK_EQ(err.key, "security.store");
  }

  TEST_CASE("the store file is loaded and references are checked") {
    temp_file store{store_text};
    security_config cfg;
    cfg.store_file = store.path;
    cfg.anonymous = anonymous_policy::store;
    cfg.anonymous_roles = {"READER"};
    auto r = load_auth_settings(cfg);
    REQUIRE(std::holds_alternative<auth_settings>(r));
    auto& s = std::get<auth_settings>(r);
    REQUIRE(s.store != nullptr);
    CHECK(s.store->principals().count("alice") == 1);
    CHECK(s.can({"READER"}, security::permission::select_topic, "x"));
    CHECK_FALSE(s.can({"READER"}, security::permission::update_topic, "x"));
    cfg.anonymous_roles = {"NOPE"};
    auto err = load_err(cfg);
    CHECK(err.find("security.anonymous_roles") != std::string::npos);
    CHECK(err.find("NOPE") != std::string::npos);
  }

  TEST_CASE("a bad store names file, line and key") {
    temp_file store{"principals:\n  alice:\n    password: nothash\n"};
    security_config cfg;
    cfg.store_file = store.path;
    auto err = load_err(cfg);
    CHECK(err.find(store.path + ":3: principals.alice.password") == 0);
    CHECK(err.find("nothash") == std::string::npos);
    cfg.store_file = "/nonexistent/castor-security.yaml";
    err = load_err(cfg);
    CHECK(err.find("/nonexistent/castor-security.yaml") != std::string::npos);
  }

  TEST_CASE("anonymous: store needs a store") {
    security_config cfg;
    cfg.anonymous = anonymous_policy::store;
    CHECK(load_err(cfg).find("security.anonymous") != std::string::npos);
  }

  TEST_CASE("JWT secrets are read from a file and never quoted") {
    temp_file good{"0123456789abcdef0123456789abcdef\n"};
    security_config cfg;
    cfg.jwt.hs256_secret_file = good.path;
    auto r = load_auth_settings(cfg);
    REQUIRE(std::holds_alternative<auth_settings>(r));
    auto& s = std::get<auth_settings>(r);
    REQUIRE(s.jwt != nullptr);
    // The trailing newline is not part of the secret.
    auto token = security::make_hs256_token(R"({"sub":"d","exp":4000000000})",
                                            "0123456789abcdef0123456789abcdef");
    CHECK(s.jwt->authenticate(token, 1700000000).decision
          == security::auth_decision::allow);
    temp_file short_secret{"too-short-secret"};
    cfg.jwt.hs256_secret_file = short_secret.path;
    auto err = load_err(cfg);
    CHECK(err.find("security.jwt") != std::string::npos);
    CHECK(err.find("too-short-secret") == std::string::npos);
    cfg.jwt.hs256_secret_file = "/nonexistent/secret";
    err = load_err(cfg);
    CHECK(err.find("/nonexistent/secret") != std::string::npos);
  }
}
