// Requests to sessions (docs/platform.md, "Requests to sessions"; docs/sdk.md):
// request streams this client's session answers, and requests to other
// sessions, by id or by session filter.

#include "client_impl.hpp"

namespace castor {

const request_handler* client::impl::stream_for(const std::string& topic) const {
  if (request_streams.empty())
    return nullptr;
  std::string key = topic;
  for (;;) {
    if (auto i = request_streams.find(key); i != request_streams.end())
      return &i->second;
    auto slash = key.rfind('/');
    if (slash == std::string::npos)
      return nullptr;
    key.resize(slash);
  }
}

void client::impl::answer_request(const request_handler& h, const message& m) {
  mqtt::publish answer;
  answer.topic = *m.response_topic;
  answer.qos = 1;
  answer.props.correlation_data = m.correlation_data;
  auto fail = [&](const std::string& code, const std::string& text) {
    answer.props.user_properties.emplace_back("castor-error", code);
    answer.props.content_type = "application/json";
    answer.payload =
        json{{"ok", false}, {"error", {{"code", code}, {"message", text}}}}.dump();
  };
  try {
    answer.payload = h(m);
  } catch (const error& e) {
    fail(e.code(), e.message());
  } catch (const std::exception& e) {
    fail("HANDLER_FAILED", e.what());
  }
  answer.packet_id = pid();
  acks[answer.packet_id] = [](std::optional<mqtt::reason_code>) {};
  send(answer);
}

void client::impl::restore_streams() {
  for (auto& [path, h] : request_streams)
    api_request("streams/add", json{{"path", path}});
}

std::future<json> client::add_request_stream(const std::string& path, request_handler cb) {
  auto self = impl_;
  asio::post(self->io, [self, path, cb = std::move(cb)] { self->request_streams[path] = cb; });
  return request("streams/add", {{"path", path}});
}

std::future<json> client::remove_request_stream(const std::string& path) {
  auto self = impl_;
  asio::post(self->io, [self, path] { self->request_streams.erase(path); });
  return request("streams/remove", {{"path", path}});
}

std::future<json> client::send_to_session(const std::string& session, const std::string& path,
                                          const json& value) {
  return request("messages/send-to-session",
                 {{"session", session}, {"path", path}, {"value", value}});
}

std::future<json> client::send_to_filter(const std::string& filter, const std::string& path,
                                         const json& value) {
  return request("messages/send-to-filter",
                 {{"filter", filter}, {"path", path}, {"value", value}});
}

} // namespace castor
