#include "actors/census.hpp"
#include "actors/tracked.hpp"
#include "actors/api.hpp"

#include <memory>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/api_locks.hpp"
#include "actors/api_notify.hpp"
#include "actors/api_sessions.hpp"
#include "actors/api_streams.hpp"
#include "actors/api_values.hpp"
#include "actors/api_subscribe.hpp"
#include "actors/api_messaging.hpp"
#include "actors/api_missing.hpp"
#include "actors/cluster_topics.hpp"
#include "actors/iface/implement.hpp"
#include "actors/iface/timeouts.hpp"
#include "protocol/api_request.hpp"
#include "protocol/value.hpp"
#include "security/crypto.hpp"

namespace castor {

namespace {

const api::error tree_unavailable{"UNAVAILABLE",
                                  "the topic tree did not answer in time"};

/// What a fetch gathers: the topics the caller may see, in name order,
/// asked for their values a window at a time until `limit` of them have
/// one (topics without a value are left out).
struct fetch_gather {
  api::fetch_topics request;
  std::vector<std::string> names;
  std::vector<topic_interface> topics;
  size_t next = 0;        ///< the first candidate not yet asked
  bool tree_more = false; ///< the tree listed max_fetch_scan and stopped
  nlohmann::json found = nlohmann::json::array();
  caf::typed_response_promise<std::string> rp;
  bool asked = false; ///< a missing-topic handler has been asked
};

template <class Self>
void fetch_list(Self* self, const api_context& ctx,
                const std::shared_ptr<fetch_gather>& g);

template <class Self>
void fetch_window(Self* self, const api_context& ctx,
                  const std::shared_ptr<fetch_gather>& g) {
  auto need = g->request.limit - g->found.size();
  auto first = g->next;
  auto last = std::min(g->names.size(), first + need);
  if (need == 0 || first == last) {
    if (g->found.empty() && !g->asked && g->request.limit > 0
        && ctx.missing) {
      // Nothing found: a missing-topic handler may make it; then look
      // again (docs/platform.md, "Missing-topic handlers").
      g->asked = true;
      if (await_missing(self, ctx, g->request.selector, [=](bool again) {
            if (!again)
              return fetch_window(self, ctx, g);
            g->names.clear();
            g->topics.clear();
            g->next = 0;
            g->tree_more = false;
            fetch_list(self, ctx, g);
          }))
        return;
    }
    bool more = g->next < g->names.size() || g->tree_more;
    g->rp.deliver(
        api::ok_answer({{"topics", std::move(g->found)}, {"more", more}}));
    self->quit();
    return;
  }
  g->next = last;
  auto values = std::make_shared<std::vector<mqtt::message_ptr>>(last - first);
  auto pending = std::make_shared<size_t>(last - first);
  auto done = [=] {
    if (--*pending > 0)
      return;
    for (size_t k = 0; k < values->size(); ++k) {
      auto& m = (*values)[k];
      if (!m)
        continue; // no value (yet), or retired meanwhile
      const auto& name = g->names[first + k];
      auto [type, value] = api_value(name, *m, ctx.mapping);
      nlohmann::json t{{"path", name}, {"type", std::string{to_string(type)}}};
      if (g->request.values)
        t["value"] = std::move(value);
      g->found.push_back(std::move(t));
    }
    fetch_window(self, ctx, g);
  };
  for (size_t i = first; i < last; ++i) {
    tracked(
        self->request(g->topics[i], topic_request_timeout, fetch_atom::value))
        .then(
            [=](mqtt::message_ptr& m) {
              (*values)[i - first] = std::move(m);
              done();
            },
            [=](caf::error&) { done(); });
  }
}

template <class Self>
void fetch_list(Self* self, const api_context& ctx,
                const std::shared_ptr<fetch_gather>& g) {
  auto q = query_of(g->request.selector);
  tracked(self->request(ctx.tree, tree_request_timeout, fetch_atom::value,
                        q.filter, max_fetch_scan))
      .then(
          [=](topic_listing& l) {
            // SELECT_TOPIC and READ_TOPIC on each topic (a literal filter
            // asks both).
            g->tree_more = l.more;
            for (size_t i = 0; i < l.names.size(); ++i) {
              if (!q.selects(l.names[i]))
                continue;
              if (ctx.access
                  && !(ctx.access->may_subscribe(l.names[i])
                       && ctx.access->may_read(l.names[i])))
                continue;
              g->names.push_back(std::move(l.names[i]));
              g->topics.push_back(l.topics[i]);
            }
            fetch_window(self, ctx, g);
          },
          [=](caf::error&) {
            g->rp.deliver(api::error_answer(tree_unavailable));
            self->quit();
          });
}

template <class Self>
void run_fetch(Self* self, const api_context& ctx, api::fetch_topics f,
               caf::typed_response_promise<std::string> rp) {
  auto g = std::make_shared<fetch_gather>();
  g->request = std::move(f);
  g->rp = rp;
  fetch_list(self, ctx, g);
}

api::error permission_denied(const std::string& what, const std::string& path,
                             const char* needs = "MODIFY_TOPIC") {
  return {"PERMISSION_DENIED", what + " '" + path + "' needs " + needs};
}

/// Makes `path` an explicit topic of `spec` (topics/add, and
/// topics/update with a specification): added or exists, or why not. In a
/// node group, every member adds it too (actors/cluster_topics.hpp).
template <class Self>
std::variant<topic_mapping::add_result, api::error>
add_explicit(Self* self, const api_context& ctx, const std::string& path,
             topic_specification spec) {
  auto ptr = std::make_shared<const topic_specification>(std::move(spec));
  auto r = ctx.mapping->add(path, ptr);
  if (r == topic_mapping::add_result::conflicts)
    return api::error{"TOPIC_EXISTS",
                      "'" + path + "' exists with another specification"};
  if (r == topic_mapping::add_result::added)
    share_topics(self, ctx.routes, {cluster_topic_of(path, ptr.get())});
  return r;
}

/// Takes back a topic add_explicit added for a request that then failed
/// (on every member of a node group too).
template <class Self>
void take_back(Self* self, const api_context& ctx, const std::string& path) {
  if (ctx.mapping->remove(path))
    share_topics(self, ctx.routes, {cluster_topic_of(path, nullptr)});
}

/// Hands `cu` to the topic `t`, which applies it or says why not, and
/// answers with that. An update whose constraint names `locks` goes
/// through the lock actor, which tells the topic which of them the caller
/// holds (actors/locks.hpp).
template <class Self, class Finish>
void ask_topic(Self* self, const api_context& ctx, const topic_interface& t,
               conditional_update cu, std::vector<std::string> locks,
               Finish finish, std::function<void()> on_refusal = {}) {
  auto decided = [=](update_outcome& o) mutable {
    if (o.code.empty())
      return finish(api::ok_answer());
    if (on_refusal)
      on_refusal();
    finish(api::error_answer({o.code, o.message}));
  };
  auto failed = [=](caf::error&) mutable {
    finish(
        api::error_answer({"UNAVAILABLE", "the topic did not answer in time"}));
  };
  if (locks.empty() || !ctx.locks)
    tracked(self->request(t, topic_request_timeout, update_atom::value,
                          std::move(cu)))
        .then(decided, failed);
  else
    tracked(self->request(ctx.locks, topic_request_timeout, update_atom::value,
                          t, std::move(cu), ctx.session, std::move(locks)))
        .then(decided, failed);
}

template <class Self>
void run_update(Self* self, const api_context& ctx, api::update_topic u,
                caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  auto check = ctx.access ? ctx.access->check_publish(u.path)
                          : mqtt::publish_check::allow;
  if (check == mqtt::publish_check::deny)
    return finish(api::error_answer(
        permission_denied("updating", u.path, "UPDATE_TOPIC")));
  bool adding = false;
  if (u.spec && !ctx.mapping->added(u.path)) {
    // Add-if-absent: as topics/add (MODIFY_TOPIC too).
    if (check != mqtt::publish_check::allow)
      return finish(api::error_answer(permission_denied("adding", u.path)));
    auto added = add_explicit(self, ctx, u.path, *u.spec);
    if (auto err = std::get_if<api::error>(&added))
      return finish(api::error_answer(*err));
    adding = true;
  }
  // The type: the explicit topic's (a time series': its event type); for
  // an implicit topic, a string is STRING and anything else JSON.
  auto spec = ctx.mapping->find(u.path);
  bool series = spec && spec->type == topic_type::time_series;
  auto type = spec ? (series ? spec->event_type.value_or(topic_type::binary)
                             : spec->type)
                   : (u.value.is_string() ? topic_type::string
                                          : topic_type::json);
  auto payload = payload_of(type, u.value);
  if (series && u.constraint) {
    payload = api::error{"INVALID_CONSTRAINT",
                         "constraints do not apply to time series topics"};
  }
  if (auto err = std::get_if<api::error>(&payload)) {
    if (adding)
      take_back(self, ctx, u.path);
    return finish(api::error_answer(*err));
  }
  // The update goes to the topic as a publish by the server would:
  // delivered to its MQTT subscribers (QoS 1 at most, in the type's MQTT
  // form), its value from then on (a time series appends it as an event);
  // the MQTT retained message is MQTT's and stays as it is.
  auto msg = server_message(u.path, type,
                            std::move(std::get<std::string>(payload)),
                            series ? &ctx.principal : nullptr);
  auto path = u.path;
  bool create = check == mqtt::publish_check::allow;
  auto constraint = std::move(u.constraint_text);
  auto locks
      = u.constraint ? lock_names(*u.constraint) : std::vector<std::string>{};
  tracked(
      self->request(ctx.tree, lookup_timeout, lookup_atom::value, path, create))
      .then(
          [=](topic_interface& t) mutable {
            if (!t) {
              // UPDATE_TOPIC without MODIFY_TOPIC updates only what exists.
              return finish(
                  api::error_answer(permission_denied("creating", path)));
            }
            if (adding) {
              self->send(t, keep_atom::value);
              self->send(t, adder_atom::value, ctx.adder);
            }
            if (!constraint.empty()) {
              // The topic decides against its value at that moment; a
              // topic added for this update is taken back if it fails.
              return ask_topic(self, ctx, t,
                               conditional_update{msg, constraint, {}}, locks,
                               finish, [=] {
                                 if (adding)
                                   take_back(self, ctx, path);
                               });
            }
            // Answered once the topic has taken it (in a node group, once
            // every member has: actors/topic_forward.hpp).
            publish_batch b;
            b.msgs.push_back(msg);
            tracked(self->request(t, topic_request_timeout, publish_atom::value,
                                  std::move(b)))
                .then(
                    [=](bool) mutable { finish(api::ok_answer()); },
                    [=](caf::error&) mutable {
                      finish(api::error_answer(
                          {"UNAVAILABLE", "the topic did not answer in time"}));
                    });
          },
          [=](caf::error&) mutable {
            if (adding)
              take_back(self, ctx, path);
            finish(api::error_answer(tree_unavailable));
          });
}

template <class Self>
void run_patch(Self* self, const api_context& ctx, api::patch_topic p,
               caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access
      && ctx.access->check_publish(p.path) == mqtt::publish_check::deny)
    return finish(api::error_answer(
        permission_denied("updating", p.path, "UPDATE_TOPIC")));
  // The topic makes the new value from its own (a JSON document) and
  // publishes it as a server publish would be (QoS 1, application/json).
  mqtt::publish tmpl;
  tmpl.topic = p.path;
  tmpl.qos = 1;
  auto msg = mqtt::make_message(std::move(tmpl), std::string{},
                                std::chrono::steady_clock::now());
  conditional_update cu{std::move(msg), std::move(p.constraint_text),
                        p.patch.dump()};
  auto locks
      = p.constraint ? lock_names(*p.constraint) : std::vector<std::string>{};
  auto path = p.path;
  tracked(
      self->request(ctx.tree, lookup_timeout, lookup_atom::value, path, false))
      .then(
          [=](topic_interface& t) mutable {
            if (!t)
              return finish(api::error_answer(
                  {"NO_VALUE", "no topic '" + path + "' to patch"}));
            ask_topic(self, ctx, t, std::move(cu), locks, finish);
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(tree_unavailable));
          });
}

