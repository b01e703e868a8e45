#pragma once

// The broker core as one object: the topic tree, the session registry and
// one listener per configured listener (tcp, tls, ws, wss), started and
// stopped together.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/store_records.hpp"
#include "actors/store_writer.hpp"
#include "actors/authenticator.hpp"
#include "actors/cluster_agent.hpp"
#include "actors/counters.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/registry.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/messaging.hpp"
#include "actors/missing_topics.hpp"
#include "actors/session.hpp"
#include "actors/session_directory.hpp"
#include "app/config.hpp"
#include "protocol/channel.hpp"
#include "security/rights_registry.hpp"
#include "security/transport.hpp"

namespace castor {

struct http_context;
struct cli_options;
class connection_context_slot;

/// The channel's options from the configuration (`listener_max_packet_size`
/// overrides mqtt.max_packet_size when non-zero).
mqtt::channel_options make_channel_options(const mqtt_config& cfg,
                                           uint32_t listener_max_packet_size
                                           = 0);

/// The transport layers of a listener: null for tcp; for tls and wss its
/// TLS context, built from the certificate, key and CA files (an error
/// names the listener and the file); for ws and wss the WebSocket settings
/// (`effective_max_packet_size` gives the default frame size limit).
std::variant<std::shared_ptr<const security::transport_options>, std::string>
make_transport_options(const listener_config& l,
                       uint32_t effective_max_packet_size);

/// The sessions' limits from the configuration.
session_config make_session_config(const mqtt_config& cfg);

/// The certificate field that names a TLS client's principal.
security::cert_principal to_cert_principal(tls_principal_from p);

class server {
public:
  struct endpoint {
    std::string name;
    std::string bind;
    uint16_t port;
    std::string transport;
  };

  /// `auth` comes from load_auth_settings(cfg.security); the default lets
  /// every client in with all rights.
  server(caf::actor_system& sys, config cfg, auth_settings auth = {});
  ~server();

  /// Spawns the actors and opens the listeners. Returns an error message if
  /// a listener cannot listen (everything started is stopped again).
  std::optional<std::string> start();

  /// Closes the listeners and their connections and ends every actor.
  void stop();

  /// Puts a reloaded configuration in effect without dropping a connection
  /// (app/server_reload.cpp): the log level and format, the security store
  /// (`auth.store`, through the store holder, so that connected sessions'
  /// rights follow it), the JWT keys, and the TLS certificates of the
  /// listeners (for new connections; open ones keep theirs), also
  /// shutdown_timeout_ms and memory_trim_interval_ms. What needs a restart
  /// (listeners, MQTT limits, other security settings) is logged as a
  /// warning and left as it is. `auth` comes from
  /// load_auth_settings(cfg.security). Returns why nothing was changed
  /// (a certificate that cannot be loaded), or nothing on success.
  std::optional<std::string> reload(const config& cfg, auth_settings auth);

  /// The configuration in effect (the one started with, with what reloads
  /// have changed).
  const config& configuration() const noexcept {
    return cfg_;
  }

  const std::vector<endpoint>& endpoints() const noexcept {
    return endpoints_;
  }

  const std::shared_ptr<broker_counters>& counters() const noexcept {
    return counters_;
  }

  registry_interface registry() const {
    return registry_;
  }
  topic_tree_interface tree() const {
    return tree_;
  }

private:
  caf::actor_system& sys_;
  config cfg_;
  auth_settings auth_;
  auth_chain_interface auth_chain_;
  std::shared_ptr<broker_counters> counters_;
  topic_tree_interface tree_;
  registry_interface registry_;
  locks_interface locks_;
  caf::actor timers_;
  /// The HTTP router (app/http_router.hpp) and what it reads.
  caf::actor http_;
  std::shared_ptr<http_context> http_ctx_;
  std::vector<caf::actor> listeners_;
  /// The context of each listener's new connections, by the index of its
  /// configuration (a reload swaps TLS contexts here).
  std::vector<std::shared_ptr<connection_context_slot>> slots_;
  std::vector<endpoint> endpoints_;
  /// The node agent when the server is part of a node group
  /// (app/server_cluster.cpp), and what it knows.
  caf::actor cluster_;
  cluster_view_ptr cluster_view_;
  cluster_routes_ptr routes_;
  caf::actor cluster_router_;
  /// This node's part of the group's client-id registry.
  caf::actor cluster_claims_;
  /// The keeper of the group's security store here (app/store_group.hpp;
  /// in a group with a store file).
  caf::actor store_group_;
  /// What survives a restart (app/server_storage.cpp; null when
  /// storage.enabled is false): the store, its writer, and what it read at
  /// startup, until the tree has it.
  std::shared_ptr<storage::store> store_;
  caf::actor store_writer_;
  std::shared_ptr<store_counters> store_counters_;
  std::shared_ptr<records::loaded> loaded_;
  bool stopped_ = false;

  /// Opens the store and reads it (the API's topics go into `mapping`,
  /// which tells the store of later changes); an error names the
  /// directory.
  std::optional<std::string> open_storage(const mapping_ptr& mapping);
  /// Hands the tree the topics' values read from the store, and waits
  /// until it has them (before the listeners open).
  void restore_topics();
  void restore_sessions(
      const std::shared_ptr<security::rights_registry>& rights,
      const mapping_ptr& mapping);
  /// Writes what the writer still holds, and ends it.
  void stop_storage();

  /// Publishes the node agent on the cluster port (when cluster.enabled).
  /// `sessions`: what the router lists for other members' sessions/list.
  std::optional<std::string>
  start_cluster(const session_directory_ptr& sessions,
                const mapping_ptr& mapping, const handlers_ptr& handlers,
                const missing_ptr& missing);
  /// Leaves the group and closes the cluster port.
  void stop_cluster();
};

/// The node agent's settings from the configuration: reads the secret file
/// (an error names it), and fills in the node name and advertised host.
std::variant<cluster_settings, std::string>
make_cluster_settings(const cluster_config& c);

/// This node's name in its group: cluster.node_name, or host:port.
std::string cluster_node_name(const cluster_config& c);

/// A reload as SIGHUP does it: reads the configuration as at startup
/// (resolve_config(opts): the file, then the command line), loads its
/// security settings and calls srv.reload(). Returns why nothing was
/// changed (the file, line and key as the loaders report them).
std::optional<std::string> reload_configuration(server& srv,
                                                const cli_options& opts);

} // namespace castor
