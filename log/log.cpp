#include "log/log.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include <unistd.h>

namespace castor::log {

namespace {

std::atomic<log_level> current_level{log_level::info};
std::atomic<log_format> current_format{log_format::text};

/// The level as it appears in a line: five characters wide.
std::string_view label(log_level lvl) noexcept {
  switch (lvl) {
  case log_level::trace:
    return "TRACE";
  case log_level::debug:
    return "DEBUG";
  case log_level::info:
    return "INFO ";
  case log_level::warning:
    return "WARN ";
  case log_level::error:
    return "ERROR";
  }
  return "?????";
}

/// Appends `text` with control characters escaped, so the line stays one line.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
      continue;
    }
    switch (c) {
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0x0f];
    }
  }
}

/// The timestamp: ISO 8601, UTC, milliseconds ("2026-11-25T15:51:39.123Z").
void append_time(std::string& out, std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(time.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  auto millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[48];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                utc.tm_min, utc.tm_sec, millis);
  out += stamp;
}

/// The length of the well-formed UTF-8 sequence at the start of `s`
/// (shortest form, no surrogates, at most U+10FFFF); 0 if there is none.
size_t utf8_sequence(std::string_view s) noexcept {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xc0) == 0x80; };
  auto c = b(0);
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2))
      return 0;
    if ((c == 0xe0 && b(1) < 0xa0) || (c == 0xed && b(1) >= 0xa0))
      return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3))
      return 0;
    if ((c == 0xf0 && b(1) < 0x90) || (c == 0xf4 && b(1) >= 0x90))
      return 0;
    return 4;
  }
  return 0;
}

/// Appends `text` as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  while (!text.empty()) {
    auto u = static_cast<unsigned char>(text.front());
    if (u >= 0x80) {
      auto n = utf8_sequence(text);
      if (n == 0) {
        out += "\ufffd";
        n = 1;
      } else {
        out.append(text.data(), n);
      }
      text.remove_prefix(n);
      continue;
    }
    text.remove_prefix(1);
    switch (u) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (u < 0x20 || u == 0x7f) {
        out += "\\u00";
        out += hex[u >> 4];
        out += hex[u & 0x0f];
      } else {
        out += static_cast<char>(u);
      }
    }
  }
  out += '"';
}

} // namespace

void set_format(log_format fmt) noexcept {
  current_format.store(fmt, std::memory_order_relaxed);
}

log_format format() noexcept {
  return current_format.load(std::memory_order_relaxed);
}

void set_level(log_level lvl) noexcept {
  current_level.store(lvl, std::memory_order_relaxed);
}

log_level level() noexcept {
  return current_level.load(std::memory_order_relaxed);
}

std::string format_line(std::chrono::system_clock::time_point time,
                        log_level lvl, std::string_view context,
                        std::string_view message) {
  std::string line;
  line.reserve(40 + context.size() + message.size());
  append_time(line, time);
  line += ' ';
  line += label(lvl);
  line += ' ';
  if (!context.empty()) {
    line += '[';
    append_escaped(line, context);
    line += "] ";
  }
  append_escaped(line, message);
  line += '\n';
  return line;
}

std::string format_json_line(std::chrono::system_clock::time_point time,
                             log_level lvl, std::string_view context,
                             std::string_view message) {
  std::string line;
  line.reserve(80 + context.size() + message.size());
  line += "{\"time\":\"";
  append_time(line, time);
  line += "\",\"level\":\"";
  line += to_string(lvl);
  line += "\",\"component\":";
  append_json_string(line, context);
  line += ",\"message\":";
  append_json_string(line, message);
  line += "}\n";
  return line;
}

void write(log_level lvl, std::string_view context, std::string_view message) {
  if (!enabled(lvl))
    return;
  auto now = std::chrono::system_clock::now();
  auto line = format() == log_format::json
                  ? format_json_line(now, lvl, context, message)
                  : format_line(now, lvl, context, message);
  // One write(2) per line: lines of different threads do not interleave.
  // Retry on EINTR and finish partial writes; give up on other errors (there
  // is nowhere left to report them).
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    auto n = ::write(STDERR_FILENO, data, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
}

bool parse_level(std::string_view text, log_level& out) noexcept {
  if (text == "trace")
    out = log_level::trace;
  else if (text == "debug")
    out = log_level::debug;
  else if (text == "info")
    out = log_level::info;
  else if (text == "warning" || text == "warn")
    out = log_level::warning;
  else if (text == "error")
    out = log_level::error;
  else
    return false;
  return true;
}

std::string_view to_string(log_level lvl) noexcept {
  switch (lvl) {
  case log_level::trace:
    return "trace";
  case log_level::debug:
    return "debug";
  case log_level::info:
    return "info";
  case log_level::warning:
    return "warning";
  case log_level::error:
    return "error";
  }
  return "unknown";
}

} // namespace castor::log
