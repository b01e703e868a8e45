#pragma once

// The scenarios. run_flow() covers every publish/subscribe scenario (fan-in,
// fan-out, p2p, closed-loop, latency: they differ only in topology, counts,
// pacing and QoS); run_overload() floods one slow subscriber with unpaced
// publishers; run_request() measures MQTT 5 request/response round trips;
// run_connections() holds idle connections.

#include <functional>
#include <string_view>

#include "options.hpp"
#include "report.hpp"

namespace castor::bench {

run_result run_flow(const options& o);

/// Unpaced publishers into one slow subscriber (overload.cpp).
run_result run_overload(const options& o);

/// MQTT 5 request/response round trips through one handler (request.cpp).
run_result run_request(const options& o);

/// Whether an answer of Castor's API is a success: the JSON object
/// {"ok": true ...} (whitespace ignored, further members allowed).
bool is_ok_answer(std::string_view payload);

/// `on_measured` is called once the figures are known, before the
/// connections are held (so a caller can read the server meanwhile).
run_result
run_connections(const options& o,
                const std::function<void(const run_result&)>& on_measured);

} // namespace castor::bench
