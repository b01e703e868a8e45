// Fuzzes the SCRAM-SHA-256 server (security/scram): client-first and
// client-final messages.
//
// Input: byte 0 picks the mode (bit 0) and, for the structured mode, what
// the client gets wrong (bits 1-5).
//   raw (bit 0 clear): the rest is up to three client messages separated by
//     NUL bytes, fed in turn;
//   structured (bit 0 set): the rest is a client-first message (up to a NUL)
//     and text for an extension attribute; the client-final is then written
//     here as an honest client would (RFC 5802), with the mistakes asked
//     for: wrong channel binding (bit 1), wrong nonce (bit 2), a flipped bit
//     in the proof (bit 3), an extension before the proof (bit 4), the
//     wrong password (bit 5).
// Users "user" (RFC 7677's password "pencil") and "a,b=c" exist. Checked:
// the exchange succeeds only with the right proof (recomputed here), an
// honest client with a known user succeeds, server-first has the shape the
// RFC gives, and a finished exchange takes nothing more.

#include "security/crypto.hpp"
#include "security/password.hpp"
#include "security/scram.hpp"

#include <map>
#include <optional>
#include <string>

#include "fuzz_check.hpp"

using namespace castor::security;

namespace {

const std::string server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

struct user_keys {
  std::string salted;
  scram_credentials creds;
};

const std::map<std::string, user_keys, std::less<>>& users() {
  static const auto table = [] {
    std::map<std::string, user_keys, std::less<>> t;
    auto add = [&](std::string name, std::string password, std::string salt,
                   uint32_t iterations) {
      user_keys k;
      k.salted = pbkdf2_sha256(password, salt, iterations, 32);
      k.creds.salt = std::move(salt);
      k.creds.iterations = iterations;
      k.creds.stored_key = sha256(hmac_sha256(k.salted, "Client Key"));
      k.creds.server_key = hmac_sha256(k.salted, "Server Key");
      t.emplace(std::move(name), std::move(k));
    };
    add("user", "pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
    add("a,b=c", "secret", "0123456789abcdef", 1000);
    return t;
  }();
  return table;
}

std::optional<scram_credentials> lookup(std::string_view user) {
  auto i = users().find(user);
  if (i == users().end())
    return std::nullopt;
  return i->second.creds;
}

std::string xor_bytes(std::string a, const std::string& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    a[i] = static_cast<char>(a[i] ^ b[i]);
  return a;
}

/// The proof the client with `salted` gives for `auth_message`.
std::string proof_for(const std::string& salted,
                      const std::string& auth_message) {
  auto client_key = hmac_sha256(salted, "Client Key");
  auto signature = hmac_sha256(sha256(client_key), auth_message);
  return xor_bytes(client_key, signature);
}

/// gs2-header (up to and including the second comma) and client-first-bare.
std::pair<std::string, std::string> split_first(std::string_view msg) {
  auto c1 = msg.find(',');
  auto c2 = c1 == std::string_view::npos ? c1 : msg.find(',', c1 + 1);
  if (c2 == std::string_view::npos)
    return {std::string(msg), {}};
  return {std::string(msg.substr(0, c2 + 1)), std::string(msg.substr(c2 + 1))};
}

/// Checks a server-first message against the client-first it answers.
void check_server_first(const std::string& server_first,
                        std::string_view client_first_bare,
                        const std::string& user) {
  // "r=" client nonce + server nonce ",s=" salt ",i=" iterations
  FUZZ_CHECK(server_first.rfind("r=", 0) == 0);
  auto s = server_first.find(",s=");
  auto i = server_first.find(",i=");
  FUZZ_CHECK(s != std::string::npos && i != std::string::npos && s < i);
  auto nonce = server_first.substr(2, s - 2);
  FUZZ_CHECK(nonce.size() > server_nonce.size());
  FUZZ_CHECK(nonce.compare(nonce.size() - server_nonce.size(),
                           server_nonce.size(), server_nonce)
             == 0);
  auto client_nonce = nonce.substr(0, nonce.size() - server_nonce.size());
  FUZZ_CHECK(client_first_bare.find("r=" + client_nonce)
             != std::string_view::npos);
  for (char c : nonce)
    FUZZ_CHECK(c >= 0x21 && c <= 0x7E && c != ',');
  auto salt = base64_decode(server_first.substr(s + 3, i - s - 3));
  FUZZ_CHECK(salt.has_value() && !salt->empty());
  auto iterations = server_first.substr(i + 3);
  FUZZ_CHECK(!iterations.empty()
             && iterations.find_first_not_of("0123456789")
                    == std::string::npos);
  if (auto k = users().find(user); k != users().end()) {
    FUZZ_CHECK(*salt == k->second.creds.salt);
    FUZZ_CHECK(iterations == std::to_string(k->second.creds.iterations));
  } else {
    // An unknown user gets a salt and count like any other.
    FUZZ_CHECK(salt->size() == 16
               && iterations == std::to_string(default_pbkdf2_iterations));
  }
}

/// Would the client-final `final_msg` prove the password of `user`?
bool proof_is_right(const std::string& user, const std::string& bare,
                    const std::string& server_first,
                    std::string_view final_msg) {
  auto k = users().find(user);
  if (k == users().end())
    return false;
  auto p = final_msg.rfind(",p=");
  if (p == std::string_view::npos)
    return false;
  auto proof = base64_decode(final_msg.substr(p + 3));
  if (!proof)
    return false;
  auto auth_message = bare + "," + server_first + ","
                      + std::string(final_msg.substr(0, p));
  return *proof == proof_for(k->second.salted, auth_message);
}

void check_finished(scram_server& server) {
  auto again = server.step("c=biws,r=x,p=AAAA");
  FUZZ_CHECK(again.status == scram_step::failure);
  FUZZ_CHECK(again.message.rfind("e=", 0) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  castor_fuzz::input in{data, size};
  auto mode = in.byte();
  scram_server server{lookup, server_nonce};
  FUZZ_CHECK(server.user().empty() && !server.authenticated());

  auto first_msg = in.until('\0');
  auto [gs2, bare] = split_first(first_msg);
  auto first = server.step(first_msg);
  if (first.status == scram_step::failure) {
    FUZZ_CHECK(first.message.rfind("e=", 0) == 0);
    FUZZ_CHECK(!first.reason.empty());
    check_finished(server);
    return 0;
  }
  FUZZ_CHECK(first.status == scram_step::continue_auth);
  FUZZ_CHECK(!server.user().empty());
  check_server_first(first.message, bare, server.user());

  std::string final_msg;
  bool honest = false;
  if ((mode & 1) == 0) {
    final_msg = std::string(in.until('\0'));
  } else {
    auto& server_first = first.message;
    auto nonce = server_first.substr(2, server_first.find(",s=") - 2);
    std::string cbind = base64_encode(gs2);
    if (mode & 0x02)
      cbind = base64_encode(gs2 == "n,," ? "y,," : "n,,");
    if (mode & 0x04)
      nonce.pop_back();
    std::string without_proof = "c=" + cbind + ",r=" + nonce;
    if (mode & 0x10)
      without_proof += ",x=" + std::string(in.until('\0'));
    std::string salted;
    if (auto k = users().find(server.user()); k != users().end())
      salted = k->second.salted;
    if (mode & 0x20 || salted.empty())
      salted = pbkdf2_sha256("wrong", "salt", 1000, 32);
    auto proof = proof_for(salted, bare + "," + server_first + ","
                                       + without_proof);
    if (mode & 0x08)
      proof[0] = static_cast<char>(proof[0] ^ 1);
    final_msg = without_proof + ",p=" + base64_encode(proof);
    honest = (mode & 0x2E) == 0 && users().count(server.user()) > 0
             && final_msg.size() <= scram_server::max_message_size;
  }
  auto second = server.step(final_msg);
  bool right = proof_is_right(server.user(), bare, first.message, final_msg);
  if (second.status == scram_step::success) {
    // Only the right proof, with the nonce and channel binding sent.
    FUZZ_CHECK(right);
    auto nonce = first.message.substr(2, first.message.find(",s=") - 2);
    auto c1 = final_msg.find(',');
    auto c2 = final_msg.find(',', c1 + 1);
    FUZZ_CHECK(c1 != std::string::npos && c2 != std::string::npos);
    FUZZ_CHECK(final_msg.substr(0, c1) == "c=" + base64_encode(gs2));
    FUZZ_CHECK(final_msg.substr(c1 + 1, c2 - c1 - 1) == "r=" + nonce);
    FUZZ_CHECK(server.authenticated());
    // server-final: v= the server signature.
    auto& k = users().find(server.user())->second;
    auto p = final_msg.rfind(",p=");
    auto auth_message = bare + "," + first.message + ","
                        + final_msg.substr(0, p);
    FUZZ_CHECK(second.message
               == "v=" + base64_encode(
                      hmac_sha256(k.creds.server_key, auth_message)));
  } else {
    FUZZ_CHECK(second.status == scram_step::failure);
    FUZZ_CHECK(second.message.rfind("e=", 0) == 0);
    FUZZ_CHECK(!server.authenticated());
    FUZZ_CHECK(!honest);
  }
  FUZZ_CHECK(server.authenticated() == (second.status == scram_step::success));
  // A message after the end fails the exchange, even a successful one.
  check_finished(server);
  FUZZ_CHECK(!server.authenticated());
  return 0;
}
