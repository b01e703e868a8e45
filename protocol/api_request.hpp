#pragma once

// The requests of the topic API over MQTT 5 (`$castor/api/<operation>`,
// JSON payloads) read into checked values, and the JSON answers. Pure
// C++17: the session runs the operations; this is where a malformed
// request becomes a clear error answer, never a harmed session.
//
// Error codes are stable names (docs/platform.md): INVALID_REQUEST (not
// JSON, a missing or mistyped field), UNKNOWN_OPERATION, and those of the
// operations themselves (PERMISSION_DENIED, INVALID_SPECIFICATION, ...).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/constraint.hpp"
#include "protocol/session_filter.hpp"
#include "protocol/time_series.hpp"
#include "protocol/topic_selector.hpp"
#include "protocol/topic_spec.hpp"

namespace castor::api {

/// The prefix of request topics.
inline constexpr std::string_view request_prefix = "$castor/api/";

struct add_topic {
  std::string path;
  topic_specification spec;
};
/// Selectors are checked (parse_selector) and kept as text.
struct remove_topics {
  std::string selector;
};
struct fetch_topics {
  std::string selector;
  bool values = true;
  size_t limit = 1000; ///< at most this many topics in one answer
};
struct update_topic {
  std::string path;
  nlohmann::json value;
  std::optional<update_constraint> constraint;
  std::string constraint_text; ///< its JSON, for the topic to check
  /// Add the topic with this specification if it does not exist.
  std::optional<topic_specification> spec;
};
struct patch_topic {
  std::string path;
  nlohmann::json patch; ///< an RFC 6902 operation list
  std::optional<update_constraint> constraint;
  std::string constraint_text; ///< its JSON, for the topic to check
};
struct append_event {
  std::string path;
  nlohmann::json value;
};
struct edit_event {
  std::string path;
  uint64_t original = 0;
  nlohmann::json value;
};
struct query_range {
  std::string path;
  range_query query;
};
/// When a lock a session holds is released without locks/release.
enum class lock_release : uint8_t {
  session_close, ///< when the session ends (default)
  disconnect,    ///< when the connection that acquired it is lost
};
/// The longest lock name, in bytes.
inline constexpr size_t max_lock_name = 256;
/// The longest wait of locks/acquire (requests are answered within 60 s).
inline constexpr uint64_t max_lock_wait_ms = 50000;
struct acquire_lock {
  std::string name;
  uint64_t wait_ms = 10000; ///< 0: do not wait
  lock_release release_on = lock_release::session_close;
};
struct release_lock {
  std::string name;
};

/// topics/subscribe and topics/unsubscribe: the calling session's
/// subscription by selector (whole values, or deltas as `$delta/`).
struct subscribe_topics {
  std::string selector;
  uint8_t qos = 1;
  bool delta = false;
};
struct unsubscribe_topics {
  std::string selector;
  bool delta = false;
};

/// topics/notify and topics/unnotify: events about the topics a selector
/// selects (added, removed, selected, deselected).
struct notify_topics {
  std::string selector;
  /// Also tell of selected paths that have topics below them (`branch`
  /// events): the first topics under a path, to walk a tree lazily.
  bool branches = false;
};
struct unnotify_topics {
  std::string selector;
};

// Request-response messaging (docs/platform.md).
struct add_handler {
  std::string path;
};
struct remove_handler {
  std::string path;
};
struct send_message {
  std::string path;
  nlohmann::json value;
};

// Missing-topic handlers (docs/platform.md, "Missing-topic handlers").
struct add_missing_handler {
  std::string path;
};
struct remove_missing_handler {
  std::string path;
};

/// Sessions (docs/platform.md, "Sessions"): filters are checked
/// (parse_session_filter) and kept as text.
struct list_sessions {
  std::string filter = "all";
  std::string after;
  size_t limit = 100;
};
struct get_session {
  std::string session;
};
struct close_sessions {
  std::string session; ///< one session, or
  std::string filter;  ///< those the filter selects
};
/// sessions/subscribe and sessions/unsubscribe: on behalf of another
/// session (connected), as its own topics/subscribe would.
struct subscribe_session {
  std::string session;
  subscribe_topics subscription;
  bool unsubscribe = false;
};
struct set_session_properties {
  std::string session;
  std::map<std::string, std::string> properties;
};
/// sessions/change-roles: roles a connected session gains and loses.
struct change_session_roles {
  std::string session;
  std::vector<std::string> add;
  std::vector<std::string> remove;
};

/// Requests to sessions (docs/platform.md, "Requests to sessions"):
/// streams/add and streams/remove set and end a request stream of the
/// calling connection on a message path; messages/send-to-session and
/// messages/send-to-filter send a request to one session, or to those a
/// session filter (checked, kept as text) selects.
struct add_stream {
  std::string path;
};
struct remove_stream {
  std::string path;
};
struct send_to_session {
  std::string session;
  std::string path;
  nlohmann::json value;
};
struct send_to_filter {
  std::string filter;
  std::string path;
  nlohmann::json value;
};

using request
    = std::variant<add_topic, remove_topics, fetch_topics, update_topic,
                   patch_topic, append_event, edit_event, query_range,
                   acquire_lock, release_lock, subscribe_topics,
                   unsubscribe_topics, notify_topics, unnotify_topics,
                   add_handler, remove_handler, send_message, list_sessions,
                   get_session, close_sessions, set_session_properties,
                   subscribe_session, change_session_roles,
                   add_missing_handler, remove_missing_handler, add_stream,
                   remove_stream, send_to_session, send_to_filter>;

struct error {
  std::string code; ///< a stable name
  std::string message;
};

/// The operation names, as they follow the prefix.
const std::vector<std::string_view>& operations();

/// Reads a request: `operation` is what follows `$castor/api/`.
std::variant<request, error> parse_request(std::string_view operation,
                                           std::string_view payload);

/// `{"ok": true, ...fields}`.
std::string ok_answer(nlohmann::json fields = nlohmann::json::object());
/// `{"ok": false, "error": {"code": ..., "message": ...}}`.
std::string error_answer(const error& e);

} // namespace castor::api
