#pragma once

// SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, for MQTT 5 enhanced
// authentication with authentication method "SCRAM-SHA-256":
//
//   CONNECT  auth data = client-first   -> AUTH (0x18) auth data = server-first
//   AUTH     auth data = client-final   -> CONNACK auth data = server-final
//
// The server never sees the password: it checks the client's proof against
// the stored key and proves itself with the server key, both derived from
// the salted password kept in the security store. No channel binding
// (SCRAM-SHA-256-PLUS is not offered).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "security/security_store.hpp"

namespace castor::security {

/// Finds the SCRAM keys of a user (security_store::scram_credentials_for,
/// which gives stand-ins for unknown users; nothing = made up here).
using scram_lookup
    = std::function<std::optional<scram_credentials>(std::string_view user)>;

struct scram_step {
  enum status_t : uint8_t {
    /// Send `message` (server-first) in an AUTH packet with reason code
    /// 0x18 and wait for the client's next AUTH.
    continue_auth,
    /// Authenticated as `user`: send `message` (server-final) in CONNACK.
    success,
    /// Refused: `message` is the server-final error ("e=...") the client
    /// may be sent; `reason` explains it for the log.
    failure,
  } status = failure;
  std::string message;
  std::string reason;
};

/// One SCRAM exchange. Not reusable.
class scram_server {
public:
  /// `server_nonce` is for tests; empty means 24 random bytes, base64.
  explicit scram_server(scram_lookup lookup, std::string server_nonce = {});

  /// Feeds the client's next message (client-first, then client-final).
  scram_step step(std::string_view client_message);

  /// The user named in client-first (decoded); empty before it.
  const std::string& user() const noexcept {
    return user_;
  }

  /// True once the exchange has succeeded.
  bool authenticated() const noexcept {
    return state_ == state::succeeded;
  }

  /// Longest client message accepted.
  static constexpr size_t max_message_size = 4096;

private:
  enum class state : uint8_t { initial, sent_first, succeeded, failed };

  scram_step client_first(std::string_view msg);
  scram_step client_final(std::string_view msg);
  scram_step fail(std::string error, std::string reason);

  scram_lookup lookup_;
  std::string server_nonce_;
  state state_ = state::initial;
  std::string user_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_; // client nonce + server nonce
  scram_credentials creds_;
  bool known_user_ = false;
};

} // namespace castor::security
