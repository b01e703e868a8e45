// SCRAM-SHA-256 server: the RFC 7677 exchange, a client written here, the
// security store as the source of keys, and the refusals.

#include <doctest/doctest.h>

#include <map>

#include <string>

#include "security/crypto.hpp"
#include "security/password.hpp"
#include "security/scram.hpp"
#include "security/security_store.hpp"

using namespace castor::security;

namespace {

scram_credentials derive(std::string_view password, std::string salt,
                         uint32_t iterations) {
  auto salted = pbkdf2_sha256(password, salt, iterations, 32);
  scram_credentials c;
  c.salt = std::move(salt);
  c.iterations = iterations;
  c.stored_key = sha256(hmac_sha256(salted, "Client Key"));
  c.server_key = hmac_sha256(salted, "Server Key");
  return c;
}

// The client side of RFC 5802, written from the RFC for this test.
struct scram_client {
  std::string user;
  std::string password;
  std::string nonce;
  std::string client_first_bare;
  std::string auth_message;
  std::string salted;

  std::string first() {
    client_first_bare = "n=" + user + ",r=" + nonce;
    return "n,," + client_first_bare;
  }

  std::string final_message(const std::string& server_first) {
    std::string r, s;
    uint32_t i = 0;
    size_t start = 0;
    while (start < server_first.size()) {
      auto comma = server_first.find(',', start);
      auto field = server_first.substr(start, comma - start);
      if (field.rfind("r=", 0) == 0)
        r = field.substr(2);
      else if (field.rfind("s=", 0) == 0)
        s = *base64_decode(field.substr(2));
      else if (field.rfind("i=", 0) == 0)
        i = static_cast<uint32_t>(std::stoul(field.substr(2)));
      if (comma == std::string::npos)
        break;
      start = comma + 1;
    }
    REQUIRE(r.rfind(nonce, 0) == 0);
    salted = pbkdf2_sha256(password, s, i, 32);
    std::string without_proof = "c=biws,r=" + r;
    auth_message = client_first_bare + "," + server_first + "," + without_proof;
    auto client_key = hmac_sha256(salted, "Client Key");
    auto signature = hmac_sha256(sha256(client_key), auth_message);
    std::string proof(client_key.size(), '\0');
    for (size_t k = 0; k < proof.size(); ++k)
      proof[k] = static_cast<char>(client_key[k] ^ signature[k]);
    return without_proof + ",p=" + base64_encode(proof);
  }

  bool server_ok(const std::string& server_final) {
    auto expected
        = hmac_sha256(hmac_sha256(salted, "Server Key"), auth_message);
    return server_final == "v=" + base64_encode(expected);
  }
};

} // namespace

