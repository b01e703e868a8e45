#include "app/server.hpp"

#include "app/http_router.hpp"

#include <chrono>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/broker_exit.hpp"
#include "actors/locks.hpp"
#include "actors/timer_wheel.hpp"
#include "actors/cluster_claims.hpp"
#include "actors/session_registry.hpp"
#include "actors/topic_tree.hpp"
#include "app/listener.hpp"
#include "log/log.hpp"

namespace castor {

mqtt::channel_options make_channel_options(const mqtt_config& c,
                                           uint32_t listener_max) {
  mqtt::channel_options o;
  o.max_packet_size = listener_max != 0 ? listener_max : c.max_packet_size;
  o.receive_maximum = c.receive_maximum;
  o.topic_alias_maximum = c.topic_alias_maximum;
  o.max_keep_alive = c.max_keep_alive;
  o.max_session_expiry = c.max_session_expiry;
  o.maximum_qos = c.maximum_qos;
  o.retain_available = c.retain_available;
  o.wildcard_subscription_available = c.wildcard_subscription_available;
  o.subscription_identifier_available = c.subscription_identifier_available;
  o.shared_subscription_available = c.shared_subscription_available;
  o.allow_empty_client_id = c.allow_empty_client_id;
  return o;
}

std::variant<std::shared_ptr<const security::transport_options>, std::string>
make_transport_options(const listener_config& l,
                       uint32_t effective_max_packet_size) {
  using namespace security;
  auto kind = transport_kind_of(l.transport);
  if (!kind)
    return "listener " + l.name + ": unsupported transport '" + l.transport
           + "'";
  if (*kind == transport_kind::tcp)
    return std::shared_ptr<const transport_options>{};
  auto o = std::make_shared<transport_options>();
  o->kind = *kind;
  if (uses_tls(*kind)) {
    tls_options t;
    t.cert_chain_file = l.tls.cert_file;
    t.key_file = l.tls.key_file;
    t.ca_file = l.tls.ca_file;
    switch (l.tls.verify_client) {
    case tls_verify_client::none:
      t.verify = verify_mode::none;
      break;
    case tls_verify_client::optional:
      t.verify = verify_mode::optional;
      break;
    case tls_verify_client::required:
      t.verify = verify_mode::required;
      break;
    }
    auto ctx = tls_context::make_server(t);
    if (auto err = std::get_if<std::string>(&ctx))
      return "listener " + l.name + ": TLS: " + *err;
    o->tls = std::make_shared<const tls_context>(
        std::get<tls_context>(std::move(ctx)));
  }
  if (uses_websocket(*kind)) {
    o->handshake.path = l.websocket.path;
    o->handshake.serve_http = serves_http(*kind);
    o->websocket.max_message_size
        = l.websocket.max_frame_size != 0
              ? l.websocket.max_frame_size
              : uint64_t{effective_max_packet_size} + 1024;
  }
  return std::shared_ptr<const transport_options>{std::move(o)};
}

security::cert_principal to_cert_principal(tls_principal_from p) {
  switch (p) {
  case tls_principal_from::cn:
    break;
  case tls_principal_from::subject:
    return security::cert_principal::subject;
  case tls_principal_from::dns:
    return security::cert_principal::dns;
  case tls_principal_from::email:
    return security::cert_principal::email;
  case tls_principal_from::uri:
    return security::cert_principal::uri;
  }
  return security::cert_principal::common_name;
}

session_config make_session_config(const mqtt_config& c) {
  session_config s;
  s.limits.max_queued = c.max_queued_messages;
  s.limits.overflow = c.queue_full == queue_full_policy::drop_newest
                          ? mqtt::overflow_policy::drop_newest
                          : mqtt::overflow_policy::drop_oldest;
  s.max_subscriptions = c.max_subscriptions_per_client;
  // What a session hands its connection beyond the bytes the connection
  // has written: as much as the connection buffers before it pauses.
  s.limits.max_unwritten_bytes = c.max_outbound_bytes;
  return s;
}

server::server(caf::actor_system& sys, config cfg, auth_settings auth)
    : sys_(sys), cfg_(std::move(cfg)), auth_(std::move(auth)),
      counters_(std::make_shared<broker_counters>()) {
  // nop
}

server::~server() {
  stop();
}

std::optional<std::string> server::start() {
  // TLS contexts (certificates, keys, CAs) are loaded and checked before
  // anything starts; one per listener, shared by its connections.
  std::vector<std::shared_ptr<const security::transport_options>> transports;
  for (auto& l : cfg_.listeners) {
    auto opts = make_channel_options(cfg_.mqtt, l.max_packet_size);
    auto t = make_transport_options(l, opts.max_packet_size);
    if (auto err = std::get_if<std::string>(&t))
      return *err;
    transports.push_back(
        std::get<std::shared_ptr<const security::transport_options>>(
            std::move(t)));
  }
  // Sessions and topics on the I/O thread exchange messages with the
  // connections without waking another thread (docs/performance.md).
  bool io = cfg_.actors_on_io_thread();
  // Timers of everything on the I/O thread (actors/timer_wheel.hpp).
  timers_ = sys_.middleman().spawn_broker(timer_wheel,
                                          std::chrono::milliseconds{50});
  auto scfg = make_session_config(cfg_.mqtt);
  scfg.on_io_thread = io;
  scfg.timers = timers_;
  drain_mailbox_on_exit(timers_);
  // The payload mapping (rules, and the topics the API adds), shared by
  // every connection and topic.
  auto mapping = std::make_shared<topic_mapping>(cfg_.topics.mapping);
  // What survives a restart: read before anything runs (the API's topics
  // go into the mapping here).
  if (auto err = open_storage(mapping)) {
    caf::anon_send_exit(timers_, caf::exit_reason::user_shutdown);
    return err;
  }
  auto retained = std::make_shared<retained_budget>();
  retained->max_messages = cfg_.mqtt.max_retained_messages;
  retained->max_bytes = cfg_.mqtt.max_retained_bytes;
  store_link_ptr store;
  if (store_writer_)
    store = std::make_shared<const store_link>(store_link{
        store_writer_, cfg_.storage.durability == durability_mode::sync});
  scfg.store = store;
  // The sessions the API lists and closes (actors/session_directory.hpp),
  // also asked by removal policies (`no session has`).
  auto sessions = std::make_shared<session_directory>();
  // The missing-topic handlers clients register (actors/missing_topics.hpp),
  // shared by the tree and every listener's connections.
  auto missing = std::make_shared<missing_topics>();
  missing->request_timeout_ms = cfg_.messaging.request_timeout_ms;
  // In a node group, the route table the tree and its topics share with
  // the node agent (actors/cluster_routes.hpp).
  if (cfg_.cluster.enabled) {
    routes_ = std::make_shared<cluster_routes>();
    routes_->self_node = cluster_node_name(cfg_.cluster);
    // Its part of the group's client-id registry, which every CONNECT asks
    // first (actors/cluster_claims.hpp).
    cluster_claims_ = spawn_cluster_claims(
        sys_, routes_, sessions,
        auth_.foreign_session == foreign_session_policy::refuse);
  }
  auto routes = routes_;
  if (io) {
    auto tree = sys_.middleman().spawn_broker(
        [sessions, routes, store, retained](topic_tree_broker_type* t,
                                            caf::actor timers, mapping_ptr m,
                                            missing_ptr mt) {
          t->state.sessions = sessions;
          t->state.routes = routes;
          t->state.store = store;
          t->state.retained = retained;
          return topic_tree_broker(t, std::move(timers), std::move(m),
                                   std::move(mt));
        },
        timers_, mapping, missing);
    drain_mailbox_on_exit(tree);
    tree_ = caf::actor_cast<topic_tree_interface>(std::move(tree));
  } else {
    tree_ = caf::actor_cast<topic_tree_interface>(sys_.spawn(
        [sessions, routes, store, retained](topic_tree_actor* t, mapping_ptr m,
                                            missing_ptr mt) {
          t->state.sessions = sessions;
          t->state.routes = routes;
          t->state.store = store;
          t->state.retained = retained;
          return topic_tree(t, std::move(m), std::move(mt));
        },
        mapping, missing));
  }
  // The registry is bookkeeping for every CONNECT: beside the connections
  // in either placement, so that opening a session without an actor of its
  // own wakes no other thread. It spawns sessions where `scfg` says.
  // The session locks of the API (actors/locks.hpp): the registry tells
  // them when a session ends.
  // The topics' values as the store kept them, in the tree before any
  // client or member can ask for them.
  restore_topics();
  locks_ = spawn_locks(sys_, tree_, routes_);
  registry_options ropts;
  ropts.foreign_session = auth_.foreign_session;
  ropts.locks = locks_;
  ropts.sessions = sessions;
  missing->sessions = sessions;
  ropts.counters = counters_;
  ropts.claims = cluster_claims_;
  scfg.claims = cluster_claims_;
  auto registry = sys_.middleman().spawn_broker(session_registry_broker, tree_,
                                                scfg, std::move(ropts));
  drain_mailbox_on_exit(registry);
  if (cluster_claims_)
    caf::anon_send(cluster_claims_, claim_atom::value, registry,
                   caf::actor_cast<caf::actor>(tree_));
  registry_ = caf::actor_cast<registry_interface>(std::move(registry));
  if (cfg_.mqtt.topic_idle_timeout_ms > 0)
    caf::anon_send(tree_, gc_config_atom::value,
                   cfg_.mqtt.topic_idle_timeout_ms);
  // Without a store, tokens or a refusal of anonymous clients everybody is
  // let in: connections then skip the authenticator chain.
  bool auth_required
      = auth_.store || auth_.jwt || auth_.anonymous != anonymous_policy::allow;
  bool any_requires_auth = false;
  for (auto& l : cfg_.listeners)
    any_requires_auth = any_requires_auth || l.require_auth;
  if (auth_required || any_requires_auth)
    auth_chain_ = spawn_authenticators(sys_, auth_, counters_);
  // One rights object per principal, shared by its connections, sessions
  // and subscriptions (security/rights_registry.hpp).
  std::shared_ptr<security::rights_registry> rights;
  if (auth_.store) {
    rights = std::make_shared<security::rights_registry>(auth_.store);
    // Rights that shrink take away the subscriptions they no longer allow:
    // the registry tells the sessions concerned to check theirs (held
    // weakly: the rights may outlive the registry at shutdown).
    rights->on_change([weak = caf::actor_cast<caf::weak_actor_ptr>(registry_)](
                          const std::optional<std::string>& principal) {
      auto reg = caf::actor_cast<registry_interface>(weak.lock());
      if (!reg)
        return;
      if (principal)
        caf::anon_send(reg, revoke_atom::value, *principal);
      else
        caf::anon_send(reg, revoke_atom::value);
    });
  }
  // Edits of the store (REST API) and reloads swap it through the holder,
  // which passes the new store on to the rights of connected sessions.
  if (auth_.store_state)
    auth_.store_state->set_rights(rights);
  // Persistent sessions as the store kept them, back before any client
  // connects (docs/persistence.md).
  restore_sessions(rights, mapping);
  caf::scoped_actor self{sys_};
  // One gate for every listener's connections: they all run on the I/O
  // thread, and a subscription is in force for every publish read after it.
  auto gate = std::make_shared<subscription_gate>();
  // The message handlers clients register (actors/messaging.hpp), shared
  // by every listener's connections.
  auto handlers = std::make_shared<handlers_table>();
  // The HTTP router answers ordinary HTTP requests of http and https
  // listeners: metrics, health, the REST API and the console.
  http_ctx_ = std::make_shared<http_context>();
  {
    auto& h = *http_ctx_;
    h.cfg = cfg_;
    h.counters = counters_;
    h.registry = registry_;
    h.tree = tree_;
    h.locks = locks_;
    h.sessions = sessions;
    h.handlers = handlers;
    h.missing = missing;
    h.mapping = mapping;
    h.auth = auth_;
    h.auth_chain = auth_chain_;
    h.rights = rights;
    h.storage = store_counters_;
    h.store_writer = store_writer_;
    if (cfg_.storage.durability == durability_mode::sync)
      h.store_sync = store_writer_;
    h.retained = retained;
  }
  // (The group's store actor edits the store through the HTTP context.)
  if (auto err = start_cluster(sessions, mapping, handlers, missing)) {
    stop();
    return err;
  }
  http_ctx_->cluster = cluster_view_;
  http_ctx_->store_editor = store_group_;
  http_ = sys_.spawn(http_router, http_ctx_);
  for (size_t i = 0; i < cfg_.listeners.size(); ++i) {
    auto& l = cfg_.listeners[i];
    auto ctx = std::make_shared<connection_context>();
    ctx->registry = registry_;
    ctx->tree = tree_;
    ctx->locks = locks_;
    ctx->timers = timers_;
    ctx->store_sync = http_ctx_->store_sync;
    ctx->gate = gate;
    ctx->opts = make_channel_options(cfg_.mqtt, l.max_packet_size);
    ctx->opts.mapping = mapping;
    ctx->handlers = handlers;
    ctx->missing = missing;
    ctx->sessions = sessions;
    ctx->routes = routes_;
    ctx->claims = cluster_claims_;
    ctx->opts.handlers = handlers;
    ctx->request_timeout_ms = cfg_.messaging.request_timeout_ms;
    ctx->transport = transports[i];
    ctx->principal_from = to_cert_principal(l.tls.principal_from);
    ctx->connect_timeout_ms = cfg_.mqtt.connect_timeout_ms;
    ctx->max_outbound_bytes = cfg_.mqtt.max_outbound_bytes;
    ctx->max_inbound_bytes = cfg_.mqtt.max_inbound_bytes;
    ctx->slow_consumer_timeout_ms = cfg_.mqtt.slow_consumer_timeout_ms;
    ctx->topic_idle_ms = cfg_.mqtt.topic_idle_timeout_ms;
    ctx->slow_consumer_disconnect
        = cfg_.mqtt.slow_consumer == slow_consumer_policy::disconnect;
    ctx->listener = l.name;
    ctx->listener_index
        = static_cast<uint8_t>(std::min<size_t>(i, metrics::max_listeners - 1));
    ctx->counters = counters_;
    ctx->auth = auth_chain_;
    ctx->auth_required = auth_required || l.require_auth;
    ctx->require_principal = l.require_auth;
    ctx->store = auth_.store;
    if (auth_.store_state)
      ctx->store = auth_.store_state;
    ctx->rights = rights;
    if (ctx->transport && security::serves_http(ctx->transport->kind))
      ctx->http = http_;
    auto slot = std::make_shared<connection_context_slot>(
        connection_context_ptr{ctx});
    slots_.push_back(slot);
    auto lst = sys_.middleman().spawn_broker(listener_actor, l,
                                             std::move(slot));
    drain_mailbox_on_exit(lst);
    listeners_.push_back(lst);
    std::optional<std::string> failure;
    self->request(lst, std::chrono::seconds(10), open_atom::value)
        .receive(
            [&](uint16_t port) {
              endpoints_.push_back(endpoint{l.name, l.bind, port, l.transport});
              caf::anon_send(http_, open_atom::value, lst, port);
            },
            [&](caf::error& err) {
              failure = "listener " + l.name + ": cannot listen on " + l.bind
                        + ":" + std::to_string(l.port) + ": "
                        + sys_.render(err);
            });
    if (failure) {
      stop();
      return failure;
    }
  }
  http_ctx_->ready = true;
  return std::nullopt;
}

void server::stop() {
  if (stopped_ || !tree_)
    return;
  stopped_ = true;
  if (http_ctx_) {
    http_ctx_->stopping = true;
    http_ctx_->ready = false;
  }
  for (auto& l : listeners_)
    caf::anon_send(l, shutdown_atom::value);
  listeners_.clear();
  if (cluster_claims_) {
    // A server that shuts down publishes no wills: the members that keep
    // them for this node's clients drop them before it leaves.
    caf::scoped_actor self{sys_};
    self->request(cluster_claims_, std::chrono::seconds{2}, replica_atom::value,
                  will_atom::value)
        .receive([](bool) {}, [](caf::error&) {});
  }
  stop_cluster();
  if (cluster_claims_)
    caf::anon_send_exit(cluster_claims_, caf::exit_reason::user_shutdown);
  cluster_claims_ = nullptr;
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  if (auth_chain_)
    caf::anon_send_exit(auth_chain_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(tree_, caf::exit_reason::user_shutdown);
  if (locks_)
    caf::anon_send_exit(locks_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(timers_, caf::exit_reason::user_shutdown);
  if (http_)
    caf::anon_send_exit(http_, caf::exit_reason::user_shutdown);
  if (store_group_)
    caf::anon_send_exit(store_group_, caf::exit_reason::user_shutdown);
  store_group_ = nullptr;
  stop_storage();
}

} // namespace castor
