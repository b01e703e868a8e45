// Request-response messaging on a connection (docs/platform.md,
// "Request-response messaging"; actors/messaging.hpp). As a requester's
// connection it sends the requests its client publishes to the handler's
// connection and writes the answers that come back; as a handler's
// connection it writes requests to its client with a response topic
// `$castor/reply/<n>`, keeps them pending (timed on the timer wheel:
// nothing on the I/O thread uses CAF's clock) and sends the answer, or the
// error, back to the requester. Requests and answers are written to the
// client as QoS 0 PUBLISHes, straight away (not through the session).
// Part of the connection actor (connection.cpp); declarations in
// connection_detail.hpp.

#include <charconv>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/connection_detail.hpp"
#include "log/log.hpp"
#include "protocol/api_request.hpp"

namespace castor {

namespace {

handler_answer make_error(std::string topic,
                          std::optional<std::string> correlation,
                          const std::string& code, const std::string& message) {
  handler_answer a;
  a.topic = std::move(topic);
  a.payload = api::error_answer({code, message});
  a.props.content_type = "application/json";
  a.props.payload_format_indicator = 1;
  a.props.user_properties.emplace_back("castor-error", code);
  a.props.correlation_data = std::move(correlation);
  a.error = code;
  return a;
}

} // namespace

handler_answer error_answer(const handler_request& r, const std::string& code,
                            const std::string& message) {
  return make_error(r.props.response_topic.value_or(std::string{}),
                    r.props.correlation_data, code, message);
}

} // namespace castor

