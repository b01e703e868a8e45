#include "app/backup_command.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string_view>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "security/crypto.hpp"

namespace castor {

namespace {

constexpr std::string_view backup_usage
    = "Usage: castor backup DIR [--url http://HOST:PORT] [--user NAME]\n"
      "\n"
      "Asks the server listening at URL (default http://127.0.0.1:8080, an\n"
      "http listener with the REST API) to write a consistent copy of its\n"
      "store to DIR, which must not exist yet; DIR is on the server's machine\n"
      "(a relative DIR is taken from the current directory). The principal\n"
      "(--user, or CASTOR_USER) needs CONTROL_SERVER; its password is read\n"
      "from CASTOR_PASSWORD. The copy is a data directory: point\n"
      "storage.data_dir at it to restore it (docs/persistence.md).\n";

struct endpoint {
  std::string host;
  std::string port;
};

/// "http://host:port" (a trailing slash allowed); nothing if it is not one.
std::optional<endpoint> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme)
    return std::nullopt;
  url.remove_prefix(scheme.size());
  if (!url.empty() && url.back() == '/')
    url.remove_suffix(1);
  endpoint e;
  if (!url.empty() && url.front() == '[') { // [::1]:8080
    auto close = url.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    e.host = std::string{url.substr(1, close - 1)};
    url.remove_prefix(close + 1);
    if (url.empty() || url.front() != ':')
      return std::nullopt;
    e.port = std::string{url.substr(1)};
  } else {
    auto colon = url.rfind(':');
    if (colon == std::string_view::npos)
      return std::nullopt;
    e.host = std::string{url.substr(0, colon)};
    e.port = std::string{url.substr(colon + 1)};
  }
  if (e.host.empty() || e.port.empty()
      || e.port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return e;
}

/// One HTTP/1.1 request, the connection closed after it: the status code
/// and the body of the answer, or an error message (status 0).
std::pair<int, std::string> post(const endpoint& e, const std::string& path,
                                 const std::string& auth,
                                 const std::string& body) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (auto rc = getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &res);
      rc != 0)
    return {0, e.host + ": " + gai_strerror(rc)};
  int fd = -1;
  for (auto* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    return {0, "cannot connect to " + e.host + ":" + e.port};
  timeval tv{120, 0}; // a backup of a large store takes a while
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + e.host + ":"
                    + e.port + "\r\nContent-Type: application/json\r\n";
  if (!auth.empty())
    req += "Authorization: Basic " + auth + "\r\n";
  req += "Content-Length: " + std::to_string(body.size())
         + "\r\nConnection: close\r\n\r\n" + body;
  for (size_t sent = 0; sent < req.size();) {
    auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return {0, "the connection to the server broke"};
    }
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > (1u << 20))
      break;
  }
  ::close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" (the server sends Content-Length
  // and closes: the body is the rest).
  auto head_end = in.find("\r\n\r\n");
  if (in.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos
      || in.size() < 12)
    return {0, "no HTTP answer from " + e.host + ":" + e.port};
  int status = std::atoi(in.c_str() + in.find(' ') + 1);
  return {status, in.substr(head_end + 4)};
}

} // namespace

int run_backup(const std::vector<std::string>& args) {
  std::string dir;
  std::string url = "http://127.0.0.1:8080";
  std::string user;
  if (auto u = std::getenv("CASTOR_USER"))
    user = u;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& arg = args[i];
    auto value = [&](std::string_view name, std::string& out) {
      if (arg == name && i + 1 < args.size()) {
        out = args[++i];
        return true;
      }
      if (arg.rfind(std::string{name} + "=", 0) == 0) {
        out = arg.substr(name.size() + 1);
        return true;
      }
      return false;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << backup_usage;
      return 0;
    }
    if (value("--url", url) || value("--user", user))
      continue;
    if (!arg.empty() && arg.front() != '-' && dir.empty()) {
      dir = arg;
      continue;
    }
    std::cerr << "castor backup: unknown or incomplete argument '" << arg
              << "'\n"
              << backup_usage;
    return 2;
  }
  if (dir.empty()) {
    std::cerr << "castor backup: the directory to write is missing\n"
              << backup_usage;
    return 2;
  }
  auto e = parse_url(url);
  if (!e) {
    std::cerr << "castor backup: --url " << url
              << ": expected http://HOST:PORT\n";
    return 2;
  }
  std::error_code ec;
  auto abs = std::filesystem::absolute(dir, ec);
  if (ec) {
    std::cerr << "castor backup: " << dir << ": " << ec.message() << '\n';
    return 2;
  }
  std::string auth;
  if (!user.empty()) {
    auto pw = std::getenv("CASTOR_PASSWORD");
    auth = security::base64_encode(user + ":" + (pw ? pw : ""));
  }
  auto body = nlohmann::json{{"dir", abs.lexically_normal().string()}}.dump();
  auto [status, answer] = post(*e, "/api/v1/backup", auth, body);
  if (status == 0) {
    std::cerr << "castor backup: " << answer << '\n';
    return 1;
  }
  auto j = nlohmann::json::parse(answer, nullptr, false);
  if (status == 200 && j.is_object() && j.value("ok", false)) {
    std::cout << "backup written to " << j.value("dir", std::string{}) << '\n';
    return 0;
  }
  std::string why = answer;
  if (j.is_object() && j.contains("error") && j["error"].is_object())
    why = j["error"].value("code", std::string{}) + ": "
          + j["error"].value("message", std::string{});
  std::cerr << "castor backup: the server refused (HTTP " << status
            << "): " << why << '\n';
  return 1;
}

} // namespace castor
