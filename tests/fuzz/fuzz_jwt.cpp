// Fuzzes the JWT verifier (security/jwt): token parsing, signatures, the
// time checks and the claims.
//
// Input: byte 0 picks how the token is made (bits 0-1) and the verifier's
// options (bits 2-7: roles claim, issuer and audience, whether exp is
// required, leeway, the clock); byte 1 may ask for one byte of the token to
// be changed (bit 7; then a 16-bit position and an XOR mask follow). The
// rest is
//   mode 0: the token itself;
//   mode 1: a header and claims (JSON, separated by '\n'), signed HS256;
//   mode 2: claims, with the standard HS256 header, signed HS256;
//   mode 3: a header and claims, signed RS256 with a key made at start-up.
// Signed tokens reach the claims: the checks compare the verdict with a
// reference reading of exp, nbf and sub (exact arithmetic), and
// authenticate() with verify().

#include "security/crypto.hpp"
#include "security/jwt.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fuzz_check.hpp"

using namespace castor::security;
using json = nlohmann::json;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef-castor";

struct rsa_key {
  EVP_PKEY* key = nullptr;
  std::string public_pem;

  rsa_key() {
    key = EVP_RSA_gen(2048);
    FUZZ_CHECK(key != nullptr);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    public_pem.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }

  std::string sign(std::string_view input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    std::string sig;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1
        && EVP_DigestSign(ctx, nullptr, &len,
                          reinterpret_cast<const unsigned char*>(input.data()),
                          input.size())
               == 1) {
      sig.resize(len);
      if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()),
                         &len,
                         reinterpret_cast<const unsigned char*>(input.data()),
                         input.size())
          != 1)
        sig.clear();
      sig.resize(len);
    }
    EVP_MD_CTX_free(ctx);
    return sig;
  }
};

const rsa_key& rsa() {
  static const rsa_key key;
  return key;
}

const char* const roles_claims[]
    = {"roles", "realm_access.roles", "scope", "a.b.c", "roles."};
const int64_t leeways[] = {0, 30, 86400};
const int64_t clocks[] = {0, 5, 1700000000, 4102444800};

struct verifier_set {
  std::vector<std::optional<jwt_verifier>> all;
  verifier_set() : all(64) {}
};

/// The verifier for option bits 0..5 (made once).
const jwt_verifier& verifier_for(uint8_t bits, jwt_options& opts_out) {
  static verifier_set set;
  jwt_options o;
  o.hs256_secret = secret;
  o.rs256_public_key_pem = rsa().public_pem;
  o.roles_claim = roles_claims[bits % 5];
  if (bits & 0x08) {
    o.issuer = "castor";
    o.audience = "mqtt";
  }
  o.require_exp = (bits & 0x10) == 0;
  o.leeway_seconds = leeways[(bits >> 5) % 3];
  opts_out = o;
  auto& slot = set.all[bits & 0x3F];
  if (!slot) {
    auto made = jwt_verifier::make(o);
    FUZZ_CHECK(std::holds_alternative<jwt_verifier>(made));
    slot.emplace(std::get<jwt_verifier>(std::move(made)));
  }
  return *slot;
}

/// A NumericDate as the verifier should read it: exact, or nothing when it
/// is no number or out of the 64-bit range.
std::optional<__int128> reference_date(const json& j) {
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX))
      return std::nullopt;
    return static_cast<__int128>(v);
  }
  if (j.is_number_integer())
    return static_cast<__int128>(j.get<int64_t>());
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (!(d > -9.2e18 && d < 9.2e18))
      return std::nullopt;
    return static_cast<__int128>(static_cast<int64_t>(d));
  }
  return std::nullopt;
}

std::optional<json> object_of(std::string_view text) {
  auto j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  return j;
}

