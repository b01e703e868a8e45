#include "log/log.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include <unistd.h>

namespace castor::log {

namespace {

std::atomic<log_level> current_level{log_level::info};

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

} // namespace

void set_level(log_level lvl) noexcept {
  current_level.store(lvl, std::memory_order_relaxed);
}

log_level level() noexcept {
  return current_level.load(std::memory_order_relaxed);
}

std::string format_line(std::chrono::system_clock::time_point time,
                        log_level lvl, std::string_view context,
                        std::string_view message) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(time.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  auto millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[48];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                utc.tm_min, utc.tm_sec, millis);
  std::string line;
  line.reserve(40 + context.size() + message.size());
  line += stamp;
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

void write(log_level lvl, std::string_view context, std::string_view message) {
  if (!enabled(lvl))
    return;
  auto line
      = format_line(std::chrono::system_clock::now(), lvl, context, message);
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
