// Ordinary HTTP requests on connections of http and https listeners: the
// transport parses each request whole (security/transport.hpp), the HTTP
// router actor answers it (ctx->http; app/http_router.hpp), and the connection writes
// the answer. One request at a time per connection; requests pipelined
// behind it wait in the transport. An idle keep-alive connection closes
// after mqtt.connect_timeout_ms, as a connection that never sends CONNECT
// does. Part of the connection actor (connection.cpp).

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/connection_detail.hpp"
#include "actors/tracked.hpp"
#include "actors/http_types.hpp"
#include "log/log.hpp"

namespace castor::connection_detail {

namespace {

/// The transport has finished: like a lost connection for MQTT.
void transport_finished(connection_broker* self) {
  auto& st = self->state;
  if (st.closing)
    return;
  apply_output(self, st.channel->handle_closed());
  st.closing = true;
}

void http_answer(connection_broker* self, const http::response& resp,
                 bool head_only, bool keep_alive) {
  auto& st = self->state;
  if (st.closed || st.closing || !st.net.transport)
    return;
  std::string out;
  st.net.transport->respond(resp, head_only, keep_alive, out);
  send_bytes(self, out);
  if (!keep_alive) {
    transport_finished(self);
    end_step(self);
    return;
  }
  // The next request may come: the idle limit starts again.
  schedule_tick(self, std::chrono::milliseconds(st.ctx->connect_timeout_ms));
  auto& r = st.net.transport_in;
  st.net.transport->resume(r);
  send_bytes(self, r.to_send);
  bool done = transport_check(self);
  if (r.http) {
    http_request_in(self);
  } else if (!r.data.empty()) {
    // Pipelined behind the request: a WebSocket upgrade and MQTT.
    std::string data = std::move(r.data);
    consume_input(self, data);
  }
  if (done)
    transport_finished(self);
  end_step(self);
}

} // namespace

void http_request_in(connection_broker* self) {
  auto& st = self->state;
  auto req = std::move(*st.net.transport_in.http);
  st.net.transport_in.http.reset();
  req.peer = st.net.peer;
  req.listener = st.ctx->listener;
  bool head_only = req.method == "HEAD";
  bool keep_alive = req.keep_alive;
  if (!st.ctx->http) {
    http_answer(self,
                http::error_response(404, "NOT_FOUND",
                                     "this listener serves no HTTP requests"),
                head_only, keep_alive);
    return;
  }
  CASTOR_LOG(debug, context_of(self),
             "HTTP " << req.method << " " << req.path.substr(0, 200));
  tracked(self->request(st.ctx->http, http_answer_timeout, http_atom::value,
                        std::move(req)))
      .then(
          [=](http::response& resp) {
            http_answer(self, resp, head_only, keep_alive);
          },
          [=](caf::error& err) {
            CASTOR_LOG(warning, context_of(self),
                       "HTTP request not answered: "
                           << self->system().render(err));
            http_answer(self,
                        http::error_response(504, "UNAVAILABLE",
                                             "the request was not answered "
                                             "in time"),
                        head_only, keep_alive);
          });
}

} // namespace castor::connection_detail
