// Request/response (MQTT 5): R requesters, each with `window` requests in
// flight (1 by default), and one handler. A request is a QoS 0 PUBLISH to
// bench/req/<i> with the Response Topic bench/resp/<i> and Correlation Data
// (requester id, sequence number, send time); the handler publishes the same
// payload with the same Correlation Data to the Response Topic. The handler
// either subscribes to bench/req/# (any MQTT 5 broker) or registers with
// Castor's API ($castor/api/handlers/add), which then hands it each request
// with a Response Topic of the server's own; the answering is the same.

#include <algorithm>
#include <cstring>
#include <string>
#include <unistd.h>

#include "net.hpp"
#include "scenarios.hpp"

namespace castor::bench {

namespace {

constexpr uint8_t role_handler = 1;
constexpr uint8_t role_requester = 2;
/// Correlation Data: requester id u32, sequence u64, send time u64 (now_ns).
constexpr size_t corr_size = 20;
constexpr std::string_view api_add_topic = "$castor/api/handlers/add";
constexpr std::string_view api_add_payload = R"({"path": "bench/req"})";
constexpr std::string_view api_add_correlation = "castor-loadgen:handlers/add";

enum class phase : uint8_t {
  connect_handler,
  register_handler, ///< SUBSCRIBE sent (mqtt) or handlers/add (castor)
  connect_requesters,
  running,
  draining,
  done
};

struct requester {
  uint32_t conn = 0;
  std::string topic, response_topic;
  bool subscribed = false;
  uint64_t next_seq = 0;
  std::vector<uint64_t> outstanding; ///< sequence numbers in flight
};

class request_run : public frame_handler {
public:
  explicit request_run(const options& o) : o_(o), loop_(*this) {}

  run_result run();

  void on_frame(uint32_t index, client& c, const frame& f) override;
  void on_closed(uint32_t index, client& c, const char* why) override;

private:
  void set_error(std::string msg) {
    if (r_.error.empty())
      r_.error = std::move(msg);
    phase_ = phase::done;
  }
  void build();
  void open(uint32_t index);
  void on_connack(uint32_t index, client& c, const frame& f);
  void on_handler_publish(uint32_t index, client& c, const request_view& pv);
  void on_answer(client& c, const request_view& pv);
  void send_requests(uint32_t ri);
  void tick(uint64_t now);
  void take_warm(uint64_t now);
  void take_end(uint64_t now);
  uint64_t outstanding() const {
    return sent_ - answered_;
  }
  std::string stall_text(uint64_t now) const;
  void finish();

