#pragma once

// One line per event on stderr, as text:
//   2026-11-25T15:51:39.123Z INFO  [session sensor-1] connected from 127.0.0.1
// or as one JSON object (log_format: json, for log collectors):
//   {"time":"2026-11-25T15:51:39.123Z","level":"info",
//    "component":"session sensor-1","message":"connected from 127.0.0.1"}
// Thread safe; filtered by level before the message is formatted. Level and
// format may change while the server runs (a reload).

#include <chrono>
#include <sstream>
#include <string>
#include <string_view>

#include <cstdint>

namespace castor {

enum class log_level : uint8_t { trace, debug, info, warning, error };

/// How a line is written: text for people, json for log collectors.
enum class log_format : uint8_t { text, json };

} // namespace castor

namespace castor::log {

void set_level(log_level lvl) noexcept;
log_level level() noexcept;
void set_format(log_format fmt) noexcept;
log_format format() noexcept;
inline bool enabled(log_level lvl) noexcept {
  return lvl >= level();
}

/// Writes one line. `context` names what the event concerns ("session
/// sensor-1", "topic a/b", "listener mqtt"); may be empty.
void write(log_level lvl, std::string_view context, std::string_view message);

/// Parses "trace", "debug", "info", "warning" (or "warn"), "error".
bool parse_level(std::string_view text, log_level& out) noexcept;
std::string_view to_string(log_level lvl) noexcept;

/// The line write() emits for an event at `time` (UTC), ending in '\n'.
/// Control characters in context and message (newlines among them) are
/// escaped as \n, \r, \t or \xNN so that every event stays one line.
std::string format_line(std::chrono::system_clock::time_point time,
                        log_level lvl, std::string_view context,
                        std::string_view message);

/// The line write() emits under log_format json: one object with the
/// fields time, level (as to_string gives it), component (the context, ""
/// when there is none) and message, ending in '\n'. Strings are escaped as
/// JSON requires; bytes that are not UTF-8 become U+FFFD, so that every
/// line parses.
std::string format_json_line(std::chrono::system_clock::time_point time,
                             log_level lvl, std::string_view context,
                             std::string_view message);

} // namespace castor::log

/// CASTOR_LOG(info, "session " << id, "connected from " << addr);
#define CASTOR_LOG(lvl, context, message)                                   \
  do {                                                                      \
    if (::castor::log::enabled(::castor::log_level::lvl)) {                 \
      std::ostringstream castor_log_ctx_;                                   \
      castor_log_ctx_ << context;                                           \
      std::ostringstream castor_log_msg_;                                   \
      castor_log_msg_ << message;                                           \
      ::castor::log::write(::castor::log_level::lvl, castor_log_ctx_.str(), \
                           castor_log_msg_.str());                          \
    }                                                                       \
  } while (false)
