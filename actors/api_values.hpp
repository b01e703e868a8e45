#pragma once

// The platform API's values (docs/platform.md): a topic's value as the API
// answers it (JSON), and an update's JSON value as the payload a topic of
// a type takes. Used by the API request actor (actors/api.cpp).

#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "protocol/api_request.hpp"
#include "protocol/session_state_message.hpp"
#include "protocol/topic_mapping.hpp"
#include "protocol/value.hpp"

namespace castor {

/// A typed value as the API answers it: JSON as JSON, text as a string,
/// numbers as numbers, bytes as base64.
nlohmann::json api_json(typed_value&& v);

/// A topic's value as the API answers it, with the topic's type: the
/// explicit topic's (a time series' value is its latest event), or the
/// one inferred from the publish (implicit topics).
std::pair<topic_type, nlohmann::json> api_value(const std::string& name,
                                                const mqtt::message& m,
                                                const mapping_ptr& mapping);

/// An update's value (JSON) as the payload of a value of type `t`: JSON as
/// its text, STRING from a JSON string, INT64 from an integer, DOUBLE from
/// a number, BINARY from base64 in a string; checked as a publish would be.
std::variant<std::string, api::error> payload_of(topic_type t,
                                                 const nlohmann::json& v);

/// A value the API publishes to `path` as the server: QoS 1, in the MQTT
/// form of `type`; an event of a time series names its `author`.
mqtt::message_ptr server_message(const std::string& path, topic_type type,
                                 std::string payload,
                                 const std::string* author);

} // namespace castor
