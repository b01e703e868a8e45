// A connection's packet order around SUBSCRIBE and UNSUBSCRIBE
// (actors/subscription_gate.hpp): the change registered with the gate as it
// is read, the connection's input stopped until the session has answered
// it, and publishes held behind other connections' changes. Part of the
// connection actor (actors/connection.cpp).
//
//   read SUBSCRIBE ---- begin_change: gate.begin(filters), stop reading,
//        |              keep the bytes read after it
//   earlier publishes have reached their topics (try_start_change)
//        |---- subscribe_atom ----> session -> tree -> topics
//        |<--- reason codes ------
//   complete_change: SUBACK, gate.end (held publishes of other connections
//   go), then what was read after it (continue_input), reading again

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/connection_detail.hpp"
#include "actors/tracked.hpp"
#include "log/log.hpp"
#include "protocol/topic.hpp"

namespace castor::connection_detail {

namespace {

/// The filters a change concerns: those the channel accepted, without
/// `$share/{group}/`.
template <class Codes, class Filter>
std::vector<std::string> filters_of(size_t n, const Codes& codes,
                                    Filter&& filter_at) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n && i < codes.size(); ++i) {
    if (mqtt::is_error(codes[i]))
      continue;
    auto info = mqtt::parse_filter(filter_at(i));
    if (info.valid)
      out.emplace_back(info.subject);
  }
  return out;
}

/// Registers a change read now; its input stops behind it.
void begin_change(connection_broker* self, std::vector<std::string> filters,
                  std::function<void()> start) {
  auto& st = self->state;
  auto& o = ordering_of(self);
  auto seq = st.ctx->gate->begin(filters);
  o.current = connection_ordering::change{seq, std::move(start), false, {}};
}

/// The session answered the change `seq` (or it failed): writes the
/// answer, lets the publishes held behind the change go, and handles what
/// was read after it.
template <class Answer>
void complete_change(connection_broker* self, subscription_gate::seq_type seq,
                     Answer&& answer) {
  auto& st = self->state;
  if (!st.order || !st.order->current || st.order->current->seq != seq)
    return; // abandoned: the connection has closed
  st.order->current.reset();
  answer();
  st.ctx->gate->end(seq);
  continue_input(self);
}

/// Packets the channel keeps while the session opens before the connection
/// stops handling input until it is open.
constexpr size_t max_deferred_packets = 256;

/// Bytes kept while the input is stopped before the connection stops
/// reading its socket.
constexpr size_t max_kept_input = 65536;

/// Runs one packet through the channel.
void handle_packet(connection_broker* self, mqtt::packet&& pkt) {
  auto& st = self->state;
  st.routing.read_mark = st.ctx->gate->mark();
  apply_output(self, st.channel->handle_in(std::move(pkt)));
  // QoS 1 and 2 publishes not yet acknowledged (PUBACK held or PUBREL
  // missing) may not exceed our receive maximum. An MQTT 5 client was told
  // it; a 3.1.1 client was not, and is slowed down instead.
  if (!st.closing
      && unacknowledged_inbound(self) > st.ctx->opts.receive_maximum) {
    if (st.channel->version() == mqtt::protocol_version::v5)
      apply_output(self,
                   st.channel->handle_kick(
                       mqtt::reason_code::receive_maximum_exceeded, true));
    else
      stop_reading(self, stop_window);
  }
}

/// Runs decoded packets through the channel until the input stops; keeps
/// the others for continue_input.
void feed_packets(connection_broker* self, std::vector<mqtt::packet>&& pkts) {
  auto& st = self->state;
  for (size_t i = 0; i < pkts.size() && !st.closing; ++i) {
    if (input_stopped(self)) {
      auto& kept = ordering_of(self).packets;
      kept.insert(kept.begin(), std::make_move_iterator(pkts.begin() + i),
                  std::make_move_iterator(pkts.end()));
      return;
    }
    handle_packet(self, std::move(pkts[i]));
  }
}

} // namespace