template <class Self>
void run_add(Self* self, const api_context& ctx, api::add_topic a,
             caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_modify(a.path))
    return finish(api::error_answer(permission_denied("adding", a.path)));
  auto added = add_explicit(self, ctx, a.path, std::move(a.spec));
  if (auto err = std::get_if<api::error>(&added))
    return finish(api::error_answer(*err));
  if (std::get<topic_mapping::add_result>(added)
      == topic_mapping::add_result::exists)
    return finish(api::ok_answer({{"exists", true}}));
  // Publishes to the path convert to the type from now on; the topic's
  // actor (made now, or the implicit topic that had the name) stays.
  auto path = a.path;
  tracked(self->request(ctx.tree, lookup_timeout, lookup_atom::value, path))
      .then(
          [=](topic_interface& t) mutable {
            self->send(t, keep_atom::value);
            self->send(t, adder_atom::value, ctx.adder);
            finish(api::ok_answer());
          },
          [=](caf::error&) mutable {
            take_back(self, ctx, path);
            finish(api::error_answer(tree_unavailable));
          });
}

template <class Self>
void run_remove(Self* self, const api_context& ctx, api::remove_topics r,
                caf::typed_response_promise<std::string> rp) {
  auto q = query_of(r.selector);
  tracked(self->request(ctx.tree, tree_request_timeout, fetch_atom::value,
                        q.filter, max_fetch_scan))
      .then(
          [=](topic_listing& l) mutable {
            auto removed = std::make_shared<uint64_t>(0);
            auto pending = std::make_shared<size_t>(1);
            auto done = [=]() mutable {
              if (--*pending > 0)
                return;
              rp.deliver(api::ok_answer({{"removed", *removed}}));
              self->quit();
            };
            // In a node group, every member removes them too.
            std::vector<cluster_topic> gone;
            for (size_t i = 0; i < l.names.size(); ++i) {
              const auto& name = l.names[i];
              if (!q.selects(name))
                continue;
              if (ctx.access && !ctx.access->may_modify(name))
                continue; // left alone, as if it did not match
              bool was_added = ctx.mapping->remove(name);
              if (ctx.routes)
                gone.push_back(cluster_topic_of(name, nullptr, true));
              ++*pending;
              tracked(self->request(l.topics[i], topic_request_timeout,
                                    remove_atom::value, ctx.topic_idle_ms))
                  .then(
                      [=](bool had) mutable {
                        *removed += (had || was_added) ? 1 : 0;
                        done();
                      },
                      [=](caf::error&) mutable {
                        *removed += was_added ? 1 : 0;
                        done();
                      });
            }
            share_topics(self, ctx.routes, std::move(gone));
            done();
          },
          [=](caf::error&) mutable {
            rp.deliver(api::error_answer(tree_unavailable));
            self->quit();
          });
}

