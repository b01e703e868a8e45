// castor::client's public operations: the API, subscriptions and value
// streams (deltas applied), publishing, and request-response.

#include <random>

#include "client_impl.hpp"
#include "protocol/binary_delta.hpp"
#include "protocol/json_delta.hpp"

namespace castor {

namespace {

constexpr std::string_view delta_prefix = "$delta/";
constexpr std::string_view binary_delta_type = "application/x-castor-delta";

template <class T>
std::future<T> failed(const std::string& code, const std::string& why) {
  std::promise<T> p;
  p.set_exception(std::make_exception_ptr(error(code, why)));
  return p.get_future();
}

std::string random_hex(size_t n) {
  static const char* digits = "0123456789abcdef";
  std::random_device rd;
  std::string s;
  for (size_t i = 0; i < n; ++i)
    s += digits[rd() % 16];
  return s;
}

// A value as a stream keeps it, from a whole PUBLISH.
value whole_value(const message& m) {
  bool pfi_utf8 = m.payload_format_indicator.value_or(0) == 1;
  value v;
  v.payload = m.payload;
  v.content_type = m.content_type.value_or("");
  if (v.content_type == "application/json" || pfi_utf8) {
    auto j = json::parse(v.payload, nullptr, false);
    if (!j.is_discarded()) {
      v.is_json = true;
      v.data = std::move(j);
    }
  }
  return v;
}

/// `j` as text into `out`, reusing its buffer (json::dump() makes a new
/// string and grows it step by step).
void serialize_into(const json& j, std::string& out) {
  out.clear();
  nlohmann::detail::serializer<json> w(
      nlohmann::detail::output_adapter<char, std::string>(out), ' ',
      json::error_handler_t::strict);
  w.dump(j, false, false, 0);
}

} // namespace

std::optional<std::string> message::user_property(const std::string& name) const {
  for (auto& [k, v] : user_properties)
    if (k == name)
      return v;
  return std::nullopt;
}

message to_message(mqtt::publish&& p) {
  message m;
  m.topic = std::move(p.topic);
  m.payload = std::move(p.payload);
  m.qos = p.qos;
  m.retain = p.retain;
  m.content_type = std::move(p.props.content_type);
  m.payload_format_indicator = p.props.payload_format_indicator;
  m.response_topic = std::move(p.props.response_topic);
  m.correlation_data = std::move(p.props.correlation_data);
  m.user_properties = std::move(p.props.user_properties);
  return m;
}

bool topic_matches(const std::string& filter, const std::string& topic) {
  size_t f = 0, t = 0;
  if (!topic.empty() && topic[0] == '$' && !filter.empty()
      && (filter[0] == '#' || filter[0] == '+'))
    return false;
  for (;;) {
    size_t fe = filter.find('/', f), te = topic.find('/', t);
    auto fl = filter.substr(f, fe == std::string::npos ? std::string::npos : fe - f);
    if (fl == "#")
      return true;
    if (t > topic.size())
      return false;
    auto tl = topic.substr(t, te == std::string::npos ? std::string::npos : te - t);
    if (fl != "+" && fl != tl)
      return false;
    if (fe == std::string::npos || te == std::string::npos) {
      if (fe == std::string::npos && te == std::string::npos)
        return true;
      // "a/#" matches "a"
      return te == std::string::npos && filter.substr(fe + 1) == "#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

std::string client::impl::corr() {
  return std::to_string(next_corr++);
}

void client::impl::on_up(bool session_present) {
  if (!session_present) {
    // A new session: make the subscriptions again.
    for (auto& [id, s] : subs)
      if (s.by_selector)
        api_request("topics/subscribe",
                    json{{"selector", s.filter}, {"qos", s.qos}, {"delta", s.values}});
      else
        send_subscribe(id, [](std::optional<mqtt::reason_code>) {});
  }
  // Registrations end with each connection, resumed session or not.
  for (auto& [path, h] : handlers)
    api_request("handlers/add", json{{"path", path}});
  for (auto& [path, h] : missing_handlers)
    api_request("handlers/missing-topic", json{{"path", path}});
  restore_streams(); // request streams end with each connection
  renotify(); // selections end with their connection
  if (on_state)
    on_state(connection_state::connected,
             session_present ? "session resumed" : "new session");
  auto d = std::move(deferred);
  deferred.clear();
  for (auto& f : d)
    f();
}

void client::impl::send_subscribe(
    subscription_id id, std::function<void(std::optional<mqtt::reason_code>)> done) {
  auto& s = subs.at(id);
  mqtt::subscribe sp;
  sp.packet_id = pid();
  mqtt::subscription one;
  one.filter = s.filter;
  one.max_qos = 1;
  sp.subscriptions.push_back(one);
  sp.props.subscription_identifiers.push_back(id);
  acks[sp.packet_id] = std::move(done);
  send(sp);
}

std::future<json> client::impl::api_request(const std::string& operation, json body) {
  auto pr = std::make_shared<std::promise<json>>();
  auto fut = pr->get_future();
  auto self = shared_from_this();
  asio::post(io, [self, pr, operation, body = std::move(body)]() mutable {
    self->start_api_request(std::move(*pr), operation, std::move(body),
                            "a" + self->corr());
  });
  return fut;
}

void client::impl::ensure_reply_subscription(std::function<void(bool)> done) {
  // Castor writes answers straight to the requester's connection, as it
  // writes API answers: the default reply topic (under `$castor/`, where
  // nobody may subscribe) needs no subscription. A reply topic of the
  // caller's choice is subscribed, as MQTT 5 request/response does.
  if (reply_subscribed || reply_topic.rfind("$castor/", 0) == 0)
    return done(true);
  mqtt::subscribe sp;
  sp.packet_id = pid();
  mqtt::subscription one;
  one.filter = reply_topic;
  one.max_qos = 1;
  sp.subscriptions.push_back(one);
  acks[sp.packet_id] = [this, done](std::optional<mqtt::reason_code> rc) {
    reply_subscribed = rc && !mqtt::is_error(*rc);
    done(reply_subscribed);
  };
  send(sp);
}

void client::impl::on_publish(mqtt::publish&& p) {
  auto pid_in = p.packet_id;
  auto qos = p.qos;
  bool duplicate = false;
  if (qos == 2) {
    duplicate = !qos2_in.insert(pid_in).second;
  }
  auto ids = p.props.subscription_identifiers;
  delivering_dup = p.dup;
  auto m = to_message(std::move(p));
  if (!duplicate) {
    try {
      if (m.topic == reply_topic && m.correlation_data) {
        auto& c = *m.correlation_data;
        if (notify_event(c, m)) {
          // a topics/notify event (client_admin.cpp)
        } else if (auto i = api.find(c); i != api.end()) {
          auto j = json::parse(m.payload, nullptr, false);
          if (i->second.on_answer)
            i->second.on_answer(j.is_object() && j.value("ok", false) == true);
          if (j.is_discarded() || !j.is_object())
            i->second.promise.set_exception(std::make_exception_ptr(
                error("PROTOCOL_ERROR", "the answer is not a JSON object")));
          else if (j.value("ok", false) != true)
            i->second.promise.set_exception(std::make_exception_ptr(
                error(j["error"].value("code", "ERROR"), j["error"].value("message", ""))));
          else
            i->second.promise.set_value(std::move(j));
          api.erase(i);
        } else if (auto k = msg_requests.find(c); k != msg_requests.end()) {
          if (auto code = m.user_property("castor-error")) {
            auto j = json::parse(m.payload, nullptr, false);
            std::string text;
            if (j.is_object() && j.contains("error") && j["error"].is_object())
              text = j["error"].value("message", "");
            k->second.promise.set_exception(std::make_exception_ptr(error(*code, text)));
          } else {
            k->second.promise.set_value(m);
          }
          msg_requests.erase(k);
        }
      } else if (serve_missing(m)) {
        // a missing-topic handler's request (client_missing.cpp)
      } else if (auto h = handlers.find(m.topic);
                 h != handlers.end() && m.response_topic) {
        mqtt::publish answer;
        answer.topic = *m.response_topic;
        answer.qos = 1;
        answer.props.correlation_data = m.correlation_data;
        try {
          answer.payload = h->second(m);
        } catch (const error& e) {
          answer.props.user_properties.emplace_back("castor-error", e.code());
          answer.props.content_type = "application/json";
          answer.payload = json{{"ok", false},
                                {"error", {{"code", e.code()}, {"message", e.message()}}}}
                               .dump();
        } catch (const std::exception& e) {
          answer.props.user_properties.emplace_back("castor-error", "HANDLER_FAILED");
          answer.props.content_type = "application/json";
          answer.payload = json{{"ok", false},
                                {"error", {{"code", "HANDLER_FAILED"}, {"message", e.what()}}}}
                               .dump();
        }
        answer.packet_id = pid();
        acks[answer.packet_id] = [](std::optional<mqtt::reason_code>) {};
        send(answer);
      } else if (auto s = stream_for(m.topic); s != nullptr && m.response_topic) {
        answer_request(*s, m); // a request to this session
      } else if (!ids.empty()) {
        for (auto id : ids)
          if (auto s = subs.find(id); s != subs.end())
            deliver(s->second, id, m);
      } else {
        bool claimed = false;
        for (auto& [id, s] : subs)
          if (!s.by_selector && topic_matches(s.filter, m.topic)) {
            claimed = true;
            deliver(s, id, m);
          }
        if (!claimed)
          deliver_to_selectors(m);
      }
    } catch (...) {
      // An application callback threw: the connection goes on.
    }
  }
  if (qos == 1) {
    mqtt::puback a;
    a.packet_id = pid_in;
    send(a);
  } else if (qos == 2) {
    mqtt::pubrec r;
    r.packet_id = pid_in;
    send(r);
  }
}

void client::impl::deliver(sub& s, subscription_id id, const message& m) {
  if (!s.values) {
    if (s.on_message)
      s.on_message(m);
    return;
  }
  std::string path = m.topic;
  if (path.compare(0, delta_prefix.size(), delta_prefix) == 0)
    path.erase(0, delta_prefix.size());
  auto ct = m.content_type.value_or("");
  bool is_patch = ct == json_patch_content_type;
  bool is_binary = ct == binary_delta_type;
  auto found = s.kept.find(path);
  kept_value* k = found == s.kept.end() ? nullptr : &found->second;
  const value* cur = k && k->slot[k->cur] ? &*k->slot[k->cur] : nullptr;
  // A delta that does not apply (the value it is against is missing):
  // subscribe again, which sends every topic's value whole.
  auto resubscribe = [&] {
    s.kept.erase(path);
    if (s.by_selector)
      api_request("topics/subscribe",
                  json{{"selector", s.filter}, {"qos", s.qos}, {"delta", true}});
    else
      send_subscribe(id, [](std::optional<mqtt::reason_code>) {});
  };
  if ((is_patch || is_binary) && !cur)
    return resubscribe();
  if (!k)
    k = &s.kept[path];
  // The new value is made in the other slot; slot[cur] stays as it is,
  // the old value of the callback.
  auto& next = k->slot[1 - k->cur];
  // A retransmission (DUP) of the value the stream has already: at least
  // once delivery, not a change.
  auto repeated = [&](const value& v) {
    return delivering_dup && cur && cur->payload == v.payload
           && cur->content_type == v.content_type;
  };
  if (is_patch) {
    if (!cur->is_json)
      return resubscribe();
    auto patch = json::parse(m.payload, nullptr, false);
    if (patch.is_discarded())
      return resubscribe();
    // The other slot holds the value before the current one: the patch
    // that made the current one brings it up to date, in place. Without
    // that patch (the current value came whole), a copy.
    bool caught_up = next && next->is_json && k->last_patch
                     && apply_json_patch_in_place(next->data, *k->last_patch);
    k->last_patch.reset(); // until the slots agree again
    if (!caught_up)
      next = *cur;
    if (!apply_json_patch_in_place(next->data, patch))
      return resubscribe();
    serialize_into(next->data, next->payload);
    next->content_type = cur->content_type;
    next->is_json = true;
    next->from_delta = true;
    if (repeated(*next)) {
      k->last_patch = json::array(); // next equals slot[cur]
      return;
    }
    k->last_patch = std::move(patch);
  } else if (is_binary) {
    auto r = apply_binary_delta(cur->payload, m.payload);
    if (!r)
      return resubscribe();
    value v;
    v.payload = std::move(*r);
    v.content_type = cur->content_type;
    v.from_delta = true;
    if (repeated(v))
      return;
    next = std::move(v);
    k->last_patch.reset();
  } else {
    auto v = whole_value(m);
    if (repeated(v))
      return;
    next = std::move(v);
    k->last_patch.reset();
  }
  k->cur = 1 - k->cur;
  if (s.on_value)
    s.on_value(path, k->slot[1 - k->cur], *k->slot[k->cur]);
}

// --- public members -------------------------------------------------------

client::client() : impl_(std::make_shared<impl>()) {
  impl_->work.emplace(impl_->io.get_executor());
  auto i = impl_;
  impl_->thread = std::thread([i] { i->io.run(); });
}

client::~client() {
  disconnect();
  impl_->work.reset();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

void client::connect(const connect_options& options) {
  auto pr = std::make_shared<std::promise<void>>();
  auto fut = pr->get_future();
  auto self = impl_;
  asio::post(self->io, [self, pr, options] {
    if (self->started) {
      pr->set_exception(std::make_exception_ptr(
          connection_error("connect() was called on a connected client")));
      return;
    }
    self->opts = options;
    self->ssl_ctx.reset(); // this connect's TLS settings, not an earlier one's
    self->cid = options.client_id.empty() ? "castor-sdk-" + random_hex(12)
                                          : options.client_id;
    self->reply_topic = options.reply_topic.empty()
                            ? "$castor/client/" + self->cid + "/reply"
                            : options.reply_topic;
    self->started = true;
    self->stopping = false;
    self->ever_up = false;
    self->attempts = 0;
    self->first_connect = pr;
    self->start_attempt();
    if (!self->sweeping) {
      self->sweeping = true;
      self->sweep();
    }
  });
  fut.get();
}

void client::disconnect() {
  auto pr = std::make_shared<std::promise<void>>();
  auto fut = pr->get_future();
  auto self = impl_;
  asio::post(self->io, [self, pr] {
    if (!self->started && !self->up) {
      self->finish_disconnect("disconnected by the application");
      pr->set_value();
      return;
    }
    self->closed_waiters.push_back(pr);
    if (self->closing)
      return;
    if (self->up) {
      self->closing = true;
      self->stopping = true;
      self->send(mqtt::disconnect{});
      // Should the write never finish, close anyway.
      self->connect_timer.expires_after(std::chrono::seconds(2));
      self->connect_timer.async_wait([self](std::error_code ec) {
        if (!ec && self->closing)
          self->finish_disconnect("disconnected by the application");
      });
    } else {
      self->finish_disconnect("disconnected by the application");
    }
  });
  fut.get();
}

bool client::connected() const {
  return impl_->up;
}

const std::string& client::client_id() const {
  return impl_->cid;
}

void client::on_state(state_callback cb) {
  auto self = impl_;
  asio::post(self->io, [self, cb = std::move(cb)] { self->on_state = cb; });
}

std::future<json> client::request(const std::string& operation, const json& body) {
  return impl_->api_request(operation, body);
}

std::future<json> client::add_topic(const std::string& path, const json& spec) {
  json b = spec.is_object() ? spec : json{{"type", spec}};
  b["path"] = path;
  return request("topics/add", b);
}

std::future<json> client::remove_topics(const std::string& selector) {
  return request("topics/remove", {{"selector", selector}});
}

std::future<json> client::fetch(const std::string& selector, bool values) {
  return request("topics/fetch", {{"selector", selector}, {"values", values}});
}

std::future<json> client::update(const std::string& path, const json& v,
                                 const std::optional<json>& constraint) {
  json b{{"path", path}, {"value", v}};
  if (constraint)
    b["constraint"] = *constraint;
  return request("topics/update", b);
}

std::future<json> client::patch(const std::string& path, const json& p,
                                const std::optional<json>& constraint) {
  json b{{"path", path}, {"patch", p}};
  if (constraint)
    b["constraint"] = *constraint;
  return request("topics/patch", b);
}

std::future<json> client::ts_append(const std::string& path, const json& v) {
  return request("timeseries/append", {{"path", path}, {"value", v}});
}

std::future<json> client::ts_edit(const std::string& path, uint64_t original,
                                  const json& v) {
  return request("timeseries/edit", {{"path", path}, {"original", original}, {"value", v}});
}

std::future<json> client::ts_range(const std::string& path, const json& range) {
  json b = range.is_object() ? range : json::object();
  b["path"] = path;
  return request("timeseries/range", b);
}

std::future<json> client::lock(const std::string& name, uint32_t wait_ms) {
  return request("locks/acquire", {{"name", name}, {"wait_ms", wait_ms}});
}

std::future<json> client::unlock(const std::string& name) {
  return request("locks/release", {{"name", name}});
}

} // namespace castor
