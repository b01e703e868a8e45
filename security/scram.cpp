#include "security/scram.hpp"

#include <vector>

#include "security/crypto.hpp"

namespace castor::security {

namespace {

// Splits on ',' (attribute values cannot contain a comma).
std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string_view::npos)
      return out;
    start = comma + 1;
  }
}

// A value of the form "k=value" for attribute letter k.
std::optional<std::string_view> attr(std::string_view field, char k) {
  if (field.size() < 2 || field[0] != k || field[1] != '=')
    return std::nullopt;
  return field.substr(2);
}

// saslname (RFC 5802 section 5.1): "=2C" stands for ',' and "=3D" for '='.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    auto esc = s.substr(i + 1, 2);
    if (esc == "2C")
      out += ',';
    else if (esc == "3D")
      out += '=';
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

bool valid_nonce(std::string_view n) {
  if (n.empty())
    return false;
  for (char c : n)
    if (c < 0x21 || c > 0x7E || c == ',')
      return false;
  return true;
}

// A per-process key for the stand-in salt of unknown users, so that the
// salt of a name is stable and an unknown name cannot be told apart from a
// known one by its server-first message.
const std::string& fake_salt_key() {
  static const std::string key = random_bytes(32);
  return key;
}

} // namespace

scram_server::scram_server(scram_lookup lookup, std::string server_nonce)
    : lookup_(std::move(lookup)), server_nonce_(std::move(server_nonce)) {
  if (server_nonce_.empty())
    server_nonce_ = base64_encode(random_bytes(24));
}

scram_step scram_server::fail(std::string error, std::string reason) {
  state_ = state::failed;
  scram_step s;
  s.status = scram_step::failure;
  s.message = "e=" + std::move(error);
  s.reason = std::move(reason);
  return s;
}

scram_step scram_server::step(std::string_view msg) {
  if (msg.size() > max_message_size)
    return fail("other-error", "SCRAM message too long");
  switch (state_) {
  case state::initial:
    return client_first(msg);
  case state::sent_first:
    return client_final(msg);
  default:
    state_ = state::failed;
    return {scram_step::failure, "e=other-error",
            "SCRAM exchange already finished"};
  }
}

scram_step scram_server::client_first(std::string_view msg) {
  // gs2-header: cbind-flag "," [authzid] ","
  auto fields = split(msg);
  if (fields.size() < 4)
    return fail("other-error", "malformed client-first message");
  auto flag = fields[0];
  if (!flag.empty() && flag[0] == 'p')
    return fail("server-does-support-channel-binding",
                "client requires channel binding");
  if (flag != "n" && flag != "y")
    return fail("other-error", "malformed gs2 header");
  std::optional<std::string> authzid;
  if (!fields[1].empty()) {
    auto a = attr(fields[1], 'a');
    if (!a)
      return fail("other-error", "malformed gs2 header");
    authzid = decode_saslname(*a);
    if (!authzid)
      return fail("invalid-username-encoding", "malformed authzid");
  }
  gs2_header_
      = std::string(msg.substr(0, fields[0].size() + fields[1].size() + 2));
  client_first_bare_ = std::string(msg.substr(gs2_header_.size()));
  if (fields[2].rfind("m=", 0) == 0)
    return fail("extensions-not-supported", "mandatory extension requested");
  auto name = attr(fields[2], 'n');
  auto nonce = attr(fields[3], 'r');
  if (!name || !nonce)
    return fail("other-error", "client-first lacks n= or r=");
  auto user = decode_saslname(*name);
  if (!user || user->empty())
    return fail("invalid-username-encoding", "malformed user name");
  if (authzid && *authzid != *user)
    return fail("other-error",
                "authorisation identity differs from the user name");
  if (!valid_nonce(*nonce))
    return fail("other-error", "malformed client nonce");
  user_ = std::move(*user);
  auto creds = lookup_ ? lookup_(user_) : std::nullopt;
  if (creds) {
    creds_ = std::move(*creds);
  } else {
    // Nobody to ask for stand-ins (security_store::scram_credentials_for
    // gives better ones): made up here, with the default iteration count.
    auto salted = hmac_sha256(fake_salt_key(), "salted:" + user_);
    creds_.salt = hmac_sha256(fake_salt_key(), user_).substr(0, 16);
    creds_.iterations = default_pbkdf2_iterations;
    creds_.stored_key = sha256(hmac_sha256(salted, "Client Key"));
    creds_.server_key = hmac_sha256(salted, "Server Key");
    creds_.stand_in = true;
  }
  known_user_ = !creds_.stand_in;
  nonce_ = std::string(*nonce) + server_nonce_;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(creds_.salt)
                  + ",i=" + std::to_string(creds_.iterations);
  state_ = state::sent_first;
  return {scram_step::continue_auth, server_first_, {}};
}

scram_step scram_server::client_final(std::string_view msg) {
  auto proof_pos = msg.rfind(",p=");
  if (proof_pos == std::string_view::npos)
    return fail("other-error", "client-final lacks a proof");
  auto without_proof = msg.substr(0, proof_pos);
  auto proof = base64_decode(msg.substr(proof_pos + 3));
  auto fields = split(without_proof);
  if (fields.size() < 2 || !proof)
    return fail("other-error", "malformed client-final message");
  auto cbind = attr(fields[0], 'c');
  auto nonce = attr(fields[1], 'r');
  if (!cbind || !nonce)
    return fail("other-error", "client-final lacks c= or r=");
  if (*cbind != base64_encode(gs2_header_))
    return fail("channel-bindings-dont-match",
                "channel binding data differs from the gs2 header");
  if (*nonce != nonce_)
    return fail("other-error", "nonce does not match");
  // The same work for an unknown user (stand-in keys) as for a known one:
  // the answer takes as long either way.
  std::string auth_message = client_first_bare_ + "," + server_first_ + ","
                             + std::string(without_proof);
  auto client_signature = hmac_sha256(creds_.stored_key, auth_message);
  if (proof->size() != client_signature.size())
    return fail("invalid-proof", known_user_ ? "proof has the wrong length"
                                             : "unknown user");
  std::string client_key(proof->size(), '\0');
  for (size_t i = 0; i < client_key.size(); ++i)
    client_key[i] = static_cast<char>((*proof)[i] ^ client_signature[i]);
  bool verified = constant_time_equal(sha256(client_key), creds_.stored_key);
  if (!known_user_)
    return fail("invalid-proof", "unknown user");
  if (!verified)
    return fail("invalid-proof", "wrong password");
  state_ = state::succeeded;
  auto server_signature = hmac_sha256(creds_.server_key, auth_message);
  return {scram_step::success, "v=" + base64_encode(server_signature), {}};
}

} // namespace castor::security
