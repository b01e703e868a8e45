#pragma once

// What Castor keeps in its store (storage/store.hpp) and how
// (docs/persistence.md): one record per key, each starting with a record
// version byte, so that a record this version cannot read is reported and
// skipped, never misread.
//
//   "s:" topic   a topic the API added: its type and properties
//   "r:" topic   its retained message (MQTT)
//   "v:" topic   a typed topic's value (its last update)
//   "e:" topic "\0" seq
//                an event of a time series (seq: 8 bytes, big-endian), as
//                its subscribers receive it
//   "c:" client id
//                a persistent session: its principal and roles, expiry,
//                subscriptions, will, inbound QoS 2 identifiers
//   "q:" client id "\0" topic "\0" incarnation seq form
//                a QoS 1 or 2 message for a persistent session, written by
//                its topic before the publisher's acknowledgement, erased
//                by the session once delivered or dropped (incarnation:
//                when the topic actor started, in microseconds; seq: its
//                update; both 8 bytes, big-endian; form: 1 for `$delta/`)
//
// Messages are kept in their MQTT 5.0 PUBLISH encoding with the wall-clock
// time they were saved, so that a message expiry interval keeps counting
// while the server is down.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/types.hpp"
#include "protocol/session_state_message.hpp"
#include "protocol/topic_mapping.hpp"
#include "storage/store.hpp"

namespace castor::records {

inline constexpr std::string_view spec_prefix = "s:";
inline constexpr std::string_view retained_prefix = "r:";
inline constexpr std::string_view value_prefix = "v:";
inline constexpr std::string_view event_prefix = "e:";
inline constexpr std::string_view session_prefix = "c:";
inline constexpr std::string_view queued_prefix = "q:";

inline std::string key(std::string_view prefix, std::string_view topic) {
  std::string k;
  k.reserve(prefix.size() + topic.size());
  k.append(prefix);
  k.append(topic);
  return k;
}

/// The key of a time series' event.
std::string event_key(std::string_view topic, uint64_t seq);

/// The key of a persistent session's message (see above).
std::string message_key(std::string_view client_id, std::string_view topic,
                        uint64_t incarnation, uint64_t seq, bool delta_form);

/// A persistent session's message record: the delivery (QoS, retain,
/// subscription identifiers, the message) and, for a QoS 2 message sent
/// already, its packet identifier and whether PUBREC came.
std::string encode_delivery(const mqtt::delivery& d, uint16_t packet_id,
                            bool released);

/// A persistent session's record (its messages are records of their own).
std::string encode_session(const stored_session& s);

/// A message record, stamped with the wall-clock time now.
std::string encode_message(const mqtt::message& m);

/// The message of a record, its expiry interval shortened by the time
/// since it was saved; null if the record is damaged (`damaged` set) or
/// the message has expired since.
mqtt::message_ptr decode_message(std::string_view record, bool& damaged);

/// A specification record (as the API took it: type and properties).
std::string encode_spec(const topic_specification& spec);

/// The specification of a record; null if it is damaged or no longer
/// valid (`why` says which).
topic_mapping::spec_ptr decode_spec(std::string_view record, std::string& why);

/// Everything a store holds, read at startup.
struct loaded {
  std::vector<std::pair<std::string, topic_mapping::spec_ptr>> specs;
  /// By topic: its retained message and its value (either may be null).
  struct topic_values {
    mqtt::message_ptr retained;
    mqtt::message_ptr value;
    /// A time series' events, oldest first.
    std::vector<mqtt::message_ptr> events;
  };
  std::map<std::string, topic_values> topics;
  uint64_t retained = 0;
  uint64_t values = 0;
  uint64_t events = 0;
  uint64_t expired = 0;
  /// Persistent sessions, with their messages.
  std::vector<stored_session> sessions;
  uint64_t session_messages = 0;
  /// Message records of no session (it ended as they were written): they
  /// are erased.
  std::vector<std::string> orphans;
  /// Records that could not be read: their keys, and why (reported).
  std::vector<std::string> damaged;
};

loaded load_all(storage::store& db);

} // namespace castor::records
