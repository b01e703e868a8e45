// Security store: password hashes, YAML loading with located errors, the
// permission model (inheritance, isolation, included roles) and the
// authentication decisions.

#include <doctest/doctest.h>

#include <cstdio>
#include <unistd.h>
#include <fstream>
#include <iterator>
#include <string>

#include "security/crypto.hpp"
#include "security/password.hpp"
#include "security/security_store.hpp"

using namespace castor::security;

namespace {

security_store parse_ok(const std::string& text) {
  auto r = parse_security_store(text, "store.yaml");
  if (auto err = std::get_if<store_error>(&r))
    FAIL("unexpected error: " << err->to_string());
  return std::get<security_store>(std::move(r));
}

store_error parse_err(const std::string& text) {
  auto r = parse_security_store(text, "store.yaml");
  REQUIRE(std::holds_alternative<store_error>(r));
  return std::get<store_error>(r);
}

using roles_t = std::vector<std::string>;

std::string to_hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

} // namespace

TEST_CASE("crypto: base64 and base64url round trips and rejects") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_decode("Zm9vYg==") == std::optional<std::string>("foob"));
  CHECK_FALSE(base64_decode("Zm9vYg=").has_value());
  CHECK_FALSE(base64_decode("Zm9v!mFy").has_value());
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  for (size_t n = 0; n < all.size(); n += 7) {
    auto part = all.substr(n);
    CHECK(base64_decode(base64_encode(part))
          == std::optional<std::string>(part));
    auto url = base64url_encode(part);
    CHECK(url.find_first_of("+/=") == std::string::npos);
    CHECK(base64url_decode(url) == std::optional<std::string>(part));
  }
  CHECK_FALSE(base64url_decode("a+b").has_value());
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "abcd"));
}