/// Asks the time series at `path` (which must exist) to run `r`, and
/// answers with what it says, made into JSON by `answer`.
template <class Self, class Answer>
void ask_series(Self* self, const api_context& ctx, const std::string& path,
                series_request r, caf::typed_response_promise<std::string> rp,
                Answer answer) {
  auto finish = answer_and_quit(self, rp);
  tracked(
      self->request(ctx.tree, lookup_timeout, lookup_atom::value, path, false))
      .then(
          [=](topic_interface& t) mutable {
            if (!t)
              return finish(api::error_answer(
                  {"NOT_TIME_SERIES", "no time_series topic '" + path + "'"}));
            tracked(
                self->request(t, topic_request_timeout, series_atom::value, r))
                .then(
                    [=](series_answer& a) mutable {
                      if (!a.code.empty())
                        return finish(api::error_answer({a.code, a.message}));
                      finish(answer(a));
                    },
                    [=](caf::error&) mutable {
                      finish(api::error_answer(
                          {"UNAVAILABLE", "the topic did not answer in time"}));
                    });
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(tree_unavailable));
          });
}

/// The time series at `path`: its specification, or why there is none.
std::variant<topic_mapping::spec_ptr, api::error>
series_spec(const api_context& ctx, const std::string& path) {
  auto spec = ctx.mapping->find(path);
  if (!spec || spec->type != topic_type::time_series)
    return api::error{"NOT_TIME_SERIES",
                      "'" + path + "' is not a time_series topic"};
  return spec;
}

