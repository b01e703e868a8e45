#include "actors/census.hpp"
#include "actors/connection.hpp"

#include <algorithm>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/connection_detail.hpp"
#include "log/log.hpp"
#include "security/topic_access.hpp"

#include <sys/socket.h>

namespace castor {

namespace connection_detail {

using rearm_read_atom = caf::atom_constant<caf::atom("rdrearm")>;
/// The multiplexer has begun a round after the one that switched reading
/// on (connection_state::read_armed).
using round_atom = caf::atom_constant<caf::atom("rdround")>;

/// Re-triggers of reading after a resume (CAF's lost trigger, below), at
/// 50 ms doubling to 3.2 s.
constexpr uint64_t max_rearm_steps = 6;

std::chrono::milliseconds rearm_delay(uint64_t step) {
  return std::chrono::milliseconds(50) * (uint64_t{1} << step);
}

void set_timer(connection_broker* self, std::chrono::milliseconds delay,
               caf::atom_value reply, uint64_t epoch) {
  self->send(self->state.ctx->timers, schedule_atom::value, reply, epoch,
             static_cast<uint64_t>(delay.count()));
}

constexpr size_t min_read_size = 256;
constexpr size_t max_read_size = 65536;

void set_read_size(connection_broker* self, size_t n) {
  auto& st = self->state;
  if (st.net.read_size == n)
    return;
  st.net.read_size = n;
  self->configure_read(st.net.hdl, caf::io::receive_policy::at_most(n));
}

void schedule_tick(connection_broker* self, std::chrono::milliseconds d) {
  self->state.tick_due = clock_type::now() + d;
  auto epoch = ++self->state.timer_epoch;
  self->send(self->state.ctx->timers, schedule_atom::value,
             static_cast<uint32_t>(d.count()), epoch);
}

/// A tick within `d`: the pending one if it comes earlier (its handler
/// schedules the next), so that a connection does not hold two timer
/// messages (each a few hundred bytes) while its connect timeout runs out.
void ensure_tick(connection_broker* self, std::chrono::milliseconds d) {
  auto& st = self->state;
  if (st.tick_due > clock_type::now() && st.tick_due <= clock_type::now() + d)
    return;
  schedule_tick(self, d);
}

void end_connection(connection_broker* self, mqtt::reason_code rc,
                    bool publish_will) {
  auto& st = self->state;
  apply_output(self, st.channel->handle_kick(rc, publish_will));
  st.closing = true;
  st.close_info.publish_will = publish_will;
  end_step(self);
}

void request_failed(connection_broker* self, const char* what,
                    const caf::error& err) {
  auto& st = self->state;
  if (st.closing || st.closed)
    return;
  if (err == caf::sec::request_timeout)
    CASTOR_LOG(warning, context_of(self),
               what << " did not answer in time: disconnecting (server busy)");
  else
    CASTOR_LOG(warning, context_of(self),
               what << " failed (" << self->system().render(err)
                    << "): disconnecting (server busy)");
  end_connection(self, mqtt::reason_code::server_busy, true);
}

std::string context_of(connection_broker* self) {
  auto& st = self->state;
  auto& id = st.channel->session().client_id;
  if (!id.empty())
    return "session " + id;
  return "connection " + st.net.peer;
}

/// Writes socket bytes (flow control counts those that wait in CAF's
/// buffer). While that buffer is empty they go straight to the socket: one
/// send() instead of CAF's epoll registration, write event, send() and
/// deregistration. What the socket does not take waits in CAF's buffer,
/// behind which every later byte queues.
void send_bytes(connection_broker* self, std::string_view bytes) {
  auto& st = self->state;
  if (bytes.empty() || st.net.socket_gone)
    return;
  metrics::add(metrics::local().bytes_out, bytes.size());
  if (st.writing.unsent == 0) {
    auto n = ::send(static_cast<int>(st.net.hdl.id()), bytes.data(),
                    bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      if (static_cast<size_t>(n) == bytes.size())
        return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    // Otherwise (would block, or failed): CAF's write reports a failure.
  }
  st.writing.unsent += bytes.size();
  self->write(st.net.hdl, bytes.size(), bytes.data());
  self->flush(st.net.hdl);
}

/// Tells the session how much of what it handed over has been written,
/// once that is a good part of its allowance and the socket drains
/// (session_limits::max_unwritten_bytes): it hands no more beyond it.
void return_written(connection_broker* self) {
  auto& st = self->state;
  auto allowance = st.ctx->max_outbound_bytes;
  if (st.writing.credit < allowance / 4 || !st.attachment.session || st.closing
      || st.writing.unsent + st.writing.out.size() > allowance / 2)
    return;
  self->send(st.attachment.session, written_atom::value, st.writing.credit);
  st.writing.credit = 0;
}

void flush_out(connection_broker* self, bool now) {
  auto& st = self->state;
  if (st.writing.out.empty() || st.closed)
    return;
  if (!now && !st.closing && !self->mailbox().empty()) {
    // More messages wait (a burst of deliveries): write once after them.
    if (!st.writing.flush_pending) {
      st.writing.flush_pending = true;
      self->send(self, flush_atom::value);
    }
    return;
  }
  if (!st.net.transport) {
    send_bytes(self, st.writing.out);
  } else {
    st.net.wire.clear();
    st.net.transport->write(st.writing.out, st.net.wire);
    send_bytes(self, st.net.wire);
    if (st.net.wire.capacity() > max_read_size)
      std::string{}.swap(st.net.wire);
  }
  st.writing.out.clear();
  if (st.writing.out.capacity() > max_read_size)
    std::string{}.swap(st.writing.out);
  return_written(self);
  if (!st.writing.paused && st.attachment.session
      && st.writing.unsent > st.ctx->max_outbound_bytes / 2) {
    // The client does not read fast enough: the session queues meanwhile
    // (it has already stopped at its allowance of unwritten bytes, which
    // the socket's backlog now holds), and the slow-consumer clock runs.
    st.writing.paused = true;
    CASTOR_LOG(debug, context_of(self),
               "outbound paused: " << st.writing.unsent << " bytes unsent");
    self->send(st.attachment.session, flow_atom::value, flow_mode::paused);
    set_timer(self, std::chrono::milliseconds(st.ctx->slow_consumer_timeout_ms),
              slow_atom::value, ++st.writing.slow_epoch);
  }
}

/// Switches reading on. CAF 0.17 takes the stream's reference to its
/// scribe at once but registers the socket with epoll only at the end of
/// the multiplexer's round; a halt or close in the same round cancels the
/// registration, and the reference is never given back: the scribe, its
/// buffers and the socket leak, and later triggers do nothing. So the
/// connection notes that reading is armed until a callback posted to the
/// multiplexer, which runs in its next round, says the round is over.
void post_round_check(connection_broker* self);

/// Reading was switched on in this round (a trigger, or the first
/// configure_read): a halt or close waits for the round check.
void note_armed(connection_broker* self) {
  auto& st = self->state;
  if (st.reading.armed)
    return;
  st.reading.armed = true;
  post_round_check(self);
}

void arm_read(connection_broker* self) {
  auto& st = self->state;
  self->trigger(st.net.hdl);
  ++st.reading.arm_seq;
  note_armed(self);
}

/// Asks the multiplexer to tell this connection when its next round has
/// begun, with the count of triggers so far.
void post_round_check(connection_broker* self) {
  auto me = caf::actor_cast<caf::actor>(self);
  auto seq = self->state.reading.arm_seq;
  self->backend().post(
      [me, seq] { caf::anon_send(me, round_atom::value, seq); });
}

/// A round after the trigger number `seq` has begun: unless reading was
/// armed again since (possibly in the round now running), the halt or
/// close held back goes ahead.
void round_over(connection_broker* self, uint64_t seq) {
  auto& st = self->state;
  if (seq != st.reading.arm_seq) {
    post_round_check(self);
    return;
  }
  st.reading.armed = false;
  if (st.reading.halt_deferred) {
    st.reading.halt_deferred = false;
    if (st.reading.stops != 0 && !st.closed)
      self->halt(st.net.hdl);
  }
  if (st.reading.close_deferred) {
    st.reading.close_deferred = false;
    self->close(st.net.hdl);
    maybe_quit(self);
  }
}

void stop_reading(connection_broker* self, read_stop why) {
  auto& st = self->state;
  if (st.reading.stops == 0 && !st.closed) {
    metrics::add(metrics::local().flow_halts);
    st.reading.halted_at = std::chrono::steady_clock::now();
    if (st.reading.armed)
      st.reading.halt_deferred = true;
    else
      self->halt(st.net.hdl);
  }
  st.reading.stops |= why;
}

void resume_reading(connection_broker* self, read_stop why) {
  auto& st = self->state;
  if (!st.reading.stopped_for(why))
    return;
  st.reading.stops &= static_cast<uint8_t>(~why);
  if (st.reading.stops != 0 || st.closed)
    return;
  st.reading.last_rx = std::chrono::steady_clock::now();
  metrics::add(metrics::local().flow_halt_ns,
               static_cast<uint64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(
                       st.reading.last_rx - st.reading.halted_at)
                       .count()));
  CASTOR_LOG(trace, context_of(self), "reading resumed");
  st.reading.halt_deferred = false;
  arm_read(self);
  // CAF 0.17 applies halt() at the end of the multiplexer's current round;
  // a trigger() in the same round finds the stream still registered, does
  // nothing, and the pending halt then stops reading for good. So trigger
  // again later (a no-op while reading is on) until data arrives or the
  // backoff runs out; the last retry is seconds after the halt, long past
  // any round.
  st.reading.rx_since_resume = false;
  set_timer(self, rearm_delay(0), rearm_read_atom::value,
            (++st.reading.rearm_epoch) << 4);
}

/// Releases the acknowledgements of pending reads whose publishes every
/// topic has taken, oldest first.
void release_pending_reads(connection_broker* self) {
  auto& st = self->state;
  st.reading.release_taken(st.writing.out);
  if (st.reading.stopped_for(stop_pending_reads)
      && st.reading.pending.size() <= st.ctx->max_pending_reads / 2)
    resume_reading(self, stop_pending_reads);
  if (st.reading.stopped_for(stop_window)
      && unacknowledged_inbound(self) <= st.ctx->opts.receive_maximum / 2)
    resume_reading(self, stop_window);
}

void read_batch_taken(connection_broker* self, uint64_t seq) {
  auto& st = self->state;
  auto* r = st.reading.pending_read_at(seq);
  if (st.closed || r == nullptr)
    return;
  if (r->topics_left > 0)
    --r->topics_left;
  release_pending_reads(self);
  flush_out(self, false);
}

void do_close(connection_broker* self) {
  auto& st = self->state;
  if (st.closed)
    return;
  // WebSocket close frame and TLS close_notify, unless the transport has
  // already finished.
  if (st.net.transport)
    send_bytes(self, st.net.transport->close());
  st.closed = true;
  messaging_closed(self);
  // Publishes still waiting for a topic lookup go through the tree, which
  // answers the lookup first: order is kept, nothing acknowledged is lost.
  for (auto& [topic, l] : st.routing.lookups)
    for (auto& m : l.msgs)
      self->send(st.ctx->tree, publish_atom::value, std::move(m));
  st.routing.lookups.clear();
  CASTOR_LOG(debug, context_of(self),
             "closed (" << mqtt::to_string(st.close_info.reason) << ")");
  // Connections of MQTT clients that were let in, by why they ended.
  if (st.share.level() != 0)
    metrics::add(metrics::local()
                     .disconnects[static_cast<uint8_t>(st.close_info.reason)]);
  // At shutdown, a client that has not taken the bytes already sent to it
  // (some still wait in CAF's buffer) is cut off: a graceful close would
  // wait for it to read, and the process's exit with it, for ever.
  if (st.writing.unsent > 0
      && st.close_info.reason == mqtt::reason_code::server_shutting_down)
    ::shutdown(static_cast<int>(st.net.hdl.id()), SHUT_RDWR);
  if (st.reading.armed)
    st.reading.close_deferred = true; // round_over() closes
  else
    self->close(st.net.hdl);
  // A change not yet answered no longer holds other connections' publishes:
  // the client that asked for it has gone without its SUBACK or UNSUBACK.
  if (st.order) {
    if (st.order->current)
      st.ctx->gate->end(st.order->current->seq);
    st.order->current.reset();
    st.order->input.clear();
    st.order->peer_closed = false;
  }
  maybe_quit(self);
}

void maybe_quit(connection_broker* self) {
  auto& st = self->state;
  // A session actor on its way gets the detach (and decides on the will).
  if (st.attachment.promoting)
    return;
  send_detach(self);
  // Publishes held behind other connections' subscription changes still go
  // to their topics in order; the actor ends once they have.
  if (st.order && !st.order->held.empty())
    return;
  // Ending closes the socket: not in the round that armed reading.
  if (st.reading.close_deferred)
    return;
  self->quit();
}

uint32_t unacknowledged_inbound(connection_broker* self) {
  auto& st = self->state;
  return st.reading.held_qos1 + st.reading.acks_qos1
         + static_cast<uint32_t>(st.channel->inbound_qos2().size())
         + st.routing.exists_waiting;
}

void end_step(connection_broker* self) {
  auto& st = self->state;
  uint64_t seq = st.reading.next_read();
  uint32_t pending = st.routing.routes.empty() ? 0 : flush_routes(self, seq);
  if (pending > 0
      || (!st.reading.pending.empty() && !st.reading.acks.empty())) {
    st.reading.pending.push_back(connection_reading::pending_read{
        pending, std::move(st.reading.acks), st.reading.acks_qos1});
    st.reading.held_qos1 += st.reading.acks_qos1;
    st.reading.acks_qos1 = 0;
    st.reading.acks.clear();
    if (!st.reading.stopped_for(stop_pending_reads)
        && st.reading.pending.size() >= st.ctx->max_pending_reads
        && !st.closing) {
      CASTOR_LOG(trace, context_of(self),
                 "reading paused: " << st.reading.pending.size()
                                    << " reads open");
      stop_reading(self, stop_pending_reads);
    }
  } else if (!st.reading.acks.empty()) {
    st.writing.out += st.reading.acks;
    st.reading.acks_qos1 = 0;
    st.reading.acks.clear();
  }
  release_pending_reads(self);
  if (!st.reading.stopped_for(stop_bytes) && !st.closing
      && st.reading.inbound_bytes >= st.ctx->max_inbound_bytes) {
    CASTOR_LOG(trace, context_of(self),
               "reading paused: " << st.reading.inbound_bytes
                                  << " bytes not taken");
    stop_reading(self, stop_bytes);
    confirm_pushes(self);
  }
  if (!st.attachment.client_acks.items.empty()) {
    if (st.attachment.session)
      self->send(st.attachment.session, ack_atom::value,
                 std::move(st.attachment.client_acks));
    st.attachment.client_acks.items.clear();
  }
  flush_out(self, false);
  if (st.closing)
    do_close(self);
  else
    try_start_change(self);
}

namespace {

ack_kind ack_kind_of(mqtt::packet_type t) {
  switch (t) {
  case mqtt::packet_type::pubrec:
    return ack_kind::pubrec;
  case mqtt::packet_type::pubcomp:
    return ack_kind::pubcomp;
  default:
    return ack_kind::puback;
  }
}

/// A CONNECT accepted (the connection counts at its protocol level from
/// now on) or refused, by reason code.
void count_connack(connection_broker* self, mqtt::reason_code code) {
  auto& b = metrics::local();
  if (code == mqtt::reason_code::success) {
    metrics::add(b.connects);
    self->state.share.set_level(
        static_cast<size_t>(self->state.channel->version()));
  } else {
    metrics::add(b.refused[static_cast<uint8_t>(code)]);
  }
}

} // namespace

void apply_output(connection_broker* self, mqtt::channel_output&& o) {
  auto& st = self->state;
  for (auto& p : o.packets) {
    auto t = mqtt::type_of(p);
    if (t == mqtt::packet_type::connack)
      count_connack(self, std::get<mqtt::connack>(p).code);
    // Acknowledgements of inbound messages wait for their topics.
    if (t == mqtt::packet_type::puback || t == mqtt::packet_type::pubrec) {
      st.channel->write(p, st.reading.acks);
      if (t == mqtt::packet_type::puback)
        ++st.reading.acks_qos1;
    } else {
      st.channel->write(p, st.writing.out);
    }
  }
  for (auto& e : o.effects) {
    if (auto open = std::get_if<mqtt::effect::open_session>(&e)) {
      start_session(self, std::move(*open));
    } else if (auto ad = std::get_if<mqtt::effect::auth_data>(&e)) {
      continue_auth(self, ad->data);
    } else if (auto r = std::get_if<mqtt::effect::route>(&e)) {
      route(self, std::move(r->msg));
    } else if (auto r = std::get_if<mqtt::effect::route_if_exists>(&e)) {
      route_if_exists(self, std::move(r->msg));
    } else if (auto pr = std::get_if<mqtt::effect::publish_refused>(&e)) {
      bool unconverted
          = pr->reason == mqtt::reason_code::payload_format_invalid;
      broker_counters::add(unconverted ? st.ctx->counters->publishes_unconverted
                                       : st.ctx->counters->publishes_refused);
      metrics::dropped(unconverted ? metrics::drop_reason::mapping
                                   : metrics::drop_reason::acl);
      CASTOR_LOG(debug, context_of(self),
                 "publish to " << pr->topic << " (QoS " << int{pr->qos}
                               << ") refused: "
                               << (unconverted ? pr->why : "not authorized"));
    } else if (auto a = std::get_if<mqtt::effect::api_request>(&e)) {
      run_api_request(self, std::move(*a));
    } else if (auto m = std::get_if<mqtt::effect::message_request>(&e)) {
      run_message_request(self, std::move(*m));
    } else if (auto m = std::get_if<mqtt::effect::message_answer>(&e)) {
      run_message_answer(self, std::move(*m));
    } else if (auto s = std::get_if<mqtt::effect::subscribe>(&e)) {
      begin_subscribe(self, std::move(*s));
    } else if (auto u = std::get_if<mqtt::effect::unsubscribe>(&e)) {
      if (!st.attachment.session && !st.attachment.promoting) {
        // No session actor, so no subscriptions.
        std::vector<mqtt::reason_code> codes = u->codes;
        for (auto& c : codes)
          if (!mqtt::is_error(c))
            c = mqtt::reason_code::no_subscription_existed;
        apply_output(
            self, st.channel->handle_unsuback(u->packet_id, std::move(codes)));
        continue;
      }
      begin_unsubscribe(self, std::move(*u));
    } else if (auto a = std::get_if<mqtt::effect::outbound_ack>(&e)) {
      st.attachment.client_acks.items.push_back(
          ack_item{ack_kind_of(a->kind), a->packet_id, a->code});
    } else if (auto c = std::get_if<mqtt::effect::close>(&e)) {
      if (!st.closing) {
        st.closing = true;
        st.close_info = *c;
        if (is_error(c->reason))
          broker_counters::add(st.ctx->counters->protocol_errors);
      }
    }
  }
}

} // namespace connection_detail

using namespace connection_detail;

namespace {

/// Bytes from the socket: through the transport, the parser and the
/// channel; the read buffer grows for bursts and shrinks when quiet.
void on_data(connection_broker* self, caf::io::new_data_msg& msg) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.reading.last_rx = clock_type::now();
  // In the round that triggered reading, a halt from earlier in the same
  // round may still be pending (CAF applies it at the round's end and then
  // reads no more): only data after that round proves reading is on.
  if (!st.reading.armed)
    st.reading.rx_since_resume = true;
  metrics::add(metrics::local().bytes_in, msg.buf.size());
  std::string_view in{msg.buf.data(), msg.buf.size()};
  // Plain TCP: the parser reads the socket's buffer itself.
  bool transport_done = false;
  if (st.net.transport) {
    transport_done = transport_read(self, in);
    in = st.net.transport_in.data;
    if (st.net.transport_in.http)
      http_request_in(self);
  }
  consume_input(self, in);
  // Grow the read buffer for large packets and bursts; give it back
  // when the connection is quiet again.
  if (msg.buf.size() >= st.net.read_size && st.net.read_size < max_read_size)
    set_read_size(self, st.net.read_size * 2);
  else if (msg.buf.size() < min_read_size / 2
           && st.net.read_size > min_read_size
           && st.reading.parser->buffered() == 0)
    set_read_size(self, min_read_size);
  self->ack_writes(st.net.hdl, true);
  if (st.reading.parser->buffered() == 0)
    st.reading.parser->shrink();
  if (st.net.transport) {
    if (st.net.transport_in.data.capacity() > max_read_size)
      std::string{}.swap(st.net.transport_in.data);
    if (transport_done && !st.closing) {
      // The peer broke the transport or closed it (WebSocket close,
      // TLS close_notify): like a lost connection for MQTT, once
      // what it sent before has been handled.
      if (change_pending(self)) {
        st.order->peer_closed = true;
      } else {
        apply_output(self, st.channel->handle_closed());
        st.closing = true;
      }
    }
  }
  end_step(self);
}

/// The socket has closed: what the client sent before takes effect first.
void on_socket_closed(connection_broker* self) {
  auto& st = self->state;
  st.net.socket_gone = true;
  if (st.net.transport)
    st.net.transport->close(); // nothing can be sent any more
  if (!st.closing && change_pending(self)) {
    // What the client sent before it closed takes effect first.
    st.order->peer_closed = true;
    return;
  }
  if (!st.closing)
    apply_output(self, st.channel->handle_closed());
  st.closing = true;
  end_step(self);
}

/// Packets from the session, encoded for the client; a packet larger than
/// the client takes counts as delivered (the session hears of it).
void write_outbound(connection_broker* self, outbound_batch& batch) {
  auto& st = self->state;
  if (st.closing || st.channel->state() != mqtt::channel::phase::connected)
    return;
  auto now = clock_type::now();
  for (auto& o : batch.items) {
    st.writing.credit += mqtt::wire_size(o);
    // The channel counts what it writes and what it drops.
    if (!st.channel->write(o, now, st.writing.out)) {
      if (o.packet_id != 0)
        st.attachment.client_acks.items.push_back(
            ack_item{ack_kind::dropped, o.packet_id,
                     mqtt::reason_code::packet_too_large});
    }
  }
  end_step(self);
}

/// Bytes written to the socket: credit back to the session, and the
/// session resumes once the socket has drained enough.
void on_written(connection_broker* self,
                const caf::io::data_transferred_msg& msg) {
  auto& st = self->state;
  st.writing.unsent = msg.remaining;
  return_written(self);
  if (st.writing.paused
      && st.writing.unsent <= st.ctx->max_outbound_bytes / 4) {
    st.writing.paused = false;
    ++st.writing.slow_epoch;
    CASTOR_LOG(debug, context_of(self),
               "outbound resumed: " << st.writing.unsent << " bytes unsent");
    if (st.attachment.session && !st.closing)
      self->send(st.attachment.session, flow_atom::value, flow_mode::open);
  }
}

/// The socket has not drained within the slow-consumer timeout: drop the
/// session's QoS 0 messages or disconnect, as configured.
void slow_check(connection_broker* self, uint64_t epoch) {
  auto& st = self->state;
  CASTOR_LOG(trace, context_of(self),
             "slow check " << epoch << "/" << st.writing.slow_epoch
                           << " paused " << st.writing.paused << " unsent "
                           << st.writing.unsent);
  if (epoch != st.writing.slow_epoch || !st.writing.paused || st.closing)
    return;
  auto& c = *st.ctx->counters;
  broker_counters::add(c.slow_consumer_episodes);
  CASTOR_LOG(warning, context_of(self),
             "slow consumer: " << st.writing.unsent << " bytes unsent for "
                               << st.ctx->slow_consumer_timeout_ms << " ms"
                               << (st.ctx->slow_consumer_disconnect
                                       ? ", disconnecting"
                                       : ", dropping its QoS 0 messages"));
  if (!st.ctx->slow_consumer_disconnect) {
    if (st.attachment.session)
      self->send(st.attachment.session, flow_atom::value,
                 flow_mode::paused_drop0);
    return;
  }
  broker_counters::add(c.slow_consumer_disconnects);
  // The peer does not read: a graceful close would wait for it forever.
  ::shutdown(static_cast<int>(st.net.hdl.id()), SHUT_RDWR);
  apply_output(
      self, st.channel->handle_kick(mqtt::reason_code::quota_exceeded, true));
  st.closing = true;
  st.close_info.publish_will = true;
  end_step(self);
}

/// The server closes the connection (takeover, shutdown).
void on_kick(connection_broker* self, mqtt::reason_code reason,
             bool publish_will) {
  if (reason == mqtt::reason_code::server_shutting_down)
    CASTOR_LOG(debug, context_of(self), "disconnected: server shutdown");
  else
    CASTOR_LOG(info, context_of(self),
               "disconnected by the server (" << mqtt::to_string(reason)
                                              << ")");
  end_connection(self, reason, publish_will);
}

/// Triggers reading again until data arrives (see resume_reading).
void rearm_read(connection_broker* self, uint64_t epoch_and_step) {
  // The low four bits count the retries.
  auto& st = self->state;
  auto step = epoch_and_step & 0xF;
  if ((epoch_and_step >> 4) != st.reading.rearm_epoch || st.reading.stops != 0
      || st.closed || st.reading.rx_since_resume)
    return;
  arm_read(self);
  if (step < max_rearm_steps)
    set_timer(self, rearm_delay(step + 1), rearm_read_atom::value,
              epoch_and_step + 1);
}

/// The connection's tick: connect and authentication deadlines, stuck
/// publishes, keep alive.
void on_tick(connection_broker* self, uint64_t epoch) {
  auto& st = self->state;
  if (epoch != st.timer_epoch || st.closing)
    return;
  st.reading.pending.release_if_empty();
  using phase = mqtt::channel::phase;
  auto now = clock_type::now();
  if (st.channel->state() == phase::awaiting_connect) {
    if (st.net.transport && st.net.transport->http_answered() > 0
        && !st.net.transport->established())
      CASTOR_LOG(debug, context_of(self),
                 "idle HTTP connection closed after "
                     << st.net.transport->http_answered() << " requests");
    else if (st.net.transport && !st.net.transport->established())
      CASTOR_LOG(info, context_of(self),
                 st.net.transport->pending_stage() << " not finished in time");
    else
      CASTOR_LOG(info, context_of(self), "no CONNECT in time");
    apply_output(self, st.channel->handle_timeout());
    end_step(self);
    return;
  }
  if (st.channel->state() == phase::connecting) {
    if (st.attachment.scram) {
      // Enhanced authentication waits for the client: not forever.
      CASTOR_LOG(info, context_of(self), "no AUTH in time");
      apply_output(self, st.channel->handle_timeout());
      end_step(self);
      return;
    }
    if (st.attachment.auth_asked != clock_type::time_point{}
        && now - st.attachment.auth_asked >= auth_timeout) {
      auth_unavailable(self, caf::make_error(caf::sec::request_timeout));
      return;
    }
    schedule_tick(self, std::chrono::milliseconds(st.ctx->connect_timeout_ms));
    return;
  }
  if (publish_waits_expired(self, now))
    return;
  auto ka = st.channel->keep_alive();
  if (ka == 0) {
    if (st.routing.publishes_in_flight())
      schedule_tick(self, publish_wait_limit(*st.ctx));
    return;
  }
  auto limit = std::chrono::milliseconds(ka * 1500);
  if (st.reading.stops != 0) {
    // Not reading is our doing (flow control), not the client's silence.
    st.reading.last_rx = now;
    schedule_tick(self, limit);
    return;
  }
  auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(
      now - st.reading.last_rx);
  if (idle >= limit) {
    broker_counters::add(st.ctx->counters->keep_alive_timeouts);
    CASTOR_LOG(info, context_of(self), "keep alive timeout");
    apply_output(self, st.channel->handle_timeout());
    end_step(self);
    return;
  }
  schedule_tick(self, limit - idle);
}

} // namespace

