#include "security/jwt.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "security/crypto.hpp"

namespace castor::security {

using json = nlohmann::json;

namespace {

enum class alg { hs256, rs256 };

std::optional<json> parse_object(std::string_view text) {
  // nlohmann's reader takes a NUL byte for the end of the input: anything
  // after one would be ignored.
  if (text.find('\0') != std::string_view::npos)
    return std::nullopt;
  auto j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  return j;
}

// A NumericDate (RFC 7519 section 2): a JSON number, possibly fractional;
// nothing outside the int64 range. (is_number_integer() is also true for an
// unsigned number, so that case comes first.)
std::optional<int64_t> numeric_date(const json& j) {
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX))
      return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (j.is_number_integer())
    return j.get<int64_t>();
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (!(d > -9.2e18 && d < 9.2e18))
      return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

// a + b, held at the int64 bounds instead of overflowing (a date near the
// end of the range plus the leeway).
int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

std::string read_file(const std::string& path, std::string& err) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    err = "cannot read the JWT public key file '" + path
          + "': " + std::strerror(errno);
    return {};
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

} // namespace

std::variant<jwt_verifier, std::string> jwt_verifier::make(jwt_options opts) {
  jwt_verifier v;
  std::string pem = opts.rs256_public_key_pem;
  std::string source = "the configured JWT public key";
  if (!opts.rs256_public_key_file.empty()) {
    std::string err;
    pem = read_file(opts.rs256_public_key_file, err);
    if (!err.empty())
      return err;
    source = "the JWT public key file '" + opts.rs256_public_key_file + "'";
  }
  if (!pem.empty()) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = bio != nullptr
                        ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr)
                        : nullptr;
    BIO_free(bio);
    openssl_errors(); // clear
    if (key == nullptr)
      return source + " holds no PEM public key";
    if (!EVP_PKEY_is_a(key, "RSA")) {
      EVP_PKEY_free(key);
      return source + " is not an RSA key (RS256 needs one)";
    }
    if (EVP_PKEY_get_bits(key) < 2048) {
      EVP_PKEY_free(key);
      return source + " is shorter than 2048 bits";
    }
    v.rsa_key_ = std::shared_ptr<void>(
        key, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
  }
  if (opts.hs256_secret.empty() && !v.rsa_key_)
    return "JWT authentication needs an HS256 secret or an RS256 public key";
  if (!opts.hs256_secret.empty() && opts.hs256_secret.size() < 32)
    return "the JWT HS256 secret must be at least 32 bytes long";
  if (opts.leeway_seconds < 0)
    return "the JWT leeway must not be negative";
  v.opts_ = std::move(opts);
  return v;
}

bool jwt_verifier::looks_like_jwt(std::string_view text) {
  size_t dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
      continue;
    }
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok)
      return false;
  }
  if (dots != 2)
    return false;
  // A password such as "my.pass.word" has the shape too: only a header
  // that decodes to a JSON object naming an algorithm makes it a token.
  auto header = base64url_decode(text.substr(0, text.find('.')));
  if (!header || header->empty() || header->front() != '{')
    return false;
  auto j = parse_object(*header);
  return j && j->contains("alg");
}

