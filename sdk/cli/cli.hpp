#pragma once

// castor-cli: the command line client of Castor's API, on the C++ SDK.

#include <castor/client.hpp>

#include <map>
#include <string>
#include <vector>

namespace castor::cli {

/// Exit codes (docs/sdk.md).
enum exit_code : int {
  ok = 0,
  error_answer = 1,      ///< the server answered with an error, or refused
  usage = 2,             ///< bad command line
  connection_failed = 3, ///< could not connect, refused, or lost
  timeout = 4,           ///< no answer in time
  command_failed = 5,    ///< lock/serve: the command could not run
};

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct options {
  connect_options conn;
  bool json = false;
  std::string command;
  std::vector<std::string> args;     ///< positional arguments after the command
  std::vector<std::string> exec;     ///< after `--`
  std::map<std::string, std::string> named; ///< --spec, --constraint, -C, ...
  bool help = false;
};

/// Runs one subcommand on a connected client; returns the exit code.
int run_command(client& c, const options& o);
/// The help text of a subcommand ("" for the overall help).
std::string help_text(const std::string& command);
/// Throws usage_error for a command line the command cannot run.
void check_usage(const options& o);
/// True for the names of subcommands.
bool known_command(const std::string& command);
/// Parses a command line value: JSON if it parses, else a string.
json value_arg(const std::string& text);

} // namespace castor::cli
