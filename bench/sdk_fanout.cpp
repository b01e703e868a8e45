// castor-sdk-fanout: one JSON topic fanned out to N clients of the C++ SDK
// (sdk/), each in the same process with its own castor::client (one I/O
// thread each), and one updater client. See bench/README.md ("SDK
// fan-out of a JSON topic").
//
// --mode delta: each subscriber follows the topic with subscribe_values()
// ($delta/ subscription, JSON Patches applied by the SDK, whole values in
// the callback). --mode plain: client::subscribe() on the topic, each
// message parsed as JSON by the callback (whole values on the wire). The
// plain mode runs against any MQTT 5 broker (Mosquitto too).
//
// The document is a flat JSON object of --fields string fields of about
// --doc-bytes bytes in all, plus "seq" (update number) and "ts" (the
// updater's steady clock in ns when it sent the update). Each update
// changes seq, ts and --changed of the fields. The updater either keeps
// --window updates in flight (an update counts as done when every
// subscriber applied it; --rate 0, the default) or sends --rate updates/s.
//
// Checks: every subscriber sees each update once, in order (no gap, no
// duplicate), and its value of the last update equals the document sent;
// otherwise the run fails (exit 1). --check-old 1 (tests) also checks each
// callback's old_value against the previous new_value and the payload
// against the JSON; --whole-every N changes every field each Nth update
// (sent whole). Output: lines starting with '#' for
// people and one JSON line (see bench/README.md).

#include <castor/client.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using castor::json;
using clk = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clk::now().time_since_epoch())
      .count();
}

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  std::string mode = "delta"; // delta | plain
  int subscribers = 1000;
  int fields = 50;
  int doc_bytes = 2048;
  int changed = 2;
  double rate = 0; // updates/s; 0: closed loop with --window
  int window = 4;
  double duration = 10;
  double warmup = 2;
  std::string topic = "bench/sdk/doc";
  std::string updater = "publish"; // publish | api
  std::string label;
  long server_pid = 0;
  double final_timeout = 30;
  double quiet = 10;
  int connect_threads = 4;
  long max_updates = 1000000;
  bool check_old = false; // delta: old_value is the previous value exactly
  int whole_every = 0;    // every Nth update changes every field
};

void usage() {
  std::cerr
      << "usage: castor-sdk-fanout [--host H] [--port P] [--mode delta|plain]\n"
         "  [--subscribers N] [--fields F] [--doc-bytes B] [--changed K]\n"
         "  [--rate R | --window W] [--duration S] [--warmup S] [--topic T]\n"
         "  [--updater publish|api] [--label L] [--server-pid PID]\n"
         "  [--final-timeout S] [--quiet S] [--connect-threads T] [--max-updates M]\n"
         "  [--check-old 0|1] [--whole-every N]\n";
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--help" || k == "-h")
      return false;
    if (i + 1 >= argc) {
      std::cerr << "missing value for " << k << "\n";
      return false;
    }
    std::string v = argv[++i];
    try {
      if (k == "--host") o.host = v;
      else if (k == "--port") o.port = static_cast<uint16_t>(std::stoi(v));
      else if (k == "--mode") o.mode = v;
      else if (k == "--subscribers") o.subscribers = std::stoi(v);
      else if (k == "--fields") o.fields = std::stoi(v);
      else if (k == "--doc-bytes") o.doc_bytes = std::stoi(v);
      else if (k == "--changed") o.changed = std::stoi(v);
      else if (k == "--rate") o.rate = std::stod(v);
      else if (k == "--window") o.window = std::stoi(v);
      else if (k == "--duration") o.duration = std::stod(v);
      else if (k == "--warmup") o.warmup = std::stod(v);
      else if (k == "--topic") o.topic = v;
      else if (k == "--updater") o.updater = v;
      else if (k == "--label") o.label = v;
      else if (k == "--server-pid") o.server_pid = std::stol(v);
      else if (k == "--final-timeout") o.final_timeout = std::stod(v);
      else if (k == "--quiet") o.quiet = std::stod(v);
      else if (k == "--connect-threads") o.connect_threads = std::stoi(v);
      else if (k == "--max-updates") o.max_updates = std::stol(v);
      else if (k == "--check-old") o.check_old = std::stoi(v) != 0;
      else if (k == "--whole-every") o.whole_every = std::stoi(v);
      else {
        std::cerr << "unknown option " << k << "\n";
        return false;
      }
    } catch (const std::exception&) {
      std::cerr << "bad value for " << k << ": " << v << "\n";
      return false;
    }
  }
  if (o.mode != "delta" && o.mode != "plain") {
    std::cerr << "--mode is delta or plain\n";
    return false;
  }
  if (o.updater != "publish" && o.updater != "api") {
    std::cerr << "--updater is publish or api\n";
    return false;
  }
  if (o.subscribers < 1 || o.fields < 1 || o.changed < 0 || o.changed > o.fields
      || o.window < 1 || o.duration <= 0 || o.warmup < 0 || o.max_updates < 10
      || o.whole_every < 0) {
    std::cerr << "bad numbers\n";
    return false;
  }
  return true;
}

