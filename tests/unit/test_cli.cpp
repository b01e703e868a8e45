#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/cli.hpp"
#include "app/config.hpp"
#include "log/log.hpp"

#include <nlohmann/json.hpp>

using namespace castor;

namespace {

cli_options cli_ok(const std::vector<std::string>& args) {
  auto result = parse_cli(args);
  if (auto err = std::get_if<std::string>(&result))
    FAIL("unexpected error: " << *err);
  return std::get<cli_options>(result);
}

std::string cli_err(const std::vector<std::string>& args) {
  auto result = parse_cli(args);
  auto err = std::get_if<std::string>(&result);
  REQUIRE_MESSAGE(err != nullptr, "expected an error");
  CHECK_MESSAGE(err->find("castor --help") != std::string::npos,
                "no usage hint in: " << *err);
  return *err;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Runs `fn` with stderr redirected to a temporary file; returns what was
/// written.
template <class F>
std::string capture_stderr(F fn) {
  char path[] = "/tmp/castor_test_log_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  int saved = ::dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  // O_APPEND: concurrent writes land whole, one after another.
  ::fcntl(fd, F_SETFL, O_APPEND);
  ::dup2(fd, STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fd);
  std::ifstream in{path};
  std::string text{std::istreambuf_iterator<char>{in},
                   std::istreambuf_iterator<char>{}};
  std::remove(path);
  return text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    result.push_back(line);
  return result;
}

/// Restores the log level when a test ends.
struct level_guard {
  log_level saved = log::level();
  log_format saved_format = log::format();
  ~level_guard() {
    log::set_level(saved);
    log::set_format(saved_format);
  }
};

} // namespace

TEST_SUITE("cli") {

  TEST_CASE("no arguments: run the server with the default file") {
    auto opts = cli_ok({});
    CHECK(opts.subcommand.empty());
    CHECK(opts.subcommand_args.empty());
    CHECK_EQ(opts.config_file, "config/castor.yaml");
    CHECK_FALSE(opts.config_given);
    CHECK_FALSE(opts.mqtt_port.has_value());
    CHECK_FALSE(opts.bind.has_value());
    CHECK_FALSE(opts.level.has_value());
    CHECK_FALSE(opts.help);
    CHECK_FALSE(opts.version);
  }

  TEST_CASE("every option, separate and --opt=value forms") {
    for (bool joined : {false, true}) {
      CAPTURE(joined);
      auto arg = [&](std::vector<std::string>& out, const std::string& name,
                     const std::string& value) {
        if (joined) {
          out.push_back(name + "=" + value);
        } else {
          out.push_back(name);
          out.push_back(value);
        }
      };
      std::vector<std::string> args;
      arg(args, "--config", "/etc/castor.yaml");
      arg(args, "--mqtt-port", "11883");
      arg(args, "--bind", "0.0.0.0");
      arg(args, "--log-level", "debug");
      auto opts = cli_ok(args);
      CHECK_EQ(opts.config_file, "/etc/castor.yaml");
      CHECK(opts.config_given);
      CHECK_EQ(opts.mqtt_port, std::optional<uint16_t>{11883});
      CHECK_EQ(opts.bind, std::optional<std::string>{"0.0.0.0"});
      CHECK(opts.level == std::optional<log_level>{log_level::debug});
      CHECK(opts.subcommand.empty());
    }
    CHECK(cli_ok({"--help"}).help);
    CHECK(cli_ok({"-h"}).help);
    CHECK(cli_ok({"--version"}).version);
    CHECK(cli_ok({"--log-level", "warn"}).level == log_level::warning);
    CHECK_EQ(cli_ok({"--mqtt-port=1"}).mqtt_port, std::optional<uint16_t>{1});
    CHECK_EQ(cli_ok({"--mqtt-port=65535"}).mqtt_port,
             std::optional<uint16_t>{65535});
    // The value may contain '='.
    CHECK_EQ(cli_ok({"--config=a=b.yaml"}).config_file, "a=b.yaml");
    // The last of a repeated option wins.
    CHECK_EQ(cli_ok({"--bind", "a", "--bind", "b"}).bind,
             std::optional<std::string>{"b"});
  }

  TEST_CASE("parse_cli from argc and argv skips the program name") {
    const char* argv[] = {"castor", "--mqtt-port", "2000", "--version"};
    auto result = parse_cli(4, argv);
    REQUIRE(std::holds_alternative<cli_options>(result));
    CHECK_EQ(std::get<cli_options>(result).mqtt_port,
             std::optional<uint16_t>{2000});
    CHECK(std::get<cli_options>(result).version);
  }

  TEST_CASE("a first argument without '-' is a subcommand") {
    auto opts = cli_ok({"passwd", "alice", "--force"});
    CHECK_EQ(opts.subcommand, "passwd");
    CHECK_EQ(opts.subcommand_args,
             std::vector<std::string>{"alice", "--force"});
    opts = cli_ok({"--config", "x.yaml", "passwd"});
    CHECK_EQ(opts.subcommand, "passwd");
    CHECK_EQ(opts.config_file, "x.yaml");
    CHECK(opts.subcommand_args.empty());
  }

  TEST_CASE("errors name the bad option") {
    auto err = cli_err({"--port", "1883"});
    CHECK(contains(err, "unknown option '--port'"));
    CHECK(contains(err, "did you mean '--mqtt-port'?"));
    err = cli_err({"--frobnicate"});
    CHECK(contains(err, "unknown option '--frobnicate'"));
    CHECK_FALSE(contains(err, "did you mean"));
    err = cli_err({"-x"});
    CHECK(contains(err, "unknown option '-x'"));
    CHECK(contains(cli_err({"--config"}), "--config needs a value"));
    CHECK(contains(cli_err({"--mqtt-port", "--bind", "x"}),
                   "--mqtt-port needs a value"));
    CHECK(contains(cli_err({"--config="}), "--config: the file name is empty"));
    for (const char* bad : {"0", "65536", "abc", "-1", "1883x", "", "999999"}) {
      CAPTURE(bad);
      err = cli_err({std::string{"--mqtt-port="} + bad});
      CHECK(contains(err, "--mqtt-port: expected a port number 1..65535, got '"
                              + std::string{bad} + "'"));
    }
    err = cli_err({"--log-level", "loud"});
    CHECK(contains(err, "--log-level: expected trace, debug, info, warning or "
                        "error, got 'loud'"));
    CHECK(contains(cli_err({"--bind="}), "--bind: expected an address"));
    CHECK(contains(cli_err({"--help=yes"}), "--help takes no value"));
    CHECK(contains(cli_err({"--version=1"}), "--version takes no value"));
    CHECK(contains(cli_err({""}), "empty argument"));
  }

  TEST_CASE("usage lists every option") {
    auto text = usage();
    for (const char* option : {"--config FILE", "--mqtt-port N", "--bind ADDR",
                               "--log-level LEVEL", "--help", "--version"})
      CHECK_MESSAGE(contains(text, option), option);
  }

  TEST_CASE("overrides change the first tcp listener and the log level") {
    config cfg;
    cfg.listeners.resize(1);
    cfg.listeners[0].transport = "tls"; // not tcp: skipped
    cfg.listeners[0].port = 8883;
    listener_config second;
    second.name = "second";
    second.port = 1884;
    cfg.listeners.push_back(second);
    listener_config third;
    third.name = "third";
    third.port = 1885;
    cfg.listeners.push_back(third);
    auto opts = cli_ok(
        {"--mqtt-port", "2883", "--bind", "0.0.0.0", "--log-level", "error"});
    auto err = apply_overrides(cfg, opts);
    REQUIRE_FALSE(err.has_value());
    CHECK_EQ(cfg.listeners[0].port, 8883);
    CHECK_EQ(cfg.listeners[0].bind, "127.0.0.1");
    CHECK_EQ(cfg.listeners[1].port, 2883);
    CHECK_EQ(cfg.listeners[1].bind, "0.0.0.0");
    CHECK_EQ(cfg.listeners[2].port, 1885);
    CHECK_EQ(cfg.listeners[2].bind, "127.0.0.1");
    CHECK(cfg.log == log_level::error);
  }

  TEST_CASE("no override leaves the configuration alone") {
    config cfg;
    cfg.mqtt.maximum_qos = 1;
    auto before = to_yaml(cfg);
    CHECK_FALSE(apply_overrides(cfg, cli_ok({})).has_value());
    CHECK_EQ(to_yaml(cfg), before);
  }

  TEST_CASE("override errors leave the configuration unchanged") {
    config cfg;
    listener_config second;
    second.name = "second";
    second.port = 1884;
    cfg.listeners.push_back(second);
    auto before = to_yaml(cfg);
    auto err = apply_overrides(
        cfg, cli_ok({"--mqtt-port", "1884", "--log-level", "trace"}));
    REQUIRE(err.has_value());
    CHECK_EQ(err->key, "--mqtt-port");
    CHECK_EQ(err->to_string(), "command line: --mqtt-port: port 1884 is "
                               "already used by listener 'second'");
    CHECK_EQ(to_yaml(cfg), before);
    // The first tcp listener may keep its own port.
    CHECK_FALSE(apply_overrides(cfg, cli_ok({"--mqtt-port", "1883"})));
    config no_tcp;
    no_tcp.listeners[0].transport = "tls";
    err = apply_overrides(no_tcp, cli_ok({"--bind", "0.0.0.0"}));
    REQUIRE(err.has_value());
    CHECK_EQ(err->key, "--bind");
    CHECK(contains(err->message, "no tcp listener"));
  }

  TEST_CASE("resolve_config: explicit file, default file, built-in defaults") {
    // An explicitly named file that does not exist is an error.
    auto opts = cli_ok({"--config", "/nonexistent/castor.yaml"});
    auto result = resolve_config(opts);
    REQUIRE(std::holds_alternative<config_error>(result));
    CHECK_EQ(std::get<config_error>(result).file, "/nonexistent/castor.yaml");
    // The default file missing: built-in defaults plus the overrides.
    opts = cli_ok({"--mqtt-port", "2000"});
    opts.config_file = "/nonexistent/castor.yaml"; // as if the default
    result = resolve_config(opts);
    REQUIRE(std::holds_alternative<config>(result));
    auto expected = config{};
    expected.listeners[0].port = 2000;
    CHECK_EQ(to_yaml(std::get<config>(result)), to_yaml(expected));
    // A file that exists is read, then overridden.
    char path[] = "/tmp/castor_test_cli_XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    {
      std::ofstream out{path};
      out << "log_level: warning\nlisteners:\n  - name: a\n    port: 3000\n"
             "mqtt:\n  maximum_qos: 1\n";
    }
    for (bool explicit_file : {true, false}) {
      CAPTURE(explicit_file);
      opts = explicit_file ? cli_ok({"--config", path, "--bind", "0.0.0.0"})
                           : cli_ok({"--bind", "0.0.0.0"});
      if (!explicit_file)
        opts.config_file = path;
      result = resolve_config(opts);
      REQUIRE(std::holds_alternative<config>(result));
      const auto& cfg = std::get<config>(result);
      CHECK_EQ(cfg.source, path);
      CHECK_EQ(cfg.listeners[0].port, 3000);
      CHECK_EQ(cfg.listeners[0].bind, "0.0.0.0");
      CHECK_EQ(cfg.mqtt.maximum_qos, 1);
      CHECK(cfg.log == log_level::warning);
    }
    // Errors in the default file are reported, not skipped.
    {
      std::ofstream out{path};
      out << "mqtt:\n  maximum_qos: 5\n";
    }
    opts = cli_ok({});
    opts.config_file = path;
    result = resolve_config(opts);
    REQUIRE(std::holds_alternative<config_error>(result));
    CHECK_EQ(std::get<config_error>(result).line, 2);
    std::remove(path);
  }

} // TEST_SUITE