TEST_CASE("password hashes: PBKDF2 vector, format, verification") {
  // RFC 7914 section 11 gives PBKDF2-HMAC-SHA256 test vectors.
  auto dk = pbkdf2_sha256("passwd", "salt", 1, 64);
  CHECK(to_hex(dk.substr(0, 32))
        == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
  auto text = make_password_hash("s3cret", 1000);
  CHECK(text.rfind("pbkdf2-sha256$1000$", 0) == 0);
  std::string why;
  auto h = parse_password_hash(text, why);
  REQUIRE(h.has_value());
  CHECK(h->salt.size() == 16);
  CHECK(h->hash.size() == 32);
  CHECK(verify_password(*h, "s3cret"));
  CHECK_FALSE(verify_password(*h, "s3cret "));
  CHECK_FALSE(verify_password(*h, ""));
  // Fresh salt every time.
  CHECK(make_password_hash("s3cret", 1000) != text);
  // Deterministic form with a given salt.
  CHECK(make_password_hash("pw", "saltsalt", 1000)
        == make_password_hash("pw", "saltsalt", 1000));
  CHECK(to_string(*h) == text);
  CHECK_THROWS_AS(make_password_hash("pw", 10), std::invalid_argument);
  for (auto bad :
       {"", "pbkdf2-sha256$1000$c2FsdHNhbHQ=",
        "md5$1000$c2FsdHNhbHQ=$c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2-sha256$10$c2FsdHNhbHQ=$c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2-sha256$x$c2FsdHNhbHQ=$c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2-sha256$1000$!!$c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ=$c2FsdHNhbHRzYWx0c2FsdA==$"}) {
    std::string w;
    CHECK_FALSE(parse_password_hash(bad, w).has_value());
    CHECK_FALSE(w.empty());
  }
}

TEST_CASE("security store: authentication decisions") {
  auto alice = make_password_hash("alice-pw", 1000);
  auto bob = make_password_hash("bob-pw", 1000);
  auto store = parse_ok("principals:\n"
                        "  alice:\n"
                        "    password: \""
                        + alice
                        + "\"\n"
                          "    roles: [OPERATOR]\n"
                          "  bob:\n"
                          "    password: \""
                        + bob
                        + "\"\n"
                          "roles:\n"
                          "  OPERATOR: {global: [VIEW_SERVER]}\n"
                          "  GUEST: {default_path: [SELECT_TOPIC]}\n"
                          "anonymous:\n"
                          "  allow: true\n"
                          "  roles: [GUEST]\n");
  auto r = store.authenticate("alice", "alice-pw");
  CHECK(r.decision == auth_decision::allow);
  CHECK(r.principal == "alice");
  CHECK(r.roles == roles_t{"OPERATOR"});
  CHECK(store.authenticate("alice", "bob-pw").decision == auth_decision::deny);
  CHECK(store.authenticate("bob", "bob-pw").roles.empty());
  CHECK(store.authenticate("carol", "x").decision == auth_decision::abstain);
  auto anon = store.authenticate("", "");
  CHECK(anon.decision == auth_decision::allow);
  CHECK(anon.principal.empty());
  CHECK(anon.roles == roles_t{"GUEST"});
  CHECK(store.roles_of("alice") == std::optional<roles_t>(roles_t{"OPERATOR"}));
  CHECK_FALSE(store.roles_of("carol").has_value());
  // Anonymous is denied unless the store allows it.
  auto closed = parse_ok("principals: {}\n");
  CHECK(closed.authenticate_anonymous().decision == auth_decision::deny);
  auto denied = parse_ok("anonymous: {allow: false, roles: []}\n");
  CHECK(denied.authenticate("", "").decision == auth_decision::deny);
}

TEST_CASE("security store: path permissions inherit, override and isolate") {
  auto store = parse_ok(R"(
roles:
  CLIENT:
    global: [VIEW_SESSION]
    default_path: [SELECT_TOPIC, READ_TOPIC]
    paths:
      devices: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC]
      devices/locked: [SELECT_TOPIC]
      secret/public: [READ_TOPIC]
  ADMIN:
    global: [CONTROL_SERVER, VIEW_SECURITY, MODIFY_SECURITY]
    default_path: [MODIFY_TOPIC]
    paths:
      secret: [READ_TOPIC, MODIFY_TOPIC]
    includes: [CLIENT]
isolated_paths: [secret]
)");
  roles_t client{"CLIENT"}, admin{"ADMIN"};
  auto perms = [&](const roles_t& r, const char* path) {
    return store.permissions(r, path).to_string();
  };
  // Default path permissions everywhere nothing more specific applies.
  CHECK(perms(client, "weather/today") == "[SELECT_TOPIC, READ_TOPIC]");
  CHECK(perms(client, "/leading") == "[SELECT_TOPIC, READ_TOPIC]");
  // An assignment applies down the tree...
  CHECK(perms(client, "devices") == "[SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC]");
  CHECK(perms(client, "devices/d1/temp")
        == "[SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC]");
  // ...and a more specific one replaces it.
  CHECK(perms(client, "devices/locked/x") == "[SELECT_TOPIC]");
  // A sibling whose name extends another's is not below it.
  CHECK(perms(client, "devicesX") == "[SELECT_TOPIC, READ_TOPIC]");
  // Isolated: the defaults do not reach in.
  CHECK(perms(client, "secret") == "[]");
  CHECK(perms(client, "secret/plans") == "[]");
  CHECK(perms(client, "secret/public/news") == "[READ_TOPIC]");
  CHECK(store.is_isolated("secret"));
  // Included roles add their own permissions, evaluated on their own.
  CHECK(perms(admin, "weather") == "[SELECT_TOPIC, READ_TOPIC, MODIFY_TOPIC]");
  CHECK(perms(admin, "secret/plans") == "[READ_TOPIC, MODIFY_TOPIC]");
  CHECK(perms(admin, "devices/x")
        == "[SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]");
  CHECK(store.global_permissions(admin).to_string()
        == "[VIEW_SESSION, CONTROL_SERVER, VIEW_SECURITY, MODIFY_SECURITY]");
  // can(): global permissions ignore the path; path permissions use it.
  CHECK(store.can(client, permission::view_session));
  CHECK_FALSE(store.can(client, permission::control_server));
  CHECK(store.can(admin, permission::control_server, "anything"));
  CHECK(store.can(client, permission::update_topic, "devices/a"));
  CHECK_FALSE(store.can(client, permission::update_topic, "weather"));
  CHECK_FALSE(store.can(client, permission::read_topic, "secret/x"));
  CHECK(store.can(admin, permission::read_topic, "secret/x"));
  // Several roles: union; unknown roles grant nothing.
  CHECK(store.permissions(roles_t{"CLIENT", "NOPE"}, "devices")
        == store.permissions(client, "devices"));
  CHECK(store.permissions(roles_t{"NOPE"}, "devices").empty());
  CHECK(store.permissions(roles_t{}, "devices").empty());
}