/// The document: f00..fNN string fields of equal length, seq and ts.
class document {
public:
  document(int fields, int bytes, int changed, int whole_every)
    : changed_(changed), whole_every_(whole_every) {
    // "fNN":"<len>", is 9 bytes + len; seq and ts take about 45.
    len_ = std::max(8, (bytes - 45) / fields - 9);
    for (int i = 0; i < fields; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "f%02d", i);
      names_.emplace_back(name);
      values_.push_back(text(0, i));
    }
  }
  /// Update `seq`: its changed fields take new text (all of them every
  /// `whole_every`th update: the server then sends the value whole).
  void change(int64_t seq) {
    auto n = static_cast<int64_t>(names_.size());
    if (whole_every_ > 0 && seq % whole_every_ == 0) {
      for (size_t i = 0; i < names_.size(); ++i)
        values_[i] = text(seq, static_cast<int>(i));
      return;
    }
    for (int k = 0; k < changed_; ++k) {
      auto i = static_cast<size_t>((seq * changed_ + k) % n);
      values_[i] = text(seq, static_cast<int>(i));
    }
  }
  json make(int64_t seq, int64_t ts) const {
    json j = json::object();
    for (size_t i = 0; i < names_.size(); ++i)
      j[names_[i]] = values_[i];
    j["seq"] = seq;
    j["ts"] = ts;
    return j;
  }

private:
  std::string text(int64_t seq, int field) const {
    char head[48];
    std::snprintf(head, sizeof head, "u%lld.%d-", static_cast<long long>(seq), field);
    std::string s = head;
    while (static_cast<int>(s.size()) < len_)
      s += static_cast<char>('a' + (s.size() + static_cast<size_t>(seq)) % 26);
    return s;
  }
  int changed_;
  int whole_every_;
  int len_;
  std::vector<std::string> names_;
  std::vector<std::string> values_;
};

// --- shared state --------------------------------------------------------

struct shared {
  int n = 0;
  std::vector<std::atomic<int>> done; ///< per update: subscribers that applied it
  std::atomic<int64_t> completed{0};  ///< highest update every subscriber applied
  std::mutex m;
  std::condition_variable cv;
  std::atomic<int64_t> window_from{INT64_MAX}; ///< ns; the measured window
  std::atomic<int64_t> window_to{INT64_MAX};
  std::atomic<int64_t> final_seq{-1};
  std::shared_ptr<const json> final_doc; ///< set before final_seq
  explicit shared(long cap) : done(static_cast<size_t>(cap)) {
  }
};

struct subscriber {
  std::unique_ptr<castor::client> c;
  int64_t last_seq = 0;
  bool initial = true;
  uint64_t applied = 0;        ///< values after the initial one
  uint64_t in_window = 0;      ///< applied within the measured window
  uint64_t deltas_in_window = 0;
  uint64_t payload_in_window = 0; ///< plain: bytes of the payloads
  uint64_t gaps = 0, dups = 0, bad = 0;
  std::vector<uint32_t> lat_us; ///< updates sent within the window
  bool final_seen = false, final_ok = false;
  std::optional<castor::value> prev; ///< --check-old: the last value
};

