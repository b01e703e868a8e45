// castor-cli's subcommands.

#include "cli.hpp"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sys/wait.h>
#include <unistd.h>

namespace castor::cli {

namespace {

struct command_info {
  const char* name;
  const char* synopsis;
  const char* text;
};

const command_info commands[] = {
  {"add-topic", "add-topic PATH --spec JSON",
   "Adds an explicit topic (topics/add). JSON is a specification such as\n"
   "{\"type\": \"json\", \"properties\": {\"CONFLATION\": \"always\"}}, or a type name.\n"},
  {"remove", "remove SELECTOR",
   "Removes the topics SELECTOR selects (topics/remove); prints how many.\n"},
  {"fetch", "fetch SELECTOR [--no-values] [--limit N]",
   "Prints `PATH VALUE` (the value as JSON) for each topic SELECTOR selects.\n"},
  {"subscribe", "subscribe FILTER [-C N]",
   "Prints `PATH VALUE` each time a topic FILTER matches changes: whole values,\n"
   "received as deltas ($delta/FILTER). -C N: exit after N values. Reconnects\n"
   "and resumes when the connection is lost.\n"},
  {"update", "update PATH VALUE [--constraint JSON]",
   "Sets the topic's value (topics/update). VALUE is JSON if it parses as JSON,\n"
   "else a string.\n"},
  {"patch", "patch PATH PATCH [--constraint JSON]",
   "Applies an RFC 6902 JSON Patch to the topic's JSON value (topics/patch).\n"},
  {"ts-append", "ts-append PATH VALUE",
   "Appends an event to a time series (timeseries/append); prints its seq.\n"},
  {"ts-range", "ts-range PATH [--range JSON]",
   "Prints the retained events of a time series, one JSON object a line\n"
   "(timeseries/range; JSON holds view, from, to, limit).\n"},
  {"lock", "lock NAME [--wait-ms N] [-- COMMAND...]",
   "Acquires a session lock (locks/acquire) and prints its fencing token; with\n"
   "a COMMAND, runs it holding the lock, releases it and exits with the\n"
   "command's status.\n"},
  {"request", "request PATH VALUE [--content-type T | --session ID | --filter FILTER]",
   "Sends a request to a message path and prints the answer's payload.\n"
   "--session ID: to that session's request stream for PATH\n"
   "(messages/send-to-session; VALUE is JSON if it parses, else a string;\n"
   "prints the answer as JSON). --filter FILTER: to every connected session\n"
   "the session filter selects that has a stream for PATH\n"
   "(messages/send-to-filter); prints `SESSION ANSWER` or\n"
   "`SESSION error CODE: message` for each, in session id order.\n"},
  {"sessions", "sessions [FILTER] [--limit N]",
   "Prints `ID CLIENT_ID CONNECTED PRINCIPAL` for each session the session filter\n"
   "selects (sessions/list; default all; --json: their properties).\n"},
  {"close-session", "close-session (ID | --filter FILTER)",
   "Closes a session, or those the filter selects (sessions/close): an MQTT 5\n"
   "client gets DISCONNECT 0x98; prints how many were closed.\n"},
  {"api", "api OPERATION [JSON]",
   "Sends any request of the API ($castor/api/OPERATION, docs/platform.md)\n"
   "with JSON (an object; default {}) and prints the answer as JSON, e.g.\n"
   "`castor-cli api sessions/change-roles '{\"session\": \"...\", \"add\": [\"OPS\"]}'`.\n"
   "Operations that send events before their answer (topics/notify) need the SDK.\n"},
  {"serve", "serve PATH [--stream] [-C N] -- COMMAND...",
   "Handles requests to PATH: runs COMMAND for each, the request's payload on\n"
   "its stdin, and answers with its stdout (an exit status other than 0\n"
   "answers the error HANDLER_FAILED). -C N: exit after N requests.\n"
   "--stream: requests to this client's session (a request stream,\n"
   "streams/add) instead of a message handler (handlers/add).\n"},
};

const command_info* find(const std::string& name) {
  for (auto& c : commands)
    if (name == c.name)
      return &c;
  return nullptr;
}

const std::string& arg(const options& o, size_t i, const char* what) {
  if (o.args.size() <= i)
    throw usage_error(o.command + ": missing " + what + " (castor-cli " + o.command
                      + " --help)");
  return o.args[i];
}

void max_args(const options& o, size_t n) {
  if (o.args.size() > n)
    throw usage_error(o.command + ": unexpected argument " + o.args[n]);
}

json json_option(const options& o, const char* name) {
  auto j = json::parse(o.named.at(name), nullptr, false);
  if (j.is_discarded())
    throw usage_error(std::string(name) + ": not JSON: " + o.named.at(name));
  return j;
}

std::optional<json> constraint(const options& o) {
  if (!o.named.count("--constraint"))
    return std::nullopt;
  return json_option(o, "--constraint");
}

long count_option(const options& o) {
  if (!o.named.count("-C"))
    return -1;
  try {
    return std::stol(o.named.at("-C"));
  } catch (...) {
    throw usage_error("-C: not a number: " + o.named.at("-C"));
  }
}

std::string show(const value& v) {
  return v.is_json ? v.data.dump() : v.payload;
}

void print_answer(const options& o, const json& answer) {
  if (o.json)
    std::cout << answer.dump() << std::endl;
}

/// Runs `argv` with `input` on its stdin; its stdout is captured when
/// `out` is given, else inherited. Returns the exit status (127: could
/// not run).
int run_process(const std::vector<std::string>& argv, const std::string* input,
                std::string* out) {
  char tmpl[] = "/tmp/castor-cli-XXXXXX";
  int in_fd = -1;
  if (input) {
    in_fd = mkstemp(tmpl);
    if (in_fd < 0)
      return 127;
    unlink(tmpl);
    if (write(in_fd, input->data(), input->size()) != static_cast<ssize_t>(input->size()))
      return 127;
    lseek(in_fd, 0, SEEK_SET);
  }
  int pipe_fds[2] = {-1, -1};
  if (out && pipe(pipe_fds) != 0)
    return 127;
  pid_t pid = fork();
  if (pid == 0) {
    if (in_fd >= 0)
      dup2(in_fd, 0);
    if (out) {
      dup2(pipe_fds[1], 1);
      close(pipe_fds[0]);
    }
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (in_fd >= 0)
    close(in_fd);
  if (out) {
    close(pipe_fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0)
      out->append(buf, static_cast<size_t>(n));
    close(pipe_fds[0]);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0)
    return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Waits until `n` events were counted (forever when n < 0).
struct counter {
  std::mutex m;
  std::condition_variable cv;
  long seen = 0;
  void add() {
    std::lock_guard<std::mutex> g(m);
    ++seen;
    cv.notify_all();
  }
  void wait(long n) {
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return n >= 0 && seen >= n; });
  }
};

int subscribe(client& c, const options& o) {
  auto& filter = arg(o, 0, "FILTER");
  max_args(o, 1);
  long n = count_option(o);
  counter done;
  c.subscribe_values(filter, [&](const std::string& path, const std::optional<value>&,
                                 const value& v) {
     {
       std::lock_guard<std::mutex> g(done.m);
       if (n >= 0 && done.seen >= n)
         return;
     }
     if (o.json)
       std::cout << json{{"path", path}, {"value", v.is_json ? v.data : json(v.payload)}}.dump();
     else
       std::cout << path << " " << show(v);
     std::cout << std::endl;
     done.add();
   }).get();
  done.wait(n);
  return ok;
}

int serve(client& c, const options& o) {
  auto& path = arg(o, 0, "PATH");
  max_args(o, 1);
  if (o.exec.empty())
    throw usage_error("serve: missing -- COMMAND...");
  long n = count_option(o);
  counter done;
  auto exec = o.exec;
  request_handler h = [&done, exec](const message& req) {
    std::string out;
    int status = run_process(exec, &req.payload, &out);
    done.add();
    if (status != 0)
      throw error("HANDLER_FAILED", "the command exited with status " + std::to_string(status));
    return out;
  };
  if (o.named.count("--stream"))
    c.add_request_stream(path, h).get();
  else
    c.add_handler(path, h).get();
  std::fprintf(stderr, "castor-cli: serving %s\n", path.c_str());
  done.wait(n);
  return ok;
}

/// request --session ID or --filter FILTER (requests to sessions).
int request_to_sessions(client& c, const options& o) {
  auto& path = arg(o, 0, "PATH");
  auto v = value_arg(arg(o, 1, "VALUE"));
  max_args(o, 2);
  if (auto s = o.named.find("--session"); s != o.named.end()) {
    auto a = c.send_to_session(s->second, path, v).get();
    std::cout << (o.json ? a.dump() : a["answer"].dump()) << std::endl;
    return ok;
  }
  auto a = c.send_to_filter(o.named.at("--filter"), path, v).get();
  if (o.json) {
    print_answer(o, a);
    return ok;
  }
  for (auto& x : a["answers"]) {
    std::cout << x.value("session", "") << " ";
    if (x.contains("answer"))
      std::cout << x["answer"].dump() << "\n";
    else
      std::cout << "error " << x["error"].value("code", "") << ": "
                << x["error"].value("message", "") << "\n";
  }
  std::cout.flush();
  return ok;
}

int lock(client& c, const options& o) {
  auto& name = arg(o, 0, "NAME");
  max_args(o, 1);
  uint32_t wait_ms = 10000;
  if (o.named.count("--wait-ms"))
    wait_ms = static_cast<uint32_t>(std::stoul(o.named.at("--wait-ms")));
  auto answer = c.lock(name, wait_ms).get();
  if (o.json)
    print_answer(o, answer);
  else
    std::cout << answer.value("token", uint64_t{0}) << std::endl;
  if (o.exec.empty())
    return ok;
  int status = run_process(o.exec, nullptr, nullptr);
  c.unlock(name).get();
  return status == 127 ? command_failed : status;
}

} // namespace

bool known_command(const std::string& name) {
  return find(name) != nullptr;
}

void check_usage(const options& o) {
  static const std::map<std::string, size_t> arity = {
      {"add-topic", 1}, {"remove", 1}, {"fetch", 1}, {"subscribe", 1},
      {"update", 2},    {"patch", 2},  {"ts-append", 2}, {"ts-range", 1},
      {"lock", 1},      {"request", 2}, {"serve", 1}, {"sessions", 0},
      {"close-session", 0}, {"api", 1}};
  auto n = arity.at(o.command);
  static const char* const names[] = {"the first argument", "the second argument"};
  if (o.args.size() < n)
    throw usage_error(o.command + ": missing " + names[o.args.size()] + " (castor-cli "
                      + o.command + " --help)");
  max_args(o, o.command == "sessions" || o.command == "close-session" ? 1
             : o.command == "api"                                    ? 2
                                                                     : n);
  if (o.command == "api" && o.args.size() > 1) {
    auto body = json::parse(o.args[1], nullptr, false);
    if (body.is_discarded() || !body.is_object())
      throw usage_error("api: JSON must be a JSON object: " + o.args[1]);
  }
  if (o.command == "close-session" && o.args.empty() == !o.named.count("--filter"))
    throw usage_error("close-session: give either ID or --filter FILTER");
  if (o.command == "add-topic" && !o.named.count("--spec"))
    throw usage_error("add-topic: missing --spec JSON");
  if (o.command == "serve" && o.exec.empty())
    throw usage_error("serve: missing -- COMMAND...");
  if (o.command != "serve" && o.named.count("--stream"))
    throw usage_error(o.command + ": --stream is an option of serve");
  if (o.named.count("--session")
      && (o.command != "request" || o.named.count("--filter")
          || o.named.count("--content-type")))
    throw usage_error("--session is an option of request, without --filter and --content-type");
  if (o.command == "request" && o.named.count("--filter") && o.named.count("--content-type"))
    throw usage_error("request: --filter goes without --content-type");
  for (auto* name : {"--constraint", "--range"})
    if (o.named.count(name))
      json_option(o, name);
  count_option(o);
}

std::string help_text(const std::string& name) {
  if (auto* c = find(name))
    return std::string("usage: castor-cli [connection options] ") + c->synopsis + "\n\n"
           + c->text;
  std::string s = "usage: castor-cli [connection options] COMMAND [arguments]\n\n"
                  "Commands (castor-cli COMMAND --help for each):\n";
  for (auto& c : commands)
    s += std::string("  ") + c.synopsis + "\n";
  s += "\nConnection options:\n"
       "  -h HOST  -p PORT  -u USER  -P PASSWORD  -i CLIENT_ID  -k KEEP_ALIVE\n"
       "  -x SESSION_EXPIRY  -c (resume the session: no clean start)\n"
       "  --cafile FILE  --cert FILE  --key FILE  --tls  --insecure\n"
       "  --ws (MQTT over WebSocket; wss with TLS)  --ws-path PATH (default /mqtt)\n"
       "  -L URL: mqtt://, mqtts://, ws://, wss:// HOST[:PORT][/PATH]\n"
       "  -V 5 (the API is MQTT 5 only)  --timeout SECONDS (default 30)\n"
       "  --json: print the answers as JSON\n\n"
       "Exit codes: 0 ok, 1 error answer, 2 usage, 3 connection failed or lost,\n"
       "4 timeout, 5 the command of lock could not run. Errors are one line on\n"
       "stderr: `castor-cli: error CODE: message`.\n";
  return s;
}

json value_arg(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

int run_command(client& c, const options& o) {
  auto& cmd = o.command;
  if (cmd == "add-topic") {
    auto& path = arg(o, 0, "PATH");
    max_args(o, 1);
    if (!o.named.count("--spec"))
      throw usage_error("add-topic: missing --spec JSON");
    auto spec = value_arg(o.named.at("--spec"));
    print_answer(o, c.add_topic(path, spec).get());
  } else if (cmd == "remove") {
    auto& sel = arg(o, 0, "SELECTOR");
    max_args(o, 1);
    auto a = c.remove_topics(sel).get();
    if (o.json)
      print_answer(o, a);
    else
      std::cout << a.value("removed", 0) << std::endl;
  } else if (cmd == "fetch") {
    auto& sel = arg(o, 0, "SELECTOR");
    max_args(o, 1);
    json body{{"selector", sel}, {"values", !o.named.count("--no-values")}};
    if (o.named.count("--limit"))
      body["limit"] = std::stol(o.named.at("--limit"));
    auto a = c.request("topics/fetch", body).get();
    if (o.json) {
      print_answer(o, a);
    } else {
      for (auto& t : a["topics"]) {
        std::cout << t.value("path", "");
        if (t.contains("value"))
          std::cout << " " << t["value"].dump();
        std::cout << "\n";
      }
      std::cout.flush();
    }
  } else if (cmd == "subscribe") {
    return subscribe(c, o);
  } else if (cmd == "sessions") {
    json body{{"filter", o.args.empty() ? std::string{"all"} : o.args[0]}};
    if (o.named.count("--limit"))
      body["limit"] = std::stol(o.named.at("--limit"));
    auto a = c.request("sessions/list", body).get();
    if (o.json) {
      print_answer(o, a);
    } else {
      for (auto& s : a["sessions"]) {
        auto& p = s["properties"];
        std::cout << s.value("id", "") << " " << p.value("$ClientId", "") << " "
                  << p.value("$Connected", "") << " " << p.value("$Principal", "")
                  << "\n";
      }
      std::cout.flush();
    }
  } else if (cmd == "close-session") {
    json body = o.args.empty() ? json{{"filter", o.named.at("--filter")}}
                               : json{{"session", o.args[0]}};
    auto a = c.request("sessions/close", body).get();
    if (o.json)
      print_answer(o, a);
    else
      std::cout << a.value("closed", 0) << std::endl;
  } else if (cmd == "update") {
    auto& path = arg(o, 0, "PATH");
    auto& v = arg(o, 1, "VALUE");
    max_args(o, 2);
    print_answer(o, c.update(path, value_arg(v), constraint(o)).get());
  } else if (cmd == "patch") {
    auto& path = arg(o, 0, "PATH");
    auto p = json::parse(arg(o, 1, "PATCH"), nullptr, false);
    max_args(o, 2);
    if (p.is_discarded())
      throw usage_error("patch: PATCH is not JSON");
    print_answer(o, c.patch(path, p, constraint(o)).get());
  } else if (cmd == "ts-append") {
    auto& path = arg(o, 0, "PATH");
    auto& v = arg(o, 1, "VALUE");
    max_args(o, 2);
    auto a = c.ts_append(path, value_arg(v)).get();
    if (o.json)
      print_answer(o, a);
    else
      std::cout << a.value("seq", uint64_t{0}) << std::endl;
  } else if (cmd == "ts-range") {
    auto& path = arg(o, 0, "PATH");
    max_args(o, 1);
    json range = o.named.count("--range") ? json_option(o, "--range") : json::object();
    auto a = c.ts_range(path, range).get();
    if (o.json) {
      print_answer(o, a);
    } else {
      for (auto& e : a["events"])
        std::cout << e.dump() << "\n";
      std::cout.flush();
    }
  } else if (cmd == "lock") {
    return lock(c, o);
  } else if (cmd == "request" && (o.named.count("--session") || o.named.count("--filter"))) {
    return request_to_sessions(c, o);
  } else if (cmd == "request") {
    auto& path = arg(o, 0, "PATH");
    auto& v = arg(o, 1, "VALUE");
    max_args(o, 2);
    std::optional<std::string> ct;
    if (o.named.count("--content-type"))
      ct = o.named.at("--content-type");
    auto m = c.send_request(path, v, ct).get();
    if (o.json)
      std::cout << json{{"topic", m.topic}, {"payload", m.payload}}.dump() << std::endl;
    else
      std::cout << m.payload << std::endl;
  } else if (cmd == "serve") {
    return serve(c, o);
  } else if (cmd == "api") {
    auto body = o.args.size() > 1 ? json::parse(o.args[1]) : json::object();
    std::cout << c.request(o.args[0], body).get().dump() << std::endl;
  }
  return ok;
}

} // namespace castor::cli
