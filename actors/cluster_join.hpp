#pragma once

// The MAC of a join (docs/cluster.md, "What a node checks"): each side of
// the challenge and response proves the group's secret over both nonces,
// the protocol version, the group and its own identity.

#include <cstdint>
#include <string>
#include <string_view>

#include "actors/cluster_agent.hpp"
#include "security/crypto.hpp"

namespace castor::cluster_detail {

/// Length-prefixed fields, so that no two different inputs give one text.
inline void put(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out.append(field.data(), field.size());
}

/// The MAC one side of a join shows: over the purpose, the protocol
/// version, the group, the identity of the side that shows it and both
/// nonces (the other side's first), so that it proves knowledge of the
/// secret for this exchange only.
inline std::string join_mac(const cluster_settings& s, std::string_view purpose,
                            uint32_t version, const cluster_member& who,
                            const std::string& their_nonce,
                            const std::string& my_nonce) {
  std::string text;
  put(text, purpose);
  put(text, std::to_string(version));
  put(text, s.group);
  put(text, who.node);
  put(text, who.host);
  put(text, std::to_string(who.port));
  put(text, std::to_string(who.incarnation));
  put(text, their_nonce);
  put(text, my_nonce);
  return security::hmac_sha256(s.secret, text);
}

} // namespace castor::cluster_detail
