#pragma once

// Internals shared by the codec's translation units: a bounds-checked reader
// that records the first error, and byte sinks for the two-pass serializer
// (count, then write).

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "protocol/codec.hpp"

namespace castor::mqtt::detail {

/// The first error a decoder ran into. `cause` points to a string literal.
struct decode_error {
  reason_code code = reason_code::success;
  const char* cause = nullptr;
  size_t limit = 0;
  size_t received = 0;
};

/// Reads MQTT data types from a body. Every read checks its bounds; on
/// failure the reader records the error (first one wins) and returns false.
class reader {
public:
  explicit reader(std::string_view in) noexcept
      : pos_(reinterpret_cast<const uint8_t*>(in.data())),
        end_(pos_ + in.size()) {}

  size_t remaining() const noexcept {
    return static_cast<size_t>(end_ - pos_);
  }
  bool at_end() const noexcept {
    return pos_ == end_;
  }

  bool fail(reason_code code, const char* cause, size_t limit = 0,
            size_t received = 0) noexcept {
    if (err.cause == nullptr) {
      err.code = code;
      err.cause = cause;
      err.limit = limit;
      err.received = received;
    }
    return false;
  }
  bool malformed(const char* cause) noexcept {
    return fail(reason_code::malformed_packet, cause);
  }
  bool protocol_error(const char* cause) noexcept {
    return fail(reason_code::protocol_error, cause);
  }

  bool u8(uint8_t& x) noexcept {
    if (pos_ == end_)
      return malformed("truncated_byte");
    x = *pos_++;
    return true;
  }
  bool u16(uint16_t& x) noexcept {
    if (remaining() < 2)
      return malformed("truncated_two_byte_integer");
    x = static_cast<uint16_t>((pos_[0] << 8) | pos_[1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& x) noexcept {
    if (remaining() < 4)
      return malformed("truncated_four_byte_integer");
    x = (uint32_t{pos_[0]} << 24) | (uint32_t{pos_[1]} << 16)
        | (uint32_t{pos_[2]} << 8) | uint32_t{pos_[3]};
    pos_ += 4;
    return true;
  }
  /// Variable byte integer: at most 4 bytes, minimal encoding.
  bool varint(uint32_t& x) noexcept {
    uint32_t value = 0;
    uint32_t shift = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos_ == end_)
        return malformed("truncated_variable_byte_integer");
      uint8_t b = *pos_++;
      value |= uint32_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0)
          return malformed("variable_byte_integer_not_minimal");
        x = value;
        return true;
      }
      shift += 7;
    }
    return malformed("variable_byte_integer_overflow");
  }
  /// Binary data: two-byte length, then bytes.
  bool binary(std::string_view& x) noexcept {
    uint16_t len;
    if (!u16(len))
      return false;
    if (remaining() < len)
      return malformed("truncated_string");
    x = std::string_view{reinterpret_cast<const char*>(pos_), len};
    pos_ += len;
    return true;
  }
  bool binary(std::string& x) {
    std::string_view sv;
    if (!binary(sv))
      return false;
    x.assign(sv.data(), sv.size());
    return true;
  }
  /// UTF-8 encoded string (validated).
  bool utf8(std::string_view& x) noexcept {
    if (!binary(x))
      return false;
    if (!valid_utf8(x))
      return malformed("invalid_utf8_string");
    return true;
  }
  bool utf8(std::string& x) {
    std::string_view sv;
    if (!utf8(sv))
      return false;
    x.assign(sv.data(), sv.size());
    return true;
  }
  /// The next `n` bytes as a view.
  bool bytes(size_t n, std::string_view& x) noexcept {
    if (remaining() < n)
      return malformed("truncated_data");
    x = std::string_view{reinterpret_cast<const char*>(pos_), n};
    pos_ += n;
    return true;
  }
  /// Everything left.
  std::string_view rest() noexcept {
    std::string_view x{reinterpret_cast<const char*>(pos_), remaining()};
    pos_ = end_;
    return x;
  }

  decode_error err;