jwt_result jwt_verifier::verify(std::string_view token, int64_t now) const {
  if (token.size() > opts_.max_token_size)
    return std::string("token longer than "
                       + std::to_string(opts_.max_token_size) + " bytes");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos
      || token.find('.', d2 + 1) != std::string_view::npos)
    return std::string("not a JWS compact token (three parts expected)");
  auto header_b64 = token.substr(0, d1);
  auto payload_b64 = token.substr(d1 + 1, d2 - d1 - 1);
  auto sig_b64 = token.substr(d2 + 1);
  auto header_text = base64url_decode(header_b64);
  auto payload_text = base64url_decode(payload_b64);
  auto sig = base64url_decode(sig_b64);
  if (!header_text || !payload_text || !sig)
    return std::string("token part is not base64url");
  auto header = parse_object(*header_text);
  if (!header)
    return std::string("token header is not a JSON object");
  auto a = header->find("alg");
  if (a == header->end() || !a->is_string())
    return std::string("token header has no alg");
  auto name = a->get<std::string>();
  alg algorithm;
  if (name == "HS256" && !opts_.hs256_secret.empty())
    algorithm = alg::hs256;
  else if (name == "RS256" && rsa_key_)
    algorithm = alg::rs256;
  else
    return "token algorithm " + name + " is not accepted";
  if (header->contains("crit"))
    return std::string("token header has critical extensions");
  // The signature covers the first two parts as they were sent.
  auto signing_input = token.substr(0, d2);
  if (algorithm == alg::hs256) {
    auto expected = hmac_sha256(opts_.hs256_secret, signing_input);
    if (!constant_time_equal(expected, *sig))
      return std::string("token signature does not verify");
  } else {
    auto* key = static_cast<EVP_PKEY*>(rsa_key_.get());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok
        = ctx != nullptr
          && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1
          && EVP_DigestVerify(
                 ctx, reinterpret_cast<const unsigned char*>(sig->data()),
                 sig->size(),
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size())
                 == 1;
    EVP_MD_CTX_free(ctx);
    openssl_errors(); // clear
    if (!ok)
      return std::string("token signature does not verify");
  }
  auto claims = parse_object(*payload_text);
  if (!claims)
    return std::string("token claims are not a JSON object");
  jwt_claims out;
  if (auto exp = claims->find("exp"); exp != claims->end()) {
    auto t = numeric_date(*exp);
    if (!t)
      return std::string("token exp is not a number");
    if (now >= saturating_add(*t, opts_.leeway_seconds))
      return std::string("token has expired");
    out.expires_at = *t;
  } else if (opts_.require_exp) {
    return std::string("token has no exp");
  }
  if (auto nbf = claims->find("nbf"); nbf != claims->end()) {
    auto t = numeric_date(*nbf);
    if (!t)
      return std::string("token nbf is not a number");
    if (saturating_add(now, opts_.leeway_seconds) < *t)
      return std::string("token is not valid yet");
  }
  if (!opts_.issuer.empty()) {
    auto iss = claims->find("iss");
    if (iss == claims->end() || !iss->is_string()
        || iss->get<std::string>() != opts_.issuer)
      return std::string("token issuer is not accepted");
  }
  if (!opts_.audience.empty()) {
    auto aud = claims->find("aud");
    bool ok = false;
    if (aud != claims->end()) {
      if (aud->is_string())
        ok = aud->get<std::string>() == opts_.audience;
      else if (aud->is_array())
        for (auto& v : *aud)
          ok = ok || (v.is_string() && v.get<std::string>() == opts_.audience);
    }
    if (!ok)
      return std::string("token audience does not include this server");
  }
  auto sub = claims->find("sub");
  if (sub == claims->end() || !sub->is_string()
      || sub->get<std::string>().empty())
    return std::string("token has no sub");
  out.subject = sub->get<std::string>();
  // Roles: follow the dotted claim path.
  const json* node = &*claims;
  std::string_view path = opts_.roles_claim;
  while (node != nullptr && !path.empty()) {
    auto dot = path.find('.');
    auto part = std::string(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view{}
                                         : path.substr(dot + 1);
    auto it = node->is_object() ? node->find(part) : node->end();
    node = (node->is_object() && it != node->end()) ? &*it : nullptr;
  }
  if (node != nullptr && !opts_.roles_claim.empty()) {
    if (node->is_array()) {
      for (auto& r : *node) {
        if (!r.is_string())
          return "token claim " + opts_.roles_claim
                 + " holds something other than strings";
        out.roles.push_back(r.get<std::string>());
      }
    } else if (node->is_string()) {
      std::istringstream words{node->get<std::string>()};
      for (std::string w; words >> w;)
        out.roles.push_back(w);
    } else if (!node->is_null()) {
      return "token claim " + opts_.roles_claim
             + " is neither a list nor a string";
    }
  }
  return out;
}

auth_result jwt_verifier::authenticate(std::string_view password,
                                       int64_t now) const {
  if (!looks_like_jwt(password))
    return auth_result::abstain("password is not a JWT");
  auto r = verify(password, now);
  if (auto why = std::get_if<std::string>(&r))
    return auth_result::deny(*why);
  auto& claims = std::get<jwt_claims>(r);
  return auth_result::allow(std::move(claims.subject), std::move(claims.roles));
}

std::string make_hs256_token(std::string_view claims_json,
                             std::string_view secret) {
  std::string token = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  token += '.';
  token += base64url_encode(claims_json);
  auto sig = hmac_sha256(secret, token);
  token += '.';
  token += base64url_encode(sig);
  return token;
}

} // namespace castor::security
