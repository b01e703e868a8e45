// castor::client: subscriptions, value streams, publishing and
// request-response between clients.

#include "client_impl.hpp"

namespace castor {

namespace {

std::exception_ptr refused(const std::string& what, std::optional<mqtt::reason_code> rc) {
  auto code = static_cast<unsigned>(*rc);
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", code);
  return std::make_exception_ptr(
      error("REFUSED", what + ": " + hex + " " + std::string(mqtt::to_string(*rc))));
}

std::future<subscription_id> add_subscription(std::shared_ptr<client::impl> self,
                                              client::impl::sub s) {
  auto pr = std::make_shared<std::promise<subscription_id>>();
  auto fut = pr->get_future();
  asio::post(self->io, [self, pr, s = std::move(s)]() mutable {
    auto id = self->next_sub++;
    auto filter = s.filter;
    self->subs.emplace(id, std::move(s));
    // Subscribes once connected; a connection lost before the SUBACK
    // tries again on the next one.
    auto attempt = std::make_shared<std::function<void()>>();
    *attempt = [self, pr, id, filter, attempt] {
      if (!self->subs.count(id))
        return;
      self->send_subscribe(id, [self, pr, id, filter, attempt](
                                   std::optional<mqtt::reason_code> rc) {
        if (!rc) {
          if (!self->when_up(*attempt)) {
            self->subs.erase(id);
            pr->set_exception(self->not_sent());
          }
          *attempt = nullptr; // (the copy in `deferred` keeps it)
          return;
        }
        // Answered: the attempt (which holds itself) is done.
        *attempt = nullptr;
        if (mqtt::is_error(*rc)) {
          self->subs.erase(id);
          pr->set_exception(refused("SUBSCRIBE to " + filter + " refused", rc));
        } else {
          pr->set_value(id);
        }
      });
    };
    if (!self->when_up(*attempt)) {
      *attempt = nullptr;
      self->subs.erase(id);
      pr->set_exception(
          self->not_sent());
    }
  });
  return fut;
}

} // namespace

std::future<subscription_id> client::subscribe(const std::string& filter,
                                               message_callback cb) {
  impl::sub s;
  s.filter = filter;
  s.on_message = std::move(cb);
  return add_subscription(impl_, std::move(s));
}

std::future<subscription_id> client::subscribe_values(const std::string& filter,
                                                      value_callback cb) {
  impl::sub s;
  s.filter = "$delta/" + filter;
  s.values = true;
  s.on_value = std::move(cb);
  return add_subscription(impl_, std::move(s));
}

std::future<void> client::unsubscribe(subscription_id id) {
  auto pr = std::make_shared<std::promise<void>>();
  auto fut = pr->get_future();
  auto self = impl_;
  asio::post(self->io, [self, pr, id] {
    auto i = self->subs.find(id);
    if (i == self->subs.end())
      return pr->set_value();
    auto filter = i->second.filter;
    self->subs.erase(i);
    for (auto& [other, s] : self->subs)
      if (s.filter == filter) // another subscription still needs it
        return pr->set_value();
    if (!self->up)
      return pr->set_value(); // a new session will not have it
    mqtt::unsubscribe u;
    u.packet_id = self->pid();
    u.filters.push_back(filter);
    self->acks[u.packet_id] = [pr](std::optional<mqtt::reason_code>) { pr->set_value(); };
    self->send(u);
  });
  return fut;
}

std::future<void> client::publish(message msg) {
  auto pr = std::make_shared<std::promise<void>>();
  auto fut = pr->get_future();
  auto self = impl_;
  asio::post(self->io, [self, pr, msg = std::move(msg)] {
    bool ok = self->when_up([self, pr, msg] {
      mqtt::publish p;
      p.topic = msg.topic;
      p.payload = msg.payload;
      p.qos = msg.qos > 1 ? 1 : msg.qos;
      p.retain = msg.retain;
      p.props.content_type = msg.content_type;
      p.props.payload_format_indicator = msg.payload_format_indicator;
      p.props.response_topic = msg.response_topic;
      p.props.correlation_data = msg.correlation_data;
      p.props.user_properties = msg.user_properties;
      if (p.qos == 0) {
        self->send(p);
        return pr->set_value();
      }
      p.packet_id = self->pid();
      auto topic = msg.topic;
      self->acks[p.packet_id] = [pr, topic](std::optional<mqtt::reason_code> rc) {
        if (!rc)
          pr->set_exception(std::make_exception_ptr(
              error("CONNECTION_LOST", "the connection closed before the PUBACK")));
        else if (mqtt::is_error(*rc))
          pr->set_exception(refused("PUBLISH to " + topic + " refused", rc));
        else
          pr->set_value();
      };
      self->send(p);
    });
    if (!ok)
      pr->set_exception(
          self->not_sent());
  });
  return fut;
}

std::future<message> client::send_request(const std::string& path, std::string payload,
                                          std::optional<std::string> content_type) {
  auto pr = std::make_shared<std::promise<message>>();
  auto fut = pr->get_future();
  auto self = impl_;
  asio::post(self->io, [self, pr, path, payload = std::move(payload), content_type] {
    auto c = "m" + self->corr();
    auto& slot = self->msg_requests[c];
    slot.promise = std::move(*pr);
    slot.deadline = clock_type::now() + self->opts.request_timeout;
    bool ok = self->when_up([self, c, path, payload, content_type] {
      if (!self->msg_requests.count(c))
        return;
      self->ensure_reply_subscription([self, c, path, payload, content_type](bool ok) {
        auto i = self->msg_requests.find(c);
        if (i == self->msg_requests.end())
          return;
        if (!ok) {
          i->second.promise.set_exception(std::make_exception_ptr(
              error("REFUSED", "cannot subscribe to the reply topic " + self->reply_topic)));
          self->msg_requests.erase(i);
          return;
        }
        i->second.sent = true;
        mqtt::publish p;
        p.topic = path;
        p.payload = payload;
        p.qos = 1;
        p.packet_id = self->pid();
        p.props.response_topic = self->reply_topic;
        p.props.correlation_data = c;
        p.props.content_type = content_type;
        self->acks[p.packet_id] = [self, c, path](std::optional<mqtt::reason_code> rc) {
          if (!rc || !mqtt::is_error(*rc))
            return;
          auto i = self->msg_requests.find(c);
          if (i == self->msg_requests.end())
            return;
          i->second.promise.set_exception(refused("request to " + path + " refused", rc));
          self->msg_requests.erase(i);
        };
        self->send(p);
      });
    });
    if (!ok) {
      self->msg_requests[c].promise.set_exception(
          self->not_sent());
      self->msg_requests.erase(c);
    }
  });
  return fut;
}

std::future<json> client::add_handler(const std::string& path, request_handler cb) {
  auto self = impl_;
  asio::post(self->io, [self, path, cb = std::move(cb)] { self->handlers[path] = cb; });
  return request("handlers/add", {{"path", path}});
}

std::future<json> client::remove_handler(const std::string& path) {
  auto self = impl_;
  asio::post(self->io, [self, path] { self->handlers.erase(path); });
  return request("handlers/remove", {{"path", path}});
}

} // namespace castor