TEST_CASE("scram: the RFC 7677 test vector") {
  auto salt = *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  auto creds = derive("pencil", salt, 4096);
  scram_server server{
      [&](std::string_view user) -> std::optional<scram_credentials> {
        if (user == "user")
          return creds;
        return std::nullopt;
      },
      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"};
  auto s1 = server.step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  CHECK(s1.status == scram_step::continue_auth);
  CHECK(s1.message
        == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
           "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  CHECK(server.user() == "user");
  auto s2
      = server.step("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)"
                    "hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(s2.status == scram_step::success);
  CHECK(s2.message == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  CHECK(server.authenticated());
  // The exchange is over.
  auto s3 = server.step("c=biws");
  CHECK(s3.status == scram_step::failure);
  CHECK_FALSE(server.authenticated());
}

TEST_CASE("scram: keys from the security store, the same vector") {
  auto salt = *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  auto hash = make_password_hash("pencil", salt, 4096);
  auto parsed = parse_security_store(
      "principals:\n  user:\n    password: \"" + hash + "\"\n", "store.yaml");
  REQUIRE(std::holds_alternative<security_store>(parsed));
  auto& store = std::get<security_store>(parsed);
  scram_server server{
      [&](std::string_view u) { return store.scram_credentials_of(u); },
      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"};
  CHECK(server.step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").status
        == scram_step::continue_auth);
  auto s2
      = server.step("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)"
                    "hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(s2.status == scram_step::success);
  CHECK(s2.message == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST_CASE("scram: a client written from the RFC, right and wrong passwords") {
  auto creds = derive("correct horse", "salt-of-16-bytes", 4096);
  auto lookup = [&](std::string_view user) -> std::optional<scram_credentials> {
    if (user == "alice")
      return creds;
    return std::nullopt;
  };
  SUBCASE("right password: both sides are convinced") {
    scram_server server{lookup};
    scram_client client{
        "alice", "correct horse", base64_encode(random_bytes(18)), {}, {}, {}};
    auto s1 = server.step(client.first());
    REQUIRE(s1.status == scram_step::continue_auth);
    auto s2 = server.step(client.final_message(s1.message));
    CHECK(s2.status == scram_step::success);
    CHECK(client.server_ok(s2.message));
  }
  SUBCASE("wrong password") {
    scram_server server{lookup};
    scram_client client{"alice", "battery staple", "abc", {}, {}, {}};
    auto s1 = server.step(client.first());
    auto s2 = server.step(client.final_message(s1.message));
    CHECK(s2.status == scram_step::failure);
    CHECK(s2.message == "e=invalid-proof");
    CHECK(s2.reason == "wrong password");
    CHECK_FALSE(server.authenticated());
  }
  SUBCASE("unknown user: indistinguishable until the proof fails") {
    scram_server a{lookup, "N"};
    scram_server b{lookup, "N"};
    auto first = a.step("n,,n=mallory,r=xyz");
    CHECK(first.status == scram_step::continue_auth);
    // Without stand-ins from a store: the default iteration count.
    CHECK(first.message.find(",i=100000") != std::string::npos);
    // The stand-in salt is stable for a name.
    CHECK(b.step("n,,n=mallory,r=xyz").message == first.message);
    scram_client client{"mallory", "guess", "xyz", {}, {}, {}};
    client.first();
    auto s2 = a.step(client.final_message(first.message));
    CHECK(s2.status == scram_step::failure);
    CHECK(s2.message == "e=invalid-proof");
  }
  SUBCASE("a replayed proof fails against a fresh server nonce") {
    scram_server s1{lookup};
    scram_client client{"alice", "correct horse", "fixed", {}, {}, {}};
    auto first = s1.step(client.first());
    auto final_msg = client.final_message(first.message);
    CHECK(s1.step(final_msg).status == scram_step::success);
    scram_server s2{lookup};
    s2.step(client.first());
    auto again = s2.step(final_msg);
    CHECK(again.status == scram_step::failure);
    CHECK(again.reason == "nonce does not match");
  }
}

TEST_CASE("scram: malformed and unsupported client messages") {
  auto creds = derive("pw", "saltsaltsaltsalt", 4096);
  auto lookup = [&](std::string_view) -> std::optional<scram_credentials> {
    return creds;
  };
  auto first = [&](std::string_view msg) {
    scram_server s{lookup, "S"};
    return s.step(msg);
  };
  CHECK(first("p=tls-unique,,n=u,r=a").message
        == "e=server-does-support-channel-binding");
  CHECK(first("n,,m=ext,n=u,r=a").message == "e=extensions-not-supported");
  CHECK(first("n,,n=bad=2Xname,r=a").message == "e=invalid-username-encoding");
  CHECK(first("x,,n=u,r=a").status == scram_step::failure);
  CHECK(first("n,,n=u").status == scram_step::failure);
  CHECK(first("n,,r=a,n=u").status == scram_step::failure);
  CHECK(first("n,,n=,r=a").status == scram_step::failure);
  CHECK(first("n,,n=u,r=").status == scram_step::failure);
  CHECK(first("n,a=other,n=u,r=a").status == scram_step::failure);
  CHECK(first("").status == scram_step::failure);
  CHECK(first(std::string(5000, 'n')).status == scram_step::failure);
  // "y" (client could bind, thinks we cannot) and a matching authzid pass.
  CHECK(first("y,,n=u,r=a").status == scram_step::continue_auth);
  CHECK(first("n,a=u,n=u,r=a").status == scram_step::continue_auth);
  // Escaped names are decoded.
  scram_server esc{lookup, "S"};
  CHECK(esc.step("n,,n=a=2Cb=3Dc,r=a").status == scram_step::continue_auth);
  CHECK(esc.user() == "a,b=c");

  auto final_after
      = [&](std::string_view client_first, std::string_view client_final) {
          scram_server s{lookup, "S"};
          REQUIRE(s.step(client_first).status == scram_step::continue_auth);
          return s.step(client_final);
        };
  CHECK(final_after("n,,n=u,r=a", "c=biws,r=aS").reason
        == "client-final lacks a proof");
  CHECK(final_after("n,,n=u,r=a", "c=biws,r=aX,p=AAAA").reason
        == "nonce does not match");
  // c= must carry the gs2 header that was sent ("y,," here, not "n,,").
  CHECK(final_after("y,,n=u,r=a", "c=biws,r=aS,p=AAAA").message
        == "e=channel-bindings-dont-match");
  CHECK(final_after("n,,n=u,r=a", "c=biws,r=aS,p=AAAA").reason
        == "proof has the wrong length");
  CHECK(final_after("n,,n=u,r=a", "c=biws,r=aS,p=!!").status
        == scram_step::failure);
}

TEST_CASE("scram: a store answers unknown users like known ones") {
  auto hash = make_password_hash("correct horse", "sixteen-byte-slt", 20000);
  auto loaded = parse_security_store(
      "principals:\n  alice: {password: \"" + hash + "\", roles: []}\n"
          "  bob: {password: \"" + make_password_hash("x", 20000)
          + "\", roles: []}\n",
      "store.yaml");
  REQUIRE(std::holds_alternative<security_store>(loaded));
  auto store = std::get<security_store>(std::move(loaded));
  auto lookup = [&](std::string_view user) -> std::optional<scram_credentials> {
    return store.scram_credentials_for(user);
  };
  auto first_of = [&](const std::string& user) {
    scram_server s{lookup, "N"};
    return s.step("n,,n=" + user + ",r=xyz").message;
  };
  auto attrs = [](const std::string& msg) {
    std::map<char, std::string> out;
    size_t start = 0;
    while (start < msg.size()) {
      auto comma = msg.find(',', start);
      auto field = msg.substr(start, comma - start);
      out[field[0]] = field.substr(2);
      if (comma == std::string::npos)
        break;
      start = comma + 1;
    }
    return out;
  };
  auto known = attrs(first_of("alice"));
  auto unknown = attrs(first_of("mallory"));
  CHECK(known['i'] == "20000");
  CHECK(unknown['i'] == known['i']); // the store's iteration count
  CHECK(base64_decode(unknown['s'])->size() == 16);
  CHECK(first_of("mallory") == first_of("mallory")); // stable per name
  CHECK(attrs(first_of("trudy"))['s'] != unknown['s']);
  // Another stand-in secret, other salts; the known user's stays.
  auto salt_before = unknown['s'];
  store.set_stand_in_secret("a secret of more than sixteen bytes");
  CHECK(attrs(first_of("mallory"))['s'] != salt_before);
  CHECK(attrs(first_of("alice"))['s'] == known['s']);
  // The proof of an unknown user fails like a wrong password.
  scram_server server{lookup};
  scram_client client{"mallory", "guess", "abc", {}, {}, {}};
  auto s1 = server.step(client.first());
  REQUIRE(s1.status == scram_step::continue_auth);
  auto s2 = server.step(client.final_message(s1.message));
  CHECK(s2.status == scram_step::failure);
  CHECK(s2.message == "e=invalid-proof");
}
