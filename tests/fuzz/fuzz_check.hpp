#pragma once

// What the fuzz targets share: a check that aborts with the line that failed
// (libFuzzer then keeps the input), and a reader of the fuzz input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace castor_fuzz {

[[noreturn]] inline void check_failed(const char* file, int line,
                                      const char* what) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  std::abort();
}

/// Reads the fuzz input front to back; past the end every read gives 0 or
/// nothing, so any input is a complete run.
class input {
public:
  input(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data), size) {}
  explicit input(std::string_view data) : data_(data) {}

  bool empty() const noexcept {
    return pos_ >= data_.size();
  }
  size_t left() const noexcept {
    return data_.size() - pos_;
  }

  uint8_t byte() {
    return empty() ? 0 : static_cast<uint8_t>(data_[pos_++]);
  }
  bool flag() {
    return (byte() & 1) != 0;
  }
  uint16_t u16() {
    uint16_t hi = byte();
    return static_cast<uint16_t>((hi << 8) | byte());
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return (hi << 16) | u16();
  }
  /// A number in [0, n) (n > 0).
  size_t pick(size_t n) {
    return n <= 256 ? byte() % n : u16() % n;
  }
  /// The next `n` bytes (fewer at the end).
  std::string_view bytes(size_t n) {
    if (n > left())
      n = left();
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  /// A string of length given by one byte (at most `max`).
  std::string_view string(size_t max = 255) {
    size_t n = byte();
    return bytes(n > max ? n % (max + 1) : n);
  }
  /// Everything up to (not including) `sep`, which is consumed; the rest of
  /// the input when there is no `sep`.
  std::string_view until(char sep) {
    auto end = data_.find(sep, pos_);
    if (end == std::string_view::npos)
      end = data_.size();
    auto out = data_.substr(pos_, end - pos_);
    pos_ = end < data_.size() ? end + 1 : end;
    return out;
  }
  std::string_view rest() {
    return bytes(left());
  }

private:
  std::string_view data_;
  size_t pos_ = 0;
};

} // namespace castor_fuzz

#define FUZZ_CHECK(condition)                                                 \
  do {                                                                        \
    if (!(condition))                                                         \
      ::castor_fuzz::check_failed(__FILE__, __LINE__, #condition);            \
  } while (false)
