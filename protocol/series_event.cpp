#include "protocol/series_event.hpp"

#include <charconv>
#include <chrono>

#include "protocol/topic_mapping.hpp"
#include "protocol/value.hpp"

namespace castor {

series_event to_series_event(const ts_event& e) {
  series_event out;
  out.seq = e.seq;
  out.timestamp = e.timestamp;
  out.author = e.author;
  out.is_edit = e.original.has_value();
  out.original = e.original.value_or(0);
  if (e.value)
    out.bytes = e.value->bytes;
  return out;
}

mqtt::message_ptr event_message(const std::string& topic,
                                topic_type event_type, const ts_event& e,
                                uint8_t qos, bool retain,
                                std::string origin) {
  mqtt::publish p;
  p.topic = topic;
  p.qos = qos;
  p.retain = retain;
  if (e.value)
    p.payload = e.value->bytes;
  auto form = mqtt_form_of(event_type);
  if (!form.content_type.empty())
    p.props.content_type = std::string{form.content_type};
  if (form.utf8)
    p.props.payload_format_indicator = 1;
  auto& ups = p.props.user_properties;
  ups.reserve(4);
  ups.emplace_back(std::string{series_properties::seq}, std::to_string(e.seq));
  ups.emplace_back(std::string{series_properties::timestamp},
                   std::to_string(e.timestamp));
  ups.emplace_back(std::string{series_properties::author}, e.author);
  if (e.original)
    ups.emplace_back(std::string{series_properties::original},
                     std::to_string(*e.original));
  return mqtt::make_message(std::move(p), std::move(origin),
                            std::chrono::steady_clock::now());
}

std::optional<ts_event> event_of(const mqtt::message& m,
                                 topic_type event_type) {
  ts_event e;
  bool seq = false;
  bool timestamp = false;
  auto number = [](const std::string& text, auto& out) {
    auto end = text.data() + text.size();
    auto r = std::from_chars(text.data(), end, out);
    return r.ec == std::errc{} && r.ptr == end && !text.empty();
  };
  for (auto& [name, text] : mqtt::props_of(m).user_properties) {
    if (name == series_properties::seq) {
      seq = number(text, e.seq);
    } else if (name == series_properties::timestamp) {
      timestamp = number(text, e.timestamp);
    } else if (name == series_properties::author) {
      e.author = text;
    } else if (name == series_properties::original) {
      uint64_t original = 0;
      if (!number(text, original))
        return std::nullopt;
      e.original = original;
    }
  }
  if (!seq || !timestamp)
    return std::nullopt;
  auto converted = convert_payload(event_type, m.payload);
  auto v = std::get_if<typed_value>(&converted);
  if (v == nullptr)
    return std::nullopt;
  e.value = std::make_shared<const typed_value>(std::move(*v));
  return e;
}

std::string author_of(const mqtt::message& m) {
  const auto& ups = mqtt::props_of(m).user_properties;
  for (auto it = ups.rbegin(); it != ups.rend(); ++it)
    if (it->first == series_properties::author)
      return it->second;
  return {};
}

} // namespace castor
