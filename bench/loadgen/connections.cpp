// Idle connections: open `count` MQTT connections (a slice starting at
// `conn_offset`, so that several processes can share one target), report the
// connect rate and the server's RSS growth per connection, then hold them.

#include <poll.h>
#include <string>
#include <unistd.h>

#include "net.hpp"
#include "scenarios.hpp"

namespace castor::bench {

namespace {

class idle_run : public frame_handler {
public:
  explicit idle_run(const options& o) : o_(o), loop_(*this) {}

  run_result run(const std::function<void(const run_result&)>& on_measured);

  void on_frame(uint32_t index, client& c, const frame& f) override {
    if (f.kind == packet_kind::connack) {
      connack_view ca;
      if (!decode_connack(f, o_.v5, ca) || ca.reason != 0) {
        error("CONNACK refused (reason " + std::to_string(ca.reason) + ")");
        return;
      }
      if (c.state == conn_state::wait_connack) {
        c.state = conn_state::ready;
        --pending_;
        ++connected_;
      }
    } else if (f.kind == packet_kind::disconnect) {
      error("server sent DISCONNECT (reason "
            + std::to_string(decode_disconnect(f)) + ")");
    } else if (f.kind != packet_kind::pingresp) {
      error("unexpected packet type "
            + std::to_string(static_cast<int>(f.kind)));
    }
  }

  void on_closed(uint32_t index, client& c, const char* why) override {
    if (!stopping_)
      error("connection " + std::to_string(o_.conn_offset + index)
            + " lost: " + why);
  }

private:
  void error(std::string msg) {
    if (r_.error.empty())
      r_.error = std::move(msg);
  }

  const options& o_;
  event_loop loop_;
  run_result r_;
  uint32_t pending_ = 0;
  uint32_t connected_ = 0;
  bool stopping_ = false;
};

run_result
idle_run::run(const std::function<void(const run_result&)>& on_measured) {
  std::string err;
  if (!loop_.set_target(o_.host, o_.port, err)) {
    r_.ok = false;
    r_.error = err;
    return r_;
  }
  std::string prefix
      = o_.id_prefix.empty() ? "lg" + std::to_string(getpid()) : o_.id_prefix;
  loop_.clients().resize(o_.count);
  r_.rss_before_kb = read_rss_kb(o_.server_pid);
  uint64_t start = now_ns();
  uint64_t deadline = start + static_cast<uint64_t>(o_.setup_timeout_s * 1e9);
  uint32_t next = 0;
  while (connected_ < o_.count && r_.error.empty()) {
    while (next < o_.count && pending_ < o_.connect_concurrency) {
      if (!loop_.open(next, err)) {
        error("connection " + std::to_string(o_.conn_offset + next) + ": "
              + err);
        break;
      }
      auto& c = loop_.clients()[next];
      encode_connect(c.out, o_.v5,
                     prefix + "c" + std::to_string(o_.conn_offset + next),
                     o_.keep_alive_s, 65535);
      ++pending_;
      ++next;
    }
    loop_.run_once(20);
    if (now_ns() >= deadline)
      error("only " + std::to_string(connected_) + " of "
            + std::to_string(o_.count) + " connected within "
            + std::to_string(static_cast<int>(o_.setup_timeout_s)) + " s");
  }
  uint64_t connected_at = now_ns();
  r_.connections = connected_;
  r_.connect_s = static_cast<double>(connected_at - start) * 1e-9;
  r_.connect_rate = r_.connect_s > 0 ? connected_ / r_.connect_s : 0;
  // Let the server settle (it may allocate lazily), then read its RSS.
  uint64_t settle = connected_at + 1000000000ull;
  while (r_.error.empty() && now_ns() < settle)
    loop_.run_once(100);
  r_.rss_after_kb = read_rss_kb(o_.server_pid);
  if (r_.rss_before_kb >= 0 && r_.rss_after_kb >= 0 && connected_ > 0)
    r_.rss_per_conn_kb
        = static_cast<double>(r_.rss_after_kb - r_.rss_before_kb) / connected_;
  r_.ok = r_.error.empty();
  on_measured(r_);
  // Hold: until the time is up or stdin closes; ping at half keep alive.
  uint64_t hold_end = now_ns() + static_cast<uint64_t>(o_.hold_s * 1e9);
  uint64_t next_ping = now_ns() + o_.keep_alive_s * 500000000ull;
  while (r_.error.empty() && now_ns() < hold_end) {
    loop_.run_once(100);
    if (o_.hold_stdin) {
      pollfd p{0, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        char buf[256];
        if (::read(0, buf, sizeof(buf)) <= 0)
          break;
      }
    }
    if (now_ns() >= next_ping) {
      for (uint32_t i = 0; i < loop_.clients().size(); ++i)
        if (loop_.clients()[i].state == conn_state::ready) {
          encode_pingreq(loop_.clients()[i].out);
          loop_.mark_dirty(i);
        }
      next_ping = now_ns() + o_.keep_alive_s * 500000000ull;
    }
  }
  stopping_ = true;
  loop_.disconnect_all(5000);
  r_.ok = r_.error.empty();
  return r_;
}

} // namespace

run_result
run_connections(const options& o,
                const std::function<void(const run_result&)>& on_measured) {
  idle_run r(o);
  return r.run(on_measured);
}

} // namespace castor::bench
