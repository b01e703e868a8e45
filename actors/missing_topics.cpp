#include "actors/missing_topics.hpp"

#include <caf/all.hpp>

#include "protocol/missing_topic.hpp"

namespace castor {

bool missing_served(const missing_ptr& m, const std::string& selector) {
  if (!m || m->handlers.size() == 0)
    return false;
  auto prefix = missing_prefix(selector);
  return !prefix.empty() && m->handlers.serves(prefix);
}

bool ask_missing(const missing_ptr& m,
                 const std::string& selector, const std::string& client_id,
                 const char* operation, caf::actor requester) {
  if (!m || m->handlers.size() == 0)
    return false;
  auto prefix = missing_prefix(selector);
  if (prefix.empty())
    return false;
  auto handler = m->handlers.pick(prefix);
  if (!handler)
    return false;
  std::string session;
  if (m->sessions)
    session = m->sessions->id_of_client(client_id);
  handler_request req;
  req.path = missing_request_topic(prefix);
  req.payload = missing_request_payload(selector, session, operation);
  req.props.content_type = "application/json";
  req.props.payload_format_indicator = 1;
  req.requester = std::move(requester);
  req.timeout_ms = m->request_timeout_ms;
  caf::anon_send(*handler, msg_request_atom::value, std::move(req));
  return true;
}

} // namespace castor
