#include "protocol/value.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "protocol/codec.hpp"

namespace castor {

namespace {

bool decimal_integer(std::string_view s, int64_t& out) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    negative = s[i] == '-';
    ++i;
  }
  if (i == s.size())
    return false;
  uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    auto d = static_cast<uint64_t>(s[i] - '0');
    if (v > (limit - d) / 10)
      return false;
    v = v * 10 + d;
  }
  out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

bool decimal_number(std::string_view s, double& out) {
  // strtod accepts more (hex, inf, nan, leading spaces): allow only
  // [+-]digits[.digits][e[+-]digits].
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    return i > start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+'))
    ++i;
  bool whole = digits();
  bool frac = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    frac = digits();
  }
  if (!whole && !frac)
    return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+'))
      ++i;
    if (!digits())
      return false;
  }
  if (i != s.size())
    return false;
  std::string text{s};
  errno = 0;
  out = std::strtod(text.c_str(), nullptr);
  return std::isfinite(out);
}

} // namespace

std::optional<nlohmann::json> parse_json(std::string_view s) {
  // JSON text is UTF-8; and nlohmann's reader takes a NUL byte for the end
  // of the input ("1\0x" would read as 1).
  if (!mqtt::valid_utf8(s))
    return std::nullopt;
  auto j = nlohmann::json::parse(s.begin(), s.end(), nullptr, false);
  if (j.is_discarded())
    return std::nullopt;
  return j;
}

std::variant<typed_value, conversion_error>
convert_payload(topic_type t, std::string_view payload) {
  typed_value v;
  v.type = t;
  v.bytes = std::string{payload};
  switch (t) {
  case topic_type::json: {
    auto j = parse_json(payload);
    if (!j)
      return conversion_error{"not a JSON document"};
    v.json = std::move(*j);
    return v;
  }
  case topic_type::string:
    if (!mqtt::valid_utf8(payload))
      return conversion_error{"not UTF-8 text"};
    return v;
  case topic_type::int64:
    if (!decimal_integer(payload, v.int64))
      return conversion_error{"not a decimal integer within 64 bits"};
    return v;
  case topic_type::double_:
    if (!decimal_number(payload, v.number))
      return conversion_error{"not a finite decimal number"};
    return v;
  case topic_type::binary:
    return v;
  case topic_type::time_series:
    break;
  }
  return conversion_error{"a time series takes events of its event type"};
}

topic_type infer_type(std::string_view payload, std::string_view content_type,
                      bool utf8_indicator, nlohmann::json& json) {
  bool json_type = content_type == "application/json"
                   || content_type.substr(0, 17) == "application/json;";
  if (json_type || utf8_indicator) {
    if (auto j = parse_json(payload)) {
      json = std::move(*j);
      return topic_type::json;
    }
  }
  return mqtt::valid_utf8(payload) ? topic_type::string : topic_type::binary;
}

typed_value infer_value(std::string_view payload, std::string_view content_type,
                        bool utf8_indicator) {
  typed_value v;
  v.bytes = std::string{payload};
  v.type = infer_type(payload, content_type, utf8_indicator, v.json);
  return v;
}

typed_value held_value(std::string_view payload, const mqtt::properties& props,
                       const topic_specification* spec) {
  if (spec != nullptr
      && (spec->type != topic_type::time_series || spec->event_type)) {
    auto type = spec->type == topic_type::time_series ? *spec->event_type
                                                      : spec->type;
    auto converted = convert_payload(type, payload);
    if (auto v = std::get_if<typed_value>(&converted))
      return std::move(*v);
    return infer_value(payload, {}, false);
  }
  return infer_value(payload, props.content_type.value_or(""),
                     props.payload_format_indicator.value_or(0) == 1);
}

mqtt_form mqtt_form_of(topic_type t) noexcept {
  switch (t) {
  case topic_type::json:
    return {"application/json", true};
  case topic_type::string:
  case topic_type::int64:
  case topic_type::double_:
    return {"", true};
  default:
    return {"", false};
  }
}

} // namespace castor
