// Fuzzes the WebSocket upgrade parser and frame decoder (security/websocket).
//
// Input: the first byte picks the target and the chunk size. Bit 0 clear:
// the rest is an HTTP upgrade request; set: a client's WebSocket stream.
// Bits 1..7 give a chunk size (1..128). The input is fed once whole and
// once in chunks of that size; both runs must agree (any split works), and
// each result must be consistent with itself.

#include "security/websocket.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace castor::security;

namespace {

void check(bool condition) {
  if (!condition)
    std::abort();
}

/// Everything a handshake run produced.
struct handshake_run {
  ws_handshake_result last;
  std::string remainder;
};

handshake_run run_handshake(std::string_view input, size_t chunk) {
  ws_handshake_options opts;
  opts.max_request_size = 1024;
  ws_handshake hs{opts};
  handshake_run run;
  bool done = false;
  for (size_t pos = 0; pos < input.size() || pos == 0; pos += chunk) {
    auto piece = input.substr(pos, chunk);
    auto r = hs.feed(piece);
    if (done) {
      // Over: the same answer again, without a remainder.
      check(r.status == run.last.status);
      check(r.http_status == run.last.http_status);
      check(r.remainder.empty());
      continue;
    }
    if (r.status == ws_handshake_status::need_more) {
      check(r.response.empty());
      check(r.remainder.empty());
    } else {
      done = true;
      run.remainder = r.remainder;
      run.last = r;
    }
    if (input.empty())
      break;
  }
  if (done) {
    auto& r = run.last;
    if (r.status == ws_handshake_status::upgraded) {
      check(r.http_status == 101);
      check(r.response.rfind("HTTP/1.1 101 ", 0) == 0);
      check(r.response.find("Sec-WebSocket-Accept: ") != std::string::npos);
      check(r.subprotocol.empty() || r.subprotocol == "mqtt"
            || r.subprotocol == "mqttv3.1");
    } else {
      check(r.status == ws_handshake_status::rejected);
      check(r.http_status == 400 || r.http_status == 404 || r.http_status == 405
            || r.http_status == 426 || r.http_status == 431);
      check(r.response.rfind("HTTP/1.1 " + std::to_string(r.http_status), 0)
            == 0);
      check(!r.reason.empty());
    }
    check(r.response.find("\r\n\r\n") != std::string::npos);
  }
  return run;
}

/// Everything a frame run produced, concatenated.
struct frame_run {
  std::string data;
  std::string to_send;
  std::string controls;
  std::string error;
  uint16_t close_code = 0;
  bool finished = false;
};

frame_run run_frames(std::string_view input, size_t chunk) {
  ws_session_options opts;
  opts.max_message_size = 2048;
  ws_session ws{opts};
  frame_run run;
  for (size_t pos = 0; pos < input.size(); pos += chunk) {
    auto r = ws.feed(input.substr(pos, chunk));
    if (run.finished) {
      // Nothing more comes out of a finished connection.
      check(r.data.empty() && r.controls.empty() && r.to_send.empty());
      continue;
    }
    run.data += r.data;
    run.to_send += r.to_send;
    for (auto& c : r.controls) {
      check(c.payload.size() <= 125);
      run.controls += static_cast<char>(c.kind);
      run.controls += std::to_string(c.code) + ":" + c.payload + ";";
    }
    if (!r.error.empty()) {
      check(run.error.empty());
      check(r.close_code != 0);
      run.error = r.error;
    }
    if (r.close_code != 0)
      run.close_code = r.close_code;
    run.finished = r.finished;
  }
  check(run.data.size() <= input.size());
  if (!run.error.empty())
    check(ws.close_sent());
  // Encoding still works (or is empty after a close was sent).
  auto out = ws.send_binary(run.data.substr(0, 200));
  check(ws.close_sent() ? out.empty() : out.size() >= 2);
  return run;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  auto mode = data[0];
  size_t chunk = (mode >> 1) + 1;
  std::string_view input{reinterpret_cast<const char*>(data) + 1, size - 1};
  if ((mode & 1) == 0) {
    auto whole = run_handshake(input, input.size() + 1);
    auto split = run_handshake(input, chunk);
    check(whole.last.status == split.last.status);
    check(whole.last.http_status == split.last.http_status);
    check(whole.last.response == split.last.response);
    check(whole.last.subprotocol == split.last.subprotocol);
  } else {
    auto whole = run_frames(input, input.size() + 1);
    auto split = run_frames(input, chunk);
    check(whole.data == split.data);
    check(whole.to_send == split.to_send);
    check(whole.controls == split.controls);
    check(whole.error == split.error);
    check(whole.close_code == split.close_code);
    check(whole.finished == split.finished);
  }
  return 0;
}
