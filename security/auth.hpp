#pragma once

// The result every authentication handler returns. Handlers run in a chain:
// the first ALLOW or DENY decides, ABSTAIN passes to the next handler, and a
// chain that only abstains refuses the client. Authorisation (what an
// allowed principal may do) follows from the roles, via the security store.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace castor::security {

/// The outcome of one authentication handler in a chain.
enum class auth_decision : uint8_t {
  allow,   ///< accepted: the principal and its roles are set
  deny,    ///< rejected: the chain stops and the client is refused
  abstain, ///< no opinion: the next handler decides
};

std::string_view to_string(auth_decision d) noexcept;

struct auth_result {
  auth_decision decision = auth_decision::abstain;
  std::string principal;          ///< empty for anonymous
  std::vector<std::string> roles; ///< as assigned, not expanded
  /// Why a handler denied or abstained, for the log; never holds secrets.
  std::string reason;

  static auth_result allow(std::string principal,
                           std::vector<std::string> roles) {
    return {auth_decision::allow, std::move(principal), std::move(roles), {}};
  }
  static auth_result deny(std::string reason = {}) {
    return {auth_decision::deny, {}, {}, std::move(reason)};
  }
  static auth_result abstain(std::string reason = {}) {
    return {auth_decision::abstain, {}, {}, std::move(reason)};
  }
};

/// Runs handlers in order until one allows or denies; when all abstain (or
/// there are none) the client is denied.
auth_result run_chain(const std::vector<std::function<auth_result()>>& chain);

} // namespace castor::security
