// castor: the MQTT broker. Options are parsed here (never by CAF), the
// configuration is loaded and checked before anything starts, SIGHUP
// reloads it, and SIGTERM or SIGINT shut the server down cleanly within
// shutdown_timeout_ms.

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <malloc.h>
#include <memory>
#include <cstdio>
#include <mutex>
#include <iostream>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/authenticator.hpp"
#include "actors/authenticator_types.hpp"
#include "actors/cluster_types.hpp"
#include "actors/http_types.hpp"
#include "actors/messaging.hpp"
#include "actors/types.hpp"
#include "app/backup_command.hpp"
#include "app/cli.hpp"
#include "app/config.hpp"
#include "log/log.hpp"
#include "app/server.hpp"
#include "security/password.hpp"
#include "security/security_store.hpp"

namespace {

void raise_open_files_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

constexpr const char* passwd_usage
    = "usage: castor passwd [--iterations N] [--password-stdin]\n"
      "Reads a password from the terminal (asked twice, not echoed) or one "
      "line\n"
      "from standard input, and prints its hash for the security store's\n"
      "principals.<name>.password.\n";

/// Reads one line from standard input; false at end of input with nothing
/// read. A trailing "\r" is dropped.
bool read_line(std::string& line) {
  line.clear();
  if (!std::getline(std::cin, line) && line.empty())
    return false;
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  return true;
}

/// Reads a line from the terminal with echo off, after printing `prompt`.
bool read_hidden(const char* prompt, std::string& line) {
  // Echo goes off before the prompt appears, so that nothing typed after
  // the prompt is shown; TCSANOW keeps input that is already typed.
  termios old_attrs;
  bool restore = tcgetattr(STDIN_FILENO, &old_attrs) == 0;
  if (restore) {
    auto attrs = old_attrs;
    attrs.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &attrs);
  }
  std::cerr << prompt << std::flush;
  auto ok = read_line(line);
  if (restore)
    tcsetattr(STDIN_FILENO, TCSANOW, &old_attrs);
  std::cerr << '\n';
  return ok;
}

/// `castor passwd`: prints a PBKDF2 hash line for the security store.
int run_passwd(const std::vector<std::string>& args) {
  uint32_t iterations = castor::security::default_pbkdf2_iterations;
  bool from_stdin = false;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& arg = args[i];
    std::string value;
    bool has_value = false;
    if (arg == "--iterations" && i + 1 < args.size()) {
      value = args[++i];
      has_value = true;
    } else if (arg.rfind("--iterations=", 0) == 0) {
      value = arg.substr(13);
      has_value = true;
    }
    if (has_value) {
      auto bad = [&] {
        std::cerr << "castor passwd: --iterations needs a number from "
                  << castor::security::min_pbkdf2_iterations << " to "
                  << castor::security::max_pbkdf2_iterations << '\n';
        return 2;
      };
      if (value.empty() || value.size() > 9
          || value.find_first_not_of("0123456789") != std::string::npos)
        return bad();
      auto n = std::stoul(value);
      if (n < castor::security::min_pbkdf2_iterations
          || n > castor::security::max_pbkdf2_iterations)
        return bad();
      iterations = static_cast<uint32_t>(n);
    } else if (arg == "--password-stdin") {
      from_stdin = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << passwd_usage;
      return 0;
    } else {
      std::cerr << "castor passwd: unknown or incomplete option '" << arg
                << "'\n"
                << passwd_usage;
      return 2;
    }
  }
  std::string password;
  if (!from_stdin && isatty(STDIN_FILENO)) {
    std::string again;
    if (!read_hidden("Password: ", password)
        || !read_hidden("Password again: ", again)) {
      std::cerr << "castor passwd: no password given\n";
      return 2;
    }
    if (password != again) {
      std::cerr << "castor passwd: the passwords differ\n";
      return 2;
    }
  } else if (!read_line(password)) {
    std::cerr << "castor passwd: no password on standard input\n";
    return 2;
  }
  if (password.empty()) {
    std::cerr << "castor passwd: the password is empty\n";
    return 2;
  }
  try {
    std::cout << castor::security::make_password_hash(password, iterations)
              << '\n';
  } catch (const std::exception& e) {
    std::cerr << "castor passwd: " << e.what() << '\n';
    return 1;
  }
  return 0;
}

} // namespace

namespace {

/// Gives free heap memory back to the system when more than a few MB are
/// free: glibc keeps what a load burst took (the arenas of several threads,
/// fragmented), so the RSS would stay at its peak after the load has gone.
void trim_memory() {
  constexpr size_t threshold = 8u << 20;
  auto info = mallinfo2();
  if (info.fordblks < threshold)
    return;
  malloc_trim(0);
  CASTOR_LOG(debug, "server",
             "gave back free heap memory (" << (info.fordblks >> 20)
                                            << " MB free)");
}

/// Waits for one of `sigs` and returns it; meanwhile trims the heap every
/// `trim_ms` (0 = never).
int wait_for_signal(const sigset_t& sigs, uint32_t trim_ms) {
  for (;;) {
    if (trim_ms == 0) {
      int sig = 0;
      sigwait(&sigs, &sig);
      return sig;
    }
    timespec ts;
    ts.tv_sec = trim_ms / 1000;
    ts.tv_nsec = static_cast<long>(trim_ms % 1000) * 1000000L;
    int sig = sigtimedwait(&sigs, nullptr, &ts);
    if (sig > 0)
      return sig;
    trim_memory();
  }
}

/// Ends the process if the shutdown takes longer than its time limit: a
/// connection or actor that does not finish must not keep the process
/// alive. Cancelled by disarm() once the actor system has finished.
class shutdown_watchdog {
public:
  explicit shutdown_watchdog(uint32_t timeout_ms)
    : thread_([this, timeout_ms] { run(timeout_ms); }) {
  }

