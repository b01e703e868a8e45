// castor-loadgen: an MQTT load generator for loopback brokers. See
// bench/README.md and `castor-loadgen --help`.

#include <csignal>
#include <cstdio>
#include <string_view>
#include <sys/resource.h>

#include "net.hpp"
#include "options.hpp"
#include "report.hpp"
#include "scenarios.hpp"

using namespace castor::bench;

namespace {

void print(const options& o, const run_result& r) {
  std::printf("%s\n%s\n", to_json(o, r).c_str(), to_human(o, r).c_str());
  std::fflush(stdout);
}

void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

} // namespace

namespace castor::bench {
int run_self_test();
} // namespace castor::bench

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--self-test")
    return run_self_test();
  auto parsed = parse_options(argc, argv);
  if (!parsed)
    return 2;
  const options& o = *parsed;
  std::signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  if (!o.tls_ca.empty()) {
    std::string err;
    if (!enable_tls(o.tls_ca, err)) {
      std::fprintf(stderr, "castor-loadgen: %s\n", err.c_str());
      return 2;
    }
  }
  run_result r;
  if (o.scenario == scenario_kind::connections) {
    bool printed = false;
    r = run_connections(o, [&](const run_result& measured) {
      print(o, measured);
      printed = true;
    });
    if (!printed)
      print(o, r);
    else if (!r.ok) // failed while holding
      std::fprintf(stderr, "# while holding: %s\n", r.error.c_str());
  } else if (o.scenario == scenario_kind::request) {
    r = run_request(o);
    print(o, r);
  } else if (o.scenario == scenario_kind::overload) {
    r = run_overload(o);
    print(o, r);
  } else {
    r = run_flow(o);
    print(o, r);
  }
  return r.ok ? 0 : 1;
}
