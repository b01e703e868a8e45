// Requests to sessions on a connection (docs/platform.md, "Requests to
// sessions"; actors/messaging.hpp): the request streams the connection's
// client set (streams/add, streams/remove), kept here with the connection
// and ended with it, and the requests addressed to its session, served as
// a message handler's requests are (connection_messaging.cpp) when a
// stream's path is a prefix of theirs. Part of the connection actor
// (connection.cpp); declarations in connection_detail.hpp.

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/connection_detail.hpp"

namespace castor {

bool connection_messaging::has_stream_for(std::string_view path) const {
  if (streams.empty())
    return false;
  // The path and its prefixes by whole levels, longest first.
  for (;;) {
    if (streams.count(std::string{path}) > 0)
      return true;
    auto slash = path.rfind('/');
    if (slash == std::string_view::npos)
      return false;
    path = path.substr(0, slash);
  }
}

} // namespace castor

namespace castor::connection_detail {

void on_stream_request(connection_broker* self, handler_request& r) {
  auto& st = self->state;
  if (!st.messaging || !st.messaging->has_stream_for(r.path)) {
    self->send(
        r.requester, msg_answer_atom::value,
        error_answer(r, "NO_STREAM",
                     "the session has no request stream for '" + r.path + "'"));
    return;
  }
  on_handler_request(self, r, true);
}

stream_added add_request_stream(connection_broker* self,
                                const std::string& path) {
  auto& st = self->state;
  if (!st.messaging)
    st.messaging = std::make_unique<connection_messaging>();
  auto& streams = st.messaging->streams;
  if (streams.count(path) > 0)
    return stream_added::exists;
  if (streams.size() >= max_request_streams)
    return stream_added::too_many;
  streams.insert(path);
  return stream_added::added;
}

bool remove_request_stream(connection_broker* self, const std::string& path) {
  auto& st = self->state;
  return st.messaging && st.messaging->streams.erase(path) > 0;
}

} // namespace castor::connection_detail