connection_ordering& ordering_of(connection_broker* self) {
  auto& st = self->state;
  if (!st.order)
    st.order = std::make_unique<connection_ordering>();
  return *st.order;
}

void release_ordering(connection_broker* self) {
  auto& st = self->state;
  if (st.order && st.order->unused())
    st.order.reset();
}

bool change_pending(connection_broker* self) {
  auto& st = self->state;
  return st.order && st.order->current;
}

void begin_subscribe(connection_broker* self, mqtt::effect::subscribe&& s) {
  auto& st = self->state;
  subscribe_request sr;
  sr.subs = std::move(s.subs);
  sr.codes = s.codes;
  sr.subscription_id = s.subscription_id;
  sr.access.principal = st.attachment.principal;
  sr.access.roles = st.attachment.roles;
  sr.access.ptr = st.attachment.access;
  auto filters = filters_of(sr.subs.size(), s.codes, [&](size_t i) {
    return std::string_view{sr.subs[i].filter};
  });
  auto id = s.packet_id;
  auto n = sr.subs.size();
  begin_change(self, std::move(filters), [self, id, n, sr]() mutable {
    auto seq = self->state.order->current->seq;
    with_session(self, [self, id, n, seq, sr = std::move(sr)]() mutable {
      auto fail = [self, id, n] {
        std::vector<mqtt::reason_code> codes(
            n, mqtt::reason_code::unspecified_error);
        apply_output(self,
                     self->state.channel->handle_suback(id, std::move(codes)));
      };
      self->state.order->current->fail = fail;
      set_timer(self, change_timeout, change_timeout_atom::value, seq);
      tracked(self->request(self->state.attachment.session, change_timeout,
                            subscribe_atom::value, std::move(sr)))
          .then(
              [=](subscribe_codes& codes) {
                complete_change(self, seq, [&] {
                  apply_output(self, self->state.channel->handle_suback(
                                         id, std::move(codes)));
                });
              },
              [=](caf::error& err) {
                CASTOR_LOG(warning, context_of(self),
                           "SUBSCRIBE failed: " << self->system().render(err));
                complete_change(self, seq, fail);
              });
    });
  });
}

void begin_unsubscribe(connection_broker* self, mqtt::effect::unsubscribe&& u) {
  auto codes = u.codes;
  auto filters = filters_of(u.filters.size(), u.codes, [&](size_t i) {
    return std::string_view{u.filters[i]};
  });
  auto id = u.packet_id;
  begin_change(
      self, std::move(filters),
      [self, id, codes = std::move(codes),
       all = std::move(u.filters)]() mutable {
        auto seq = self->state.order->current->seq;
        with_session(self, [self, id, seq, codes = std::move(codes),
                            all = std::move(all)]() mutable {
          auto n = codes.size();
          auto fail = [self, id, n] {
            std::vector<mqtt::reason_code> codes(
                n, mqtt::reason_code::unspecified_error);
            apply_output(self, self->state.channel->handle_unsuback(
                                   id, std::move(codes)));
          };
          self->state.order->current->fail = fail;
          set_timer(self, change_timeout, change_timeout_atom::value, seq);
          tracked(self->request(self->state.attachment.session, change_timeout,
                                unsub_atom::value, std::move(all),
                                std::move(codes)))
              .then(
                  [=](subscribe_codes& codes) {
                    complete_change(self, seq, [&] {
                      apply_output(self, self->state.channel->handle_unsuback(
                                             id, std::move(codes)));
                    });
                  },
                  [=](caf::error& err) {
                    CASTOR_LOG(
                        warning, context_of(self),
                        "UNSUBSCRIBE failed: " << self->system().render(err));
                    complete_change(self, seq, fail);
                  });
        });
      });
}

void change_timed_out(connection_broker* self, uint64_t seq) {
  auto& st = self->state;
  if (!st.order || !st.order->current || st.order->current->seq != seq
      || !st.order->current->fail)
    return;
  CASTOR_LOG(warning, context_of(self),
             "the session did not answer a subscription change within "
                 << change_timeout.count() << " s");
  auto fail = st.order->current->fail;
  complete_change(self, seq, fail);
}