private:
  const uint8_t* pos_;
  const uint8_t* end_;
};

/// Where a property set sits: a packet, or the will of a CONNECT.
struct property_context {
  packet_type type;
  bool will = false;
};

/// Writes the property length and the legal properties of `props`
/// (codec_properties.cpp); `size` comes from properties_size.
void write_properties(std::string& out, const properties& props,
                      property_context where, size_t size);

/// Counts the bytes a packet would take. `overflow` is set when a string or
/// binary field cannot be encoded (longer than 65535 bytes).
struct counting_sink {
  size_t n = 0;
  bool overflow = false;
  void u8(uint8_t) noexcept {
    n += 1;
  }
  void u16(uint16_t) noexcept {
    n += 2;
  }
  void u32(uint32_t) noexcept {
    n += 4;
  }
  void varint(uint32_t x) noexcept {
    n += x < 128 ? 1 : x < 16384 ? 2 : x < 2097152 ? 3 : 4;
    if (x > 268435455)
      overflow = true;
  }
  void str(std::string_view s) noexcept {
    if (s.size() > 65535)
      overflow = true;
    n += 2 + s.size();
  }
  void raw(std::string_view s) noexcept {
    n += s.size();
  }
  void props(const properties&, property_context, size_t size) noexcept {
    varint(static_cast<uint32_t>(size));
    n += size;
  }
};

/// Appends to a string (reserved up front by the caller).
struct string_sink {
  std::string& out;
  void u8(uint8_t x) {
    out.push_back(static_cast<char>(x));
  }
  void u16(uint16_t x) {
    char b[2] = {static_cast<char>(x >> 8), static_cast<char>(x & 0xFF)};
    out.append(b, 2);
  }
  void u32(uint32_t x) {
    char b[4]
        = {static_cast<char>(x >> 24), static_cast<char>((x >> 16) & 0xFF),
           static_cast<char>((x >> 8) & 0xFF), static_cast<char>(x & 0xFF)};
    out.append(b, 4);
  }
  void varint(uint32_t x) {
    put_varint(x, out);
  }
  void str(std::string_view s) {
    u16(static_cast<uint16_t>(s.size()));
    out.append(s.data(), s.size());
  }
  void raw(std::string_view s) {
    out.append(s.data(), s.size());
  }
  void props(const properties& p, property_context where, size_t size) {
    write_properties(out, p, where, size);
  }
};

/// True if a topic name contains '+' or '#' (one pass; find_first_of with a
/// two-character set calls memchr once per byte).
inline bool has_wildcard(std::string_view t) noexcept {
  for (char c : t)
    if (c == '+' || c == '#')
      return true;
  return false;
}

// -- properties (codec_properties.cpp) ----------------------------------------

/// Reads a property length and the properties after it into `props`,
/// checking legality per packet, duplicates and value ranges.
bool read_properties(reader& r, properties& props, property_context where);

/// Bytes of the properties of `props` that are legal in `where` (property
/// length field excluded).
size_t properties_size(const properties& props, property_context where,
                       bool& overflow);

/// True if the specification lets packet `t` carry reason code `rc` (v5).
bool reason_code_valid_for(packet_type t, uint8_t rc) noexcept;

// -- decoding (codec_decode.cpp) ----------------------------------------------

/// Checks the first fixed-header byte: packet type, reserved flag bits,
/// direction (role) and that the first packet is CONNECT. No error (cause ==
/// nullptr) when the header is acceptable.
decode_error check_fixed_header(uint8_t header,
                                std::optional<protocol_version> version,
                                parser_options::role side) noexcept;

/// The protocol version a CONNECT body announces, if it is one we speak, even
/// when the rest of the packet is invalid (so the CONNACK can be encoded).
std::optional<protocol_version> peek_connect_version(std::string_view body);

} // namespace castor::mqtt::detail