  const options& o_;
  event_loop loop_;
  run_result r_;
  std::vector<requester> reqs_;
  std::vector<uint8_t> payload_;
  std::string id_prefix_;
  std::string setup_topic_; ///< castor mode: where handlers/add answers
  phase phase_ = phase::connect_handler;
  uint32_t next_open_ = 1;
  uint32_t pending_connects_ = 0;
  uint32_t subscribed_ = 0;
  uint64_t sent_ = 0, answered_ = 0, handled_ = 0;
  uint64_t t_setup_deadline_ = 0;
  uint64_t t0_ = 0, t_warm_ = 0, t_end_ = 0, t_drain_deadline_ = 0;
  uint64_t last_answer_ = 0;
  bool warm_taken_ = false;
  uint64_t warm_answered_ = 0, warm_sent_ = 0, warm_at_ = 0;
  double warm_cpu_ = -1, warm_own_cpu_ = 0;
  event_loop::syscall_counts warm_counts_;
  latency_recorder latency_;
};

void request_run::build() {
  id_prefix_
      = o_.id_prefix.empty() ? "lg" + std::to_string(getpid()) : o_.id_prefix;
  setup_topic_ = "bench/setup/" + id_prefix_;
  uint32_t R = o_.requesters;
  loop_.clients().resize(1 + R);
  loop_.clients()[0].role = role_handler;
  reqs_.resize(R);
  for (uint32_t i = 0; i < R; ++i) {
    reqs_[i].conn = 1 + i;
    reqs_[i].topic = "bench/req/" + std::to_string(i);
    reqs_[i].response_topic = "bench/resp/" + std::to_string(i);
    reqs_[i].outstanding.reserve(o_.window);
    loop_.clients()[1 + i].role = role_requester;
    loop_.clients()[1 + i].peer = i;
  }
  payload_.assign(o_.payload, 0);
  for (size_t i = 12; i < payload_.size(); ++i)
    payload_[i] = static_cast<uint8_t>('a' + i % 26);
}

void request_run::open(uint32_t index) {
  std::string err;
  if (!loop_.open(index, err)) {
    set_error("connection " + std::to_string(index) + ": " + err);
    return;
  }
  auto& c = loop_.clients()[index];
  std::string id = id_prefix_
                   + (c.role == role_handler ? std::string("h")
                                             : "r" + std::to_string(c.peer));
  encode_connect(c.out, true, id, o_.keep_alive_s, 65535);
  ++pending_connects_;
}

void request_run::on_closed(uint32_t index, client& c, const char* why) {
  (void)index;
  if (phase_ == phase::done)
    return;
  set_error((c.role == role_handler ? std::string("the handler")
                                    : "requester " + std::to_string(c.peer))
            + " lost its connection: " + why);
}

void request_run::on_connack(uint32_t index, client& c, const frame& f) {
  connack_view ca;
  if (!decode_connack(f, true, ca) || ca.reason != 0) {
    set_error("CONNACK refused (reason " + std::to_string(ca.reason) + ")");
    return;
  }
  c.state = conn_state::ready;
  c.receive_maximum = ca.receive_maximum;
  --pending_connects_;
  if (c.role == role_requester) {
    // A plain MQTT 5 requester subscribes to its response topic first.
    encode_subscribe(c.out, true, c.take_packet_id(),
                     reqs_[c.peer].response_topic, 0);
  } else if (o_.handler_castor) {
    publish_properties props;
    props.response_topic = setup_topic_;
    props.correlation_data = api_add_correlation;
    encode_publish(c.out, true, api_add_topic, 0, 0,
                   reinterpret_cast<const uint8_t*>(api_add_payload.data()),
                   api_add_payload.size(), props);
    phase_ = phase::register_handler;
  } else {
    encode_subscribe(c.out, true, c.take_packet_id(), "bench/req/#", 0);
    phase_ = phase::register_handler;
  }
  loop_.mark_dirty(index);
}

void request_run::on_handler_publish(uint32_t index, client& c,
                                     const request_view& pv) {
  if (phase_ == phase::register_handler && o_.handler_castor
      && pv.topic == setup_topic_) {
    std::string_view answer(reinterpret_cast<const char*>(pv.payload),
                            std::min<size_t>(pv.payload_size, 400));
    if (pv.correlation_data != api_add_correlation) {
      set_error("answer to handlers/add with other Correlation Data: "
                + std::string(answer));
      return;
    }
    if (!is_ok_answer(std::string_view(
            reinterpret_cast<const char*>(pv.payload), pv.payload_size))) {
      set_error("handlers/add failed: " + std::string(answer));
      return;
    }
    phase_ = phase::connect_requesters;
    return;
  }
  if (pv.response_topic.empty()) {
    set_error("the handler got a PUBLISH on " + std::string(pv.topic)
              + " without a Response Topic");
    return;
  }
  publish_properties props;
  props.response_topic = {};
  props.correlation_data = pv.correlation_data;
  encode_publish(c.out, true, pv.response_topic, 0, 0, pv.payload,
                 pv.payload_size, props);
  ++handled_;
  loop_.mark_dirty(index);
}

void request_run::on_answer(client& c, const request_view& pv) {
  auto& rq = reqs_[c.peer];
  if (pv.topic != rq.response_topic) {
    set_error("requester " + std::to_string(c.peer) + " got a PUBLISH on "
              + std::string(pv.topic));
    return;
  }
  if (pv.correlation_data.size() != corr_size) {
    set_error("answer to requester " + std::to_string(c.peer) + " with "
              + std::to_string(pv.correlation_data.size())
              + " bytes of Correlation Data, not "
              + std::to_string(corr_size));
    return;
  }
  uint32_t id = 0;
  uint64_t seq = 0, ts = 0;
  std::memcpy(&id, pv.correlation_data.data(), 4);
  std::memcpy(&seq, pv.correlation_data.data() + 4, 8);
  std::memcpy(&ts, pv.correlation_data.data() + 12, 8);
  auto it = std::find(rq.outstanding.begin(), rq.outstanding.end(), seq);
  if (id != c.peer || it == rq.outstanding.end()) {
    set_error("answer to requester " + std::to_string(c.peer)
              + " with Correlation Data of requester " + std::to_string(id)
              + ", sequence " + std::to_string(seq)
              + " (not in flight: a duplicate or foreign answer)");
    return;
  }
  if (pv.payload_size != payload_.size()
      || std::memcmp(pv.payload, &id, 4) != 0
      || std::memcmp(pv.payload + 4, &seq, 8) != 0
      || std::memcmp(pv.payload + 12, payload_.data() + 12,
                     payload_.size() - 12)
             != 0) {
    set_error("answer to requester " + std::to_string(c.peer)
              + " does not carry the request's payload");
    return;
  }
  *it = rq.outstanding.back();
  rq.outstanding.pop_back();
  ++answered_;
  uint64_t now = now_ns();
  last_answer_ = now;
  // Requests sent in the measured window, also answers that come after it.
  if (ts < t_end_)
    latency_.add(ts, now);
  if (phase_ == phase::running && now < t_end_)
    send_requests(c.peer);
}

void request_run::send_requests(uint32_t ri) {
  auto& rq = reqs_[ri];
  auto& c = loop_.clients()[rq.conn];
  if (c.state != conn_state::ready)
    return;
  bool queued = false;
  while (rq.outstanding.size() < o_.window) {
    uint64_t seq = rq.next_seq++;
    uint64_t now = now_ns();
    uint8_t corr[corr_size];
    std::memcpy(corr, &ri, 4);
    std::memcpy(corr + 4, &seq, 8);
    std::memcpy(corr + 12, &now, 8);
    std::memcpy(payload_.data(), &ri, 4);
    std::memcpy(payload_.data() + 4, &seq, 8);
    publish_properties props;
    props.response_topic = rq.response_topic;
    props.correlation_data
        = std::string_view(reinterpret_cast<const char*>(corr), corr_size);
    encode_publish(c.out, true, rq.topic, 0, 0, payload_.data(),
                   payload_.size(), props);
    rq.outstanding.push_back(seq);
    ++sent_;
    queued = true;
  }
  if (queued)
    loop_.mark_dirty(rq.conn);
}

void request_run::on_frame(uint32_t index, client& c, const frame& f) {
  if (phase_ == phase::done)
    return;
  switch (f.kind) {
  case packet_kind::connack:
    on_connack(index, c, f);
    return;
  case packet_kind::publish: {
    request_view pv;
    if (!decode_publish(f, true, pv)) {
      set_error("malformed PUBLISH");
      return;
    }
    // Whatever QoS the server chose, acknowledge as the protocol asks.
    if (pv.qos == 1)
      encode_ack(c.out, packet_kind::puback, pv.packet_id);
    else if (pv.qos == 2)
      encode_ack(c.out, packet_kind::pubrec, pv.packet_id);
    if (pv.qos > 0)
      loop_.mark_dirty(index);
    if (c.role == role_handler)
      on_handler_publish(index, c, pv);
    else
      on_answer(c, pv);
    return;
  }
  case packet_kind::suback: {
    ack_view a;
    if (!decode_suback(f, true, a) || a.reason >= 0x80) {
      set_error(std::string("SUBSCRIBE of the ")
                + (c.role == role_handler ? "handler" : "requester")
                + " refused (reason " + std::to_string(a.reason) + ")");
      return;
    }
    if (c.role == role_handler) {
      if (phase_ == phase::register_handler)
        phase_ = phase::connect_requesters;
    } else if (!reqs_[c.peer].subscribed) {
      reqs_[c.peer].subscribed = true;
      ++subscribed_;
    }
    return;
  }
  case packet_kind::pubrel: {
    ack_view a;
    if (!decode_ack(f, a)) {
      set_error("malformed PUBREL");
      return;
    }
    encode_ack(c.out, packet_kind::pubcomp, a.packet_id);
    loop_.mark_dirty(index);
    return;
  }
  case packet_kind::pingresp:
    return;
  case packet_kind::disconnect:
    set_error("server sent DISCONNECT (reason "
              + std::to_string(decode_disconnect(f)) + ")");
    return;
  default:
    set_error("unexpected packet type "
              + std::to_string(static_cast<int>(f.kind)));
  }
}

void request_run::take_warm(uint64_t now) {
  warm_taken_ = true;
  warm_at_ = now;
  warm_answered_ = answered_;
  warm_sent_ = sent_;
  warm_cpu_ = read_cpu_seconds(o_.server_pid);
  warm_own_cpu_ = own_cpu_seconds();
  warm_counts_ = loop_.counts();
}

void request_run::take_end(uint64_t now) {
  double secs = static_cast<double>(now - warm_at_) * 1e-9;
  r_.window_s = secs;
  r_.window_delivered = answered_ - warm_answered_;
  r_.rate = secs > 0 ? r_.window_delivered / secs : 0;
  r_.publish_rate = secs > 0 ? (sent_ - warm_sent_) / secs : 0;
  double cpu = read_cpu_seconds(o_.server_pid);
  if (cpu >= 0 && warm_cpu_ >= 0) {
    r_.cpu_s = cpu - warm_cpu_;
    if (r_.window_delivered > 0)
      r_.cpu_s_per_million = r_.cpu_s * 1e6 / r_.window_delivered;
  }
  r_.loadgen_cpu_s = own_cpu_seconds() - warm_own_cpu_;
  r_.reads = loop_.counts().reads - warm_counts_.reads;
  r_.writes = loop_.counts().writes - warm_counts_.writes;
  r_.waits = loop_.counts().waits - warm_counts_.waits;
}

std::string request_run::stall_text(uint64_t now) const {
  uint32_t waiting = 0;
  for (auto& rq : reqs_)
    waiting += rq.outstanding.empty() ? 0 : 1;
  return "no answer for "
         + std::to_string(static_cast<int>((now - last_answer_) / 1000000000ull))
         + " s: " + std::to_string(outstanding())
         + " requests outstanding (" + std::to_string(waiting) + " of "
         + std::to_string(reqs_.size()) + " requesters waiting), "
         + std::to_string(answered_) + " of " + std::to_string(sent_)
         + " answered, the handler answered " + std::to_string(handled_);
}

void request_run::tick(uint64_t now) {
  switch (phase_) {
  case phase::connect_handler:
    if (loop_.clients()[0].state == conn_state::idle)
      open(0);
    break;
  case phase::register_handler:
    break;
  case phase::connect_requesters:
    if (subscribed_ < reqs_.size()) {
      while (next_open_ <= reqs_.size()
             && pending_connects_ < o_.connect_concurrency
             && phase_ != phase::done)
        open(next_open_++);
      break;
    }
    phase_ = phase::running;
    t0_ = now;
    t_warm_ = t0_ + static_cast<uint64_t>(o_.warmup_s * 1e9);
    t_end_ = t0_ + static_cast<uint64_t>(o_.duration_s * 1e9);
    last_answer_ = now;
    latency_.start(t_warm_);
    for (uint32_t i = 0; i < reqs_.size(); ++i)
      send_requests(i);
    break;
  case phase::running:
    if (!warm_taken_ && now >= t_warm_)
      take_warm(now);
    if (now >= t_end_) {
      take_end(now);
      phase_ = phase::draining;
      t_drain_deadline_ = now + static_cast<uint64_t>(o_.drain_timeout_s * 1e9);
    }
    break;
  case phase::draining:
    if (outstanding() == 0) {
      phase_ = phase::done;
    } else if (now >= t_drain_deadline_) {
      set_error("drain timed out: " + stall_text(now));
    }
    break;
  case phase::done:
    break;
  }
  if ((phase_ == phase::running || phase_ == phase::draining)
      && outstanding() > 0
      && now - last_answer_ >= static_cast<uint64_t>(o_.quiet_s * 1e9))
    set_error(stall_text(now));
  if (phase_ < phase::running && now >= t_setup_deadline_) {
    std::string what
        = phase_ == phase::connect_handler ? "the handler did not connect"
          : phase_ == phase::register_handler
              ? (o_.handler_castor
                     ? "no answer to " + std::string(api_add_topic)
                     : std::string("the handler's SUBSCRIBE was not "
                                   "answered"))
              : std::to_string(subscribed_) + " of "
                    + std::to_string(reqs_.size())
                    + " requesters connected and subscribed";
    set_error("setup did not finish within "
              + std::to_string(static_cast<int>(o_.setup_timeout_s))
              + " s: " + what);
  }
}

void request_run::finish() {
  r_.sent = sent_;
  r_.delivered = answered_;
  r_.expected = sent_;
  r_.lost = outstanding();
  r_.handled = handled_;
  r_.has_latency = true;
  r_.latency = latency_.summarize();
  r_.rss_after_kb = read_rss_kb(o_.server_pid);
  r_.ok = r_.error.empty();
  loop_.disconnect_all(5000);
}

run_result request_run::run() {
  std::string err;
  if (!loop_.set_target(o_.host, o_.port, err)) {
    r_.ok = false;
    r_.error = err;
    return r_;
  }
  build();
  r_.rss_before_kb = read_rss_kb(o_.server_pid);
  uint64_t start = now_ns();
  t_setup_deadline_ = start + static_cast<uint64_t>(o_.setup_timeout_s * 1e9);
  uint64_t hard = start
                  + static_cast<uint64_t>((o_.setup_timeout_s + o_.duration_s
                                           + o_.drain_timeout_s + 5)
                                          * 1e9);
  tick(start);
  loop_.flush_dirty();
  while (phase_ != phase::done) {
    loop_.run_once(20);
    uint64_t now = now_ns();
    if (now >= hard) {
      set_error("hard deadline reached");
      break;
    }
    tick(now);
    loop_.flush_dirty();
  }
  finish();
  return r_;
}

} // namespace

bool is_ok_answer(std::string_view payload) {
  std::string s; // without whitespace outside strings
  bool in_str = false, esc = false;
  for (char ch : payload) {
    if (in_str) {
      if (esc)
        esc = false;
      else if (ch == '\\')
        esc = true;
      else if (ch == '"')
        in_str = false;
    } else if (ch == '"') {
      in_str = true;
    } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
      continue;
    }
    s += ch;
  }
  if (s.size() < 2 || s.front() != '{' || s.back() != '}')
    return false;
  // "ok":true as a member of the outermost object.
  constexpr std::string_view ok = R"("ok":true)";
  int depth = 0;
  in_str = esc = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    if (in_str) {
      if (esc)
        esc = false;
      else if (ch == '\\')
        esc = true;
      else if (ch == '"')
        in_str = false;
      continue;
    }
    if (ch == '{' || ch == '[') {
      ++depth;
    } else if (ch == '}' || ch == ']') {
      --depth;
    } else if (ch == '"') {
      if (depth == 1 && (s[i - 1] == '{' || s[i - 1] == ',')
          && s.compare(i, ok.size(), ok) == 0 && i + ok.size() < s.size()
          && (s[i + ok.size()] == ',' || s[i + ok.size()] == '}'))
        return true;
      in_str = true;
    }
  }
  return false;
}

run_result run_request(const options& o) {
  request_run r(o);
  return r.run();
}

} // namespace castor::bench
