#pragma once

// A minimal, allocation-free MQTT 3.1.1 / 5.0 client codec for the load
// generator: it encodes only what a client sends and decodes only what a
// broker sends to a plain client (no will, no auth, no topic aliases).

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace castor::bench {

using byte_buffer = std::vector<uint8_t>;

enum class packet_kind : uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

/// One whole frame found in a byte stream.
struct frame {
  packet_kind kind;
  uint8_t flags;       ///< low nibble of the first byte
  const uint8_t* body; ///< variable header + payload
  size_t size;         ///< body size (the Remaining Length)
};

/// Splits the next frame off `data`. Returns the number of bytes the frame
/// takes (fixed header included), 0 when more bytes are needed, and -1 when
/// the Remaining Length is malformed.
long next_frame(const uint8_t* data, size_t len, frame& out);

/// A decoded PUBLISH (views into the frame body).
struct publish_view {
  uint8_t qos = 0;
  bool dup = false;
  bool retain = false;
  uint16_t packet_id = 0;
  std::string_view topic;
  std::string_view content_type; ///< MQTT 5 property; empty when absent
  const uint8_t* payload = nullptr;
  size_t payload_size = 0;
};

/// A decoded PUBLISH with the request/response properties (MQTT 5) too. A
/// type of its own so that publish_view stays small: its callers
/// zero-initialise it per message, and past 64 bytes GCC does that with
/// `rep stos` (about 10 ns more per PUBLISH).
struct request_view : publish_view {
  std::string_view response_topic;   ///< empty when absent
  std::string_view correlation_data; ///< binary; empty when absent
};

/// Decodes a PUBLISH body; false when it is malformed.
bool decode_publish(const frame& f, bool v5, publish_view& out);
/// The same with the Response Topic and Correlation Data.
bool decode_publish(const frame& f, bool v5, request_view& out);

/// CONNACK: the reason code (3.1.1 return code) and, for MQTT 5, the Receive
/// Maximum the server announces (65535 when absent).
struct connack_view {
  uint8_t reason = 0xFF;
  uint16_t receive_maximum = 65535;
};
bool decode_connack(const frame& f, bool v5, connack_view& out);

/// PUBACK/PUBREC/PUBREL/PUBCOMP: packet id and reason code (0 when absent).
struct ack_view {
  uint16_t packet_id = 0;
  uint8_t reason = 0;
};
bool decode_ack(const frame& f, ack_view& out);

/// SUBACK: packet id and the first reason code.
bool decode_suback(const frame& f, bool v5, ack_view& out);

/// DISCONNECT from the server: its reason code (0 when absent).
uint8_t decode_disconnect(const frame& f);

// -- encoders: each appends one whole packet to `out`
// --------------------------

void encode_connect(byte_buffer& out, bool v5, std::string_view client_id,
                    uint16_t keep_alive_s, uint16_t receive_maximum);
/// `retain_handling` (MQTT 5): 0 send retained messages at subscribe, 2
/// don't.
void encode_subscribe(byte_buffer& out, bool v5, uint16_t packet_id,
                      std::string_view filter, uint8_t qos,
                      uint8_t retain_handling = 0);
/// PUBLISH with `payload_size` bytes copied from `payload`; MQTT 5 with a
/// Content Type property when `content_type` is not empty.
void encode_publish(byte_buffer& out, bool v5, std::string_view topic,
                    uint8_t qos, uint16_t packet_id, const uint8_t* payload,
                    size_t payload_size, std::string_view content_type = {});

/// Optional MQTT 5 properties of a PUBLISH (request/response).
struct publish_properties {
  std::string_view content_type;
  std::string_view response_topic;
  std::string_view correlation_data; ///< binary
};
/// PUBLISH as above with any of Content Type (0x03), Response Topic (0x08)
/// and Correlation Data (0x09), in that order, where not empty; MQTT 5 only
/// (3.1.1 has no properties: they are left out).
void encode_publish(byte_buffer& out, bool v5, std::string_view topic,
                    uint8_t qos, uint16_t packet_id, const uint8_t* payload,
                    size_t payload_size, const publish_properties& props);

/// Bytes a whole frame with this Remaining Length takes on the wire.
inline size_t frame_wire_size(size_t remaining_length) {
  return 1
         + (remaining_length < 128       ? 1
            : remaining_length < 16384   ? 2
            : remaining_length < 2097152 ? 3
                                         : 4)
         + remaining_length;
}
/// PUBACK (4), PUBREC (5), PUBREL (6), PUBCOMP (7) with success.
void encode_ack(byte_buffer& out, packet_kind kind, uint16_t packet_id);
void encode_pingreq(byte_buffer& out);
void encode_disconnect(byte_buffer& out);

} // namespace castor::bench
