// A reload (SIGHUP) of the configuration file while the server runs: what
// can change without dropping a connection changes, the rest waits for a
// restart and says so in the log.

#include "app/server.hpp"

#include <functional>
#include <sstream>
#include <utility>

#include <caf/all.hpp>

#include "app/cli.hpp"
#include "app/listener.hpp"
#include "security/store_edit.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

bool has_jwt(const jwt_config& j) {
  return !j.hs256_secret_file.empty() || !j.rs256_public_key_file.empty();
}

/// `cfg` with everything a reload applies taken from `applied`, so that
/// comparing the result with `applied` shows only what needs a restart.
config with_reloadable(config cfg, const config& applied) {
  cfg.log = applied.log;
  cfg.log_fmt = applied.log_fmt;
  cfg.shutdown_timeout_ms = applied.shutdown_timeout_ms;
  cfg.memory_trim_interval_ms = applied.memory_trim_interval_ms;
  for (auto& l : cfg.listeners)
    for (auto& a : applied.listeners)
      if (a.name == l.name && a.transport == l.transport)
        l.tls = a.tls;
  if (has_jwt(cfg.security.jwt) && has_jwt(applied.security.jwt))
    cfg.security.jwt = applied.security.jwt;
  cfg.source = applied.source;
  return cfg;
}

/// The parts of `wanted` that differ from `running` and that a reload does
/// not apply, by their keys ("listeners", "mqtt", "security.anonymous").
std::vector<std::string> needs_restart(const config& running,
                                       const config& wanted) {
  using copy_fn = std::function<void(config&, const config&)>;
  auto sec = [](auto member) -> copy_fn {
    return [member](config& to, const config& from) {
      to.security.*member = from.security.*member;
    };
  };
  const std::vector<std::pair<const char*, copy_fn>> parts{
      {"listeners",
       [](config& to, const config& from) { to.listeners = from.listeners; }},
      {"mqtt", [](config& to, const config& from) { to.mqtt = from.mqtt; }},
      {"topics",
       [](config& to, const config& from) { to.topics = from.topics; }},
      {"messaging",
       [](config& to, const config& from) { to.messaging = from.messaging; }},
      {"cluster",
       [](config& to, const config& from) { to.cluster = from.cluster; }},
      {"storage",
       [](config& to, const config& from) { to.storage = from.storage; }},
      {"scheduler_threads",
       [](config& to, const config& from) {
         to.scheduler_threads = from.scheduler_threads;
       }},
      {"actor_placement",
       [](config& to, const config& from) { to.placement = from.placement; }},
      {"security.store_file", sec(&security_config::store_file)},
      {"security.anonymous", sec(&security_config::anonymous)},
      {"security.anonymous_roles", sec(&security_config::anonymous_roles)},
      {"security.jwt", sec(&security_config::jwt)},
      {"security.failed_login_*",
       [](config& to, const config& from) {
         auto& t = to.security;
         auto& f = from.security;
         t.failed_login_threshold = f.failed_login_threshold;
         t.failed_login_address_threshold = f.failed_login_address_threshold;
         t.failed_login_delay_ms = f.failed_login_delay_ms;
         t.failed_login_max_delay_ms = f.failed_login_max_delay_ms;
         t.failed_login_rate_per_minute = f.failed_login_rate_per_minute;
       }},
      {"security.hash_threads*",
       [](config& to, const config& from) {
         to.security.hash_threads = from.security.hash_threads;
         to.security.hash_threads_priority
             = from.security.hash_threads_priority;
         to.security.hash_queue_limit = from.security.hash_queue_limit;
       }},
      {"security.stand_in_secret_file",
       sec(&security_config::stand_in_secret_file)},
      {"security.foreign_session", sec(&security_config::foreign_session)},
  };
  auto normal = with_reloadable(wanted, running);
  auto base = to_yaml(running);
  std::vector<std::string> out;
  if (to_yaml(normal) == base)
    return out;
  for (auto& [key, copy] : parts) {
    auto probe = running;
    copy(probe, normal);
    if (to_yaml(probe) != base)
      out.emplace_back(key);
  }
  if (out.empty())
    out.emplace_back("other settings");
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (auto& i : items) {
    if (!out.empty())
      out += ", ";
    out += i;
  }
  return out;
}

} // namespace

