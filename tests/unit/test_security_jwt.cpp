// JWT bearer tokens: HS256 and RS256 signatures, time checks against a
// supplied clock, claims to principal and roles, and the refusals.

#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include "security/crypto.hpp"
#include "security/jwt.hpp"

using namespace castor::security;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef-castor";

jwt_verifier make_verifier(jwt_options opts) {
  auto r = jwt_verifier::make(std::move(opts));
  if (auto err = std::get_if<std::string>(&r))
    FAIL("verifier: " << *err);
  return std::get<jwt_verifier>(std::move(r));
}

jwt_verifier hs_verifier(std::string roles_claim = "roles") {
  jwt_options o;
  o.hs256_secret = secret;
  o.roles_claim = std::move(roles_claim);
  return make_verifier(o);
}

std::string error_of(const jwt_result& r) {
  auto e = std::get_if<std::string>(&r);
  return e != nullptr ? *e : std::string("(no error)");
}

struct rsa_keys {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr,
                                                          EVP_PKEY_free};
  std::string public_pem;

  rsa_keys() {
    key.reset(EVP_RSA_gen(2048));
    REQUIRE(key);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    public_pem.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }

  std::string sign(std::string_view claims,
                   std::string_view header = R"({"alg":"RS256"})") const {
    std::string input
        = base64url_encode(header) + "." + base64url_encode(claims);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get())
            == 1);
    size_t len = 0;
    REQUIRE(EVP_DigestSign(ctx, nullptr, &len,
                           reinterpret_cast<const unsigned char*>(input.data()),
                           input.size())
            == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()),
                           &len,
                           reinterpret_cast<const unsigned char*>(input.data()),
                           input.size())
            == 1);
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return input + "." + base64url_encode(sig);
  }
};

rsa_keys& test_rsa() {
  static rsa_keys keys;
  return keys;
}

} // namespace

TEST_CASE("jwt: the RFC 7515 appendix A.1 HS256 example verifies") {
  // Key and token from RFC 7515 A.1 (claims: iss joe, exp 1300819380, no
  // sub): the signature verifies, then the missing sub is refused.
  auto key = base64url_decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
                              "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  REQUIRE(key.has_value());
  std::string token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dH"
                      "A6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
                      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  jwt_options o;
  o.hs256_secret = *key;
  auto v = make_verifier(o);
  CHECK(error_of(v.verify(token, 1300819370)) == "token has no sub");
  CHECK(error_of(v.verify(token, 1300819380)) == "token has expired");
  o.hs256_secret = *key + "x";
  CHECK(error_of(make_verifier(o).verify(token, 1300819370))
        == "token signature does not verify");
}

TEST_CASE("jwt: HS256 claims to principal and roles") {
  auto v = hs_verifier();
  auto token = make_hs256_token(
      R"({"sub":"sensor-7","exp":2000,"nbf":1000,"roles":["DEVICE","READER"]})",
      secret);
  auto r = v.verify(token, 1500);
  REQUIRE(std::holds_alternative<jwt_claims>(r));
  auto& c = std::get<jwt_claims>(r);
  CHECK(c.subject == "sensor-7");
  CHECK(c.roles == std::vector<std::string>{"DEVICE", "READER"});
  CHECK(c.expires_at == 2000);
  // The clock decides.
  CHECK(error_of(v.verify(token, 999)) == "token is not valid yet");
  CHECK(std::holds_alternative<jwt_claims>(v.verify(token, 1000)));
  CHECK(std::holds_alternative<jwt_claims>(v.verify(token, 1999)));
  CHECK(error_of(v.verify(token, 2000)) == "token has expired");
  // Leeway widens both ends.
  jwt_options o;
  o.hs256_secret = secret;
  o.leeway_seconds = 30;
  auto lenient = make_verifier(o);
  CHECK(std::holds_alternative<jwt_claims>(lenient.verify(token, 2029)));
  CHECK(std::holds_alternative<jwt_claims>(lenient.verify(token, 970)));
  CHECK(error_of(lenient.verify(token, 2030)) == "token has expired");

  // As an authentication handler.
  auto a = v.authenticate(token, 1500);
  CHECK(a.decision == auth_decision::allow);
  CHECK(a.principal == "sensor-7");
  CHECK(a.roles.size() == 2);
  CHECK(v.authenticate(token, 5000).decision == auth_decision::deny);
  CHECK(v.authenticate(token, 5000).reason == "token has expired");
  CHECK(v.authenticate("hunter2", 1500).decision == auth_decision::abstain);
  // Passwords that merely have three dotted parts are not tokens.
  CHECK(v.authenticate("my.pass.word", 1500).decision
        == auth_decision::abstain);
  CHECK(v.authenticate(base64url_encode("{}") + ".e30.x", 1500).decision
        == auth_decision::abstain);
  CHECK(jwt_verifier::looks_like_jwt(token));
  CHECK(v.authenticate("", 1500).decision == auth_decision::abstain);
}

