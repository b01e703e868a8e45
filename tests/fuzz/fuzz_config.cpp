// Fuzzes the YAML configuration loader (app/config): any text either loads
// or is refused with an error naming the file, the line and the key; the
// loader never throws or crashes.
//
// Input: the configuration text. A loaded configuration is checked against
// the documented bounds, written back with to_yaml() and loaded again: the
// second load must succeed and write the same text (nothing is lost or
// changed by a round trip).

#include "app/config.hpp"

#include <string>

#include "fuzz_check.hpp"

using namespace castor;

namespace {

const std::string name = "fuzz.yaml";

void check_bounds(const config& cfg) {
  FUZZ_CHECK(!cfg.listeners.empty());
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    auto& l = cfg.listeners[i];
    FUZZ_CHECK(!l.name.empty() && !l.bind.empty() && l.port != 0);
    FUZZ_CHECK(l.transport == "tcp" || l.transport == "tls"
               || l.transport == "ws" || l.transport == "wss"
               || l.transport == "http" || l.transport == "https");
    FUZZ_CHECK(l.max_packet_size == 0
               || (l.max_packet_size >= 64 && l.max_packet_size <= 268435460));
    bool tls = l.transport == "tls" || l.transport == "wss"
               || l.transport == "https";
    if (tls)
      FUZZ_CHECK(!l.tls.cert_file.empty() && !l.tls.key_file.empty());
    else
      FUZZ_CHECK(l.tls.cert_file.empty() && l.tls.key_file.empty()
                 && l.tls.ca_file.empty());
    if (l.tls.verify_client != tls_verify_client::none)
      FUZZ_CHECK(!l.tls.ca_file.empty());
    FUZZ_CHECK(!l.websocket.path.empty() && l.websocket.path[0] == '/');
    for (size_t j = 0; j < i; ++j)
      FUZZ_CHECK(cfg.listeners[j].name != l.name
                 && cfg.listeners[j].port != l.port);
  }
  auto& m = cfg.mqtt;
  FUZZ_CHECK(m.max_packet_size >= 64 && m.max_packet_size <= 268435460);
  FUZZ_CHECK(m.receive_maximum >= 1 && m.max_keep_alive >= 1);
  FUZZ_CHECK(m.maximum_qos <= 2);
  FUZZ_CHECK(m.connect_timeout_ms >= 1 && m.max_queued_messages >= 1);
  FUZZ_CHECK(cfg.scheduler_threads <= 1024);
  FUZZ_CHECK(cfg.security.jwt.leeway_seconds <= 86400);
  FUZZ_CHECK(!cfg.security.jwt.roles_claim.empty());
  for (auto& r : cfg.security.anonymous_roles)
    FUZZ_CHECK(!r.empty() && r.find_first_of(" \t") == std::string::npos);
  FUZZ_CHECK(cfg.source == name);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto result = parse_config(text, name);
  if (auto err = std::get_if<config_error>(&result)) {
    FUZZ_CHECK(err->file == name);
    FUZZ_CHECK(!err->message.empty());
    // The line is in the text (or one past its end, for a missing value).
    size_t lines = 1;
    for (char c : text)
      lines += c == '\n' || c == '\r' ? 1 : 0;
    FUZZ_CHECK(err->line >= 0 && static_cast<size_t>(err->line) <= lines + 1);
    auto shown = err->to_string();
    FUZZ_CHECK(shown.rfind(name, 0) == 0);
    return 0;
  }
  auto& cfg = std::get<config>(result);
  check_bounds(cfg);
  auto yaml = to_yaml(cfg);
  auto again = parse_config(yaml, name);
  if (auto err = std::get_if<config_error>(&again)) {
    std::fprintf(stderr, "written:\n%s\nrefused: %s\n", yaml.c_str(),
                 err->to_string().c_str());
    FUZZ_CHECK(!"the written configuration loads again");
  }
  auto yaml2 = to_yaml(std::get<config>(again));
  if (yaml2 != yaml) {
    std::fprintf(stderr, "first:\n%s\nsecond:\n%s\n", yaml.c_str(),
                 yaml2.c_str());
    FUZZ_CHECK(!"a round trip keeps the configuration");
  }
  return 0;
}