/// timeseries/append and timeseries/edit (UPDATE_TOPIC): the new event's
/// sequence number and timestamp.
template <class Self>
void run_series_change(Self* self, const api_context& ctx,
                       const std::string& path, const nlohmann::json& value,
                       std::optional<uint64_t> original,
                       caf::typed_response_promise<std::string> rp) {
  auto fail = [finish = answer_and_quit(self, rp)](
                  const api::error& e) mutable { finish(api::error_answer(e)); };
  if (ctx.access
      && ctx.access->check_publish(path) == mqtt::publish_check::deny)
    return fail(permission_denied(original ? "editing" : "appending to", path,
                                  "UPDATE_TOPIC"));
  auto spec = series_spec(ctx, path);
  if (auto err = std::get_if<api::error>(&spec))
    return fail(*err);
  auto type = std::get<topic_mapping::spec_ptr>(spec)->event_type.value_or(
      topic_type::binary);
  auto payload = payload_of(type, value);
  if (auto err = std::get_if<api::error>(&payload))
    return fail(*err);
  series_request r;
  r.op = original ? series_request::edit : series_request::append;
  r.original = original.value_or(0);
  r.msg = server_message(path, type, std::move(std::get<std::string>(payload)),
                         &ctx.principal);
  ask_series(self, ctx, path, std::move(r), rp, [](const series_answer& a) {
    return api::ok_answer({{"seq", a.seq}, {"timestamp", a.timestamp}});
  });
}

