// Fuzzes the MQTT channel state machine (protocol/channel.hpp) the way the
// connection actor drives it (actors/connection.cpp, connection_auth.cpp).
//
// Input: two bytes of server options (maximum QoS, receive maximum, topic
// aliases, features, limits, an access policy), then operations, each an
// opcode byte and its operands:
//   client packets, built here from the input (CONNECT, PUBLISH, SUBSCRIBE,
//     UNSUBSCRIBE, PUBACK, PUBREC, PUBREL, PUBCOMP, PINGREQ, DISCONNECT,
//     AUTH with fuzzed fields and properties) or raw bytes, go through the
//     encoder and the server's frame parser to channel::handle_in (a parse
//     error to handle_parse_error), as the connection reads them;
//   answers to the effects waiting for one (open_session, the AUTH
//     exchange, subscribe, unsubscribe, route_if_exists), chosen from the
//     input as the session, the registry, the SCRAM exchange or the topic
//     tree would give them;
//   messages delivered to the client: a session_state (the session's queue
//     and in-flight window, fed the client's acknowledgements) hands them to
//     channel::write;
//   the keep alive timeout, a kick by the server, the peer closing, the
//     clock moving on.
// At the end every waiting effect is answered.
//
// Checked: every packet the channel writes parses again with the protocol's
// own frame parser as a client's would, and encodes back to the same bytes;
// nothing but CONNACK or AUTH before the CONNACK; after a close effect no
// packet and no effect; every acknowledgement answers a packet that asked
// for it, and on a connection still open with nothing waiting every packet
// that asks for an answer has had one (PUBACK, PUBREC, PUBCOMP, SUBACK,
// UNSUBACK, PINGRESP, PUBREL); routed messages have valid topic names
// without aliases, within the maximum QoS and the access policy; outbound
// PUBLISH packets fit the client's maximum packet size, use its topic
//
// The client's packets are built in fuzz_channel_packets.hpp, the harness
// that drives the channel and checks it is fuzz_channel_harness.hpp.

#include "fuzz_channel_harness.hpp"

using namespace fuzz_channel;

namespace {

channel_options options_from(input& in) {
  auto a = in.byte();
  auto b = in.byte();
  channel_options o;
  o.maximum_qos = (a & 0x03) == 1 ? 1 : (a & 0x03) == 2 ? 0 : 2;
  o.retain_available = (a & 0x04) == 0;
  o.wildcard_subscription_available = (a & 0x08) == 0;
  o.subscription_identifier_available = (a & 0x10) == 0;
  o.shared_subscription_available = (a & 0x20) == 0;
  o.allow_empty_client_id = (a & 0x40) == 0;
  static const uint16_t receive_max[] = {256, 2, 1, 65535};
  o.receive_maximum = receive_max[b % 4];
  static const uint16_t alias_max[] = {64, 0, 2, 1};
  o.topic_alias_maximum = alias_max[(b >> 2) % 4];
  o.max_keep_alive = (b & 0x10) ? 10 : 65535;
  o.max_session_expiry = (b & 0x20) ? 100 : 4294967295u;
  o.max_packet_size = (b & 0x40) ? 128 : 1048576;
  if (a & 0x80) {
    // The payload mapping: explicit topics among the fuzzer's names.
    auto spec = [](const char* type) {
      return std::get<castor::topic_specification>(
          castor::make_specification(type, {}));
    };
    o.mapping = std::make_shared<castor::topic_mapping>(
        std::vector<castor::mapping_rule>{{"sensors/+/temp", spec("int64")},
                                          {"a/#", spec("json")},
                                          {"x/y", spec("string")}});
  }
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  input in{data, size};
  auto o = options_from(in);
  bool with_access = (in.byte() & 1) != 0;
  harness h{o, with_access};
  for (int step = 0; step < 256 && !in.empty(); ++step) {
    auto op = in.byte();
    if (h.close_seen && op % 32 < 18) {
      // The connection stops reading once it closes.
      continue;
    }
    switch (op % 32) {
    case 0:
    case 1:
      h.send_packet(make_connect(in, h.cm));
      break;
    case 2:
    case 3:
    case 4:
    case 5:
      h.send_packet(make_publish(in, h.cm));
      break;
    case 6:
      h.send_packet(make_ack<puback>(in, h.cm, h.cm.outbound_ids));
      break;
    case 7:
      h.send_packet(make_ack<pubrec>(in, h.cm, h.cm.outbound_ids));
      break;
    case 8:
      h.send_packet(make_ack<pubrel>(in, h.cm, h.cm.inbound_qos2));
      break;
    case 9:
      h.send_packet(make_ack<pubcomp>(in, h.cm, h.cm.outbound_ids));
      break;
    case 10:
    case 11:
      h.send_packet(make_subscribe(in, h.cm));
      break;
    case 12:
      h.send_packet(make_unsubscribe(in, h.cm));
      break;
    case 13:
      h.send_packet(pingreq{});
      break;
    case 14:
      h.send_packet(make_disconnect(in, h.cm));
      break;
    case 15:
      h.send_packet(make_auth(in, h.cm));
      break;
    case 16:
    case 17: // raw bytes from the client
      h.read(in.string());
      break;
    case 18:
    case 19:
    case 20:
    case 21: // the session, registry or tree answers
      h.answer(in, in.byte());
      break;
    case 22:
    case 23: // a message for the client
      h.deliver(in);
      break;
    case 24: // keep alive (or connect) timeout
      h.take(h.ch.handle_timeout());
      break;
    case 25: { // kicked by the server
      auto reason = choose(in, kick_codes);
      h.take(h.ch.handle_kick(reason, in.flag()));
      break;
    }
    case 26: // the peer closed the socket
      if (in.byte() % 4 == 0)
        h.take(h.ch.handle_closed());
      break;
    case 27: // time passes
      h.now += std::chrono::seconds(in.byte() % 8);
      break;
    default: // everything waiting is answered
      h.answer_all(in);
      break;
    }
  }
  h.answer_all(in);
  h.finish();
  return 0;
}
