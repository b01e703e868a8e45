#include "security/websocket.hpp"

#include <algorithm>

namespace castor::security {

// The frame decoder is written here rather than taken from libwslay:
// wslay 1.1.1 (Debian 12) answers malformed frame headers with a close
// frame that carries no status code instead of 1002, and checks the UTF-8
// of a close reason per received chunk, so a reason split across two reads
// escapes the check. Both are visible to clients; the tests feed every
// frame at every split point.

namespace {

constexpr uint8_t op_continuation = 0x0;
constexpr uint8_t op_text = 0x1;
constexpr uint8_t op_binary = 0x2;
constexpr uint8_t op_close = 0x8;
constexpr uint8_t op_ping = 0x9;
constexpr uint8_t op_pong = 0xA;

bool is_control(uint8_t opcode) {
  return (opcode & 0x8) != 0;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, at most
// U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n)
      return false;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800)
        || (n == 3 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// Codes an endpoint may put in a close frame (RFC 6455 section 7.4 and the
// IANA registry).
bool valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
         || (code >= 3000 && code <= 4999);
}

std::string encode_frame(uint8_t opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  out += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    out += static_cast<char>(payload.size());
  } else if (payload.size() < 65536) {
    out += static_cast<char>(126);
    out += static_cast<char>((payload.size() >> 8) & 0xFF);
    out += static_cast<char>(payload.size() & 0xFF);
  } else {
    out += static_cast<char>(127);
    uint64_t len = payload.size();
    for (int i = 7; i >= 0; --i)
      out += static_cast<char>((len >> (8 * i)) & 0xFF);
  }
  out.append(payload.data(), payload.size());
  return out;
}

std::string close_frame(uint16_t code, std::string_view reason) {
  std::string payload;
  if (code != ws_close::no_status) {
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    payload.append(reason.data(), reason.size());
  }
  return encode_frame(op_close, payload);
}

} // namespace

struct ws_session::impl {
  ws_session_options opts;
  // Frame header being read.
  uint8_t header[14];
  size_t header_len = 0;
  // Frame being read.
  bool in_payload = false;
  bool fin = false;
  uint8_t opcode = 0;
  uint64_t remaining = 0;
  uint8_t mask[4] = {0, 0, 0, 0};
  size_t mask_pos = 0;
  std::string control; // payload of the control frame being read
  // Message being read.
  bool in_message = false;
  uint64_t message_size = 0;
  // Connection.
  bool reading = true;
  bool close_sent = false;
  bool close_received = false;
  uint16_t close_code_sent = 0;

  void fail(ws_result& res, uint16_t code, std::string why) {
    reading = false;
    if (res.error.empty())
      res.error = std::move(why);
    if (!close_sent) {
      res.to_send += close_frame(code, {});
      close_sent = true;
      close_code_sent = code;
    }
  }

  // Number of header bytes needed, given what has been read so far.
  size_t header_needed() const {
    if (header_len < 2)
      return 2;
    size_t n = 2;
    uint8_t len7 = header[1] & 0x7F;
    if (len7 == 126)
      n += 2;
    else if (len7 == 127)
      n += 8;
    if (header[1] & 0x80)
      n += 4;
    return n;
  }

  void start_frame(ws_result& res) {
    fin = (header[0] & 0x80) != 0;
    uint8_t rsv = (header[0] >> 4) & 0x7;
    opcode = header[0] & 0x0F;
    bool masked = (header[1] & 0x80) != 0;
    uint8_t len7 = header[1] & 0x7F;
    uint64_t len = len7;
    size_t pos = 2;
    if (len7 == 126) {
      len = (uint64_t{header[2]} << 8) | header[3];
      pos = 4;
      if (len < 126)
        return fail(res, ws_close::protocol_error,
                    "frame length not in its shortest form");
    } else if (len7 == 127) {
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = (len << 8) | header[2 + i];
      pos = 10;
      if (len < 65536 || (len >> 63) != 0)
        return fail(res, ws_close::protocol_error,
                    "frame length not in its shortest form or too large");
    }
    if (masked)
      std::copy(header + pos, header + pos + 4, mask);
    mask_pos = 0;
    header_len = 0;
    if (rsv != 0)
      return fail(res, ws_close::protocol_error,
                  "reserved bits set without a negotiated extension");
    if (!masked)
      return fail(res, ws_close::protocol_error,
                  "unmasked frame from the client");
    switch (opcode) {
    case op_continuation:
      if (!in_message)
        return fail(res, ws_close::protocol_error,
                    "continuation frame without a message to continue");
      break;
    case op_text:
      if (in_message)
        return fail(res, ws_close::protocol_error,
                    "new message before the previous one ended");
      return fail(res, ws_close::unsupported_data,
                  "text frame received; MQTT needs binary frames");
    case op_binary:
      if (in_message)
        return fail(res, ws_close::protocol_error,
                    "new message before the previous one ended");
      in_message = true;
      message_size = 0;
      break;
    case op_close:
    case op_ping:
    case op_pong:
      if (!fin || len > 125)
        return fail(res, ws_close::protocol_error,
                    "fragmented or oversized control frame");
      control.clear();
      break;
    default:
      return fail(res, ws_close::protocol_error,
                  "unknown opcode " + std::to_string(opcode));
    }
    if (!is_control(opcode)) {
      message_size += len;
      if (message_size > opts.max_message_size)
        return fail(res, ws_close::message_too_big,
                    "message of at least " + std::to_string(message_size)
                        + " bytes exceeds the limit of "
                        + std::to_string(opts.max_message_size));
    }
    remaining = len;
    in_payload = true;
    if (remaining == 0)
      end_frame(res);
  }