TEST_CASE("security store: errors name the file, line and key") {
  auto e = parse_err("roles:\n"
                     "  A:\n"
                     "    global: [VIEW_SESSION, FLY]\n");
  CHECK(e.file == "store.yaml");
  CHECK(e.line == 3);
  CHECK(e.key == "roles.A.global[1]");
  CHECK(e.message.find("FLY") != std::string::npos);
  CHECK(e.to_string().rfind("store.yaml:3: roles.A.global[1]: ", 0) == 0);

  e = parse_err("roles:\n  A: {global: [READ_TOPIC]}\n");
  CHECK(e.line == 2);
  CHECK(e.message.find("path permission") != std::string::npos);

  e = parse_err("roles:\n  A: {default_path: [VIEW_SERVER]}\n");
  CHECK(e.message.find("global permission") != std::string::npos);

  e = parse_err("principals:\n"
                "  u:\n"
                "    password: \"pbkdf2-sha256$1000$c2FsdHNhbHQ=$c2VjcmV0\"\n");
  CHECK(e.line == 3);
  CHECK(e.key == "principals.u.password");
  CHECK(e.message.find("malformed password hash") != std::string::npos);
  // The hash text itself is never echoed.
  CHECK(e.to_string().find("c2VjcmV0") == std::string::npos);

  e = parse_err("principals:\n  u:\n    roles: []\n");
  CHECK(e.key == "principals.u");
  CHECK(e.message == "missing password");

  auto hash = make_password_hash("pw", 1000);
  e = parse_err("principals:\n  u:\n    password: \"" + hash
                + "\"\n    roles: [GHOST]\n");
  CHECK(e.line == 4);
  CHECK(e.key == "principals.u.roles");
  CHECK(e.message == "unknown role 'GHOST'");

  e = parse_err("roles: {}\nanonymous: {allow: maybe}\n");
  CHECK(e.key == "anonymous.allow");
  CHECK(e.line == 2);

  e = parse_err("roles: {}\nusers: {}\n");
  CHECK(e.key == "users");
  CHECK(e.line == 2);

  e = parse_err("roles:\n  A:\n    paths:\n      a/+/b: [READ_TOPIC]\n");
  CHECK(e.line == 4);
  CHECK(e.key == "roles.A.paths.a/+/b");

  e = parse_err("roles:\n  A: {colour: red}\n");
  CHECK(e.key == "roles.A.colour");

  e = parse_err("isolated_paths: [ok, \"a/#\"]\n");
  CHECK(e.key == "isolated_paths");

  e = parse_err("roles: [unclosed\n");
  CHECK(e.message.rfind("YAML syntax error", 0) == 0);
  CHECK(e.line >= 1);
}

TEST_CASE("security store: role cycles are rejected with the chain") {
  auto e = parse_err("roles:\n"
                     "  A: {includes: [B]}\n"
                     "  B: {includes: [C]}\n"
                     "  C: {includes: [A]}\n");
  CHECK(e.message.find("cycle") != std::string::npos);
  CHECK(e.message.find("A -> B -> C -> A") != std::string::npos);
  CHECK(e.line >= 2);
  e = parse_err("roles:\n  SELF: {includes: [SELF]}\n");
  CHECK(e.message.find("SELF -> SELF") != std::string::npos);
  CHECK(e.line == 2);
  // A diamond is not a cycle.
  auto store = parse_ok("roles:\n"
                        "  TOP: {includes: [L, R]}\n"
                        "  L: {includes: [BASE]}\n"
                        "  R: {includes: [BASE]}\n"
                        "  BASE: {global: [VIEW_SERVER]}\n");
  CHECK(store.can({"TOP"}, permission::view_server));
  CHECK_FALSE(store.can({"L"}, permission::control_server));
}

TEST_CASE("security store: loading from a file and SCRAM keys") {
  auto hash = make_password_hash("pencil", "0123456789abcdef", 4096);
  std::string path
      = "/tmp/castor_test_store_" + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream out{path};
    out << "principals:\n  user:\n    password: \"" << hash << "\"\n";
  }
  auto r = load_security_store(path);
  std::remove(path.c_str());
  REQUIRE(std::holds_alternative<security_store>(r));
  auto& store = std::get<security_store>(r);
  auto creds = store.scram_credentials_of("user");
  REQUIRE(creds.has_value());
  CHECK(creds->iterations == 4096);
  CHECK(creds->salt == "0123456789abcdef");
  auto salted = pbkdf2_sha256("pencil", "0123456789abcdef", 4096, 32);
  CHECK(creds->stored_key == sha256(hmac_sha256(salted, "Client Key")));
  CHECK(creds->server_key == hmac_sha256(salted, "Server Key"));
  CHECK_FALSE(store.scram_credentials_of("nobody").has_value());

  auto missing = load_security_store("/nonexistent/castor/store.yaml");
  REQUIRE(std::holds_alternative<store_error>(missing));
  CHECK(std::get<store_error>(missing).file
        == "/nonexistent/castor/store.yaml");
  CHECK(std::get<store_error>(missing).message.find("cannot read")
        != std::string::npos);
}