/// Whether `token`, as it is or any of its dot-separated parts decoded
/// (base64url), contains `text`.
bool carries(const std::string& token, const std::string& text) {
  if (token.find(text) != std::string::npos)
    return true;
  size_t start = 0;
  while (start <= token.size()) {
    auto end = token.find('.', start);
    if (end == std::string::npos)
      end = token.size();
    auto part
        = base64url_decode(std::string_view{token}.substr(start, end - start));
    if (part && part->find(text) != std::string::npos)
      return true;
    start = end + 1;
  }
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  castor_fuzz::input in{data, size};
  auto b0 = in.byte();
  auto b1 = in.byte();
  int mode = b0 & 3;
  jwt_options opts;
  const auto& v = verifier_for(static_cast<uint8_t>(b0 >> 2), opts);
  int64_t now = clocks[(b0 >> 2 ^ b1) % 4];
  bool tamper = (b1 & 0x80) != 0;
  size_t tamper_pos = 0;
  uint8_t tamper_mask = 0;
  if (tamper) {
    tamper_pos = in.u16();
    tamper_mask = in.byte();
  }

  std::string token;
  std::string header_text;
  std::string claims_text;
  const char* signed_alg = nullptr;
  if (mode == 0) {
    token = std::string(in.rest());
  } else if (mode == 2) {
    claims_text = std::string(in.rest());
    header_text = R"({"alg":"HS256","typ":"JWT"})";
    token = make_hs256_token(claims_text, secret);
    signed_alg = "HS256";
  } else {
    header_text = std::string(in.until('\n'));
    claims_text = std::string(in.rest());
    token = base64url_encode(header_text) + "." + base64url_encode(claims_text);
    std::string sig;
    if (mode == 1) {
      sig = hmac_sha256(secret, token);
      signed_alg = "HS256";
    } else {
      sig = rsa().sign(token);
      signed_alg = "RS256";
    }
    token += "." + base64url_encode(sig);
  }
  if (tamper && !token.empty()) {
    token[tamper_pos % token.size()] ^= static_cast<char>(tamper_mask);
    if (tamper_mask != 0)
      signed_alg = nullptr; // the signature may no longer verify
  }

  auto result = v.verify(token, now);
  auto* error = std::get_if<std::string>(&result);
  auto* claims = std::get_if<jwt_claims>(&result);

  // Errors never quote the secret (unless the token itself carries it: an
  // error may quote the token's own header or claims, e.g. its "alg").
  if (error != nullptr) {
    FUZZ_CHECK(!error->empty());
    if (!carries(token, secret))
      FUZZ_CHECK(error->find(secret) == std::string::npos);
  }

  // authenticate() agrees with verify().
  auto auth = v.authenticate(token, now);
  if (!jwt_verifier::looks_like_jwt(token)) {
    FUZZ_CHECK(auth.decision == auth_decision::abstain);
  } else if (claims != nullptr) {
    FUZZ_CHECK(auth.decision == auth_decision::allow);
    FUZZ_CHECK(auth.principal == claims->subject);
    FUZZ_CHECK(auth.roles == claims->roles);
  } else {
    FUZZ_CHECK(auth.decision == auth_decision::deny);
    FUZZ_CHECK(auth.reason == *error);
  }
  // A token we signed and did not change has a good signature for its
  // algorithm: a refusal of the signature means the header names another.
  if (signed_alg != nullptr && error != nullptr
      && *error == "token signature does not verify") {
    auto header = object_of(header_text);
    FUZZ_CHECK(header && header->contains("alg")
               && (*header)["alg"] != signed_alg);
  }
  if (signed_alg != nullptr && error != nullptr) {
    FUZZ_CHECK(*error != "not a JWS compact token (three parts expected)");
    FUZZ_CHECK(*error != "token part is not base64url");
  }

  // The claims of an accepted token, read again here.
  if (claims != nullptr) {
    FUZZ_CHECK(!claims->subject.empty());
    for (auto& r : claims->roles)
      FUZZ_CHECK(opts.roles_claim != "scope" || !r.empty());
    auto dot = token.find('.');
    auto dot2 = token.find('.', dot + 1);
    auto payload = base64url_decode(
        std::string_view{token}.substr(dot + 1, dot2 - dot - 1));
    FUZZ_CHECK(payload.has_value());
    auto j = object_of(*payload);
    FUZZ_CHECK(j.has_value());
    auto sub = j->find("sub");
    FUZZ_CHECK(sub != j->end() && sub->is_string()
               && sub->get<std::string>() == claims->subject);
    if (auto exp = j->find("exp"); exp != j->end()) {
      auto t = reference_date(*exp);
      FUZZ_CHECK(t.has_value());
      FUZZ_CHECK(static_cast<__int128>(now) < *t + opts.leeway_seconds);
      FUZZ_CHECK(claims->expires_at == static_cast<int64_t>(*t));
    } else {
      FUZZ_CHECK(!opts.require_exp);
      FUZZ_CHECK(claims->expires_at == 0);
    }
    if (auto nbf = j->find("nbf"); nbf != j->end()) {
      auto t = reference_date(*nbf);
      FUZZ_CHECK(t.has_value());
      FUZZ_CHECK(static_cast<__int128>(now) + opts.leeway_seconds >= *t);
    }
    if (!opts.issuer.empty())
      FUZZ_CHECK(j->contains("iss") && (*j)["iss"] == opts.issuer);
  } else if (error != nullptr
             && (*error == "token has expired"
                 || *error == "token is not valid yet")) {
    auto dot = token.find('.');
    auto dot2 = token.find('.', dot + 1);
    auto payload = base64url_decode(
        std::string_view{token}.substr(dot + 1, dot2 - dot - 1));
    FUZZ_CHECK(payload.has_value());
    auto j = object_of(*payload);
    FUZZ_CHECK(j.has_value());
    if (*error == "token has expired") {
      auto t = reference_date((*j)["exp"]);
      FUZZ_CHECK(t.has_value());
      FUZZ_CHECK(static_cast<__int128>(now) >= *t + opts.leeway_seconds);
    } else {
      auto t = reference_date((*j)["nbf"]);
      FUZZ_CHECK(t.has_value());
      FUZZ_CHECK(static_cast<__int128>(now) + opts.leeway_seconds < *t);
    }
  }
  return 0;
}
