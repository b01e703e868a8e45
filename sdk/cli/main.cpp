// castor-cli: option parsing, connecting, and the exit codes of errors.

#include "cli.hpp"

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <iostream>

namespace castor::cli {

namespace {

// Options of subcommands that take a value.
const char* const valued[] = {"--spec", "--constraint", "-C", "--wait-ms", "--limit",
                              "--range", "--type", "--timeout", "--content-type",
                              "--filter", "--session"};

void fail(const char* what, const std::string& text) {
  std::fprintf(stderr, "castor-cli: %s: %s\n", what, text.c_str());
}

// -L URL: mqtt://, mqtts://, ws://, wss:// HOST[:PORT][/PATH] (the path of
// a WebSocket upgrade; default ports 1883, 8883, 80, 443).
void parse_url(const std::string& url, castor::connect_options& c) {
  auto sep = url.find("://");
  if (sep == std::string::npos)
    throw usage_error("-L " + url + ": not a URL (mqtt://, mqtts://, ws://, wss://)");
  auto scheme = url.substr(0, sep);
  uint16_t port;
  if (scheme == "mqtt") {
    port = 1883;
  } else if (scheme == "mqtts") {
    c.tls.enabled = true;
    port = 8883;
  } else if (scheme == "ws") {
    c.transport = castor::transport_kind::websocket;
    port = 80;
  } else if (scheme == "wss") {
    c.transport = castor::transport_kind::websocket;
    c.tls.enabled = true;
    port = 443;
  } else {
    throw usage_error("-L " + url + ": unknown scheme " + scheme);
  }
  auto rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  if (slash != std::string::npos) {
    if (c.transport != castor::transport_kind::websocket && rest.size() > slash + 1)
      throw usage_error("-L " + url + ": a path needs ws:// or wss://");
    c.ws_path = rest.substr(slash);
  }
  std::string host = hostport;
  auto colon = hostport.rfind(':');
  if (!hostport.empty() && hostport[0] == '[') { // [IPv6]:port
    auto close = hostport.find(']');
    if (close == std::string::npos)
      throw usage_error("-L " + url + ": bad host");
    host = hostport.substr(1, close - 1);
    colon = hostport.size() > close + 1 && hostport[close + 1] == ':' ? close + 1
                                                                       : std::string::npos;
  } else if (colon != std::string::npos) {
    host = hostport.substr(0, colon);
  }
  if (colon != std::string::npos) {
    auto p = hostport.substr(colon + 1);
    char* end = nullptr;
    auto n = std::strtoul(p.c_str(), &end, 10);
    if (p.empty() || *end || n == 0 || n > 65535)
      throw usage_error("-L " + url + ": not a port: " + p);
    port = static_cast<uint16_t>(n);
  }
  if (host.empty())
    throw usage_error("-L " + url + ": no host");
  c.host = host;
  c.port = port;
}

options parse(int argc, char** argv) {
  options o;
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc)
      throw usage_error(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i)
        o.exec.push_back(argv[i]);
      break;
    }
    if (a == "--help") {
      o.help = true;
    } else if (a == "-h") {
      o.conn.host = need(i);
    } else if (a == "-p") {
      auto v = need(i);
      try {
        auto n = std::stoul(v);
        if (n == 0 || n > 65535)
          throw usage_error("");
        o.conn.port = static_cast<uint16_t>(n);
      } catch (...) {
        throw usage_error("-p: not a port: " + v);
      }
    } else if (a == "-u") {
      o.conn.username = need(i);
    } else if (a == "-P") {
      o.conn.password = need(i);
    } else if (a == "-i") {
      o.conn.client_id = need(i);
    } else if (a == "-k") {
      o.conn.keep_alive = static_cast<uint16_t>(std::stoul(need(i)));
    } else if (a == "-x") {
      o.conn.session_expiry = static_cast<uint32_t>(std::stoul(need(i)));
    } else if (a == "-c") {
      o.conn.clean_start = false;
    } else if (a == "-V") {
      auto v = need(i);
      if (v != "5" && v != "mqttv5")
        throw usage_error("-V " + v + ": the API needs MQTT 5 (-V 5)");
    } else if (a == "--cafile") {
      o.conn.tls.enabled = true;
      o.conn.tls.ca_file = need(i);
    } else if (a == "--cert") {
      o.conn.tls.enabled = true;
      o.conn.tls.cert_file = need(i);
    } else if (a == "--key") {
      o.conn.tls.enabled = true;
      o.conn.tls.key_file = need(i);
    } else if (a == "--ws") {
      o.conn.transport = castor::transport_kind::websocket;
    } else if (a == "--ws-path") {
      o.conn.transport = castor::transport_kind::websocket;
      o.conn.ws_path = need(i);
    } else if (a == "-L" || a == "--url") {
      parse_url(need(i), o.conn);
    } else if (a == "--tls") {
      o.conn.tls.enabled = true;
    } else if (a == "--insecure") {
      o.conn.tls.verify_peer = false;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--no-values" || a == "--release" || a == "--stream") {
      o.named[a] = "1";
    } else if (std::find(std::begin(valued), std::end(valued), a) != std::end(valued)) {
      o.named[a] = need(i);
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      throw usage_error("unknown option " + a);
    } else if (o.command.empty()) {
      o.command = a;
    } else {
      o.args.push_back(a);
    }
  }
  if (auto t = o.named.find("--timeout"); t != o.named.end())
    o.conn.request_timeout = std::chrono::milliseconds(
        static_cast<long>(std::stod(t->second) * 1000));
  else
    o.conn.request_timeout = std::chrono::seconds(30);
  o.conn.connect_timeout = std::chrono::seconds(10);
  return o;
}

} // namespace

} // namespace castor::cli

int main(int argc, char** argv) {
  using namespace castor::cli;
  options o;
  try {
    o = parse(argc, argv);
    if (o.help || o.command.empty()) {
      std::cout << help_text(o.help ? o.command : "");
      return o.help ? ok : usage;
    }
    if (!known_command(o.command))
      throw usage_error("unknown command " + o.command + " (castor-cli --help)");
    check_usage(o);
  } catch (const usage_error& e) {
    fail("usage", e.what());
    return usage;
  } catch (const std::exception& e) {
    fail("usage", e.what());
    return usage;
  }
  // One-shot commands fail when the connection is lost; streams and
  // servers reconnect and resume.
  bool stream = o.command == "subscribe" || o.command == "serve";
  o.conn.reconnect.enabled = stream;
  castor::client c;
  try {
    c.connect(o.conn);
  } catch (const std::exception& e) {
    fail("connection failed", e.what());
    return connection_failed;
  }
  int rc;
  try {
    rc = run_command(c, o);
  } catch (const usage_error& e) {
    fail("usage", e.what());
    rc = usage;
  } catch (const castor::error& e) {
    std::fprintf(stderr, "castor-cli: error %s: %s\n", e.code().c_str(),
                 e.message().c_str());
    if (e.code() == "TIMEOUT")
      rc = timeout;
    else if (e.code() == "CONNECTION_LOST" || e.code() == "DISCONNECTED")
      rc = connection_failed;
    else
      rc = error_answer;
  } catch (const std::exception& e) {
    fail("error", e.what());
    rc = error_answer;
  }
  c.disconnect();
  return rc;
}
