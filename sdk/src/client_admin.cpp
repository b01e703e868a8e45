// castor::client: subscriptions by topic selector (topics/subscribe),
// topic notifications (topics/notify), session administration
// (sessions/...), and update_stream.

#include "client_impl.hpp"

namespace castor {

namespace {

constexpr std::string_view end_suffix = "/end"; ///< topics/unnotify's correlation

} // namespace

std::future<json> client::impl::api_request_as(const std::string& operation, json body,
                                               const std::string& c) {
  // On the I/O thread (callers run there): the request is in `api` when
  // this returns.
  std::promise<json> pr;
  auto fut = pr.get_future();
  start_api_request(std::move(pr), operation, std::move(body), c);
  return fut;
}

void client::impl::start_api_request(std::promise<json> pr, const std::string& operation,
                                     json body, const std::string& c) {
  if (api.count(c)) { // (never: correlation data are unique)
    pr.set_exception(std::make_exception_ptr(error("PROTOCOL_ERROR", "correlation in use")));
    return;
  }
  auto& slot = api[c];
  slot.promise = std::move(pr);
  slot.deadline = clock_type::now() + opts.request_timeout;
  auto self = shared_from_this();
  bool ok = when_up([self, c, operation, body = std::move(body)] {
    auto i = self->api.find(c);
    if (i == self->api.end())
      return;
    i->second.sent = true;
    mqtt::publish p;
    p.topic = "$castor/api/" + operation;
    p.payload = body.dump();
    p.props.response_topic = self->reply_topic;
    p.props.correlation_data = c;
    p.props.content_type = "application/json";
    p.props.payload_format_indicator = 1;
    self->send(p);
  });
  if (!ok) {
    api[c].promise.set_exception(not_sent());
    api.erase(c);
  }
}

void client::impl::prune_selections() {
  // Selections whose topics/notify failed without an answer (lost,
  // timed out, not sent): nothing will come for them.
  for (auto i = selections.begin(); i != selections.end();)
    if (!i->second.made && !api.count(i->first))
      i = selections.erase(i);
    else
      ++i;
}

bool client::impl::notify_event(const std::string& c, const message& m) {
  if (c.size() > end_suffix.size()
      && c.compare(c.size() - end_suffix.size(), end_suffix.size(), end_suffix) == 0) {
    // The answer of topics/unnotify: the selection has ended.
    selections.erase(c.substr(0, c.size() - end_suffix.size()));
    return false;
  }
  auto s = selections.find(c);
  if (s == selections.end())
    return false;
  auto j = json::parse(m.payload, nullptr, false);
  if (!j.is_object())
    return false;
  if (j.contains("event") && j["event"].is_string()) {
    if (s->second.cb)
      s->second.cb(j["event"].get<std::string>(), j.value("path", ""));
    return true;
  }
  // The answer of topics/notify.
  if (j.value("ok", false))
    s->second.made = true;
  else if (!s->second.made)
    selections.erase(s);
  return false;
}

void client::impl::renotify() {
  prune_selections();
  for (auto& [c, s] : selections)
    if (s.made && !api.count(c))
      api_request_as("topics/notify", json{{"selector", s.selector}}, c);
}

bool client::impl::deliver_to_selectors(const message& m) {
  bool any = false;
  bool delta = m.topic.rfind("$delta/", 0) == 0;
  for (auto& [id, s] : subs) {
    if (!s.by_selector || s.values != delta)
      continue;
    any = true;
    deliver(s, id, m);
  }
  return any;
}

// --- public members -------------------------------------------------------

namespace {

std::future<json> selector_subscription(std::shared_ptr<client::impl> self,
                                        client::impl::sub s) {
  auto pr = std::make_shared<std::promise<std::future<json>>>();
  auto inner = pr->get_future();
  asio::post(self->io, [self, pr, s = std::move(s)]() mutable {
    json body{{"selector", s.filter}, {"qos", s.qos}, {"delta", s.values}};
    // The subscription is kept (to route its messages, and to make it
    // again on a new session) from the request on: messages may come
    // before the answer. An error answer drops it.
    subscription_id id = 0;
    for (auto& [old_id, old] : self->subs)
      if (old.by_selector && old.filter == s.filter && old.values == s.values) {
        id = old_id;
        old = std::move(s);
        break;
      }
    if (id == 0) {
      id = self->next_sub++;
      self->subs.emplace(id, std::move(s));
    }
    auto c = "s" + self->corr();
    auto f = self->api_request_as("topics/subscribe", body, c);
    if (auto i = self->api.find(c); i != self->api.end())
      i->second.on_answer = [self, id](bool ok) {
        if (!ok)
          self->subs.erase(id);
      };
    else
      self->subs.erase(id); // not sent
    pr->set_value(std::move(f));
  });
  return std::async(std::launch::deferred, [inner = std::move(inner)]() mutable {
    return inner.get().get();
  });
}

} // namespace

std::future<json> client::subscribe_selector(const std::string& selector,
                                             message_callback cb, uint8_t qos) {
  impl::sub s;
  s.filter = selector;
  s.by_selector = true;
  s.qos = qos;
  s.on_message = std::move(cb);
  return selector_subscription(impl_, std::move(s));
}

std::future<json> client::subscribe_selector_values(const std::string& selector,
                                                    value_callback cb, uint8_t qos) {
  impl::sub s;
  s.filter = selector;
  s.by_selector = true;
  s.values = true;
  s.qos = qos;
  s.on_value = std::move(cb);
  return selector_subscription(impl_, std::move(s));
}

std::future<json> client::unsubscribe_selector(const std::string& selector, bool delta) {
  auto self = impl_;
  asio::post(self->io, [self, selector, delta] {
    for (auto i = self->subs.begin(); i != self->subs.end(); ++i)
      if (i->second.by_selector && i->second.filter == selector
          && i->second.values == delta) {
        self->subs.erase(i);
        return;
      }
  });
  return request("topics/unsubscribe", {{"selector", selector}, {"delta", delta}});
}

std::future<json> client::notify(const std::string& selector, notify_callback cb) {
  auto self = impl_;
  auto pr = std::make_shared<std::promise<std::future<json>>>();
  auto inner = pr->get_future();
  asio::post(self->io, [self, selector, cb = std::move(cb), pr]() mutable {
    self->prune_selections();
    auto c = "n" + self->corr();
    self->selections[c] = impl::selection{selector, std::move(cb), false};
    auto f = self->api_request_as("topics/notify", json{{"selector", selector}}, c);
    if (!self->api.count(c)) // not sent
      self->selections.erase(c);
    pr->set_value(std::move(f));
  });
  // The inner future exists once the I/O thread ran the post; the caller
  // waits on the answer through a deferred future.
  return std::async(std::launch::deferred, [inner = std::move(inner)]() mutable {
    return inner.get().get();
  });
}

std::future<json> client::unnotify(const std::string& selector) {
  auto self = impl_;
  auto pr = std::make_shared<std::promise<std::future<json>>>();
  auto inner = pr->get_future();
  asio::post(self->io, [self, selector, pr] {
    std::string c = "u" + self->corr(); // no such selection: an ordinary request
    for (auto& [corr, s] : self->selections)
      if (s.selector == selector)
        c = corr + std::string(end_suffix);
    pr->set_value(
        self->api_request_as("topics/unnotify", json{{"selector", selector}}, c));
  });
  return std::async(std::launch::deferred, [inner = std::move(inner)]() mutable {
    return inner.get().get();
  });
}

std::future<json> client::list_sessions(const std::string& filter, const json& paging) {
  json b = paging.is_object() ? paging : json::object();
  b["filter"] = filter;
  return request("sessions/list", b);
}

std::future<json> client::get_session(const std::string& session) {
  return request("sessions/get", {{"session", session}});
}

std::future<json> client::set_session_properties(const std::string& session,
                                                 const json& properties) {
  return request("sessions/set-properties",
                 {{"session", session}, {"properties", properties}});
}

std::future<json> client::close_session(const std::string& session) {
  return request("sessions/close", {{"session", session}});
}

std::future<json> client::close_sessions(const std::string& filter) {
  return request("sessions/close", {{"filter", filter}});
}

std::future<json> client::subscribe_session(const std::string& session,
                                            const std::string& selector, uint8_t qos,
                                            bool delta) {
  return request("sessions/subscribe", {{"session", session},
                                        {"selector", selector},
                                        {"qos", qos},
                                        {"delta", delta}});
}

std::future<json> client::unsubscribe_session(const std::string& session,
                                              const std::string& selector, bool delta) {
  return request("sessions/unsubscribe",
                 {{"session", session}, {"selector", selector}, {"delta", delta}});
}

std::future<json> client::change_roles(const std::string& session,
                                      const std::vector<std::string>& add,
                                      const std::vector<std::string>& remove) {
  return request("sessions/change-roles",
                 {{"session", session}, {"add", add}, {"remove", remove}});
}

std::future<json> client::send_message(const std::string& path, const json& v) {
  return request("messages/send", {{"path", path}, {"value", v}});
}

std::shared_future<json> update_stream::set(const json& v) {
  // A failed previous set: the server may not have the value we kept.
  if (prev_.valid()
      && prev_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    try {
      prev_.get();
    } catch (...) {
      last_.reset();
    }
  }
  std::shared_future<json> f;
  if (last_) {
    auto d = json::diff(*last_, v);
    if (d.dump().size() < v.dump().size()) {
      ++patches_;
      f = c_.patch(path_, d).share();
    }
  }
  if (!f.valid()) {
    ++updates_;
    f = c_.update(path_, v).share();
  }
  last_ = v;
  prev_ = f;
  return f;
}

} // namespace castor
