// castor: the MQTT broker. Options are parsed here (never by CAF), the
// configuration is loaded and checked before anything starts, and SIGTERM or
// SIGINT shut the server down cleanly.

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <sys/resource.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/types.hpp"
#include "app/cli.hpp"
#include "app/config.hpp"
#include "app/log.hpp"
#include "app/server.hpp"

namespace {

void raise_open_files_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

} // namespace

int main(int argc, char** argv) {
  auto parsed = castor::parse_cli(argc, argv);
  if (auto err = std::get_if<std::string>(&parsed)) {
    std::cerr << "castor: " << *err << '\n';
    return 2;
  }
  auto& opts = std::get<castor::cli_options>(parsed);
  if (opts.help) {
    std::cout << castor::usage();
    return 0;
  }
  if (opts.version) {
    std::cout << "castor " << castor::castor_version << '\n';
    return 0;
  }
  if (!opts.subcommand.empty()) {
    std::cerr << "castor: unknown command '" << opts.subcommand << "'\n";
    return 2;
  }
  auto loaded = castor::resolve_config(opts);
  if (auto err = std::get_if<castor::config_error>(&loaded)) {
    std::cerr << err->to_string() << '\n';
    return 2;
  }
  auto cfg = std::get<castor::config>(std::move(loaded));
  castor::log::set_level(cfg.log);
  raise_open_files_limit();
  // Every thread started from here on inherits the blocked signals; the
  // main thread waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  int exit_code = 0;
  {
    caf::actor_system_config caf_cfg;
    caf_cfg.load<caf::io::middleman>();
    caf_cfg.add_message_types<caf::id_block::castor>();
    if (cfg.scheduler_threads > 0)
      caf_cfg.set("scheduler.max-threads", size_t{cfg.scheduler_threads});
    caf_cfg.set("scheduler.policy", caf::atom("sharing"));
    caf::actor_system sys{caf_cfg};
    castor::server srv{sys, cfg};
    if (auto err = srv.start()) {
      CASTOR_LOG(error, "server", *err);
      exit_code = 1;
    } else {
      for (auto& ep : srv.endpoints())
        CASTOR_LOG(info, "listener " << ep.name,
                   "listening on " << ep.bind << ":" << ep.port);
      int sig = 0;
      sigwait(&sigs, &sig);
      CASTOR_LOG(info, "server", "shutting down (signal " << sig << ")");
    }
    srv.stop();
  }
  CASTOR_LOG(info, "server", "stopped");
  return exit_code;
}