TEST_CASE("jwt: roles from a configurable claim") {
  auto nested = hs_verifier("realm_access.roles");
  auto token = make_hs256_token(
      R"({"sub":"u","exp":10,"realm_access":{"roles":["ADMIN"]}})", secret);
  auto r = nested.verify(token, 5);
  REQUIRE(std::holds_alternative<jwt_claims>(r));
  CHECK(std::get<jwt_claims>(r).roles == std::vector<std::string>{"ADMIN"});

  auto scope = hs_verifier("scope");
  r = scope.verify(
      make_hs256_token(R"({"sub":"u","exp":10,"scope":"read  write"})", secret),
      5);
  REQUIRE(std::holds_alternative<jwt_claims>(r));
  CHECK(std::get<jwt_claims>(r).roles
        == std::vector<std::string>{"read", "write"});

  // Missing claim: no roles. Wrong shapes: refused.
  auto v = hs_verifier();
  // Bytes after a NUL are not ignored (the signature is right).
  CHECK_FALSE(std::holds_alternative<jwt_claims>(v.verify(
      make_hs256_token(std::string(R"({"sub":"u","exp":10})") + '\0' + "x",
                       secret),
      5)));
  r = v.verify(make_hs256_token(R"({"sub":"u","exp":10})", secret), 5);
  REQUIRE(std::holds_alternative<jwt_claims>(r));
  CHECK(std::get<jwt_claims>(r).roles.empty());
  CHECK(error_of(v.verify(make_hs256_token(
                              R"({"sub":"u","exp":10,"roles":[1]})", secret),
                          5))
            .find("other than strings")
        != std::string::npos);
  CHECK(error_of(v.verify(make_hs256_token(R"({"sub":"u","exp":10,"roles":{}})",
                                           secret),
                          5))
            .find("neither")
        != std::string::npos);
}

TEST_CASE("jwt: malformed, tampered and unacceptable tokens") {
  auto v = hs_verifier();
  auto good = make_hs256_token(R"({"sub":"u","exp":10})", secret);
  CHECK(error_of(v.verify("abc", 5)).find("three parts") != std::string::npos);
  CHECK(error_of(v.verify("a.b.c.d", 5)).find("three parts")
        != std::string::npos);
  CHECK(error_of(v.verify("a*.b.c", 5)) == "token part is not base64url");
  // Tampered claims.
  auto dot1 = good.find('.');
  auto dot2 = good.find('.', dot1 + 1);
  auto forged = good.substr(0, dot1 + 1)
                + base64url_encode(R"({"sub":"admin","exp":10})")
                + good.substr(dot2);
  CHECK(error_of(v.verify(forged, 5)) == "token signature does not verify");
  // Another secret.
  CHECK(error_of(
            v.verify(make_hs256_token(R"({"sub":"u","exp":10})",
                                      "another secret of thirty-two bytes!!"),
                     5))
        == "token signature does not verify");
  // alg none.
  auto none = base64url_encode(R"({"alg":"none"})") + "."
              + base64url_encode(R"({"sub":"admin","exp":10})") + ".";
  CHECK(error_of(v.verify(none, 5)) == "token algorithm none is not accepted");
  CHECK(v.authenticate(none, 5).decision == auth_decision::deny);
  // No exp.
  auto no_exp = make_hs256_token(R"({"sub":"u"})", secret);
  CHECK(error_of(v.verify(no_exp, 5)) == "token has no exp");
  jwt_options o;
  o.hs256_secret = secret;
  o.require_exp = false;
  CHECK(std::holds_alternative<jwt_claims>(make_verifier(o).verify(no_exp, 5)));
  CHECK(error_of(v.verify(
            make_hs256_token(R"({"sub":"u","exp":"soon"})", secret), 5))
        == "token exp is not a number");
  CHECK(error_of(v.verify(make_hs256_token(R"(["sub"])", secret), 5))
        == "token claims are not a JSON object");
  CHECK(
      error_of(v.verify(make_hs256_token(R"({"sub":"","exp":10})", secret), 5))
      == "token has no sub");
  // Dates at the end of the range, with a leeway: no overflow.
  o.require_exp = true;
  o.leeway_seconds = 30;
  auto lenient = make_verifier(o);
  CHECK(std::holds_alternative<jwt_claims>(lenient.verify(
      make_hs256_token(R"({"sub":"u","exp":9223372036854775807})", secret),
      5)));
  auto far = make_hs256_token(
      R"({"sub":"u","exp":9223372036854775807,"nbf":9223372036854775807})",
      secret);
  CHECK(error_of(lenient.verify(far, 5)) == "token is not valid yet");
  CHECK(std::holds_alternative<jwt_claims>(
      lenient.verify(far, 9223372036854775807 - 10)));
  // Beyond int64: not a date (was read as a negative number, "expired").
  CHECK(error_of(lenient.verify(
            make_hs256_token(R"({"sub":"u","exp":9223372036854775808})",
                             secret),
            5))
        == "token exp is not a number");
  CHECK(error_of(lenient.verify(
            make_hs256_token(
                R"({"sub":"u","exp":10,"nbf":18446744073709551615})", secret),
            5))
        == "token nbf is not a number");
  o.leeway_seconds = 0;
  // Issuer and audience.
  o.issuer = "https://idp.example";
  o.audience = "castor";
  auto strict = make_verifier(o);
  auto ok = make_hs256_token(
      R"({"sub":"u","exp":10,"iss":"https://idp.example","aud":["x","castor"]})",
      secret);
  CHECK(std::holds_alternative<jwt_claims>(strict.verify(ok, 5)));
  CHECK(error_of(strict.verify(make_hs256_token(
                                   R"({"sub":"u","exp":10,"iss":"https://evil",
                                     "aud":"castor"})",
                                   secret),
                               5))
        == "token issuer is not accepted");
  CHECK(error_of(strict.verify(
            make_hs256_token(
                R"({"sub":"u","exp":10,"iss":"https://idp.example","aud":"x"})",
                secret),
            5))
        == "token audience does not include this server");
  // Size bound.
  std::string huge(10000, 'a');
  CHECK(error_of(v.verify(huge, 5)).find("longer than") != std::string::npos);
  // Errors never quote the token or the secret.
  auto err = error_of(v.verify(forged, 5));
  CHECK(err.find(secret) == std::string::npos);
  CHECK(err.find(forged.substr(0, 10)) == std::string::npos);
}

