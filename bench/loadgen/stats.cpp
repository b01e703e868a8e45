#include "stats.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

namespace castor::bench {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull
         + static_cast<uint64_t>(ts.tv_nsec);
}

sequence_checker::verdict sequence_checker::observe(uint32_t publisher,
                                                    uint64_t seq) {
  auto& s = streams_[publisher];
  if (seq == s.expected) {
    ++s.expected;
    return verdict::in_order;
  }
  if (seq > s.expected) {
    s.missing.emplace(s.expected, seq);
    s.missing_count += seq - s.expected;
    s.expected = seq + 1;
    return verdict::gap;
  }
  // Below the expected one: a late arrival if it falls in a gap.
  auto it = s.missing.upper_bound(seq);
  if (it != s.missing.begin()) {
    --it;
    uint64_t lo = it->first, hi = it->second;
    if (seq < hi) {
      s.missing.erase(it);
      if (lo < seq)
        s.missing.emplace(lo, seq);
      if (seq + 1 < hi)
        s.missing.emplace(seq + 1, hi);
      --s.missing_count;
      ++reordered_;
      return verdict::late;
    }
  }
  ++duplicates_;
  return verdict::duplicate;
}

bool sequence_checker::seen(uint32_t publisher, uint64_t seq) const {
  auto i = streams_.find(publisher);
  if (i == streams_.end() || seq >= i->second.expected)
    return false;
  auto& m = i->second.missing;
  auto it = m.upper_bound(seq);
  if (it == m.begin())
    return true;
  --it;
  return seq >= it->second;
}

std::vector<std::pair<uint64_t, uint64_t>>
sequence_checker::gaps(uint32_t publisher) const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  auto i = streams_.find(publisher);
  if (i != streams_.end())
    out.assign(i->second.missing.begin(), i->second.missing.end());
  return out;
}

sequence_checker::stream_info sequence_checker::info(uint32_t publisher) const {
  stream_info out;
  auto i = streams_.find(publisher);
  if (i == streams_.end())
    return out;
  out.expected = i->second.expected;
  out.missing = i->second.missing_count;
  out.first_missing = i->second.missing.empty()
                          ? out.expected
                          : i->second.missing.begin()->first;
  return out;
}

void ack_ledger::acknowledge(uint32_t publisher, uint64_t seq) {
  if (publisher >= acked_.size())
    acked_.resize(publisher + 1);
  auto& v = acked_[publisher];
  if (seq >= v.size())
    v.resize(std::max<uint64_t>(seq + 1, v.size() * 2));
  v[seq] = true;
}

bool ack_ledger::acknowledged(uint32_t publisher, uint64_t seq) const {
  return publisher < acked_.size() && seq < acked_[publisher].size()
         && acked_[publisher][seq];
}

ack_ledger::tally ack_ledger::compare(uint32_t publisher,
                                      const sequence_checker& c) const {
  tally t;
  static const std::vector<bool> none;
  const auto& acked = publisher < acked_.size() ? acked_[publisher] : none;
  auto gaps = c.gaps(publisher);
  uint64_t expected = c.info(publisher).expected;
  uint64_t end = std::max<uint64_t>(acked.size(), expected);
  size_t g = 0; // the first gap that does not end at or before seq
  for (uint64_t seq = 0; seq < end; ++seq) {
    while (g < gaps.size() && gaps[g].second <= seq)
      ++g;
    bool got = seq < expected && !(g < gaps.size() && gaps[g].first <= seq);
    bool ack = seq < acked.size() && acked[seq];
    if (ack) {
      ++t.acked;
      if (!got) {
        ++t.acked_lost;
        t.first_lost = std::min(t.first_lost, seq);
      }
    } else if (got) {
      ++t.delivered_unacked;
    }
  }
  return t;
}

size_t byte_pacer::available(uint64_t now) {
  if (now > last_) {
    tokens_ += static_cast<double>(now - last_) * 1e-9 * rate_;
    last_ = now;
  }
  if (tokens_ > burst_)
    tokens_ = burst_;
  return tokens_ >= 1 ? static_cast<size_t>(tokens_) : 0;
}

uint64_t written_in_full(uint64_t queued, size_t pending, size_t frame_size) {
  if (frame_size == 0)
    return queued;
  uint64_t unsent = (pending + frame_size - 1) / frame_size;
  return queued > unsent ? queued - unsent : 0;
}

void latency_recorder::add(uint64_t sent_ns, uint64_t received_ns) {
  if (sent_ns < t0_)
    return;
  uint64_t sec = (sent_ns - t0_) / 1000000000ull;
  if (sec >= per_second_.size()) {
    if (sec > 3600)
      return;
    per_second_.resize(sec + 1);
  }
  uint64_t d = received_ns > sent_ns ? received_ns - sent_ns : 0;
  per_second_[sec].push_back(
      static_cast<uint32_t>(std::min<uint64_t>(d, UINT32_MAX)));
}

namespace {

double pct(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto i
      = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;
}

} // namespace

latency_recorder::summary latency_recorder::summarize() const {
  summary s;
  std::vector<uint32_t> all;
  std::vector<double> p99s;
  for (auto sec : per_second_) { // copy: sorted below
    if (sec.empty())
      continue;
    std::sort(sec.begin(), sec.end());
    p99s.push_back(pct(sec, 0.99));
    all.insert(all.end(), sec.begin(), sec.end());
  }
  if (all.empty())
    return s;
  std::sort(all.begin(), all.end());
  s.samples = all.size();
  s.p50_us = pct(all, 0.5);
  s.p99_us = pct(all, 0.99);
  s.p999_us = pct(all, 0.999);
  s.max_us = all.back() / 1000.0;
  std::sort(p99s.begin(), p99s.end());
  s.seconds = static_cast<uint32_t>(p99s.size());
  size_t m = p99s.size();
  s.median_p99_per_s_us
      = m % 2 ? p99s[m / 2] : (p99s[m / 2 - 1] + p99s[m / 2]) / 2;
  return s;
}

long read_rss_kb(int pid) {
  if (pid <= 0)
    return -1;
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f)
    return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kb = std::strtol(line + 6, nullptr, 10);
      break;
    }
  std::fclose(f);
  return kb;
}

double read_cpu_seconds(int pid) {
  if (pid <= 0)
    return -1;
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f)
    return -1;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the command name (which may contain spaces): state is
  // field 3; utime and stime are fields 14 and 15.
  const char* p = std::strrchr(buf, ')');
  if (!p)
    return -1;
  p += 2;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                  &utime, &stime)
      != 2)
    return -1;
  return static_cast<double>(utime + stime)
         / static_cast<double>(sysconf(_SC_CLK_TCK));
}

} // namespace castor::bench

namespace castor::bench {

double own_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

} // namespace castor::bench
