#pragma once

// The outcome of one run and its two renderings: one JSON line for scripts,
// one line for people.

#include <cstdint>
#include <string>

#include "options.hpp"
#include "stats.hpp"

namespace castor::bench {

struct run_result {
  bool ok = true;
  std::string error; ///< first error, empty if none
  std::string note;  ///< worth knowing, not a failure (QoS 0 loss)
  // message flow
  uint64_t sent = 0;      ///< PUBLISHes written (overload: read by the server)
  uint64_t acked = 0;     ///< of which acknowledged (QoS 1/2)
  uint64_t expected = 0;  ///< deliveries that must arrive
  uint64_t delivered = 0; ///< unique deliveries received
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t rejected = 0;          ///< acks with a failure reason code
  uint64_t credit_write_offs = 0; ///< publishers unblocked after a stall
  double window_s = 0;            ///< measured (steady-state) window
  uint64_t window_delivered = 0;
  double rate = 0;         ///< deliveries/s in the measured window
  double publish_rate = 0; ///< PUBLISHes/s in the measured window
  // what the subscribers received: PUBLISHes (duplicates included), their
  // payload bytes, their bytes on the wire (whole MQTT frames); JSON:
  // whole values and JSON Patches among them, deliveries only counted
  uint64_t sub_msgs = 0, sub_payload_bytes = 0, sub_wire_bytes = 0;
  uint64_t json_values = 0, json_patches = 0, unchecked = 0;
  uint64_t pub_payload_bytes = 0; ///< payload bytes published
  // overload
  uint64_t written = 0; ///< PUBLISHes written to the sockets in full
  uint32_t unread_unknown = 0;
  uint32_t server_receive_maximum
      = 0; ///< from the publishers' CONNACK ///< sockets whose server side was
           ///< not found
  uint64_t acked_lost = 0;        ///< acknowledged, never delivered
  uint64_t delivered_unacked = 0; ///< delivered, never acknowledged
  uint64_t unacked = 0;           ///< written, never answered
  uint64_t acks_out_of_order = 0;
  double ack_rate = 0;    ///< PUBACKs/s in the measured window
  double published_s = 0; ///< how long the publishers ran
  double drain_s = 0;     ///< from the end of publishing to the last check
  bool drain_timed_out = false;
  bool rss_limit_hit = false; ///< publishing stopped early (server RSS)
  long rss_peak_kb = -1;      ///< highest server VmRSS sampled (every 100 ms)
  uint32_t rss_samples = 0;
  // request
  uint64_t handled = 0; ///< requests the handler answered
  bool has_latency = false;
  latency_recorder::summary latency;
  // connections
  uint64_t connections = 0;
  double connect_s = 0;
  double connect_rate = 0;
  // server
  long rss_before_kb = -1;
  long rss_after_kb = -1;
  double rss_per_conn_kb = -1;
  double cpu_s = -1;
  double cpu_s_per_million = -1;
  // the generator itself, over the measured window
  double loadgen_cpu_s = -1;
  uint64_t reads = 0, writes = 0, waits = 0;
};

/// One JSON object on one line.
std::string to_json(const options& o, const run_result& r);
/// A short line for people.
std::string to_human(const options& o, const run_result& r);

} // namespace castor::bench
