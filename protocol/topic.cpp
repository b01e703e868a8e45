#include "protocol/topic.hpp"

namespace castor::mqtt {

namespace {

constexpr size_t max_topic_length = 65535;

constexpr std::string_view share_prefix = "$share/";

/// UTF-8 as MQTT requires it (section 1.5.4): well formed, no overlong forms,
/// no UTF-16 surrogates, nothing above U+10FFFF, and no U+0000.
bool valid_mqtt_utf8(std::string_view s) noexcept {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  auto end = p + s.size();
  while (p < end) {
    auto c = *p;
    if (c < 0x80) {
      if (c == 0)
        return false;
      ++p;
      continue;
    }
    size_t len;
    uint32_t cp;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false; // continuation byte or 0xF8..0xFF as a lead byte
    }
    if (static_cast<size_t>(end - p) < len)
      return false;
    for (size_t i = 1; i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += len;
  }
  return true;
}

/// Checks the levels of a non-shared filter: '#' only as the whole last
/// level, '+' only as a whole level. Sets `wildcard` when one is present.
bool valid_filter_levels(std::string_view f, bool& wildcard) noexcept {
  size_t level_start = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    auto c = f[i];
    if (c == '/') {
      level_start = i + 1;
    } else if (c == '+') {
      wildcard = true;
      if (i != level_start || (i + 1 < f.size() && f[i + 1] != '/'))
        return false;
    } else if (c == '#') {
      wildcard = true;
      if (i != level_start || i + 1 != f.size())
        return false;
    }
  }
  return true;
}

} // namespace

bool valid_topic_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_topic_length)
    return false;
  if (name.find_first_of("+#") != std::string_view::npos)
    return false;
  return valid_mqtt_utf8(name);
}

filter_info parse_filter(std::string_view filter) noexcept {
  filter_info result;
  if (filter.empty() || filter.size() > max_topic_length
      || !valid_mqtt_utf8(filter))
    return result;
  auto proper = filter;
  if (filter.compare(0, share_prefix.size(), share_prefix) == 0) {
    auto rest = filter.substr(share_prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos)
      return result; // "$share/group" without a filter
    auto group = rest.substr(0, slash);
    if (group.empty() || group.find_first_of("+#") != std::string_view::npos)
      return result;
    proper = rest.substr(slash + 1);
    if (proper.empty())
      return result;
    result.shared = true;
    result.group = group;
  }
  auto subject = proper;
  if (proper.compare(0, delta_prefix.size(), delta_prefix) == 0) {
    subject = proper.substr(delta_prefix.size());
    if (subject.empty()
        || subject.compare(0, share_prefix.size(), share_prefix) == 0
        || subject.compare(0, delta_prefix.size(), delta_prefix) == 0)
      return filter_info{};
    result.delta = true;
  }
  bool wildcard = false;
  if (!valid_filter_levels(subject, wildcard))
    return filter_info{};
  result.valid = true;
  result.wildcard = wildcard;
  result.filter = proper;
  result.subject = subject;
  return result;
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  if (filter.empty() || topic.empty())
    return false;
  // $-rule (section 4.7.2): a filter starting with a wildcard does not match
  // a topic name starting with '$'.
  if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#'))
    return false;
  size_t fi = 0; // start of the current filter level
  size_t ti = 0; // start of the current topic level
  for (;;) {
    auto fend = filter.find('/', fi);
    if (fend == std::string_view::npos)
      fend = filter.size();
    auto flevel = filter.substr(fi, fend - fi);
    if (flevel == "#")
      return true; // matches the remaining levels, including none
    auto tend = topic.find('/', ti);
    if (tend == std::string_view::npos)
      tend = topic.size();
    auto tlevel = topic.substr(ti, tend - ti);
    if (flevel != "+" && flevel != tlevel)
      return false;
    bool filter_done = fend == filter.size();
    bool topic_done = tend == topic.size();
    if (topic_done) {
      if (filter_done)
        return true;
      // Only a trailing "/#" may follow: "a/#" matches "a".
      return filter.substr(fend + 1) == "#";
    }
    if (filter_done)
      return false;
    fi = fend + 1;
    ti = tend + 1;
  }
}

} // namespace castor::mqtt
