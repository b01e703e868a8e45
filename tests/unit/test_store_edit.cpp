// Editing the security store (security/store_edit.hpp): a store written as
// YAML reads back as the same store; edits are checked as loading is; the
// file is replaced atomically with its mode kept.

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "security/password.hpp"
#include "security/store_edit.hpp"

using namespace castor::security;

namespace {

security_store parse_ok(const std::string& text) {
  auto r = parse_security_store(text, "store.yaml");
  if (auto err = std::get_if<store_error>(&r))
    FAIL("unexpected error: " << err->to_string());
  return std::get<security_store>(std::move(r));
}

const std::string hash_a = make_password_hash("alpha-Pw-1", 1000);

std::string sample() {
  return "principals:\n"
         "  alice: {password: \"" + hash_a + "\", roles: [OPS, \"odd: name\"]}\n"
         "roles:\n"
         "  OPS:\n"
         "    global: [VIEW_SERVER, VIEW_SECURITY]\n"
         "    default_path: [SELECT_TOPIC]\n"
         "    paths:\n"
         "      ops/a: [READ_TOPIC, UPDATE_TOPIC]\n"
         "    includes: [\"odd: name\"]\n"
         "  \"odd: name\": {}\n"
         "anonymous:\n"
         "  allow: true\n"
         "  roles: [OPS]\n"
         "isolated_paths: [secret, ops/b]\n";
}

void same(const security_store& a, const security_store& b) {
  CHECK(doc_of(a).principals.size() == doc_of(b).principals.size());
  CHECK(to_yaml(doc_of(a)) == to_yaml(doc_of(b)));
  REQUIRE(a.principals().size() == b.principals().size());
  for (auto& [name, p] : a.principals()) {
    auto& q = b.principals().at(name);
    CHECK(to_string(p.hash) == to_string(q.hash));
    CHECK(p.roles == q.roles);
  }
  REQUIRE(a.roles().size() == b.roles().size());
  for (auto& [name, r] : a.roles()) {
    auto& s = b.roles().at(name);
    CHECK(r.global == s.global);
    CHECK(r.default_path == s.default_path);
    CHECK(r.paths == s.paths);
    CHECK(r.includes == s.includes);
    CHECK(r.closure == s.closure);
  }
  CHECK(a.anonymous_allowed() == b.anonymous_allowed());
  CHECK(a.anonymous_roles() == b.anonymous_roles());
  CHECK(a.isolated_paths() == b.isolated_paths());
}

std::string temp_dir() {
  char tmpl[] = "/tmp/castor-store-edit-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

TEST_CASE("a store written as YAML reads back as the same store") {
  auto store = parse_ok(sample());
  auto back = parse_ok(to_yaml(doc_of(store)));
  same(store, back);
  CHECK(back.can({"alice"}, permission::view_server) == false);
  CHECK(back.can({"OPS"}, permission::view_server));
  CHECK(back.authenticate("alice", "alpha-Pw-1").decision
        == auth_decision::allow);
}

TEST_CASE("load, edit, save, load again") {
  auto dir = temp_dir();
  auto path = dir + "/store.yaml";
  {
    std::ofstream out{path};
    out << sample();
  }
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  auto loaded = load_security_store(path);
  REQUIRE(std::holds_alternative<security_store>(loaded));
  auto& store = std::get<security_store>(loaded);
  auto doc = doc_of(store);
  doc.principals["bob"]
      = store_doc::principal{make_password_hash("bob-Pw-22", 1000), {"OPS"}};
  doc.roles["NEW"].global = {"CONTROL_SERVER"};
  doc.roles["NEW"].includes = {"OPS"};
  doc.principals["alice"].roles = {"NEW"};
  auto built = build_store(doc, store, path);
  REQUIRE(std::holds_alternative<security_store>(built));
  REQUIRE_FALSE(save_file_atomically(path, to_yaml(doc)));
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(slurp(path).find("bob-Pw-22") == std::string::npos);
  auto again = load_security_store(path);
  REQUIRE(std::holds_alternative<security_store>(again));
  auto& reread = std::get<security_store>(again);
  same(std::get<security_store>(built), reread);
  CHECK(reread.authenticate("bob", "bob-Pw-22").decision
        == auth_decision::allow);
  CHECK(reread.can({"NEW"}, permission::control_server));
  CHECK(reread.can({"NEW"}, permission::view_security)); // through OPS
  CHECK(*reread.roles_of("alice") == std::vector<std::string>{"NEW"});
  // No temporary file is left beside it.
  std::remove(path.c_str());
  CHECK(::rmdir(dir.c_str()) == 0);
}

TEST_CASE("edits are checked as loading a store file is") {
  auto store = parse_ok(sample());
  auto check_error = [&](const store_doc& doc, const std::string& part) {
    auto r = build_store(doc, store, "store.yaml");
    REQUIRE(std::holds_alternative<store_error>(r));
    auto& err = std::get<store_error>(r);
    INFO(err.to_string());
    CHECK(err.to_string().find(part) != std::string::npos);
  };
  auto doc = doc_of(store);
  doc.roles["OPS"].global.push_back("FLY");
  check_error(doc, "FLY");
  doc = doc_of(store);
  doc.roles["OPS"].global.push_back("READ_TOPIC");
  check_error(doc, "READ_TOPIC");
  doc = doc_of(store);
  doc.roles["odd: name"].includes = {"OPS"};
  check_error(doc, "cycle");
  doc = doc_of(store);
  doc.principals["alice"].roles = {"MISSING"};
  check_error(doc, "unknown role 'MISSING'");
  doc = doc_of(store);
  CHECK(uses_of(doc, "OPS")
        == std::vector<std::string>{"principals.alice", "anonymous.roles"});
  CHECK(uses_of(doc, "odd: name")
        == std::vector<std::string>{"principals.alice", "roles.OPS.includes"});
}

TEST_CASE("an edited store keeps the stand-in secret") {
  auto store = parse_ok(sample());
  store.set_stand_in_secret("a stand-in secret of 32 bytes...");
  auto doc = doc_of(store);
  doc.principals["bob"]
      = store_doc::principal{make_password_hash("bob-Pw-22", 1000), {}};
  auto built = build_store(doc, store, "store.yaml");
  REQUIRE(std::holds_alternative<security_store>(built));
  auto& edited = std::get<security_store>(built);
  CHECK(to_string(edited.stand_in_hash()) == to_string(store.stand_in_hash()));
}

TEST_CASE("saving into a missing directory fails and says why") {
  auto why = save_file_atomically("/nonexistent-dir-castor/store.yaml", "x");
  REQUIRE(why);
  CHECK(why->find("/nonexistent-dir-castor/store.yaml") != std::string::npos);
}