void on_value(shared& sh, subscriber& s, const json& d, bool from_delta, size_t payload) {
  int64_t t = now_ns();
  auto si = d.find("seq");
  auto ti = d.find("ts");
  if (si == d.end() || ti == d.end() || !si->is_number_integer()
      || !ti->is_number_integer()) {
    ++s.bad;
    return;
  }
  int64_t seq = si->get<int64_t>();
  int64_t ts = ti->get<int64_t>();
  if (s.initial && seq == 0) { // the topic's value on subscribing
    s.initial = false;
    return;
  }
  s.initial = false;
  if (seq <= s.last_seq) {
    ++s.dups;
    return;
  }
  if (seq != s.last_seq + 1)
    s.gaps += static_cast<uint64_t>(seq - s.last_seq - 1);
  s.last_seq = seq;
  ++s.applied;
  if (t >= sh.window_from.load(std::memory_order_relaxed)
      && t < sh.window_to.load(std::memory_order_relaxed)) {
    ++s.in_window;
    s.deltas_in_window += from_delta ? 1 : 0;
    s.payload_in_window += payload;
  }
  if (ts >= sh.window_from.load(std::memory_order_relaxed)
      && ts < sh.window_to.load(std::memory_order_relaxed))
    s.lat_us.push_back(static_cast<uint32_t>(std::min<int64_t>((t - ts) / 1000, UINT32_MAX)));
  if (seq == sh.final_seq.load(std::memory_order_acquire)) {
    s.final_seen = true;
    s.final_ok = (d == *sh.final_doc);
  }
  if (seq < static_cast<int64_t>(sh.done.size())
      && sh.done[static_cast<size_t>(seq)].fetch_add(1) + 1 == sh.n) {
    {
      std::lock_guard<std::mutex> g(sh.m);
      sh.completed.store(seq);
    }
    sh.cv.notify_all();
  }
}

// --- process figures -------------------------------------------------------

/// Bytes received on every TCP socket of this process (the subscribers'
/// connections and the updater's), from the kernel's TCP_INFO.
uint64_t tcp_bytes_received() {
  uint64_t total = 0;
  DIR* d = opendir("/proc/self/fd");
  if (!d)
    return 0;
  int own = dirfd(d);
  while (auto* e = readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == own)
      continue;
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0
        && len >= offsetof(tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
      total += ti.tcpi_bytes_received;
  }
  closedir(d);
  return total;
}