TEST_SUITE("log") {

  TEST_CASE("log levels parse and print") {
    log_level lvl = log_level::info;
    for (auto [name, expected] : {std::pair{"trace", log_level::trace},
                                  {"debug", log_level::debug},
                                  {"info", log_level::info},
                                  {"warning", log_level::warning},
                                  {"error", log_level::error}}) {
      CAPTURE(name);
      REQUIRE(log::parse_level(name, lvl));
      CHECK(lvl == expected);
      CHECK_EQ(log::to_string(expected), name);
    }
    REQUIRE(log::parse_level("warn", lvl));
    CHECK(lvl == log_level::warning);
    lvl = log_level::debug;
    CHECK_FALSE(log::parse_level("", lvl));
    CHECK_FALSE(log::parse_level("INFO", lvl));
    CHECK_FALSE(log::parse_level("verbose", lvl));
    CHECK(lvl == log_level::debug); // unchanged on failure
  }

  TEST_CASE("the level filters") {
    level_guard guard;
    log::set_level(log_level::warning);
    CHECK(log::level() == log_level::warning);
    CHECK_FALSE(log::enabled(log_level::info));
    CHECK(log::enabled(log_level::warning));
    CHECK(log::enabled(log_level::error));
    log::set_level(log_level::trace);
    CHECK(log::enabled(log_level::trace));
  }

  TEST_CASE("a line: UTC timestamp with milliseconds, level, context") {
    using namespace std::chrono;
    // 2026-11-25T15:51:39Z is 1795621899 s after the epoch.
    auto t = system_clock::time_point{seconds{1795621899} + milliseconds{123}};
    CHECK_EQ(log::format_line(t, log_level::info, "session sensor-1",
                              "connected from 127.0.0.1"),
             "2026-11-25T15:51:39.123Z INFO  [session sensor-1] connected from "
             "127.0.0.1\n");
    CHECK_EQ(log::format_line(t, log_level::warning, "", "no context"),
             "2026-11-25T15:51:39.123Z WARN  no context\n");
    // 2000-02-29T00:00:00Z is 951782400; microseconds are truncated.
    auto leap
        = system_clock::time_point{seconds{951782400} + microseconds{7999}};
    CHECK_EQ(log::format_line(leap, log_level::error, "x", "y"),
             "2000-02-29T00:00:00.007Z ERROR [x] y\n");
    CHECK_EQ(log::format_line(leap, log_level::trace, "", "m"),
             "2000-02-29T00:00:00.007Z TRACE m\n");
    CHECK_EQ(log::format_line(leap, log_level::debug, "", "m"),
             "2000-02-29T00:00:00.007Z DEBUG m\n");
  }

  TEST_CASE("newlines and control characters are escaped") {
    using namespace std::chrono;
    auto t = system_clock::time_point{seconds{951782400}};
    CHECK_EQ(log::format_line(t, log_level::info, "client a\nb",
                              "line 1\nline 2\r\tend\x01\x7f"),
             "2000-02-29T00:00:00.000Z INFO  [client a\\nb] line 1\\nline "
             "2\\r\\tend\\x01\\x7f\n");
    // UTF-8 passes through unchanged.
    CHECK_EQ(log::format_line(t, log_level::info, "", "caf\xc3\xa9"),
             "2000-02-29T00:00:00.000Z INFO  caf\xc3\xa9\n");
  }

  TEST_CASE("write puts one whole line per event on stderr") {
    level_guard guard;
    log::set_level(log_level::info);
    auto text = capture_stderr([] {
      CASTOR_LOG(info,
                 "listener "
                     << "mqtt",
                 "listening on port " << 1883);
      CASTOR_LOG(debug, "", "filtered out");
      log::write(log_level::debug, "", "filtered out too");
      log::write(log_level::error, "", "two\nlines");
    });
    auto lines = lines_of(text);
    REQUIRE_EQ(lines.size(), 2u);
    std::regex stamp{R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )"};
    CHECK(std::regex_search(lines[0], stamp));
    CHECK_EQ(lines[0].substr(25),
             "INFO  [listener mqtt] listening on port 1883");
    CHECK_EQ(lines[1].substr(25), "ERROR two\\nlines");
  }

  TEST_CASE("a JSON line: time, level, component, message") {
    using namespace std::chrono;
    auto t = system_clock::time_point{seconds{1795621899} + milliseconds{123}};
    CHECK_EQ(log::format_json_line(t, log_level::info, "session sensor-1",
                                   "connected from 127.0.0.1"),
             "{\"time\":\"2026-11-25T15:51:39.123Z\",\"level\":\"info\","
             "\"component\":\"session sensor-1\",\"message\":\"connected "
             "from 127.0.0.1\"}\n");
    CHECK_EQ(log::format_json_line(t, log_level::warning, "", "m"),
             "{\"time\":\"2026-11-25T15:51:39.123Z\",\"level\":\"warning\","
             "\"component\":\"\",\"message\":\"m\"}\n");
  }

  TEST_CASE("JSON lines escape quotes, backslashes, control characters and "
            "bytes that are not UTF-8") {
    using namespace std::chrono;
    auto t = system_clock::time_point{seconds{951782400}};
    std::string nasty = "say \"hi\" \\ path\nline\r\t\x01\x7f caf\xc3\xa9 "
                        "\xff\xc3 \xed\xa0\x80 \xf0\x9f\x98\x80";
    auto line = log::format_json_line(t, log_level::error, "client \"x\"",
                                      nasty);
    REQUIRE_EQ(line.back(), '\n');
    CHECK_EQ(line.find('\n'), line.size() - 1);
    auto doc = nlohmann::json::parse(line.substr(0, line.size() - 1));
    CHECK_EQ(doc["time"], "2000-02-29T00:00:00.000Z");
    CHECK_EQ(doc["level"], "error");
    CHECK_EQ(doc["component"], "client \"x\"");
    CHECK_EQ(doc["message"],
             "say \"hi\" \\ path\nline\r\t\x01\x7f caf\xc3\xa9 "
             "\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
             "\xf0\x9f\x98\x80");
    CHECK_NE(line.find("\\u0001"), std::string::npos);
  }

  TEST_CASE("write follows the log format") {
    level_guard guard;
    log::set_level(log_level::info);
    log::set_format(log_format::json);
    auto text = capture_stderr([] {
      CASTOR_LOG(info, "listener " << "mqtt", "listening on port " << 1883);
      CASTOR_LOG(debug, "", "filtered out");
    });
    log::set_format(log_format::text);
    auto lines = lines_of(text);
    REQUIRE_EQ(lines.size(), 1u);
    auto doc = nlohmann::json::parse(lines[0]);
    CHECK_EQ(doc["component"], "listener mqtt");
    CHECK_EQ(doc["message"], "listening on port 1883");
    CHECK_EQ(doc["level"], "info");
  }

  TEST_CASE("lines from several threads do not interleave") {
    level_guard guard;
    log::set_level(log_level::info);
    constexpr int threads = 4;
    constexpr int per_thread = 200;
    auto text = capture_stderr([] {
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t)
        workers.emplace_back([t] {
          std::string filler(200, static_cast<char>('a' + t));
          for (int i = 0; i < per_thread; ++i)
            CASTOR_LOG(info, "thread " << t, i << " " << filler);
        });
      for (auto& w : workers)
        w.join();
    });
    auto lines = lines_of(text);
    CHECK_EQ(lines.size(), size_t{threads * per_thread});
    std::regex shape{R"(^\S+Z INFO  \[thread (\d)\] \d+ ([a-d])\2{199}$)"};
    int bad = 0;
    for (const auto& line : lines) {
      std::smatch m;
      if (!std::regex_match(line, m, shape)
          || m[2].str()[0] != 'a' + std::stoi(m[1].str()))
        ++bad;
    }
    CHECK_EQ(bad, 0);
  }

} // TEST_SUITE
