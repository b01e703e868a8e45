#include "security/password.hpp"

#include <stdexcept>

#include "security/crypto.hpp"

namespace castor::security {

namespace {

constexpr std::string_view scheme = "pbkdf2-sha256";

std::optional<uint32_t> parse_u32(std::string_view s) {
  if (s.empty() || s.size() > 10)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

} // namespace

std::optional<password_hash> parse_password_hash(std::string_view text,
                                                 std::string& why) {
  std::string_view parts[4];
  size_t n = 0;
  size_t start = 0;
  for (;;) {
    auto pos = text.find('$', start);
    if (n == 4) {
      why = "too many '$'-separated fields";
      return std::nullopt;
    }
    if (pos == std::string_view::npos) {
      parts[n++] = text.substr(start);
      break;
    }
    parts[n++] = text.substr(start, pos - start);
    start = pos + 1;
  }
  if (n != 4) {
    why = "expected pbkdf2-sha256$iterations$salt$hash";
    return std::nullopt;
  }
  if (parts[0] != scheme) {
    why = "unknown hash scheme (expected pbkdf2-sha256)";
    return std::nullopt;
  }
  auto iterations = parse_u32(parts[1]);
  if (!iterations || *iterations < min_pbkdf2_iterations
      || *iterations > max_pbkdf2_iterations) {
    why = "iteration count must be a number between "
          + std::to_string(min_pbkdf2_iterations) + " and "
          + std::to_string(max_pbkdf2_iterations);
    return std::nullopt;
  }
  auto salt = base64_decode(parts[2]);
  if (!salt || salt->size() < 8) {
    why = "salt must be base64 of at least 8 bytes";
    return std::nullopt;
  }
  auto hash = base64_decode(parts[3]);
  if (!hash || hash->size() < 16 || hash->size() > 64) {
    why = "hash must be base64 of 16 to 64 bytes";
    return std::nullopt;
  }
  return password_hash{*iterations, std::move(*salt), std::move(*hash)};
}

std::string make_password_hash(std::string_view password, uint32_t iterations) {
  return make_password_hash(password, random_bytes(16), iterations);
}

std::string make_password_hash(std::string_view password, std::string_view salt,
                               uint32_t iterations) {
  if (iterations < min_pbkdf2_iterations || iterations > max_pbkdf2_iterations)
    throw std::invalid_argument("iteration count out of range");
  password_hash h;
  h.iterations = iterations;
  h.salt = std::string(salt);
  h.hash = pbkdf2_sha256(password, salt, iterations, 32);
  return to_string(h);
}

std::string to_string(const password_hash& h) {
  std::string out(scheme);
  out += '$';
  out += std::to_string(h.iterations);
  out += '$';
  out += base64_encode(h.salt);
  out += '$';
  out += base64_encode(h.hash);
  return out;
}

bool verify_password(const password_hash& h, std::string_view password) {
  auto derived = pbkdf2_sha256(password, h.salt, h.iterations, h.hash.size());
  return constant_time_equal(derived, h.hash);
}

} // namespace castor::security
