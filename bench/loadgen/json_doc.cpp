#include "json_doc.hpp"

#include <charconv>
#include <cstring>

namespace castor::bench {

namespace {

void put(std::vector<uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

void put_num(std::vector<uint8_t>& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.insert(out.end(), buf, r.ptr);
}

/// The second changing field: a reading that differs between consecutive
/// messages.
uint64_t counter_of(uint64_t seq) {
  return (seq * 7919 + 17) % 1000003;
}

/// Finds `"key"` used as an object key (followed by optional blanks and a
/// colon) at or after `from`; returns the position just after the colon,
/// or npos.
size_t find_key(std::string_view s, std::string_view quoted_key,
                size_t from = 0) {
  for (size_t at = s.find(quoted_key, from); at != std::string_view::npos;
       at = s.find(quoted_key, at + 1)) {
    size_t i = at + quoted_key.size();
    while (i < s.size()
           && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
      ++i;
    if (i < s.size() && s[i] == ':')
      return i + 1;
  }
  return std::string_view::npos;
}

/// Parses an unsigned integer after optional blanks at `pos`.
bool read_uint(std::string_view s, size_t pos, uint64_t& out) {
  if (pos == std::string_view::npos)
    return false;
  while (
      pos < s.size()
      && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
    ++pos;
  auto r = std::from_chars(s.data() + pos, s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr != s.data() + pos;
}

bool read_field(std::string_view s, std::string_view quoted_key,
                uint64_t& out) {
  return read_uint(s, find_key(s, quoted_key), out);
}

} // namespace

void json_doc::build(size_t size, uint32_t changed_fields, bool with_time) {
  changed_ = changed_fields;
  time_ = with_time;
  // The head as it looks for a six-digit sequence number.
  std::vector<uint8_t> head;
  filler_ = "}";
  render(0, 100000, with_time ? 1000000000000000000ull : 0, head);
  size_t used = head.size(); // includes the closing brace
  fields_ = 2 + (with_time ? 1 : 0) + (changed_fields >= 2 ? 1 : 0);
  std::string f;
  for (uint32_t i = 0; used + f.size() < size; ++i) {
    size_t left = size - used - f.size();
    std::string field = ",\"f" + std::to_string(i) + "\":";
    if (left < field.size() + 2)
      break; // not even an empty string fits: a few bytes short
    if (left < field.size() + 32) {
      // The last field: a string that makes the size exact.
      field += '"' + std::string(left - field.size() - 2, 'z') + '"';
    } else if (i % 2 == 0) {
      field += std::to_string((i * 2654435761u) % 100000);
    } else {
      field += '"';
      for (uint32_t k = 0; k < 8 + i % 5; ++k)
        field += static_cast<char>('a' + (i * 7 + k * 3) % 26);
      field += '"';
    }
    f += field;
    ++fields_;
  }
  filler_ = f + "}";
}

void json_doc::render(uint32_t pid, uint64_t seq, uint64_t ts,
                      std::vector<uint8_t>& out) const {
  out.clear();
  put(out, "{\"pub\":");
  put_num(out, pid);
  put(out, ",\"seq\":");
  put_num(out, seq);
  if (time_) {
    put(out, ",\"ts\":");
    put_num(out, ts);
  }
  if (changed_ >= 2) {
    put(out, ",\"counter\":");
    put_num(out, counter_of(seq));
  }
  put(out, filler_);
}

bool read_json_stamp(const uint8_t* p, size_t n, json_stamp& out) {
  std::string_view s(reinterpret_cast<const char*>(p), n);
  if (s.empty() || s[0] != '{')
    return false;
  // The generator's own layout first ({"pub":P,"seq":S...), then anywhere
  // (a broker may reorder the keys).
  uint64_t pid = 0;
  constexpr std::string_view pub_head = "{\"pub\":";
  if (s.substr(0, pub_head.size()) == pub_head) {
    auto r
        = std::from_chars(s.data() + pub_head.size(), s.data() + s.size(), pid);
    size_t at = static_cast<size_t>(r.ptr - s.data());
    constexpr std::string_view seq_key = ",\"seq\":";
    if (r.ec == std::errc() && s.substr(at, seq_key.size()) == seq_key) {
      auto r2 = std::from_chars(s.data() + at + seq_key.size(),
                                s.data() + s.size(), out.seq);
      if (r2.ec == std::errc() && pid <= UINT32_MAX) {
        out.pid = static_cast<uint32_t>(pid);
        at = static_cast<size_t>(r2.ptr - s.data());
        constexpr std::string_view ts_key = ",\"ts\":";
        out.has_ts = s.substr(at, ts_key.size()) == ts_key
                     && read_uint(s, at + ts_key.size(), out.ts);
        return true;
      }
    }
  }
  if (!read_field(s, "\"pub\"", pid) || pid > UINT32_MAX
      || !read_field(s, "\"seq\"", out.seq))
    return false;
  out.pid = static_cast<uint32_t>(pid);
  out.has_ts = read_field(s, "\"ts\"", out.ts);
  return true;
}

bool read_patch_seq(const uint8_t* p, size_t n, uint64_t& seq) {
  std::string_view s(reinterpret_cast<const char*>(p), n);
  // An operation is an object; find the one naming "/seq" as its path and
  // read its "value" (keys in any order).
  for (size_t at = s.find("\"/seq\""); at != std::string_view::npos;
       at = s.find("\"/seq\"", at + 1)) {
    size_t open = s.rfind('{', at);
    size_t close = s.find('}', at);
    if (open == std::string_view::npos || close == std::string_view::npos)
      return false;
    std::string_view op = s.substr(open, close - open + 1);
    if (read_field(op, "\"value\"", seq))
      return true;
  }
  // No operation on "/seq": the document (or a part holding "seq") is
  // replaced whole, and "seq" is a key inside that value.
  return read_field(s, "\"seq\"", seq);
}

} // namespace castor::bench
