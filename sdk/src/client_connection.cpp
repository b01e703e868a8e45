// The connection of castor::client: TCP or TLS through Asio, CONNECT and
// CONNACK, the read loop on protocol/'s frame parser, keep alive, and
// reconnection with exponential backoff.

#include <random>

#include "client_impl.hpp"

namespace castor {

client::impl::impl()
  : parser(mqtt::parser_options{268435460, mqtt::protocol_version::v5,
                                mqtt::parser_options::role::client}) {
}

client::impl::~impl() = default;

uint16_t client::impl::pid() {
  for (;;) {
    uint16_t id = next_pid++;
    if (next_pid == 0)
      next_pid = 1;
    if (id != 0 && acks.count(id) == 0)
      return id;
  }
}

void client::impl::send(const mqtt::packet& p) {
  if (websocket()) // one binary frame a packet
    wq.push_back(ws_frame(0x2, mqtt::encode(p, mqtt::protocol_version::v5)));
  else
    wq.push_back(mqtt::encode(p, mqtt::protocol_version::v5));
  queued_bytes += wq.back().size();
  if (!writing)
    write_next();
}

void client::impl::write_next() {
  if (wq.empty() || !stream) {
    writing = false;
    if (closing && stream)
      finish_disconnect("disconnected by the application");
    return;
  }
  writing = true;
  auto self = shared_from_this();
  auto gen = generation;
  // The handler owns the bytes: the queue may be cleared while they are
  // being written (a lost connection).
  auto buf = std::make_shared<std::string>(std::move(wq.front()));
  wq.pop_front();
  queued_bytes -= buf->size();
  auto done = [self, gen, buf](std::error_code ec, size_t) {
    if (gen != self->generation)
      return;
    if (ec) {
      self->writing = false;
      self->lost("write failed: " + ec.message());
      return;
    }
    self->write_next();
  };
  raw_write(asio::buffer(*buf), done);
}

std::exception_ptr client::impl::not_sent() const {
  if (full())
    return std::make_exception_ptr(error("QUEUE_FULL", "too much waits to be sent"));
  return std::make_exception_ptr(error("DISCONNECTED", "the client is not connected"));
}

bool client::impl::when_up(std::function<void()> f) {
  if (full())
    return false;
  if (up) {
    f();
    return true;
  }
  if (started && !stopping) {
    deferred.push_back(std::move(f));
    return true;
  }
  return false;
}

void client::impl::start_attempt() {
  ++generation;
  auto gen = generation;
  auto self = shared_from_this();
  parser = mqtt::frame_parser(
      mqtt::parser_options{268435460, mqtt::protocol_version::v5,
                           mqtt::parser_options::role::client});
  wq.clear();
  queued_bytes = 0;
  writing = false;
  if (opts.tls.enabled && !ssl_ctx) {
    ssl_ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    if (opts.tls.ca_file.empty())
      ssl_ctx->set_default_verify_paths();
    else
      ssl_ctx->load_verify_file(opts.tls.ca_file);
    if (!opts.tls.cert_file.empty())
      ssl_ctx->use_certificate_chain_file(opts.tls.cert_file);
    if (!opts.tls.key_file.empty())
      ssl_ctx->use_private_key_file(opts.tls.key_file, asio::ssl::context::pem);
    ssl_ctx->set_verify_mode(opts.tls.verify_peer ? asio::ssl::verify_peer
                                                  : asio::ssl::verify_none);
  }
  if (!ssl_ctx) // plain TCP: the stream's TLS layer stays unused
    ssl_ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  stream = std::make_shared<ssl_stream>(io, *ssl_ctx);
  connect_timer.expires_after(opts.connect_timeout);
  connect_timer.async_wait([self, gen](std::error_code ec) {
    if (!ec && gen == self->generation && !self->up)
      self->lost("connect timed out");
  });
  resolver.async_resolve(
      opts.host, std::to_string(opts.port),
      [self, gen](std::error_code ec, asio::ip::tcp::resolver::results_type rs) {
        if (gen != self->generation)
          return;
        if (ec)
          return self->lost("cannot resolve " + self->opts.host + ": " + ec.message());
        asio::async_connect(
            self->stream->next_layer(), rs,
            [self, gen](std::error_code ec, const asio::ip::tcp::endpoint&) {
              if (gen != self->generation)
                return;
              if (ec)
                return self->lost("cannot connect to " + self->opts.host + ":"
                                  + std::to_string(self->opts.port) + ": "
                                  + ec.message());
              self->stream->next_layer().set_option(asio::ip::tcp::no_delay(true));
              if (!self->opts.tls.enabled)
                return self->websocket() ? self->ws_upgrade(gen) : self->on_connected(gen);
              auto& s = *self->stream;
              SSL_set_tlsext_host_name(s.native_handle(), self->opts.host.c_str());
              if (self->opts.tls.verify_peer)
                s.set_verify_callback(asio::ssl::host_name_verification(self->opts.host));
              s.async_handshake(asio::ssl::stream_base::client,
                                [self, gen](std::error_code ec) {
                                  if (gen != self->generation)
                                    return;
                                  if (ec)
                                    return self->lost("TLS handshake failed: "
                                                      + ec.message());
                                  if (self->websocket())
                                    return self->ws_upgrade(gen);
                                  self->on_connected(gen);
                                });
            });
      });
}

void client::impl::on_connected(uint64_t gen) {
  mqtt::connect c;
  c.version = mqtt::protocol_version::v5;
  // Resume the session on reconnects when it outlives connections.
  c.clean_start = ever_up && opts.session_expiry > 0 ? false : opts.clean_start;
  c.keep_alive = opts.keep_alive;
  c.client_id = cid;
  c.username = opts.username;
  c.password = opts.password;
  if (opts.session_expiry > 0)
    c.props.session_expiry_interval = opts.session_expiry;
  last_rx = clock_type::now();
  read_loop(gen);
  send(c);
}

void client::impl::read_loop(uint64_t gen) {
  auto self = shared_from_this();
  auto done = [self, gen](std::error_code ec, size_t n) {
    if (gen != self->generation)
      return;
    if (ec)
      return self->lost(ec == asio::error::eof ? "the server closed the connection"
                                               : "read failed: " + ec.message());
    self->last_rx = clock_type::now();
    std::string_view in(self->rbuf.data(), n);
    if (self->websocket()) {
      std::string mqtt_bytes;
      if (!self->ws_feed(in, mqtt_bytes))
        return;
      self->on_bytes(gen, mqtt_bytes);
    } else {
      self->on_bytes(gen, in);
    }
    if (gen == self->generation)
      self->read_loop(gen);
  };
  raw_read_some(asio::buffer(rbuf), done);
}

void client::impl::on_bytes(uint64_t gen, std::string_view in) {
  while (gen == generation) {
    auto r = parser.feed(in);
    if (r.need_more())
      break;
    if (r.failed())
      return lost("malformed packet from the server: " + r.error.cause);
    handle(std::move(r.pkt));
  }
}

void client::impl::keepalive(uint64_t gen) {
  if (opts.keep_alive == 0)
    return;
  auto self = shared_from_this();
  keepalive_timer.expires_after(std::chrono::milliseconds(opts.keep_alive * 500));
  keepalive_timer.async_wait([self, gen](std::error_code ec) {
    if (ec || gen != self->generation || !self->up)
      return;
    auto idle = clock_type::now() - self->last_rx;
    if (idle > std::chrono::milliseconds(self->opts.keep_alive * 1500))
      return self->lost("no answer from the server within the keep alive");
    self->send(mqtt::pingreq{});
    self->keepalive(gen);
  });
}

void client::impl::handle(mqtt::packet&& pkt) {
  if (auto* ca = std::get_if<mqtt::connack>(&pkt)) {
    connect_timer.cancel();
    if (ca->code != mqtt::reason_code::success) {
      auto code = static_cast<uint8_t>(ca->code);
      std::string why = "the server refused the connection: "
                        + std::string(mqtt::to_string(ca->code));
      if (first_connect) {
        first_connect->set_exception(
            std::make_exception_ptr(connection_error(why, code)));
        first_connect.reset();
        started = false;
        close_stream();
        return;
      }
      return lost(why);
    }
    if (ca->props.assigned_client_identifier)
      cid = *ca->props.assigned_client_identifier;
    if (ca->props.server_keep_alive)
      opts.keep_alive = *ca->props.server_keep_alive;
    up = true;
    attempts = 0;
    bool present = ca->session_present && ever_up;
    ever_up = true;
    keepalive(generation);
    on_up(present);
    if (first_connect) {
      first_connect->set_value();
      first_connect.reset();
    }
    return;
  }
  if (auto* p = std::get_if<mqtt::publish>(&pkt))
    return on_publish(std::move(*p));
  auto ack = [this](uint16_t id, std::optional<mqtt::reason_code> rc) {
    auto i = acks.find(id);
    if (i == acks.end())
      return;
    auto f = std::move(i->second);
    acks.erase(i);
    f(rc);
  };
  if (auto* a = std::get_if<mqtt::puback>(&pkt))
    return ack(a->packet_id, a->code);
  if (auto* a = std::get_if<mqtt::suback>(&pkt))
    return ack(a->packet_id, a->codes.empty() ? mqtt::reason_code::unspecified_error
                                              : a->codes.front());
  if (auto* a = std::get_if<mqtt::unsuback>(&pkt))
    return ack(a->packet_id, a->codes.empty() ? mqtt::reason_code::success
                                              : a->codes.front());
  if (auto* a = std::get_if<mqtt::pubrec>(&pkt)) {
    mqtt::pubrel rel;
    rel.packet_id = a->packet_id;
    return send(rel);
  }
  if (auto* a = std::get_if<mqtt::pubrel>(&pkt)) {
    qos2_in.erase(a->packet_id);
    mqtt::pubcomp c;
    c.packet_id = a->packet_id;
    return send(c);
  }
  if (auto* a = std::get_if<mqtt::pubcomp>(&pkt))
    return ack(a->packet_id, a->code);
  if (auto* d = std::get_if<mqtt::disconnect>(&pkt))
    return lost("the server disconnected: " + std::string(mqtt::to_string(d->code)));
}

void client::impl::close_stream() {
  ++generation; // every handler of the old connection is stale now
  up = false;
  keepalive_timer.cancel();
  connect_timer.cancel();
  if (stream) {
    std::error_code ec;
    stream->next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    stream->next_layer().close(ec);
  }
  // The stream may still be referenced by completing handlers: keep it
  // alive until they ran (they hold `self`, and compare generations).
  auto old = std::move(stream);
  asio::post(io, [old] {});
  wq.clear();
  queued_bytes = 0;
  writing = false;
}

void client::impl::lost(const std::string& why) {
  bool was_up = up;
  close_stream();
  fail_all("CONNECTION_LOST", why, true);
  qos2_in.clear();
  reply_subscribed = false;
  if (was_up && on_state)
    on_state(connection_state::disconnected, why);
  if (first_connect) {
    first_connect->set_exception(std::make_exception_ptr(connection_error(why)));
    first_connect.reset();
    started = false;
    return;
  }
  if (started && !stopping && opts.reconnect.enabled)
    schedule_reconnect();
  else
    started = false;
}

void client::impl::fail_all(const std::string& code, const std::string& why,
                            bool only_sent) {
  for (auto i = api.begin(); i != api.end();) {
    if (only_sent && !i->second.sent) {
      ++i;
      continue;
    }
    i->second.promise.set_exception(std::make_exception_ptr(error(code, why)));
    i = api.erase(i);
  }
  for (auto i = msg_requests.begin(); i != msg_requests.end();) {
    if (only_sent && !i->second.sent) {
      ++i;
      continue;
    }
    i->second.promise.set_exception(std::make_exception_ptr(error(code, why)));
    i = msg_requests.erase(i);
  }
  auto pending = std::move(acks);
  acks.clear();
  for (auto& [id, f] : pending)
    f(std::nullopt);
}

void client::impl::finish_disconnect(const std::string& why) {
  bool was_up = up;
  closing = false;
  close_stream();
  started = false;
  stopping = true;
  resolver.cancel();
  reconnect_timer.cancel();
  sweep_timer.cancel();
  sweeping = false;
  auto d = std::move(deferred);
  deferred.clear();
  fail_all("DISCONNECTED", why, false);
  for (auto& [id, s] : subs)
    s.kept.clear();
  if (was_up && on_state)
    on_state(connection_state::disconnected, why);
  for (auto& w : closed_waiters)
    w->set_value();
  closed_waiters.clear();
}

void client::impl::schedule_reconnect() {
  double ms = static_cast<double>(opts.reconnect.initial_delay.count());
  for (int i = 0; i < attempts && ms < opts.reconnect.max_delay.count(); ++i)
    ms *= opts.reconnect.multiplier;
  ms = std::min(ms, static_cast<double>(opts.reconnect.max_delay.count()));
  static thread_local std::mt19937 rng{std::random_device{}()};
  ms *= std::uniform_real_distribution<double>(0.8, 1.0)(rng);
  ++attempts;
  auto self = shared_from_this();
  reconnect_timer.expires_after(std::chrono::milliseconds(static_cast<long>(ms)));
  reconnect_timer.async_wait([self](std::error_code ec) {
    if (!ec && self->started && !self->stopping)
      self->start_attempt();
  });
}

void client::impl::sweep() {
  auto now = clock_type::now();
  for (auto i = api.begin(); i != api.end();) {
    if (i->second.deadline <= now) {
      i->second.promise.set_exception(std::make_exception_ptr(
          error("TIMEOUT", "no answer within the request timeout")));
      i = api.erase(i);
    } else {
      ++i;
    }
  }
  for (auto i = msg_requests.begin(); i != msg_requests.end();) {
    if (i->second.deadline <= now) {
      i->second.promise.set_exception(std::make_exception_ptr(
          error("TIMEOUT", "no answer within the request timeout")));
      i = msg_requests.erase(i);
    } else {
      ++i;
    }
  }
  auto self = shared_from_this();
  sweep_timer.expires_after(std::chrono::milliseconds(200));
  sweep_timer.async_wait([self](std::error_code ec) {
    if (!ec)
      self->sweep();
  });
}

} // namespace castor
