#include "app/cli.hpp"

#include <algorithm>

#include <sys/stat.h>

#include "app/config_reader.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

constexpr std::string_view hint = " (see 'castor --help')";

/// The long options; `takes_value` options accept "--x VALUE" and "--x=VALUE".
struct option_spec {
  std::string_view name;
  bool takes_value;
};

constexpr option_spec options[] = {
    {"--config", true},    {"--mqtt-port", true},
    {"--http-port", true}, {"--bind", true},
    {"--log-level", true}, {"--help", false},     {"--version", false},
};

const option_spec* find_option(std::string_view name) {
  if (name == "-h")
    name = "--help";
  for (const auto& spec : options)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

using config_reader::distance;

std::string unknown_option(std::string_view name) {
  std::string result = "unknown option '" + std::string{name} + "'";
  const option_spec* best = nullptr;
  size_t best_distance = 4;
  auto bare = name.substr(std::min(name.find_first_not_of('-'), name.size()));
  for (const auto& spec : options) {
    // "--port" -> "--mqtt-port": a part of a known name.
    if (bare.size() >= 3 && spec.name.find(bare) != std::string_view::npos) {
      best = &spec;
      break;
    }
    if (auto d = distance(name, spec.name); d < best_distance) {
      best = &spec;
      best_distance = d;
    }
  }
  if (best != nullptr)
    result += "; did you mean '" + std::string{best->name} + "'?";
  return result + std::string{hint};
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5)
    return std::nullopt;
  uint32_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    result = result * 10 + static_cast<uint32_t>(c - '0');
  }
  if (result == 0 || result > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(result);
}

/// Stores one option's value; returns an error message or an empty string.
std::string set_option(cli_options& out, std::string_view name,
                       const std::string& value) {
  if (name == "--config") {
    if (value.empty())
      return "--config: the file name is empty" + std::string{hint};
    out.config_file = value;
    out.config_given = true;
  } else if (name == "--mqtt-port") {
    auto port = parse_port(value);
    if (!port)
      return "--mqtt-port: expected a port number 1..65535, got '" + value + "'"
             + std::string{hint};
    out.mqtt_port = *port;
  } else if (name == "--http-port") {
    auto port = parse_port(value);
    if (!port)
      return "--http-port: expected a port number 1..65535, got '" + value + "'"
             + std::string{hint};
    out.http_port = *port;
  } else if (name == "--bind") {
    if (value.empty() || value.find_first_of(" \t") != std::string::npos)
      return "--bind: expected an address such as 127.0.0.1 or 0.0.0.0, got '"
             + value + "'" + std::string{hint};
    out.bind = value;
  } else if (name == "--log-level") {
    log_level lvl;
    if (!log::parse_level(value, lvl))
      return "--log-level: expected trace, debug, info, warning or error, "
             "got '"
             + value + "'" + std::string{hint};
    out.level = lvl;
  }
  return {};
}

} // namespace

std::variant<cli_options, std::string>
parse_cli(const std::vector<std::string>& args) {
  cli_options result;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg.empty())
      return "empty argument" + std::string{hint};
    if (arg[0] != '-') {
      result.subcommand = arg;
      result.subcommand_args.assign(args.begin() + i + 1, args.end());
      break;
    }
    std::string_view name = arg;
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = std::string{name.substr(eq + 1)};
      name = name.substr(0, eq);
    }
    auto spec = find_option(name);
    if (spec == nullptr)
      return unknown_option(name);
    if (!spec->takes_value) {
      if (value)
        return std::string{spec->name} + " takes no value" + std::string{hint};
      if (spec->name == "--help")
        result.help = true;
      else
        result.version = true;
      continue;
    }
    if (!value) {
      if (i + 1 == args.size()
          || (args[i + 1].size() > 1 && args[i + 1][0] == '-'))
        return std::string{spec->name} + " needs a value" + std::string{hint};
      value = args[++i];
    }
    if (auto err = set_option(result, spec->name, *value); !err.empty())
      return err;
  }
  return result;
}

std::variant<cli_options, std::string> parse_cli(int argc,
                                                 const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return parse_cli(args);
}

std::string usage() {
  return "Usage: castor [OPTIONS]\n"
         "\n"
         "Castor, an MQTT 5.0 and 3.1.1 broker and event-data platform.\n"
         "\n"
         "Options:\n"
         "  --config FILE      configuration file (default: "
         "config/castor.yaml\n"
         "                     if it exists, else built-in defaults)\n"
         "  --mqtt-port N      port of the first tcp listener (1..65535)\n"
         "  --http-port N      port of the first http listener (1..65535)\n"
         "  --bind ADDR        address of the first tcp listener\n"
         "  --log-level LEVEL  trace, debug, info, warning or error\n"
         "  -h, --help         print this help and exit\n"
         "  --version          print the version and exit\n"
         "\n"
         "Options with a value also accept --option=VALUE.\n"
         "Settings are described in docs/configuration.md.\n";
}

namespace {

/// --http-port: the first http listener's port.
std::optional<config_error> apply_http_port(config& cfg,
                                            const cli_options& opts) {
  if (!opts.http_port)
    return std::nullopt;
  auto first = std::find_if(
      cfg.listeners.begin(), cfg.listeners.end(),
      [](const listener_config& l) { return l.transport == "http"; });
  if (first == cfg.listeners.end())
    return config_error{"command line", 0, "--http-port",
                        "the configuration has no http listener to apply it "
                        "to"};
  for (const auto& other : cfg.listeners)
    if (&other != &*first && other.port == *opts.http_port)
      return config_error{"command line", 0, "--http-port",
                          "port " + std::to_string(*opts.http_port)
                              + " is already used by listener '" + other.name
                              + "'"};
  first->port = *opts.http_port;
  return std::nullopt;
}

} // namespace

std::optional<config_error> apply_overrides(config& cfg,
                                            const cli_options& opts) {
  if (auto err = apply_http_port(cfg, opts))
    return err;
  if (!opts.mqtt_port && !opts.bind) {
    if (opts.level)
      cfg.log = *opts.level;
    return std::nullopt;
  }
  auto first_tcp = std::find_if(
      cfg.listeners.begin(), cfg.listeners.end(),
      [](const listener_config& l) { return l.transport == "tcp"; });
  auto option = opts.mqtt_port ? "--mqtt-port" : "--bind";
  if (first_tcp == cfg.listeners.end())
    return config_error{"command line", 0, option,
                        "the configuration has no tcp listener to apply it "
                        "to"};
  if (opts.mqtt_port) {
    for (const auto& other : cfg.listeners) {
      if (&other != &*first_tcp && other.port == *opts.mqtt_port)
        return config_error{"command line", 0, "--mqtt-port",
                            "port " + std::to_string(*opts.mqtt_port)
                                + " is already used by listener '" + other.name
                                + "'"};
    }
    first_tcp->port = *opts.mqtt_port;
  }
  if (opts.bind)
    first_tcp->bind = *opts.bind;
  if (opts.level)
    cfg.log = *opts.level;
  return std::nullopt;
}

std::variant<config, config_error> resolve_config(const cli_options& opts) {
  config cfg;
  struct stat st;
  if (opts.config_given || ::stat(opts.config_file.c_str(), &st) == 0) {
    auto loaded = load_config(opts.config_file);
    if (auto err = std::get_if<config_error>(&loaded))
      return *err;
    cfg = std::move(std::get<config>(loaded));
  }
  if (auto err = apply_overrides(cfg, opts))
    return *err;
  return cfg;
}

} // namespace castor