std::optional<std::string> server::reload(const config& cfg,
                                          auth_settings auth) {
  if (stopped_ || !tree_ || slots_.size() != cfg_.listeners.size())
    return "the server is not running";
  // Everything that can fail is built before anything is put in effect:
  // a reload with an error changes nothing.
  struct tls_swap {
    size_t index;
    connection_context_ptr ctx;
    listener_tls_config tls;
  };
  std::vector<tls_swap> swaps;
  for (size_t i = 0; i < cfg_.listeners.size(); ++i) {
    const auto& running = cfg_.listeners[i];
    auto kind = security::transport_kind_of(running.transport);
    if (!kind || !security::uses_tls(*kind))
      continue;
    // The listener keeps its place; the certificate, key, CA files and
    // client certificate settings come from the reloaded file when it
    // still has the listener.
    auto effective = running;
    for (auto& l : cfg.listeners)
      if (l.name == running.name && l.transport == running.transport)
        effective.tls = l.tls;
    auto opts = make_channel_options(cfg_.mqtt, running.max_packet_size);
    auto made = make_transport_options(effective, opts.max_packet_size);
    if (auto err = std::get_if<std::string>(&made))
      return *err;
    auto ctx = std::make_shared<connection_context>(*slots_[i]->get());
    ctx->transport
        = std::get<std::shared_ptr<const security::transport_options>>(
            std::move(made));
    ctx->principal_from = to_cert_principal(effective.tls.principal_from);
    swaps.push_back(tls_swap{i, std::move(ctx), effective.tls});
  }
  auto restart = needs_restart(cfg_, cfg);
  // Put in effect.
  std::ostringstream done;
  log::set_level(cfg.log);
  log::set_format(cfg.log_fmt);
  done << "log level " << log::to_string(cfg.log) << ", log format "
       << (cfg.log_fmt == log_format::json ? "json" : "text");
  cfg_.log = cfg.log;
  cfg_.log_fmt = cfg.log_fmt;
  cfg_.shutdown_timeout_ms = cfg.shutdown_timeout_ms;
  cfg_.memory_trim_interval_ms = cfg.memory_trim_interval_ms;
  if (auth_.store_state && auth.store) {
    // The holder passes the new store on to the rights of every connected
    // session; new logins use it at once.
    auth_.store_state->replace(auth.store);
    // In a group, the reloaded file is the group's store from now on
    // (app/store_group.hpp).
    if (store_group_)
      caf::anon_send(store_group_, update_atom::value,
                     security::to_yaml(security::doc_of(*auth.store)));
    done << ", security store " << cfg_.security.store_file << " ("
         << auth.store->principals().size() << " principals, "
         << auth.store->roles().size() << " roles)";
  }
  if (auth_.jwt_state && auth.jwt) {
    auth_.jwt_state->replace(auth.jwt);
    cfg_.security.jwt = cfg.security.jwt;
    done << ", JWT keys";
  }
  if (!swaps.empty()) {
    done << ", TLS certificates of listener" << (swaps.size() > 1 ? "s " : " ");
    for (size_t i = 0; i < swaps.size(); ++i) {
      auto& s = swaps[i];
      slots_[s.index]->replace(std::move(s.ctx));
      cfg_.listeners[s.index].tls = s.tls;
      done << (i > 0 ? ", " : "") << cfg_.listeners[s.index].name;
    }
  }
  CASTOR_LOG(info, "server", "configuration reloaded: " << done.str());
  if (!restart.empty())
    CASTOR_LOG(warning, "server",
               "changed settings that a reload does not apply (restart to "
               "apply them): "
                   << joined(restart));
  return std::nullopt;
}

std::optional<std::string> reload_configuration(server& srv,
                                                const cli_options& opts) {
  auto loaded = resolve_config(opts);
  if (auto err = std::get_if<config_error>(&loaded))
    return err->to_string();
  auto cfg = std::get<config>(std::move(loaded));
  // The store is read from the file the server runs with: the REST API
  // saves its edits there, and a server without a store has no
  // authenticators to take one. Another file needs a restart.
  const auto& running = srv.configuration().security.store_file;
  if (cfg.security.store_file != running) {
    CASTOR_LOG(warning, "server",
               "security.store_file changed from '"
                   << running << "' to '" << cfg.security.store_file
                   << "': restart to apply; reloading '" << running << "'");
    cfg.security.store_file = running;
  }
  auto security = load_auth_settings(cfg.security);
  if (auto err = std::get_if<std::string>(&security))
    return *err;
  return srv.reload(cfg, std::get<auth_settings>(std::move(security)));
}

} // namespace castor
