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

namespace {

/// Gaps wider than this are not remembered one by one: a late arrival from
/// them then counts as a duplicate (it can only happen after massive loss).
constexpr size_t max_missing = 1 << 20;

} // namespace

sequence_checker::verdict sequence_checker::observe(uint32_t publisher,
                                                    uint64_t seq) {
  auto& s = streams_[publisher];
  if (seq == s.expected) {
    ++s.expected;
    return verdict::in_order;
  }
  if (seq > s.expected) {
    for (uint64_t k = s.expected; k < seq && s.missing.size() < max_missing;
         ++k)
      s.missing.insert(k);
    s.expected = seq + 1;
    return verdict::gap;
  }
  if (s.missing.erase(seq) > 0) {
    ++reordered_;
    return verdict::late;
  }
  ++duplicates_;
  return verdict::duplicate;
}

sequence_checker::stream_info sequence_checker::info(uint32_t publisher) const {
  stream_info out;
  auto i = streams_.find(publisher);
  if (i == streams_.end())
    return out;
  out.expected = i->second.expected;
  out.missing = i->second.missing.size();
  out.first_missing = out.expected;
  for (auto k : i->second.missing)
    out.first_missing = std::min(out.first_missing, k);
  return out;
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
