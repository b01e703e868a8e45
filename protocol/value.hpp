#pragma once

// Typed values: what an update of a typed topic holds, how an MQTT publish
// payload becomes one (converted to an explicit topic's type or refused;
// inferred for an implicit topic), and how MQTT subscribers receive it.
// Pure C++17.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "protocol/packet.hpp"
#include "protocol/topic_spec.hpp"

namespace castor {

/// One value of one update: immutable once made, shared by every delivery.
struct typed_value {
  topic_type type = topic_type::binary; ///< never time_series
  /// The bytes MQTT subscribers receive: JSON text as published, UTF-8
  /// text, the decimal text of a number, or the bytes.
  std::string bytes;
  nlohmann::json json; ///< the parsed document (JSON only)
  int64_t int64 = 0;   ///< INT64 only
  double number = 0;   ///< DOUBLE only
};

using value_ptr = std::shared_ptr<const typed_value>;

/// Why a payload does not convert to a type (the publisher gets PUBACK or
/// PUBREC 0x99, payload format invalid).
struct conversion_error {
  std::string message;
};

/// The payload converted to an explicit topic's type `t` (not
/// time_series): JSON text to JSON, UTF-8 text to STRING, a decimal
/// integer to INT64, a decimal number to DOUBLE (finite; integers too),
/// anything to BINARY.
std::variant<typed_value, conversion_error>
convert_payload(topic_type t, std::string_view payload);

/// The type an implicit topic gives a payload: JSON when the content type
/// says application/json, or the payload format indicator says UTF-8, and
/// it parses as JSON; otherwise STRING when it is valid UTF-8; otherwise
/// BINARY.
typed_value infer_value(std::string_view payload, std::string_view content_type,
                        bool utf8_indicator);

/// The value a topic holds for a publish's payload and forwarded
/// properties: converted to the explicit topic's type (`spec`; a payload
/// published before the topic became explicit, which does not convert, is
/// inferred without the properties' hints), or as an implicit topic infers
/// it (content type, payload format indicator); a time series' event as its
/// event type. What the API answers and
/// what constraints compare against.
typed_value held_value(std::string_view payload, const mqtt::properties& props,
                       const topic_specification* spec);

/// The type infer_value gives a payload, without copying it; `json` gets
/// the parsed document of a JSON value.
topic_type infer_type(std::string_view payload, std::string_view content_type,
                      bool utf8_indicator, nlohmann::json& json);

/// The JSON document `text` holds (UTF-8 without NUL bytes, which
/// nlohmann's reader would take for the end); none if it holds none.
std::optional<nlohmann::json> parse_json(std::string_view text);

/// How MQTT subscribers receive a value of type `t`: its content type
/// (empty: none) and payload format indicator.
struct mqtt_form {
  std::string_view content_type;
  bool utf8 = false;
};
mqtt_form mqtt_form_of(topic_type t) noexcept;

} // namespace castor