/// timeseries/range (SELECT_TOPIC + READ_TOPIC): the events, oldest first.
template <class Self>
void run_series_range(Self* self, const api_context& ctx,
                      const std::string& path, std::string query,
                      caf::typed_response_promise<std::string> rp) {
  auto fail = [finish = answer_and_quit(self, rp)](
                  const api::error& e) mutable { finish(api::error_answer(e)); };
  if (ctx.access
      && !(ctx.access->may_subscribe(path) && ctx.access->may_read(path)))
    return fail(permission_denied("reading", path, "SELECT_TOPIC and READ_TOPIC"));
  auto spec = series_spec(ctx, path);
  if (auto err = std::get_if<api::error>(&spec))
    return fail(*err);
  auto type = std::get<topic_mapping::spec_ptr>(spec)->event_type.value_or(
      topic_type::binary);
  series_request r;
  r.op = series_request::range;
  r.query = std::move(query);
  ask_series(self, ctx, path, std::move(r), rp,
             [type](const series_answer& a) {
               auto events = nlohmann::json::array();
               for (auto& e : a.events) {
                 auto converted = convert_payload(type, e.bytes);
                 auto v = std::get_if<typed_value>(&converted);
                 nlohmann::json j{{"seq", e.seq},
                                  {"timestamp", e.timestamp},
                                  {"author", e.author},
                                  {"value", v ? api_json(std::move(*v))
                                              : nlohmann::json{}}};
                 if (e.is_edit)
                   j["original"] = e.original;
                 events.push_back(std::move(j));
               }
               return api::ok_answer(
                   {{"events", std::move(events)}, {"more", a.more}});
             });
}

