#include "app/server.hpp"

#include <chrono>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/session_registry.hpp"
#include "actors/topic_tree.hpp"
#include "app/listener.hpp"
#include "app/log.hpp"

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

session_config make_session_config(const mqtt_config& c) {
  session_config s;
  s.limits.max_queued = c.max_queued_messages;
  s.limits.overflow = c.queue_full == queue_full_policy::drop_newest
                          ? mqtt::overflow_policy::drop_newest
                          : mqtt::overflow_policy::drop_oldest;
  s.max_subscriptions = c.max_subscriptions_per_client;
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
  // Sessions and topics on the I/O thread exchange messages with the
  // connections without waking another thread (docs/performance.md).
  bool io = cfg_.actors_on_io_thread();
  auto scfg = make_session_config(cfg_.mqtt);
  scfg.on_io_thread = io;
  if (io) {
    tree_ = sys_.middleman().spawn_broker(topic_tree_broker);
    registry_ = sys_.middleman().spawn_broker(session_registry_broker, tree_,
                                              scfg);
  } else {
    tree_ = sys_.spawn(topic_tree);
    registry_ = sys_.spawn(session_registry, tree_, scfg);
  }
  if (cfg_.mqtt.topic_idle_timeout_ms > 0)
    caf::anon_send(tree_, gc_config_atom::value,
                   cfg_.mqtt.topic_idle_timeout_ms);
  // Without a store, tokens or a refusal of anonymous clients everybody is
  // let in: connections then skip the authenticator chain.
  bool auth_required = auth_.store || auth_.jwt
                       || auth_.anonymous != anonymous_policy::allow;
  if (auth_required)
    auth_chain_ = spawn_authenticators(sys_, auth_);
  caf::scoped_actor self{sys_};
  for (auto& l : cfg_.listeners) {
    if (l.transport != "tcp") {
      CASTOR_LOG(warning, "listener " << l.name,
                 "transport " << l.transport << " is not supported yet");
      continue;
    }
    auto ctx = std::make_shared<connection_context>();
    ctx->registry = registry_;
    ctx->tree = tree_;
    ctx->opts = make_channel_options(cfg_.mqtt, l.max_packet_size);
    ctx->connect_timeout_ms = cfg_.mqtt.connect_timeout_ms;
    ctx->max_outbound_bytes = cfg_.mqtt.max_outbound_bytes;
    ctx->slow_consumer_timeout_ms = cfg_.mqtt.slow_consumer_timeout_ms;
    ctx->slow_consumer_disconnect
        = cfg_.mqtt.slow_consumer == slow_consumer_policy::disconnect;
    ctx->listener = l.name;
    ctx->counters = counters_;
    ctx->auth = auth_chain_;
    ctx->auth_required = auth_required;
    ctx->store = auth_.store;
    auto lst = sys_.middleman().spawn_broker(listener_actor, l,
                                             connection_context_ptr{ctx});
    listeners_.push_back(lst);
    std::optional<std::string> failure;
    self->request(lst, std::chrono::seconds(10), open_atom::value)
        .receive(
            [&](uint16_t port) {
              endpoints_.push_back(endpoint{l.name, l.bind, port});
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
  return std::nullopt;
}

void server::stop() {
  if (stopped_ || !tree_)
    return;
  stopped_ = true;
  for (auto& l : listeners_)
    caf::anon_send(l, shutdown_atom::value);
  listeners_.clear();
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  if (auth_chain_)
    caf::anon_send_exit(auth_chain_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(tree_, caf::exit_reason::user_shutdown);
}

} // namespace castor