TEST_CASE("authenticator chain: first allow or deny decides") {
  auto hash = make_password_hash("pw", 1000);
  auto store = parse_ok("principals:\n  u:\n    password: \"" + hash
                        + "\"\n    roles: [R]\nroles:\n  R: {}\n");
  int later_calls = 0;
  auto later = [&] {
    ++later_calls;
    return auth_result::allow("from-later", {});
  };
  // Known user, right password: the store decides, later handlers never run.
  auto r = run_chain({[&] { return store.authenticate("u", "pw"); }, later});
  CHECK(r.decision == auth_decision::allow);
  CHECK(r.principal == "u");
  CHECK(later_calls == 0);
  // Wrong password: denied, later handlers never run.
  r = run_chain({[&] { return store.authenticate("u", "nope"); }, later});
  CHECK(r.decision == auth_decision::deny);
  CHECK(r.reason == "wrong password");
  CHECK(later_calls == 0);
  // Unknown user: the store abstains and the next handler decides.
  r = run_chain({[&] { return store.authenticate("x", "pw"); }, later});
  CHECK(r.decision == auth_decision::allow);
  CHECK(r.principal == "from-later");
  CHECK(later_calls == 1);
  // Everybody abstains, or nobody is configured: denied.
  r = run_chain({[&] { return store.authenticate("x", "pw"); }});
  CHECK(r.decision == auth_decision::deny);
  CHECK(run_chain({}).decision == auth_decision::deny);
}

TEST_CASE("security store: the example in docs/security.md") {
  // The documentation's example store loads and behaves as the text says.
  std::string here = __FILE__;
  auto root = here.substr(0, here.rfind("tests/unit/"));
  std::ifstream in{root + "docs/security.md"};
  REQUIRE(in.good());
  std::string doc((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  auto start = doc.find("```yaml\nprincipals:");
  REQUIRE(start != std::string::npos);
  start += 8;
  auto end = doc.find("```", start);
  auto store = parse_ok(doc.substr(start, end - start));
  auto admin = store.authenticate("admin", "admin-example-password");
  CHECK(admin.decision == auth_decision::allow);
  CHECK(store.authenticate("sensor-1", "sensor-example-password").decision
        == auth_decision::allow);
  CHECK(store.authenticate("sensor-1", "admin-example-password").decision
        == auth_decision::deny);
  auto anon = store.authenticate_anonymous();
  REQUIRE(anon.decision == auth_decision::allow);
  auto device = *store.roles_of("sensor-1");
  // Anonymous clients read everything except below the isolated path.
  CHECK(store.can(anon.roles, permission::read_topic, "weather/today"));
  CHECK_FALSE(store.can(anon.roles, permission::update_topic, "weather"));
  CHECK_FALSE(store.can(anon.roles, permission::read_topic, "secret/plans"));
  // The device publishes below devices, only reads below devices/firmware.
  CHECK(store.can(device, permission::update_topic, "devices/sensor-1/t"));
  CHECK(store.can(device, permission::read_topic, "devices/firmware/v2"));
  CHECK_FALSE(
      store.can(device, permission::update_topic, "devices/firmware/v2"));
  // The administrator does everything, but secret is read-only.
  CHECK(store.can(admin.roles, permission::control_server));
  CHECK(store.can(admin.roles, permission::modify_topic, "anything/at/all"));
  CHECK(store.can(admin.roles, permission::read_topic, "secret/plans"));
  CHECK_FALSE(store.can(admin.roles, permission::update_topic, "secret/plans"));
  CHECK(store.can(admin.roles, permission::view_session));
}

TEST_CASE("security store: unknown users are hashed like known ones") {
  auto a = make_password_hash("pw-a", 1500);
  auto b = make_password_hash("pw-b", 1500);
  auto c = make_password_hash("pw-c", 3000);
  auto store = parse_ok("principals:\n"
                        "  a: {password: \"" + a + "\", roles: []}\n"
                        "  b: {password: \"" + b + "\", roles: []}\n"
                        "  c: {password: \"" + c + "\", roles: []}\n");
  // The stand-in takes the iteration count most principals have.
  CHECK(store.stand_in_hash().iterations == 1500);
  CHECK(store.stand_in_hash().hash.size() == 32);
  CHECK(store.stand_in_hash().salt.size() == 16);
  CHECK(store.authenticate("nobody", "pw-a").decision
        == auth_decision::abstain);
  CHECK(store.authenticate("a", "pw-a").decision == auth_decision::allow);
  // No principals: the default parameters.
  auto empty = parse_ok("roles: {}\n");
  CHECK(empty.stand_in_hash().iterations == default_pbkdf2_iterations);
  security_store blank;
  CHECK(blank.stand_in_hash().iterations == default_pbkdf2_iterations);
  // SCRAM stand-ins: shaped like the real entries.
  auto known = store.scram_credentials_for("a");
  auto unknown = store.scram_credentials_for("nobody");
  CHECK_FALSE(known.stand_in);
  CHECK(unknown.stand_in);
  CHECK(unknown.iterations == 1500);
  CHECK(unknown.salt.size() == known.salt.size());
  CHECK(unknown.stored_key.size() == known.stored_key.size());
  CHECK(store.scram_credentials_for("nobody").salt == unknown.salt);
}
