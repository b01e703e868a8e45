// The layers below MQTT of a connection (TLS, WebSocket, HTTP;
// security/transport.hpp): bytes read from the socket go through them, and
// what they answer on their own goes back. Part of the connection actor
// (connection.cpp).

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/connection_detail.hpp"
#include "log/log.hpp"

namespace castor::connection_detail {

/// Runs bytes read from the socket through the transport: writes what it
/// answers (handshake records, HTTP, pongs, close frames) and leaves the
/// MQTT bytes in st.net.transport_in.data. Returns true when the transport has
/// finished (the connection must close).
bool transport_read(connection_broker* self, std::string_view bytes) {
  auto& st = self->state;
  auto& r = st.net.transport_in;
  st.net.transport->read(bytes, r);
  send_bytes(self, r.to_send);
  return transport_check(self);
}

bool transport_check(connection_broker* self) {
  auto& st = self->state;
  auto& r = st.net.transport_in;
  if (!st.net.transport_up && st.net.transport->established()) {
    st.net.transport_up = true;
    auto peer = st.net.transport->peer();
    if (peer != nullptr && peer->present) {
      if (auto name = security::principal_from(*peer, st.ctx->principal_from))
        st.net.tls_identity = std::move(*name);
    }
    CASTOR_LOG(debug, context_of(self),
               security::to_string(st.net.transport->kind())
                   << " established with " << st.net.peer
                   << (st.net.transport->tls_description().empty() ? "" : " (")
                   << st.net.transport->tls_description()
                   << (st.net.transport->tls_description().empty() ? "" : ")")
                   << (peer != nullptr && peer->present
                           ? ", client certificate " + peer->subject
                           : std::string{}));
  }
  if (!r.closed)
    return false;
  if (!r.error.empty()) {
    CASTOR_LOG(info, context_of(self),
               security::to_string(st.net.transport->kind())
                   << " transport error from " << st.net.peer << ": "
                   << r.error);
  } else {
    CASTOR_LOG(debug, context_of(self),
               security::to_string(st.net.transport->kind())
                   << " closed by " << st.net.peer);
  }
  return true;
}

} // namespace castor::connection_detail
