#pragma once

// Castor's command line (CAF's own parser is not used):
//
//   castor [--config FILE] [--mqtt-port N] [--bind ADDR] [--log-level LEVEL]
//          [--help] [--version]
//   castor COMMAND [ARGS...]
//
// Every option with a value also accepts --option=value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "app/config.hpp"

namespace castor {

#ifndef CASTOR_VERSION
#  define CASTOR_VERSION "0.1.0"
#endif

/// The version --version prints.
inline constexpr std::string_view castor_version = CASTOR_VERSION;

/// The configuration file read when --config is not given (relative to the
/// working directory); built-in defaults apply when it does not exist.
inline constexpr std::string_view default_config_file = "config/castor.yaml";

/// What the command line asked for.
struct cli_options {
  /// The first argument when it does not start with '-' ("passwd"); empty
  /// to run the server. Options before it are parsed as usual.
  std::string subcommand;
  /// The arguments after the subcommand, unparsed.
  std::vector<std::string> subcommand_args;
  std::string config_file{default_config_file};
  /// True when --config was given: then a missing file is an error.
  bool config_given = false;
  std::optional<uint16_t> mqtt_port; ///< --mqtt-port
  std::optional<uint16_t> http_port; ///< --http-port
  std::optional<std::string> bind;   ///< --bind
  std::optional<log_level> level;    ///< --log-level
  bool help = false;
  bool version = false;
};

/// Parses the arguments after the program name. On error, returns a
/// one-line message that names the bad option and ends with a usage hint.
std::variant<cli_options, std::string>
parse_cli(const std::vector<std::string>& args);

/// Same, from main's arguments (argv[0] is the program name).
std::variant<cli_options, std::string> parse_cli(int argc,
                                                 const char* const* argv);

/// The text --help prints.
std::string usage();

/// Applies --mqtt-port and --bind to the first tcp listener and --log-level to
/// the log level. Fails when there is no tcp listener to apply them to or the
/// new port is taken by another listener; `cfg` is unchanged then.
std::optional<config_error> apply_overrides(config& cfg,
                                            const cli_options& opts);

/// The configuration to run with: the file named by --config (missing is an
/// error), else config/castor.yaml if it exists, else the built-in defaults;
/// then the command-line overrides.
std::variant<config, config_error> resolve_config(const cli_options& opts);

} // namespace castor