caf::behavior connection_actor(connection_broker* self,
                               caf::io::connection_handle hdl,
                               connection_context_ptr ctx) {
  auto& st = self->state;
  st.net.hdl = hdl;
  st.ctx = ctx;
  mqtt::parser_options popts;
  popts.max_packet_size = ctx->opts.max_packet_size;
  st.reading.parser = std::make_unique<mqtt::frame_parser>(popts);
  st.channel = std::make_unique<mqtt::channel>(ctx->opts);
  st.net.peer = self->remote_addr(hdl);
  if (ctx->transport)
    st.net.transport = std::make_unique<security::transport>(*ctx->transport);
  st.reading.last_rx = clock_type::now();
  set_read_size(self, min_read_size);
  // The first configure_read() switches reading on: a kick at shutdown in
  // the round of the accept waits, as after arm_read().
  note_armed(self);
  self->ack_writes(st.net.hdl, true);
  schedule_tick(self, std::chrono::milliseconds(ctx->connect_timeout_ms));
  st.share.open(ctx->listener_index);
  // Only topics are monitored: one has retired.
  self->set_down_handler(
      [=](caf::down_msg& dm) { topic_gone(self, dm.source); });
  // The MQTT connection's own messages, then those of the platform API
  // (connection_api.cpp).
  caf::message_handler mqtt{
      [=](caf::io::new_data_msg& msg) { on_data(self, msg); },
      [=](caf::io::connection_closed_msg&) { on_socket_closed(self); },
      [=](gate_open_atom, uint64_t) { release_held(self); },
      [=](change_timeout_atom, uint64_t seq) { change_timed_out(self, seq); },
      [=](out_atom, outbound_batch& batch) { write_outbound(self, batch); },
      [=](const caf::io::data_transferred_msg& msg) { on_written(self, msg); },
      [=](slow_atom, uint64_t epoch) { slow_check(self, epoch); },
      [=](flush_atom) {
        self->state.writing.flush_pending = false;
        flush_out(self, true);
      },
      [=](kick_atom, mqtt::reason_code reason, bool publish_will) {
        on_kick(self, reason, publish_will);
      },
      [=](round_atom, uint64_t seq) { round_over(self, seq); },
      [=](rearm_read_atom, uint64_t epoch_and_step) {
        rearm_read(self, epoch_and_step);
      },
      [=](tick_atom, uint64_t epoch) { on_tick(self, epoch); },
  };
  return census(self, metrics::actor_kind::connection,
                caf::behavior{mqtt.or_else(api_handlers(self))});
}

} // namespace castor
