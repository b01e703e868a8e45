#include "actors/api_values.hpp"

#include <chrono>
#include <cstdint>

#include "security/crypto.hpp"

namespace castor {

nlohmann::json api_json(typed_value&& v) {
  switch (v.type) {
  case topic_type::json:
    return std::move(v.json);
  case topic_type::string:
    return std::move(v.bytes);
  case topic_type::int64:
    return v.int64;
  case topic_type::double_:
    return v.number;
  default:
    return security::base64_encode(v.bytes);
  }
}

std::pair<topic_type, nlohmann::json> api_value(const std::string& name,
                                                const mqtt::message& m,
                                                const mapping_ptr& mapping) {
  auto spec = mapping ? mapping->find(name) : nullptr;
  auto v = held_value(m.payload, mqtt::props_of(m), spec.get());
  auto type = v.type == topic_type::json || v.type == topic_type::string
                      || v.type == topic_type::int64
                      || v.type == topic_type::double_
                  ? v.type
                  : topic_type::binary;
  if (spec && spec->type == topic_type::time_series)
    type = topic_type::time_series;
  return {type, api_json(std::move(v))};
}

std::variant<std::string, api::error> payload_of(topic_type t,
                                                 const nlohmann::json& v) {
  auto invalid = [t](const char* expected) {
    return api::error{"INVALID_VALUE", std::string{to_string(t)}
                                           + " topic: the value must be "
                                           + expected};
  };
  std::string bytes;
  switch (t) {
  case topic_type::json:
    bytes = v.dump();
    break;
  case topic_type::string:
    if (!v.is_string())
      return invalid("a string");
    bytes = v.get<std::string>();
    break;
  case topic_type::int64:
    if (!v.is_number_integer()
        || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}))
      return invalid("an integer within 64 bits");
    bytes = v.dump();
    break;
  case topic_type::double_:
    if (!v.is_number())
      return invalid("a number");
    bytes = v.dump();
    break;
  case topic_type::binary: {
    auto decoded = v.is_string() ? security::base64_decode(v.get<std::string>())
                                 : std::nullopt;
    if (!decoded)
      return invalid("base64 in a string");
    return std::move(*decoded);
  }
  default:
    return invalid("of the topic's event type");
  }
  if (std::holds_alternative<conversion_error>(convert_payload(t, bytes)))
    return invalid("valid for its type");
  return bytes;
}

mqtt::message_ptr server_message(const std::string& path, topic_type type,
                                 std::string payload,
                                 const std::string* author) {
  mqtt::publish p;
  p.topic = path;
  p.qos = 1;
  p.payload = std::move(payload);
  auto form = mqtt_form_of(type);
  if (!form.content_type.empty())
    p.props.content_type = std::string{form.content_type};
  if (form.utf8)
    p.props.payload_format_indicator = 1;
  if (author)
    p.props.user_properties.emplace_back(std::string{series_properties::author},
                                         *author);
  return mqtt::make_message(std::move(p), std::string{},
                            std::chrono::steady_clock::now());
}

} // namespace castor
