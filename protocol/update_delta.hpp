#pragma once

// The delta form of updates, for `$delta/` subscribers: a topic computes,
// once per update and only while some subscriber wants deltas, the delta
// from the value its subscribers last received (the basis) to the new one;
// each subscriber's connection sends it, or the whole value, as it writes
// (docs/platform.md, "Deltas"). Pure C++17.
//
// Between two JSON values the delta is an RFC 6902 JSON Patch
// (protocol/json_delta.hpp, content type application/json-patch+json);
// between two values that are not JSON (text or bytes) a binary delta
// (protocol/binary_delta.hpp, application/x-castor-delta). Values keep the
// type an implicit topic infers for them (infer_type): an explicit topic's
// updates arrive in their type's MQTT form and infer as that type.

#include <cstdint>

#include <nlohmann/json.hpp>

#include "protocol/topic_spec.hpp"
#include "protocol/update.hpp"

namespace castor {

/// What a topic keeps of the last update its subscribers received, to
/// make the next one's delta from.
struct delta_basis {
  uint64_t seq = 0; ///< the update's number
  mqtt::message_ptr msg;
  topic_type type = topic_type::binary;
  nlohmann::json json; ///< the parsed document of a JSON value

  explicit operator bool() const noexcept {
    return msg != nullptr;
  }
};

/// The basis of `u` (parses a JSON value once).
delta_basis basis_of(const update& u);

/// The delta making the value of `to` from that of `from`, as a message:
/// the one of `to` with the delta as payload and the delta's content type
/// (payload format indicator 1 for a JSON Patch, none for a binary delta).
/// Null when one value is JSON and the other is not, or when the delta is
/// not smaller than the value.
mqtt::message_ptr make_delta(const delta_basis& from, const delta_basis& to);

} // namespace castor
