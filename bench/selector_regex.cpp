// castor-selector-bench: the regular expression engines a topic selector
// could use, measured on the same patterns and topic names: RE2 (what
// protocol/topic_selector.cpp uses) against std::regex (ECMAScript), and a
// pattern that makes a backtracking engine take exponential time.
// Prints matches per second; docs/platform.md ("Topic selectors") quotes it.

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include <re2/re2.h>

namespace {

template <class F>
double per_second(F&& f, int n) {
  auto t0 = std::chrono::steady_clock::now();
  size_t hits = 0;
  for (int i = 0; i < n; ++i)
    hits += f(i) ? 1 : 0;
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  if (hits == static_cast<size_t>(-1))
    std::puts("");
  return n / dt.count();
}

} // namespace

int main() {
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i)
    names.push_back("plant/line" + std::to_string(i % 17) + "/sensor"
                    + std::to_string(i) + "/temp");
  const char* patterns[] = {"plant/line1[0-9]/.*", "plant/.*/sensor9.*/temp",
                            "(plant|site)/[a-z]+[0-9]+/.*"};
  std::printf("%-32s %14s %14s %8s\n", "pattern", "RE2 match/s",
              "std::regex/s", "ratio");
  for (auto p : patterns) {
    re2::RE2 re(p);
    std::regex sr(p);
    auto a = per_second(
        [&](int i) { return re2::RE2::FullMatch(names[i % 1000], re); },
        400000);
    auto b = per_second(
        [&](int i) { return std::regex_match(names[i % 1000], sr); }, 40000);
    std::printf("%-32s %14.0f %14.0f %7.1fx\n", p, a, b, a / b);
  }
  // (a+)+b on a run of a's: linear for RE2, exponential for backtracking.
  std::string evil = "(a+)+b";
  for (int n : {16, 20, 24}) {
    std::string s(n, 'a');
    re2::RE2 re(evil);
    std::regex sr(evil);
    auto t0 = std::chrono::steady_clock::now();
    bool x = re2::RE2::FullMatch(s, re);
    auto t1 = std::chrono::steady_clock::now();
    bool y = std::regex_match(s, sr);
    auto t2 = std::chrono::steady_clock::now();
    std::printf("(a+)+b on %d a's: RE2 %.3f ms, std::regex %.1f ms (%d %d)\n",
                n, std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count(), x,
                y);
  }
  return 0;
}
