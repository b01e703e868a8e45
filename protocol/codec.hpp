#pragma once

// The resumable frame parser and the serializer (in the manner of EMQX's
// emqx_frame): feed any split of a byte stream, get whole packets, "need
// more", or an error that names its cause and maps to the reason code the
// specification requires.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/packet.hpp"

namespace castor::mqtt {

/// Why a frame or packet was rejected. `code` is the reason code the
/// specification names for it (malformed_packet, protocol_error,
/// packet_too_large, topic_name_invalid, ...); `cause` is a short
/// machine-friendly name ("remaining_length_overflow", "duplicate_property",
/// "frame_too_large", ...); `limit` and `received` are set where a limit was
/// exceeded.
struct parse_error {
  reason_code code = reason_code::malformed_packet;
  std::string cause;
  size_t limit = 0;
  size_t received = 0;
};

/// A property is legal in a packet only if this table says so. `will` stands
/// for the will properties of CONNECT.
bool property_allowed(property_id id, packet_type in) noexcept;
bool property_allowed_in_will(property_id id) noexcept;

/// True if the MQTT 5.0 specification lets packet `in` carry reason code
/// `rc` (spec 2.4); the decoder rejects any other code as malformed.
bool reason_code_allowed(reason_code rc, packet_type in) noexcept;

/// The specification's name of `rc` in packet `in`: like to_string(rc), but
/// 0x00 is "Normal disconnection" in DISCONNECT and "Granted QoS 0" in SUBACK.
std::string_view reason_name(reason_code rc, packet_type in) noexcept;

struct parser_options {
  /// Largest whole packet (fixed header included) accepted; larger frames are
  /// rejected with packet_too_large before their body is buffered.
  uint32_t max_packet_size = 268435460;
  /// Set by the parser itself from the CONNECT it reads; a client side parser
  /// sets it up front.
  std::optional<protocol_version> version;
  /// Server side parsers reject server-to-client packets (CONNACK, SUBACK,
  /// ...) and client side parsers the reverse; `any` accepts both (tests).
  enum class role : uint8_t { server, client, any } side = role::server;
};

/// Outcome of one feed step.
struct parse_result {
  enum class status : uint8_t { need_more, ok, error };
  status state = status::need_more;
  packet pkt;        ///< valid when state == ok
  parse_error error; ///< valid when state == error
  size_t size = 0;   ///< encoded size of the packet when state == ok

  bool ok() const noexcept {
    return state == status::ok;
  }
  bool need_more() const noexcept {
    return state == status::need_more;
  }
  bool failed() const noexcept {
    return state == status::error;
  }
};

/// Resumable frame parser. Typical use:
///
///     std::string_view in = bytes_read;
///     for (;;) {
///       auto r = parser.feed(in);   // consumes from `in`
///       if (r.need_more()) break;   // everything consumed and buffered
///       if (r.failed()) { close_with(r.error.code); break; }
///       handle(r.pkt);
///     }
///
/// After an error the parser stays failed: the connection must close.
class frame_parser {
public:
  explicit frame_parser(parser_options opts = {});

  /// Consumes bytes from the front of `in` and returns at most one packet.
  parse_result feed(std::string_view& in);

  /// The protocol version learned from CONNECT (or set in the options).
  std::optional<protocol_version> version() const noexcept {
    return opts_.version;
  }
  void set_version(protocol_version v) noexcept {
    opts_.version = v;
  }
  void set_max_packet_size(uint32_t n) noexcept {
    opts_.max_packet_size = n;
  }
  /// Bytes currently held for an incomplete packet.
  size_t buffered() const noexcept {
    return buf_.size();
  }
  /// Releases the memory of the internal buffer if it is not in use
  /// (idle connections should hold no large buffers).
  void shrink() noexcept;

private:
  parser_options opts_;
  std::string buf_; // partial frame: fixed header and body bytes so far
  uint8_t header_ = 0;
  uint32_t remaining_ = 0; // body length once known
  uint32_t multiplier_ = 1;
  uint8_t len_bytes_ = 0;
  bool have_len_ = false;
  bool have_header_ = false;
  bool failed_ = false;
  parse_error error_;
};

/// Decodes one packet from its first fixed-header byte and its body (the
/// remaining-length bytes excluded). `version` is needed for every packet
/// except CONNECT, which carries its own.
parse_result decode(uint8_t fixed_header, std::string_view body,
                    std::optional<protocol_version> version,
                    parser_options::role side = parser_options::role::any);

/// Appends the encoding of `p` for `version` to `out`. Properties a 3.1.1 peer
/// cannot take are dropped, and reason codes are mapped to 3.1.1 return codes
/// (CONNACK, SUBACK). Returns the number of bytes appended.
size_t encode(const packet& p, protocol_version version, std::string& out);

/// Convenience: the encoding of `p` as a new string.
std::string encode(const packet& p, protocol_version version);

/// Appends a variable byte integer (at most 268,435,455).
void put_varint(uint32_t value, std::string& out);

/// UTF-8 validation as MQTT requires it: well formed, no U+0000, no UTF-16
/// surrogates (U+D800..U+DFFF), no overlong forms.
bool valid_utf8(std::string_view s) noexcept;

} // namespace castor::mqtt