caf::behavior api_request_actor(caf::event_based_actor* self, api_context ctx) {
  return census(
      self, metrics::actor_kind::api_request,
      implement<api_interface>([=](api_atom, std::string& operation,
                                   std::string& payload)
                                   -> caf::result<std::string> {
        auto parsed = api::parse_request(operation, payload);
        if (auto err = std::get_if<api::error>(&parsed)) {
          self->quit();
          return api::error_answer(*err);
        }
        auto& req = std::get<api::request>(parsed);
        if (auto f = std::get_if<api::fetch_topics>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_fetch(self, ctx, std::move(*f), rp);
          return rp;
        }
        if (auto a = std::get_if<api::add_topic>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_add(self, ctx, std::move(*a), rp);
          return rp;
        }
        if (auto u = std::get_if<api::update_topic>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_update(self, ctx, std::move(*u), rp);
          return rp;
        }
        if (auto p = std::get_if<api::patch_topic>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_patch(self, ctx, std::move(*p), rp);
          return rp;
        }
        if (auto a = std::get_if<api::append_event>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_series_change(self, ctx, a->path, a->value, std::nullopt, rp);
          return rp;
        }
        if (auto e = std::get_if<api::edit_event>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_series_change(self, ctx, e->path, e->value, e->original, rp);
          return rp;
        }
        if (auto q = std::get_if<api::query_range>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_series_range(self, ctx, q->path, std::move(payload), rp);
          return rp;
        }
        if (auto a = std::get_if<api::acquire_lock>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_acquire(self, ctx, std::move(*a), rp);
          return rp;
        }
        if (auto r = std::get_if<api::release_lock>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_release(self, ctx, std::move(*r), rp);
          return rp;
        }
        if (auto s = std::get_if<api::subscribe_topics>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_subscribe(self, ctx, std::move(*s), rp);
          return rp;
        }
        if (auto u = std::get_if<api::unsubscribe_topics>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_unsubscribe(self, ctx, std::move(*u), rp);
          return rp;
        }
        if (auto n = std::get_if<api::notify_topics>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_notify(self, ctx, std::move(*n), rp);
          return rp;
        }
        if (auto n = std::get_if<api::unnotify_topics>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_unnotify(self, ctx, std::move(*n), rp);
          return rp;
        }
        if (auto h = std::get_if<api::add_handler>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_add_handler(self, ctx, *h, rp);
          return rp;
        }
        if (auto h = std::get_if<api::remove_handler>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_remove_handler(self, ctx, *h, rp);
          return rp;
        }
        if (auto h = std::get_if<api::add_missing_handler>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_add_missing_handler(self, ctx, *h, rp);
          return rp;
        }
        if (auto h = std::get_if<api::remove_missing_handler>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_remove_missing_handler(self, ctx, *h, rp);
          return rp;
        }
        if (auto m = std::get_if<api::send_message>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_send_message(self, ctx, std::move(*m), rp);
          return rp;
        }
        if (auto s = std::get_if<api::subscribe_session>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_session_subscribe(self, ctx, std::move(*s), rp);
          return rp;
        }
        if (auto l = std::get_if<api::list_sessions>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_list_sessions(self, ctx, std::move(*l), rp);
          return rp;
        }
        if (auto c = std::get_if<api::close_sessions>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_close_sessions(self, ctx, std::move(*c), rp);
          return rp;
        }
        if (auto g = std::get_if<api::get_session>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_get_session(self, ctx, std::move(*g), rp);
          return rp;
        }
        if (auto c = std::get_if<api::change_session_roles>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_change_roles(self, ctx, std::move(*c), rp);
          return rp;
        }
        if (is_stream_request(req)) {
          auto rp = self->make_response_promise<std::string>();
          run_stream_request(self, ctx, std::move(req), rp);
          return rp;
        }
        if (auto p = std::get_if<api::set_session_properties>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_set_properties(self, ctx, std::move(*p), rp);
          return rp;
        }
        if (auto r = std::get_if<api::remove_topics>(&req)) {
          auto rp = self->make_response_promise<std::string>();
          run_remove(self, ctx, std::move(*r), rp);
          return rp;
        }
        self->quit();
        return api::error_answer(
            {"NOT_IMPLEMENTED", "operation '" + operation
                                    + "' is not served by this version "
                                      "(docs/platform.md lists what is)"});
      }));
}

} // namespace

tree_query query_of(const std::string& text) {
  auto parsed = parse_selector(text);
  auto s = std::get_if<topic_selector>(&parsed);
  if (s == nullptr || s->what() == topic_selector::kind::filter)
    return {text, nullptr};
  auto filter = s->prefix().empty() ? std::string{"#"} : s->prefix() + "/#";
  return {std::move(filter), std::make_shared<const topic_selector>(*s)};
}

/// The request of an operation that may add or remove topics, answered
/// once the store has what its worker (`inner`) changed: the mapping sent
/// the writer those records before the worker answered.
caf::behavior durable_api_request(caf::event_based_actor* self,
                                  api_interface inner, caf::actor writer) {
  return {
      [=](api_atom, std::string& operation,
          std::string& payload) -> caf::result<std::string> {
        auto rp = self->make_response_promise<std::string>();
        self->request(inner, caf::infinite, api_atom::value,
                      std::move(operation), std::move(payload))
            .then(
                [=](std::string& answer) mutable {
                  self->request(writer, caf::infinite, sync_atom::value)
                      .then(
                          [=](bool) mutable {
                            rp.deliver(answer);
                            self->quit();
                          },
                          [=](caf::error&) mutable {
                            rp.deliver(answer);
                            self->quit();
                          });
                },
                [=](caf::error& err) mutable {
                  rp.deliver(err);
                  self->quit();
                });
        return rp;
      },
  };
}

api_interface spawn_api_request(caf::actor_system& sys, api_context ctx,
                                const std::string& operation) {
  auto writer = std::move(ctx.store_sync);
  auto worker = caf::actor_cast<api_interface>(
      sys.spawn(api_request_actor, std::move(ctx)));
  if (!writer
      || (operation != "topics/add" && operation != "topics/update"
          && operation != "topics/remove"))
    return worker;
  return caf::actor_cast<api_interface>(
      sys.spawn(durable_api_request, worker, writer));
}

} // namespace castor