  void end_frame(ws_result& res) {
    in_payload = false;
    if (!is_control(opcode)) {
      if (fin)
        in_message = false;
      return;
    }
    ws_control c;
    switch (opcode) {
    case op_ping:
      c.kind = ws_control::ping;
      c.payload = control;
      if (!close_sent)
        res.to_send += encode_frame(op_pong, control);
      break;
    case op_pong:
      c.kind = ws_control::pong;
      c.payload = control;
      break;
    default: { // close
      c.kind = ws_control::close;
      if (control.size() == 1)
        return fail(res, ws_close::protocol_error,
                    "close frame with a one-byte payload");
      c.code = ws_close::no_status;
      if (control.size() >= 2) {
        c.code = static_cast<uint16_t>((static_cast<uint8_t>(control[0]) << 8)
                                       | static_cast<uint8_t>(control[1]));
        c.payload = control.substr(2);
        if (!valid_close_code(c.code))
          return fail(res, ws_close::protocol_error,
                      "invalid close code " + std::to_string(c.code));
        if (!valid_utf8(c.payload))
          return fail(res, ws_close::invalid_payload,
                      "close reason is not valid UTF-8");
      }
      close_received = true;
      reading = false;
      if (!close_sent) {
        // Echo the code, as RFC 6455 section 5.5.1 suggests.
        res.to_send += close_frame(c.code, {});
        close_sent = true;
        close_code_sent = c.code;
      }
      break;
    }
    }
    res.controls.push_back(std::move(c));
  }

  void read_payload(std::string_view& in, ws_result& res) {
    auto n = static_cast<size_t>(
        std::min<uint64_t>(remaining, static_cast<uint64_t>(in.size())));
    std::string* sink = is_control(opcode) ? &control : &res.data;
    size_t base = sink->size();
    sink->append(in.data(), n);
    for (size_t i = 0; i < n; ++i) {
      (*sink)[base + i] = static_cast<char>((*sink)[base + i] ^ mask[mask_pos]);
      mask_pos = (mask_pos + 1) & 3;
    }
    in.remove_prefix(n);
    remaining -= n;
    if (remaining == 0)
      end_frame(res);
  }
};

ws_session::ws_session(ws_session_options opts)
    : impl_(std::make_unique<impl>()) {
  impl_->opts = opts;
}

ws_session::~ws_session() = default;

ws_result ws_session::feed(std::string_view in) {
  auto& s = *impl_;
  ws_result res;
  while (s.reading && !in.empty()) {
    if (s.in_payload) {
      s.read_payload(in, res);
      continue;
    }
    size_t need = s.header_needed();
    size_t take = std::min(need - s.header_len, in.size());
    std::copy(in.begin(), in.begin() + take, s.header + s.header_len);
    s.header_len += take;
    in.remove_prefix(take);
    // The first two bytes tell how long the header is.
    if (s.header_len == 2)
      need = s.header_needed();
    if (s.header_len == need)
      s.start_frame(res);
  }
  res.close_code = s.close_code_sent;
  res.finished = (s.close_sent && s.close_received) || !res.error.empty();
  return res;
}

std::string ws_session::send_binary(std::string_view payload) {
  if (impl_->close_sent)
    return {};
  return encode_frame(op_binary, payload);
}

std::string ws_session::send_ping(std::string_view payload) {
  if (impl_->close_sent)
    return {};
  return encode_frame(op_ping, payload.substr(0, 125));
}

std::string ws_session::close(uint16_t code, std::string_view reason) {
  auto& s = *impl_;
  if (s.close_sent)
    return {};
  if (reason.size() > 123) {
    // Cut at a character boundary so that the reason stays valid UTF-8.
    size_t n = 123;
    while (n > 0 && (static_cast<uint8_t>(reason[n]) & 0xC0) == 0x80)
      --n;
    reason = reason.substr(0, n);
  }
  s.close_sent = true;
  s.close_code_sent = code;
  return close_frame(code, reason);
}

bool ws_session::close_sent() const noexcept {
  return impl_->close_sent;
}

bool ws_session::close_received() const noexcept {
  return impl_->close_received;
}

} // namespace castor::security