  ~shutdown_watchdog() {
    disarm();
  }

  void disarm() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

private:
  void run(uint32_t timeout_ms) {
    std::unique_lock<std::mutex> lock{mtx_};
    if (cv_.wait_for(lock, std::chrono::milliseconds{timeout_ms},
                     [this] { return done_; }))
      return;
    CASTOR_LOG(error, "server",
               "shutdown did not finish within shutdown_timeout_ms ("
                   << timeout_ms << " ms): exiting now");
    // No destructors, no atexit handlers: they would wait for what is
    // stuck.
    std::_Exit(1);
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

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
  if (opts.subcommand == "passwd")
    return run_passwd(opts.subcommand_args);
  if (opts.subcommand == "backup")
    return castor::run_backup(opts.subcommand_args);
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
  castor::log::set_format(cfg.log_fmt);
  // The security store and JWT keys are read and checked before anything
  // starts; a bad file stops the server with its file, line and key.
  auto security = castor::load_auth_settings(cfg.security);
  if (auto err = std::get_if<std::string>(&security)) {
    std::cerr << *err << '\n';
    return 2;
  }
  if (auto& sec = std::get<castor::auth_settings>(security); sec.store)
    CASTOR_LOG(info, "security",
               "store " << cfg.security.store_file << ": "
                        << sec.store->principals().size() << " principals, "
                        << sec.store->roles().size() << " roles");
  raise_open_files_limit();
  // Every thread started from here on inherits the blocked signals; the
  // main thread waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  int exit_code = 0;
  std::unique_ptr<shutdown_watchdog> watchdog;
  {
    caf::actor_system_config caf_cfg;
    caf_cfg.load<caf::io::middleman>();
    caf_cfg.add_message_types<caf::id_block::castor>();
    caf_cfg.add_message_types<caf::id_block::castor_auth>();
    caf_cfg.add_message_types<caf::id_block::castor_handles>();
    caf_cfg.add_message_types<caf::id_block::castor_messaging>();
    caf_cfg.add_message_types<caf::id_block::castor_http>();
    caf_cfg.add_message_types<caf::id_block::castor_cluster>();
    // All connections run on CAF's one I/O (middleman) thread; by default
    // the scheduler gets the other cores, at least one. Fewer workers mean
    // fewer wake-ups and context switches per hop (docs/performance.md).
    size_t workers = cfg.scheduler_threads;
    if (workers == 0) {
      auto cores = std::thread::hardware_concurrency();
      workers = cores > 1 ? cores - 1 : 1;
    }
    caf_cfg.set("scheduler.max-threads", workers);
    caf_cfg.set("scheduler.policy", caf::atom("sharing"));
    // One read per socket per multiplexer round: CAF's default (50) reads
    // until the socket is empty, which costs a second recv() returning
    // EAGAIN for every small packet; epoll reports a socket with more to
    // read again in the next round (docs/performance.md).
    caf_cfg.set("middleman.max-consecutive-reads", size_t{1});
    // TLS on the cluster port: CAF's OpenSSL module, whose connections
    // check the peer's certificate against the group's CA both ways (the
    // files were checked with the configuration).
    if (cfg.cluster.enabled && cfg.cluster.tls.enabled()) {
      caf_cfg.load<caf::openssl::manager>();
      caf_cfg.openssl_certificate = cfg.cluster.tls.cert_file;
      caf_cfg.openssl_key = cfg.cluster.tls.key_file;
      caf_cfg.openssl_cafile = cfg.cluster.tls.ca_file;
    }
    caf::actor_system sys{caf_cfg};
    castor::server srv{sys, cfg,
                       std::get<castor::auth_settings>(std::move(security))};
    if (auto err = srv.start()) {
      CASTOR_LOG(error, "server", *err);
      exit_code = 1;
    } else {
      for (auto& ep : srv.endpoints())
        CASTOR_LOG(info, "listener " << ep.name,
                   "listening on " << ep.bind << ":" << ep.port << " ("
                                   << ep.transport << ")");
      int sig = 0;
      while ((sig = wait_for_signal(
                  sigs, srv.configuration().memory_trim_interval_ms))
             == SIGHUP) {
        // A reload with an error changes nothing; the server keeps running
        // with what it has.
        if (auto err = castor::reload_configuration(srv, opts))
          CASTOR_LOG(error, "server",
                     "reload failed, nothing changed: " << *err);
      }
      CASTOR_LOG(info, "server", "shutting down (signal " << sig << ")");
    }
    // Wills and acknowledgements in flight settle while the actors end;
    // whatever does not end in time is cut off.
    watchdog = std::make_unique<shutdown_watchdog>(
        srv.configuration().shutdown_timeout_ms);
    srv.stop();
  }
  if (watchdog)
    watchdog->disarm();
  CASTOR_LOG(info, "server", "stopped");
  return exit_code;
}