void try_start_change(connection_broker* self) {
  auto& st = self->state;
  if (!st.order || !st.order->current || st.order->current->started
      || st.closed)
    return;
  // Publishes read before the change reach their topics first.
  if (!st.routing.lookups.empty() || !st.routing.exists_checks.empty()
      || !st.order->held.empty())
    return;
  st.order->current->started = true;
  auto start = std::move(st.order->current->start);
  start();
}

bool input_stopped(connection_broker* self) {
  auto& st = self->state;
  return change_pending(self)
         || (st.channel->state() == mqtt::channel::phase::connecting
             && st.channel->deferred_count() >= max_deferred_packets);
}

void consume_input(connection_broker* self, std::string_view in) {
  auto& st = self->state;
  while (!st.closing) {
    if (input_stopped(self)) {
      // Handled once the change has taken effect (the session is open).
      // The socket is read on meanwhile (a change takes a few messages
      // between actors) unless much waits.
      auto& kept = ordering_of(self).input;
      kept.append(in.data(), in.size());
      if (kept.size() >= max_kept_input)
        stop_reading(self, change_pending(self) ? stop_change : stop_opening);
      return;
    }
    auto r = st.reading.parser->feed(in);
    if (r.need_more())
      break;
    if (r.failed()) {
      CASTOR_LOG(info, context_of(self),
                 "bad packet: " << r.error.cause << " ("
                                << mqtt::to_string(r.error.code) << ")");
      apply_output(self, st.channel->handle_parse_error(
                             r.error, st.reading.parser->version()));
      break;
    }
    handle_packet(self, std::move(r.pkt));
  }
}

void continue_input(connection_broker* self) {
  auto& st = self->state;
  if (st.order && !st.closing) {
    if (!st.order->packets.empty()) {
      auto pkts = std::move(st.order->packets);
      st.order->packets = std::vector<mqtt::packet>{};
      feed_packets(self, std::move(pkts));
    }
    if (!input_stopped(self) && !st.order->input.empty()) {
      auto input = std::move(st.order->input);
      st.order->input = std::string{};
      consume_input(self, input);
    }
    if (!input_stopped(self) && st.order->peer_closed) {
      st.order->peer_closed = false;
      if (!st.closing)
        apply_output(self, st.channel->handle_closed());
      st.closing = true;
    }
  }
  end_step(self);
  if (!input_stopped(self)) {
    resume_reading(self, stop_change);
    resume_reading(self, stop_opening);
    release_ordering(self);
  }
}

bool hold_if_needed(connection_broker* self, connection_routing::route_group& r,
                    uint64_t seq) {
  auto& st = self->state;
  if (!st.order || st.order->held.empty()) {
    auto change = st.ctx->gate->holding(r.topic, r.mark);
    if (!change)
      return false;
    CASTOR_LOG(trace, context_of(self),
               "publishes to " << r.topic << " wait for subscription change "
                               << *change);
    st.ctx->gate->wait(*change, caf::actor_cast<caf::actor>(self));
  }
  ordering_of(self).held.push_back(connection_ordering::held_batch{
      std::move(r.topic), std::move(r.msgs), seq, r.mark});
  return true;
}

void release_held(connection_broker* self) {
  auto& st = self->state;
  if (!st.order)
    return;
  auto& held = st.order->held;
  while (!held.empty()) {
    auto& h = held.front();
    if (auto change = st.ctx->gate->holding(h.topic, h.mark)) {
      st.ctx->gate->wait(*change, caf::actor_cast<caf::actor>(self));
      return;
    }
    auto b = std::move(h);
    held.pop_front();
    if (!dispatch(self, b.topic, std::move(b.msgs), b.read))
      read_batch_taken(self, b.read);
  }
  try_start_change(self);
  release_ordering(self);
  if (st.closed)
    maybe_quit(self);
}

} // namespace castor::connection_detail
