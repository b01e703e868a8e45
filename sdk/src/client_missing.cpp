// Missing-topic handlers of castor::client (docs/platform.md, "Missing-topic
// handlers"): the server's requests to `$castor/missing/<prefix>` handed to
// the callback of the most specific registered path, and its answer
// published to the request's `$castor/reply/<n>`.

#include "client_impl.hpp"

namespace castor {

namespace {

constexpr std::string_view missing_prefix = "$castor/missing/";

/// Whether `path` is `prefix` or lies under it, by whole levels.
bool under(const std::string& path, const std::string& prefix) {
  return path.compare(0, prefix.size(), prefix) == 0
         && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

} // namespace

bool client::impl::serve_missing(const message& m) {
  if (missing_handlers.empty() || !m.response_topic
      || m.topic.compare(0, missing_prefix.size(), missing_prefix) != 0)
    return false;
  auto prefix = m.topic.substr(missing_prefix.size());
  // The most specific registered path the prefix lies under.
  const missing_topic_callback* cb = nullptr;
  size_t best = 0;
  for (auto& [path, f] : missing_handlers) {
    if (under(prefix, path) && (cb == nullptr || path.size() > best)) {
      cb = &f;
      best = path.size();
    }
  }
  if (cb == nullptr)
    return false;
  auto j = json::parse(m.payload, nullptr, false);
  missing_topic_request r;
  if (j.is_object()) {
    r.selector = j.value("selector", "");
    r.session = j.value("session", "");
    r.operation = j.value("operation", "");
  }
  r.prefix = prefix;
  auto self = shared_from_this();
  auto topic = *m.response_topic;
  auto once = std::make_shared<std::atomic<bool>>(false);
  r.answer = [self, topic, once](bool proceed) {
    if (once->exchange(true))
      return;
    asio::post(self->io, [self, topic, proceed] {
      if (!self->up)
        return; // the request ended with the connection
      mqtt::publish answer;
      answer.topic = topic;
      answer.qos = 1;
      answer.payload = json{{"proceed", proceed}}.dump();
      answer.props.content_type = "application/json";
      answer.packet_id = self->pid();
      self->acks[answer.packet_id] = [](std::optional<mqtt::reason_code>) {};
      self->send(answer);
    });
  };
  (*cb)(r);
  return true;
}

std::future<json> client::add_missing_topic_handler(const std::string& path,
                                                    missing_topic_callback cb) {
  auto self = impl_;
  asio::post(self->io,
             [self, path, cb = std::move(cb)] { self->missing_handlers[path] = cb; });
  return request("handlers/missing-topic", {{"path", path}});
}

std::future<json> client::remove_missing_topic_handler(const std::string& path) {
  auto self = impl_;
  asio::post(self->io, [self, path] { self->missing_handlers.erase(path); });
  return request("handlers/remove-missing-topic", {{"path", path}});
}

} // namespace castor