namespace castor::connection_detail {

namespace {

constexpr std::string_view reply_prefix = "$castor/reply/";

void fail_pending(connection_broker* self, connection_messaging::pending_request& p,
                  const std::string& code, const std::string& message) {
  self->send(p.requester, msg_answer_atom::value,
             make_error(std::move(p.topic), std::move(p.correlation_data),
                        code, message));
}

} // namespace

void run_message_request(connection_broker* self,
                         mqtt::effect::message_request&& m) {
  auto& st = self->state;
  auto& p = m.msg;
  handler_request req;
  req.path = std::move(p.topic);
  req.payload = std::move(p.payload);
  req.props.content_type = std::move(p.props.content_type);
  req.props.payload_format_indicator = p.props.payload_format_indicator;
  req.props.user_properties = std::move(p.props.user_properties);
  req.props.correlation_data = std::move(p.props.correlation_data);
  req.props.response_topic = std::move(p.props.response_topic);
  req.requester = caf::actor_cast<caf::actor>(self);
  req.timeout_ms = st.ctx->request_timeout_ms;
  std::optional<caf::actor> handler;
  if (st.ctx->handlers)
    handler = st.ctx->handlers->pick(req.path);
  if (!handler) {
    // Removed since the channel looked.
    auto a = error_answer(req, "NO_HANDLER",
                          "no message handler serves '" + req.path + "'");
    on_handler_answer(self, a);
    return;
  }
  self->send(*handler, msg_request_atom::value, std::move(req));
}

void on_handler_request(connection_broker* self, handler_request& r,
                        bool stream) {
  auto& st = self->state;
  // Who serves the request, for the error messages.
  std::string who = stream ? "the session's request stream of '" + r.path + "'"
                           : "the message handler of '" + r.path + "'";
  if (st.closed || st.closing) {
    self->send(r.requester, msg_answer_atom::value,
               error_answer(r, "HANDLER_GONE", who + " has disconnected"));
    return;
  }
  if (!st.messaging)
    st.messaging = std::make_unique<connection_messaging>();
  auto& ms = *st.messaging;
  if (ms.pending.size() >= max_pending_requests) {
    self->send(r.requester, msg_answer_atom::value,
               error_answer(r, "BUSY",
                            who + " has "
                                + std::to_string(max_pending_requests)
                                + " requests pending"));
    return;
  }
  auto id = ms.next_id++;
  mqtt::publish p;
  p.topic = r.path;
  p.payload = std::move(r.payload);
  p.props.content_type = r.props.content_type;
  p.props.payload_format_indicator = r.props.payload_format_indicator;
  p.props.user_properties = std::move(r.props.user_properties);
  p.props.correlation_data = r.props.correlation_data;
  p.props.response_topic = std::string{reply_prefix} + std::to_string(id);
  if (!st.channel->write_direct(std::move(p), st.writing.out)) {
    self->send(r.requester, msg_answer_atom::value,
               error_answer(r, "TOO_LARGE",
                            "the request exceeds the handler's maximum "
                            "packet size"));
    return;
  }
  ms.pending.emplace(
      id, connection_messaging::pending_request{
              std::move(r.requester),
              r.props.response_topic.value_or(std::string{}),
              std::move(r.props.correlation_data), stream});
  self->send(st.ctx->timers, schedule_atom::value,
             caf::atom_value{msg_timeout_atom::value}, id,
             static_cast<uint64_t>(r.timeout_ms));
  flush_out(self, false);
}

void run_message_answer(connection_broker* self,
                        mqtt::effect::message_answer&& a) {
  auto& st = self->state;
  uint64_t id = 0;
  auto end = a.id.data() + a.id.size();
  auto [ptr, ec] = std::from_chars(a.id.data(), end, id);
  bool known = st.messaging && ec == std::errc{} && ptr == end
               && st.messaging->pending.count(id) > 0;
  if (!known) {
    CASTOR_LOG(debug, context_of(self),
               "answer to unknown or expired request " << a.id
                                                       << ": dropped");
    return;
  }
  auto it = st.messaging->pending.find(id);
  handler_answer ans;
  ans.topic = std::move(it->second.topic);
  ans.payload = std::move(a.msg.payload);
  ans.props.content_type = std::move(a.msg.props.content_type);
  ans.props.payload_format_indicator = a.msg.props.payload_format_indicator;
  ans.props.user_properties = std::move(a.msg.props.user_properties);
  ans.props.correlation_data = std::move(it->second.correlation_data);
  self->send(it->second.requester, msg_answer_atom::value, std::move(ans));
  st.messaging->pending.erase(it);
}

void on_handler_answer(connection_broker* self, handler_answer& a) {
  auto& st = self->state;
  if (st.closed || st.closing || a.topic.empty())
    return; // the requester has gone: nobody to answer
  mqtt::publish p;
  p.topic = std::move(a.topic);
  p.payload = std::move(a.payload);
  p.props = std::move(a.props);
  if (!st.channel->write_direct(std::move(p), st.writing.out)) {
    CASTOR_LOG(debug, context_of(self),
               "answer exceeds the client's maximum packet size: dropped");
    return;
  }
  flush_out(self, false);
}

void on_request_timeout(connection_broker* self, uint64_t id) {
  auto& st = self->state;
  if (!st.messaging)
    return;
  auto it = st.messaging->pending.find(id);
  if (it == st.messaging->pending.end())
    return; // answered
  fail_pending(self, it->second, "TIMEOUT",
               std::string{it->second.stream ? "the session"
                                              : "the message handler"}
                   + " did not answer within "
                   + std::to_string(st.ctx->request_timeout_ms) + " ms");
  st.messaging->pending.erase(it);
}

void messaging_closed(connection_broker* self) {
  auto& st = self->state;
  if (st.ctx->handlers)
    st.ctx->handlers->remove_owner(caf::actor_cast<caf::actor>(self));
  if (st.ctx->missing)
    st.ctx->missing->handlers.remove_owner(caf::actor_cast<caf::actor>(self));
  if (!st.messaging)
    return;
  for (auto& [id, p] : st.messaging->pending)
    fail_pending(self, p, "HANDLER_GONE",
                 std::string{p.stream ? "the session" : "the message handler"}
                     + " disconnected before answering");
  st.messaging->streams.clear();
  st.messaging->pending.clear();
}

} // namespace castor::connection_detail