TEST_CASE("jwt: RS256 with a PEM public key") {
  auto& keys = test_rsa();
  jwt_options o;
  o.rs256_public_key_pem = keys.public_pem;
  auto v = make_verifier(o);
  auto token = keys.sign(R"({"sub":"svc","exp":100,"roles":["OPS"]})");
  auto r = v.verify(token, 50);
  REQUIRE(std::holds_alternative<jwt_claims>(r));
  CHECK(std::get<jwt_claims>(r).subject == "svc");
  CHECK(std::get<jwt_claims>(r).roles == std::vector<std::string>{"OPS"});
  // A flipped signature bit.
  auto bad = token;
  bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
  CHECK(error_of(v.verify(bad, 50)) == "token signature does not verify");
  // Algorithm confusion: an HS256 token keyed with the public key text is
  // refused because HS256 is not configured.
  auto confused
      = make_hs256_token(R"({"sub":"admin","exp":100})", keys.public_pem);
  CHECK(error_of(v.verify(confused, 50))
        == "token algorithm HS256 is not accepted");
  // Both configured: each token is checked with its own key.
  o.hs256_secret = secret;
  auto both = make_verifier(o);
  CHECK(std::holds_alternative<jwt_claims>(both.verify(token, 50)));
  CHECK(std::holds_alternative<jwt_claims>(
      both.verify(make_hs256_token(R"({"sub":"u","exp":100})", secret), 50)));
  CHECK(error_of(both.verify(confused, 50))
        == "token signature does not verify");

  // From a file.
  std::string path = "/tmp/castor_jwt_" + std::to_string(::getpid()) + ".pem";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(keys.public_pem.data(), 1, keys.public_pem.size(), f);
    std::fclose(f);
  }
  jwt_options fo;
  fo.rs256_public_key_file = path;
  auto from_file = make_verifier(fo);
  std::remove(path.c_str());
  CHECK(std::holds_alternative<jwt_claims>(from_file.verify(token, 50)));
}

TEST_CASE("jwt: configuration errors") {
  auto err = [](jwt_options o) {
    auto r = jwt_verifier::make(std::move(o));
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
  };
  CHECK(err({}).find("needs an HS256 secret or an RS256 public key")
        != std::string::npos);
  jwt_options o;
  o.hs256_secret = "short";
  CHECK(err(o).find("at least 32 bytes") != std::string::npos);
  CHECK(err(o).find("short") == std::string::npos);
  jwt_options f;
  f.rs256_public_key_file = "/nonexistent/jwt.pem";
  CHECK(err(f).find("'/nonexistent/jwt.pem'") != std::string::npos);
  jwt_options p;
  p.rs256_public_key_pem = "-----BEGIN PUBLIC KEY-----\nnope\n";
  CHECK(err(p).find("holds no PEM public key") != std::string::npos);
  // An EC key is not an RSA key.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec{EVP_EC_gen("P-256"),
                                                         EVP_PKEY_free};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, ec.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  jwt_options e;
  e.rs256_public_key_pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  CHECK(err(e).find("not an RSA key") != std::string::npos);
}
