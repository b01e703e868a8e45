#pragma once

// Updates that a topic applies only under a condition, or makes from its
// current value: `topics/update` with a constraint and `topics/patch` (an
// RFC 6902 patch of a JSON topic's value) of the platform API
// (docs/platform.md). The topic decides, in its actor, against its value
// at that moment, so two competing writers cannot both succeed on the same
// value. Pure C++17.

#include <string>
#include <variant>
#include <vector>

#include "protocol/session_state_message.hpp"
#include "protocol/topic_spec.hpp"

namespace castor {

struct conditional_update {
  /// The update: its value, or for a patch its topic, QoS and properties
  /// (the value is made from the patch).
  mqtt::message_ptr msg;
  /// The constraint's API form, as JSON text (protocol/constraint.hpp);
  /// empty: none.
  std::string constraint;
  /// The patch, as JSON text; empty: `msg` is the value.
  std::string patch;
  /// The locks the constraint names that the calling session held when
  /// the lock actor passed the update on (actors/locks.hpp): a `locked`
  /// constraint holds for these and no others.
  std::vector<std::string> held_locks{};
};

/// Why a topic did not apply a conditional update: a stable code of the
/// API (`CONSTRAINT_FAILED`, `NO_VALUE`, `NOT_JSON`, `PATCH_FAILED`,
/// `INVALID_CONSTRAINT`) and a message. An empty code: applied.
struct update_outcome {
  std::string code;
  std::string message;
};

/// What a topic makes of `cu`, given its last update (null: it has no
/// value), whether the topic exists (it had an update, or the API added
/// it) and its specification (null: implicit): the update to apply, or why
/// there is none. The current value is read as the explicit type, or as
/// an implicit topic infers it. A `locked` constraint holds for the locks
/// of `cu.held_locks` only.
std::variant<mqtt::message_ptr, update_outcome>
resolve_update(const conditional_update& cu, const mqtt::message* last,
               bool exists, const topic_specification* spec);

} // namespace castor