double own_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
         + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double proc_cpu_s(long pid) {
  if (pid <= 0)
    return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line))
    return -1;
  auto p = line.rfind(')');
  if (p == std::string::npos)
    return -1;
  std::istringstream in(line.substr(p + 2));
  std::string field;
  double ut = 0, st = 0;
  for (int i = 3; in >> field; ++i) { // field 3 is the state
    if (i == 14) ut = std::stod(field);
    if (i == 15) {
      st = std::stod(field);
      break;
    }
  }
  return (ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

void raise_nofile() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

double pct(std::vector<uint32_t>& v, double p) {
  if (v.empty())
    return -1;
  auto k = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

std::string fmt_s(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", s);
  return b;
}

std::string jstr(const std::string& s) {
  return json(s).dump();
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    usage();
    return 2;
  }
  raise_nofile();
  std::string error;
  shared sh(o.max_updates);
  sh.n = o.subscribers;
  document doc(o.fields, o.doc_bytes, o.changed, o.whole_every);
  castor::connect_options co;
  co.host = o.host;
  co.port = o.port;

  // The updater, and the topic's first value (seq 0).
  castor::client up;
  size_t doc_size = 0;
  auto send = [&](int64_t seq, const json& j) {
    std::string payload = j.dump();
    doc_size = payload.size();
    if (o.updater == "api")
      return std::make_pair(up.update(o.topic, j), std::future<void>());
    castor::message m;
    m.topic = o.topic;
    m.payload = std::move(payload);
    m.qos = 1;
    m.content_type = "application/json";
    return std::make_pair(std::future<castor::json>(), up.publish(std::move(m)));
  };
  auto wait_sent = [](std::pair<std::future<json>, std::future<void>>& f) {
    if (f.first.valid())
      f.first.get();
    if (f.second.valid())
      f.second.get();
  };
  auto t_setup = clk::now();
  try {
    up.connect(co);
    if (o.updater == "api") {
      try {
        up.add_topic(o.topic, {{"type", "json"}}).get();
      } catch (const castor::error& e) {
        if (e.code() != "TOPIC_EXISTS")
          throw;
      }
    }
    auto f = send(0, doc.make(0, now_ns()));
    wait_sent(f);
  } catch (const std::exception& e) {
    std::cout << "{\"scenario\":\"sdk-fanout\",\"ok\":false,\"error\":"
              << jstr(std::string("updater: ") + e.what()) << "}\n";
    return 1;
  }

  // The subscribers, connected and subscribed by a few threads at once.
  std::vector<subscriber> subs(static_cast<size_t>(o.subscribers));
  std::atomic<int> next{0};
  std::mutex err_m;
  auto connect_some = [&] {
    for (int i; (i = next.fetch_add(1)) < o.subscribers;) {
      auto& s = subs[static_cast<size_t>(i)];
      try {
        s.c = std::make_unique<castor::client>();
        s.c->connect(co);
        if (o.mode == "delta") {
          bool check_old = o.check_old;
          s.c->subscribe_values(o.topic, [&sh, &s, check_old](
                                             const std::string&,
                                             const std::optional<castor::value>& old,
                                             const castor::value& v) {
                if (!v.is_json) {
                  ++s.bad;
                  return;
                }
                if (check_old) {
                  // The old value is the one handed over last time, whole
                  // (bytes and JSON); the bytes are the JSON's.
                  bool same = old.has_value() == s.prev.has_value()
                              && (!old || (old->payload == s.prev->payload
                                           && old->data == s.prev->data
                                           && old->content_type == s.prev->content_type));
                  if (!same || v.payload != v.data.dump()) {
                    ++s.bad;
                    return;
                  }
                  s.prev = v;
                }
                on_value(sh, s, v.data, v.from_delta, 0);
              }).get();
        } else {
          s.c->subscribe(o.topic, [&sh, &s](const castor::message& m) {
                auto d = json::parse(m.payload, nullptr, false);
                if (d.is_discarded() || !d.is_object()) {
                  ++s.bad;
                  return;
                }
                on_value(sh, s, d, false, m.payload.size());
              }).get();
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> g(err_m);
        if (error.empty())
          error = "subscriber " + std::to_string(i) + ": " + e.what();
        next.store(o.subscribers);
      }
    }
  };
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < std::max(1, o.connect_threads); ++t)
      ts.emplace_back(connect_some);
    for (auto& t : ts)
      t.join();
  }
  double setup_s = std::chrono::duration<double>(clk::now() - t_setup).count();
  long rss_clients_kb = rss_kb();
  std::printf("# %s: %d %s subscribers connected and subscribed in %.2f s (RSS %ld MB)\n",
              o.label.c_str(), o.subscribers, o.mode.c_str(), setup_s, rss_clients_kb / 1024);
  std::fflush(stdout);

  // The updates.
  int64_t sent = 0, final_seq = -1;
  double rx0 = 0, rx1 = 0, cpu0 = 0, cpu1 = 0, scpu0 = 0, scpu1 = 0;
  bool final_all = false;
  if (error.empty()) {
    int64_t t0 = now_ns();
    int64_t w0 = t0 + static_cast<int64_t>(o.warmup * 1e9);
    int64_t w1 = w0 + static_cast<int64_t>(o.duration * 1e9);
    sh.window_from.store(w0);
    sh.window_to.store(w1);
    std::atomic<bool> stop{false};
    // Samples at the window's edges, from this thread's view.
    std::thread sampler([&] {
      auto at = [&](int64_t t) {
        while (now_ns() < t && !stop.load())
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
      };
      at(w0);
      rx0 = static_cast<double>(tcp_bytes_received());
      cpu0 = own_cpu_s();
      scpu0 = proc_cpu_s(o.server_pid);
      at(w1);
      rx1 = static_cast<double>(tcp_bytes_received());
      cpu1 = own_cpu_s();
      scpu1 = proc_cpu_s(o.server_pid);
    });
    std::deque<std::pair<std::future<json>, std::future<void>>> inflight;
    int64_t backlog = o.rate > 0 ? std::max<int64_t>(o.window, static_cast<int64_t>(o.rate * 2))
                                 : o.window;
    int64_t seq = 1;
    auto last_progress = clk::now();
    int64_t last_completed = 0;
    try {
      for (; now_ns() < w1 && seq + 1 < o.max_updates; ++seq) {
        if (o.rate > 0) {
          auto due = t0 + static_cast<int64_t>(static_cast<double>(seq - 1) / o.rate * 1e9);
          while (now_ns() < due)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        {
          std::unique_lock<std::mutex> g(sh.m);
          while (seq - sh.completed.load() > backlog) {
            sh.cv.wait_for(g, std::chrono::milliseconds(50));
            auto c = sh.completed.load();
            if (c != last_completed) {
              last_completed = c;
              last_progress = clk::now();
            } else if (clk::now() - last_progress
                       > std::chrono::duration<double>(o.quiet)) {
              throw std::runtime_error(
                  "stalled: no update reached every subscriber for "
                  + fmt_s(o.quiet) + " s (last complete "
                  + std::to_string(c) + ", sent " + std::to_string(seq - 1) + ")");
            }
          }
          if (sh.completed.load() != last_completed) {
            last_completed = sh.completed.load();
            last_progress = clk::now();
          }
        }
        doc.change(seq);
        inflight.push_back(send(seq, doc.make(seq, now_ns())));
        sent = seq;
        while (inflight.size() > 64) {
          wait_sent(inflight.front());
          inflight.pop_front();
        }
      }
      // The last update, which every subscriber's value must equal.
      doc.change(seq);
      auto last = std::make_shared<const json>(doc.make(seq, now_ns()));
      sh.final_doc = last;
      sh.final_seq.store(seq, std::memory_order_release);
      final_seq = seq;
      inflight.push_back(send(seq, *last));
      sent = seq;
      for (auto& f : inflight)
        wait_sent(f);
      inflight.clear();
      std::unique_lock<std::mutex> g(sh.m);
      final_all = sh.cv.wait_for(g, std::chrono::duration<double>(o.final_timeout),
                                 [&] { return sh.completed.load() >= final_seq; });
    } catch (const std::exception& e) {
      error = std::string("updater: ") + e.what();
    }
    stop.store(true);
    sampler.join();
  }

  // Disconnecting joins each client's thread: its state is ours to read.
  up.disconnect();
  for (auto& s : subs)
    if (s.c)
      s.c->disconnect();
  for (auto& s : subs)
    s.c.reset();

  uint64_t applied = 0, in_window = 0, deltas = 0, payload = 0, gaps = 0, dups = 0, bad = 0;
  int final_ok = 0, final_bad = 0, final_missing = 0;
  std::vector<uint32_t> lat;
  for (auto& s : subs) {
    applied += s.applied;
    in_window += s.in_window;
    deltas += s.deltas_in_window;
    payload += s.payload_in_window;
    gaps += s.gaps;
    dups += s.dups;
    bad += s.bad;
    if (!s.final_seen)
      ++final_missing;
    else if (s.final_ok)
      ++final_ok;
    else
      ++final_bad;
    lat.insert(lat.end(), s.lat_us.begin(), s.lat_us.end());
  }
  if (error.empty() && final_seq >= 0) {
    if (gaps || dups || bad)
      error = "gaps " + std::to_string(gaps) + ", duplicates " + std::to_string(dups)
              + ", unreadable values " + std::to_string(bad);
    else if (final_bad)
      error = std::to_string(final_bad) + " subscribers' last value differs from the last sent";
    else if (final_missing || !final_all)
      error = std::to_string(final_missing) + " subscribers did not get the last update within "
              + fmt_s(o.final_timeout) + " s";
    else if (in_window == 0)
      error = "no value applied within the measured window";
  }
  bool ok = error.empty();
  double values_per_s = static_cast<double>(in_window) / o.duration;
  double rx_per_value = in_window ? (rx1 - rx0) / static_cast<double>(in_window) : -1;
  double cpu_us = in_window ? (cpu1 - cpu0) * 1e6 / static_cast<double>(in_window) : -1;
  double scpu_us = (in_window && o.server_pid > 0)
                       ? (scpu1 - scpu0) * 1e6 / static_cast<double>(in_window)
                       : -1;
  double p50 = pct(lat, 50), p90 = pct(lat, 90), p99 = pct(lat, 99), pmax = pct(lat, 100);
  std::printf("# %s %s: %.0f values/s (%.1f updates/s to each of %d), %.1f%% deltas, "
              "%.0f bytes read per value (document %zu), latency p50 %.0f us p99 %.0f us, "
              "client CPU %.1f us/value, server CPU %.1f us/value; last value: %d equal, "
              "%d differ, %d missing%s%s\n",
              o.label.c_str(), o.mode.c_str(), values_per_s, values_per_s / o.subscribers,
              o.subscribers, in_window ? 100.0 * static_cast<double>(deltas) / in_window : 0.0,
              rx_per_value, doc_size, p50, p99, cpu_us, scpu_us, final_ok, final_bad,
              final_missing, ok ? "" : "; FAILED: ", error.c_str());
  std::printf("{\"scenario\":\"sdk-fanout\",\"label\":%s,\"mode\":%s,\"updater\":%s,"
              "\"ok\":%s,\"error\":%s,\"subscribers\":%d,\"rate_target\":%g,\"window\":%d,"
              "\"duration_s\":%g,\"setup_s\":%.3f,\"updates_sent\":%lld,"
              "\"values_applied\":%llu,\"values_in_window\":%llu,\"values_per_s\":%.1f,"
              "\"updates_per_s\":%.2f,\"delta_pct\":%.2f,\"doc_bytes\":%zu,"
              "\"rx_bytes_per_value\":%.1f,\"payload_bytes_per_value\":%.1f,"
              "\"lat_p50_us\":%.0f,\"lat_p90_us\":%.0f,\"lat_p99_us\":%.0f,\"lat_max_us\":%.0f,"
              "\"client_cpu_us_per_value\":%.2f,\"server_cpu_us_per_value\":%.2f,"
              "\"client_rss_mb\":%.1f,\"gaps\":%llu,\"duplicates\":%llu,\"final_equal\":%d,"
              "\"final_differ\":%d,\"final_missing\":%d}\n",
              jstr(o.label).c_str(), jstr(o.mode).c_str(), jstr(o.updater).c_str(),
              ok ? "true" : "false", jstr(error).c_str(), o.subscribers, o.rate, o.window,
              o.duration, setup_s, static_cast<long long>(sent),
              static_cast<unsigned long long>(applied),
              static_cast<unsigned long long>(in_window), values_per_s,
              values_per_s / o.subscribers,
              in_window ? 100.0 * static_cast<double>(deltas) / in_window : 0.0, doc_size,
              rx_per_value,
              in_window && o.mode == "plain" ? static_cast<double>(payload) / in_window : -1.0,
              p50, p90, p99, pmax, cpu_us, scpu_us, rss_clients_kb / 1024.0,
              static_cast<unsigned long long>(gaps), static_cast<unsigned long long>(dups),
              final_ok, final_bad, final_missing);
  return ok ? 0 : 1;
}
