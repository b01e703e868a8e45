#pragma once

// Time series topics on the wire: the requests the platform API hands a
// time series topic (`timeseries/append`, `edit`, `range`), its answers,
// and the MQTT message each event becomes for subscribers: the event's
// value in its event type's MQTT form, with the user properties `seq`,
// `timestamp` (ms since the epoch), `author` and, for an edit, `original`
// (series_properties in protocol/topic_mapping.hpp). Pure C++17: the topic
// actor and the API build on it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/session_state_message.hpp"
#include "protocol/time_series.hpp"

namespace castor {

/// API -> topic: one operation on a time series.
struct series_request {
  enum op_code : uint8_t { append = 0, edit = 1, range = 2 };
  uint8_t op = append;
  /// append, edit: the event as published (its value in the event type's
  /// form, the `author` user property).
  mqtt::message_ptr msg;
  uint64_t original = 0; ///< edit: the event it overrides
  /// range: the request's JSON (a `timeseries/range` payload).
  std::string query;
};

/// One event in an answer: its value as the bytes subscribers receive.
struct series_event {
  uint64_t seq = 0;
  int64_t timestamp = 0;
  std::string author;
  bool is_edit = false;
  uint64_t original = 0; ///< of an edit
  std::string bytes;
};

/// Topic -> API. An empty code: done (append, edit: the new event's `seq`
/// and `timestamp`; range: `events` and whether the limit cut them short).
/// Codes: NOT_TIME_SERIES, INVALID_VALUE, NO_SUCH_EVENT, INVALID_REQUEST.
struct series_answer {
  std::string code;
  std::string message;
  uint64_t seq = 0;
  int64_t timestamp = 0;
  std::vector<series_event> events;
  bool more = false;
};

series_event to_series_event(const ts_event& e);

/// The MQTT message subscribers receive for `e` of a series of
/// `event_type` at `topic` (`origin`: the publisher's client id, for no
/// local; empty for the server's).
mqtt::message_ptr event_message(const std::string& topic,
                                topic_type event_type, const ts_event& e,
                                uint8_t qos, bool retain,
                                std::string origin = {});

/// The event that event_message made `m` of (of a series of
/// `event_type`); none if `m` does not carry one.
std::optional<ts_event> event_of(const mqtt::message& m, topic_type event_type);

/// The author a published event names (its `author` user property, set by
/// the server); empty if none.
std::string author_of(const mqtt::message& m);

} // namespace castor
