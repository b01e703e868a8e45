#include "actors/census.hpp"
#include "actors/tracked.hpp"
#include "actors/topic_tree.hpp"

#include <algorithm>
#include <memory>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/broker_exit.hpp"
#include "actors/cluster_router.hpp"
#include "actors/iface/implement.hpp"
#include "actors/iface/timeouts.hpp"
#include "actors/topic.hpp"
#include "log/log.hpp"
#include "protocol/topic.hpp"

namespace castor {

namespace {

/// Whether the subscription `ts` (a wildcard filter's or a selector's)
/// reaches the topic `name`: selected, and readable by the subscriber.
bool binds(const topic_subscription& ts, std::string_view name) {
  return (!ts.selector || ts.selector->selects(name))
         && ts.access.may_read(name);
}

/// The MQTT filter of the topics at or under a selector's literal prefix:
/// what the tree matches, of which the selector picks.
std::string subject_of(const topic_selector& s) {
  return s.prefix().empty() ? std::string{"#"} : s.prefix() + "/#";
}

/// The selector of a selector_key, parsed (null for an MQTT filter, or a
/// key whose selector does not parse, which the API has refused).
std::shared_ptr<const topic_selector> selector_of(const std::string& key) {
  auto k = parse_selector_key(key);
  if (!k)
    return nullptr;
  auto parsed = parse_selector(k->text);
  if (auto s = std::get_if<topic_selector>(&parsed))
    return std::make_shared<const topic_selector>(std::move(*s));
  return nullptr;
}

template <class Self>
topic_interface get_or_create(Self* self, const std::string& name) {
  auto& st = self->state;
  if (auto found = st.topics.find(name))
    return *found;
  caf::actor spawned;
  auto sessions = st.sessions;
  auto routes = st.routes;
  auto store = st.store;
  auto retained = st.retained;
  if (st.topics_on_io_thread) {
    spawned = self->home_system().middleman().spawn_broker(
        [sessions, routes, store, retained](topic_broker_type* t, std::string n,
                                            caf::actor timers, mapping_ptr m) {
          t->state.removal.directory = sessions;
          t->state.routes = routes;
          t->state.store = store;
          t->state.retained = retained;
          return topic_broker(t, std::move(n), std::move(timers),
                              std::move(m));
        },
        name, st.timers, st.mapping);
    drain_mailbox_on_exit(spawned);
    self->link_to(spawned);
  } else {
    spawned = self->template spawn<caf::linked>(
        [sessions, routes, store, retained](topic_actor_type* t, std::string n,
                                            mapping_ptr m) {
          t->state.removal.directory = sessions;
          t->state.routes = routes;
          t->state.store = store;
          t->state.retained = retained;
          return topic_actor(t, std::move(n), std::move(m));
        },
        name, st.mapping);
  }
  auto t = caf::actor_cast<topic_interface>(std::move(spawned));
  st.topics.insert(name, t);
  ++st.created;
  // Its tree (which it tells when it gains or loses a value), and when
  // to retire.
  self->send(t, gc_config_atom::value, st.topic_idle_ms);
  // Wildcard subscriptions made before this topic existed.
  st.wildcards.for_each_match(name,
                              [&](std::string_view, const caf::actor_addr&,
                                  std::vector<topic_subscription>& v) {
                                for (auto& ts : v)
                                  if (binds(ts, name))
                                    self->send(t, attach_atom::value, ts);
                              });
  return t;
}

/// Runs `f` once the topic of `name` has decided whether to retire, or now
/// if it is not deciding. Returns true if `f` waits.
template <class Self>
bool after_retire(Self* self, const std::string& name,
                  std::function<void()> f) {
  auto& st = self->state;
  auto i = st.retiring.find(name);
  if (i == st.retiring.end())
    return false;
  i->second.emplace_back(std::move(f));
  return true;
}

template <class Self>
void finish_retire(Self* self, const std::string& name,
                   const topic_interface& t, bool retired) {
  auto& st = self->state;
  if (retired) {
    auto found = st.topics.find(name);
    if (found && *found == t) {
      st.topics.erase(name);
      ++st.collected;
      CASTOR_LOG(debug, "topic tree", "topic " << name << " retired (idle)");
    }
  }
  auto i = st.retiring.find(name);
  if (i == st.retiring.end())
    return;
  auto waiting = std::move(i->second);
  st.retiring.erase(i);
  for (auto& f : waiting)
    f();
}

/// The agent has answered an announcement of a route for `subject`: the
/// subscriptions that waited for the last of them go on.
template <class Self>
void route_acked(Self* self, const std::string& subject) {
  auto& waits = self->state.route_waits;
  auto i = waits.find(subject);
  if (i == waits.end() || --i->second.acks > 0)
    return;
  auto then = std::move(i->second.then);
  waits.erase(i);
  for (auto& f : then)
    f();
}

/// Tells the node agent of a change of this node's routes; a new route
/// (`wait`) holds the subscriptions to `subject` until the members have it.
template <class Self, class... Ts>
void tell_agent(Self* self, const std::string& subject, bool wait,
                const Ts&... xs) {
  auto agent = self->state.routes->agent();
  if (!agent)
    return;
  // Always a request: the agent answers every announcement.
  auto answer
      = self->request(agent, cluster_forward_timeout + std::chrono::seconds{1},
                      cl_route_atom::value, xs...);
  if (!wait) {
    answer.then([](bool) {}, [](caf::error&) {});
    return;
  }
  ++self->state.route_waits[subject].acks;
  answer.then([=](bool) { route_acked(self, subject); },
              [=](caf::error&) { route_acked(self, subject); });
}

/// In a node group: notes that `session` joins (or leaves) the share
/// group `key` ("group\0filter"), whose topics are matched against
/// `subject`, and tells the node agent how many members it has here now.
template <class Self>
void local_share(Self* self, const std::string& subject, const std::string& key,
                 const caf::actor_addr& session, bool add) {
  auto& st = self->state;
  auto& members = st.local_shares[key];
  bool changed
      = add ? members.insert(session).second : members.erase(session) > 0;
  uint32_t n = static_cast<uint32_t>(members.size());
  if (n == 0)
    st.local_shares.erase(key);
  if (changed)
    tell_agent(self, subject, add && n == 1, key, n);
}

/// In a node group: notes that `session` subscribes to (or leaves) `filter`
/// of `group`, whose topics are matched against `subject`, and tells the
/// node agent when `subject` gains its first plain subscriber on this node
/// or loses its last, or how many members a share group has here
/// (actors/cluster_routes.hpp). A subject's first subscriber on this node
/// (or a share group's first member here) is a new route: subscriptions
/// to the subject wait in `route_waits` until the members have it.
template <class Self>
void local_route(Self* self, const std::string& subject,
                 const caf::actor_addr& session, const std::string& group,
                 const std::string& filter, bool add) {
  auto& st = self->state;
  if (!st.routes)
    return;
  if (!group.empty()) {
    local_share(self, subject, group + '\0' + filter, session, add);
    return;
  }
  auto key = std::make_pair(session, filter);
  bool changed = false;
  if (add) {
    auto& holders = st.local_routes[subject];
    changed = holders.insert(std::move(key)).second && holders.size() == 1;
  } else if (auto i = st.local_routes.find(subject);
             i != st.local_routes.end() && i->second.erase(key) > 0) {
    changed = i->second.empty();
    if (changed)
      st.local_routes.erase(i);
  }
  if (changed)
    tell_agent(self, subject, add, subject, add);
}

/// Counts the answers of the topics an unsubscription concerns.
struct unsub_pending {
  size_t left = 1; ///< one for the handler itself, released at its end
  caf::response_promise rp;
  void done() {
    if (--left == 0)
      rp.deliver(true);
  }
};

/// Tells the topic `name` (once it has decided whether to retire) to forget
/// the session's subscription to `filter` in `group`.
template <class Self>
void unsubscribe_at(Self* self, const std::string& name,
                    const caf::actor& session, const std::string& filter,
                    const std::string& group,
                    const std::shared_ptr<unsub_pending>& acc) {
  ++acc->left;
  auto ask = [=] {
    auto found = self->state.topics.find(name);
    if (!found) {
      acc->done(); // retired: it had no subscriber
      return;
    }
    tracked(self->request(*found, topic_request_timeout, unsub_atom::value,
                          session, filter, group))
        .then([=](bool) { acc->done(); }, [=](caf::error&) { acc->done(); });
  };
  if (!after_retire(self, name, ask))
    ask();
}

template <class Self>
void unsubscribe_one(Self* self, const caf::actor& session,
                     const std::string& full_filter,
                     const std::shared_ptr<unsub_pending>& acc) {
  auto& st = self->state;
  auto info = mqtt::parse_filter(full_filter);
  std::string filter{info.filter};
  std::string subject{info.subject};
  std::string group{info.group};
  auto selector = selector_of(full_filter);
  if (selector) {
    filter = full_filter;
    subject = subject_of(*selector);
    group.clear();
  } else if (!info.valid) {
    return;
  }
  // Behind a subscription to the subject that waits for its route.
  if (auto w = st.route_waits.find(subject); w != st.route_waits.end()) {
    ++acc->left;
    w->second.then.push_back([=] {
      unsubscribe_one(self, session, full_filter, acc);
      acc->done();
    });
    return;
  }
  local_route(self, subject, session.address(), group, filter, false);
  if (info.wildcard || selector) {
    if (auto v = st.wildcards.find(subject, session.address())) {
      v->erase(std::remove_if(v->begin(), v->end(),
                              [&](const topic_subscription& ts) {
                                return ts.group == group && ts.filter == filter;
                              }),
               v->end());
      if (v->empty())
        st.wildcards.erase(subject, session.address());
    }
    std::vector<std::string> names;
    st.topics.for_each_match(subject,
                             [&](std::string_view name, topic_interface&) {
                               if (!selector || selector->selects(name))
                                 names.emplace_back(name);
                             });
    for (auto& name : names)
      unsubscribe_at(self, name, session, filter, group, acc);
    return;
  }
  unsubscribe_at(self, subject, session, filter, group, acc);
}

/// What every topic answers to `atom` (cl_sync_atom: its retained
/// message), gathered in one batch.
template <class Self, class Atom>
caf::result<publish_batch> gather(Self* self, Atom atom) {
  std::vector<topic_interface> ts;
  self->state.topics.for_each_match(
      "#", [&](std::string_view, topic_interface& t) { ts.push_back(t); });
  if (ts.empty())
    return publish_batch{};
  auto rp = self->template make_response_promise<publish_batch>();
  struct pending {
    size_t left;
    publish_batch out;
  };
  auto acc = std::make_shared<pending>(pending{ts.size(), {}});
  auto one = [=](std::vector<mqtt::message_ptr> ms) mutable {
    for (auto& m : ms)
      if (m)
        acc->out.msgs.push_back(std::move(m));
    if (--acc->left == 0)
      rp.deliver(std::move(acc->out));
  };
  for (auto& t : ts)
    tracked(self->request(t, topic_request_timeout, atom))
        .then([=](publish_batch& b) mutable { one(std::move(b.msgs)); },
              [=](caf::error&) mutable { one({}); });
  return rp;
}

} // namespace

/// Whether the watch `w` selects `path` and its watcher may select it.
bool watch_sees(const topic_watch& w, std::string_view path) {
  return w.parsed && w.parsed->selects(path) && w.access.ptr
         && w.access.ptr->may_subscribe(path);
}

template <class Self>
void tell_event(Self* self, const topic_watch& w, const std::string& event,
                std::string_view path) {
  self->send(w.watcher, notify_atom::value, w.topic, w.correlation,
             w.has_correlation,
             nlohmann::json{{"event", event}, {"path", path}}.dump());
}

/// topics/notify `branches`: the path `p` has gained its first topic with
/// a value below it, or lost its last.
template <class Self>
void tell_branch(Self* self, std::string_view p, bool added) {
  for (auto& w : self->state.watches)
    if (w.branches && watch_sees(w, p))
      tell_event(self, w, added ? "branch_added" : "branch_removed", p);
}

/// Keeps the count of topics with a value below each path above `name`.
template <class Self>
void count_below(Self* self, const std::string& name, bool has) {
  auto& vb = self->state.valued_below;
  for (auto pos = name.find('/'); pos != std::string::npos;
       pos = name.find('/', pos + 1)) {
    if (pos == 0)
      continue;
    std::string_view p{name.data(), pos};
    if (has) {
      auto i = vb.find(p);
      if (i == vb.end())
        i = vb.emplace(std::string{p}, 0).first;
      if (++i->second == 1)
        tell_branch(self, p, true);
    } else {
      auto i = vb.find(p);
      if (i == vb.end())
        continue;
      if (--i->second == 0) {
        vb.erase(i);
        tell_branch(self, p, false);
      }
    }
  }
}

/// Tells the watch `w` (with `branches`) of every path it selects that has
/// topics with a value below it, as `event`; returns how many.
template <class Self>
uint64_t tell_branches(Self* self, const topic_watch& w,
                       const std::string& event) {
  auto& vb = self->state.valued_below;
  auto& prefix = w.parsed->prefix();
  uint64_t n = 0;
  for (auto i = vb.lower_bound(prefix);
       i != vb.end() && i->first.compare(0, prefix.size(), prefix) == 0; ++i)
    if (watch_sees(w, i->first)) {
      tell_event(self, w, event, i->first);
      ++n;
    }
  return n;
}

/// topics/notify: tells the watches that select `name` (and may select
/// it) that it has gained a value or lost it.
template <class Self>
void tell_watches(Self* self, const std::string& name, bool has) {
  auto& st = self->state;
  count_below(self, name, has);
  if (st.watches.empty())
    return;
  std::string event;
  for (auto& w : st.watches) {
    if (!watch_sees(w, name))
      continue;
    if (event.empty())
      event = nlohmann::json{{"event", has ? "added" : "removed"},
                             {"path", name}}
                  .dump();
    self->send(w.watcher, notify_atom::value, w.topic, w.correlation,
               w.has_correlation, event);
  }
}

/// Makes the subscription `ts` (to topics matched against `subject`) at
/// the topics, and answers `rp` with their retained messages.
template <class Self>
void subscribe_now(Self* self, topic_subscription ts,
                   const std::string& subject, bool wildcard,
                   caf::typed_response_promise<retained_batch> rp) {
  auto& st = self->state;
  if (!wildcard && !ts.selector) {
    if (st.retiring.count(subject) > 0) {
      after_retire(self, subject, [=]() mutable {
        auto t = get_or_create(self, subject);
        tracked(
            self->request(t, topic_request_timeout, subscribe_atom::value, ts))
            .then([=](retained_batch& b) mutable { rp.deliver(std::move(b)); },
                  [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      });
      return;
    }
    // A missing-topic handler hears of a name no topic had. What it
    // makes reaches the subscriber: the topic gets the subscription
    // now, before the tree can answer the lookup of anything that
    // publishes to it.
    bool absent = st.missing && st.missing->handlers.size() > 0
                  && !st.topics.find(subject);
    auto t = get_or_create(self, subject);
    if (absent)
      ask_missing(st.missing, subject, ts.client_id, "subscribe", caf::actor{});
    tracked(self->request(t, topic_request_timeout, subscribe_atom::value,
                          std::move(ts)))
        .then([=](retained_batch& b) mutable { rp.deliver(std::move(b)); },
              [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return;
  }
  // Remember the filter for topics created later.
  auto key = ts.session.address();
  auto v = st.wildcards.find(subject, key);
  if (v == nullptr) {
    st.wildcards.insert(subject, key, {});
    v = st.wildcards.find(subject, key);
  }
  bool replaced = false;
  for (auto& x : *v) {
    if (x.group == ts.group && x.filter == ts.filter) {
      x = ts;
      replaced = true;
    }
  }
  if (!replaced)
    v->push_back(ts);
  // And ask every existing matching topic for its retained message.
  std::vector<topic_interface> targets;
  st.topics.for_each_match(subject,
                           [&](std::string_view name, topic_interface& t) {
                             // A wildcard reaches only the topics the client
                             // may read.
                             if (binds(ts, name))
                               targets.push_back(t);
                           });
  if (targets.empty()) {
    // Nothing selected: a missing-topic handler may make it (the
    // filter is in place for what it makes).
    if (st.missing && st.missing->handlers.size() > 0)
      ask_missing(st.missing, ts.selector ? ts.selector->text() : subject,
                  ts.client_id, "subscribe", caf::actor{});
    rp.deliver(retained_batch{});
    return;
  }
  struct pending {
    size_t left;
    retained_batch result;
  };
  auto acc = std::make_shared<pending>(pending{targets.size(), {}});
  for (auto& t : targets) {
    tracked(self->request(t, topic_request_timeout, subscribe_atom::value, ts))
        .then(
            [=](retained_batch& b) mutable {
              for (auto& d : b.items)
                acc->result.items.emplace_back(std::move(d));
              if (--acc->left == 0)
                rp.deliver(std::move(acc->result));
            },
            [=](caf::error&) mutable {
              if (--acc->left == 0)
                rp.deliver(std::move(acc->result));
            });
  }
}

template <class Self>
caf::behavior topic_tree_impl(Self* self) {
  // A watcher (connection) has gone: its watches go.
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& ws = self->state.watches;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [&](const topic_watch& w) {
                              return w.watcher.address() == dm.source;
                            }),
             ws.end());
  });
  return implement<topic_tree_interface>(
      [=](lookup_atom,
          const std::string& name) -> caf::result<topic_interface> {
        if (self->state.retiring.count(name) > 0) {
          auto rp = self->template make_response_promise<topic_interface>();
          after_retire(self, name, [=]() mutable {
            rp.deliver(get_or_create(self, name));
          });
          return rp;
        }
        return get_or_create(self, name);
      },
      [=](lookup_atom, const std::string& name,
          bool create) -> caf::result<topic_interface> {
        auto find = [=] {
          if (create)
            return get_or_create(self, name);
          if (auto found = self->state.topics.find(name))
            return *found;
          return topic_interface{};
        };
        if (self->state.retiring.count(name) > 0) {
          auto rp = self->template make_response_promise<topic_interface>();
          after_retire(self, name, [=]() mutable { rp.deliver(find()); });
          return rp;
        }
        return find();
      },
      [=](publish_atom, publish_batch& b) -> caf::result<bool> {
        // From the cluster router: another node's publishes.
        if (b.msgs.empty())
          return true;
        auto name = b.msgs.front()->topic;
        auto rp = self->template make_response_promise<bool>();
        auto go = [=]() mutable {
          rp.delegate(get_or_create(self, name), publish_atom::value,
                      std::move(b));
        };
        if (!after_retire(self, name, go))
          go();
        return rp;
      },
      [=](cl_sync_atom) -> caf::result<publish_batch> {
        // Every topic's retained message ('$' topics are the server's).
        return gather(self, cl_sync_atom::value);
      },
      [=](cl_values_atom) {
        // The typed topics this node owns send their values to the members.
        self->state.topics.for_each_match(
            "#", [&](std::string_view, topic_interface& t) {
              self->send(t, cl_values_atom::value);
            });
      },
      [=](cl_values_atom, publish_batch& b, const caf::node_id& from) {
        for (auto& m : b.msgs) {
          if (!m)
            continue;
          auto name = m->topic;
          auto go = [=]() mutable {
            self->send(get_or_create(self, name), cl_values_atom::value, m,
                       from);
          };
          if (!after_retire(self, name, go))
            go();
        }
      },
      [=](cl_sync_atom, publish_batch& b) {
        for (auto& m : b.msgs) {
          auto name = m->topic;
          auto go = [=]() mutable {
            self->send(get_or_create(self, name), cl_sync_atom::value, m);
          };
          if (!after_retire(self, name, go))
            go();
        }
      },
      [=](restore_atom, const std::string& name, mqtt::message_ptr& retained,
          mqtt::message_ptr& value, publish_batch& events) {
        // Before the listeners open: nothing else asks for this topic yet.
        auto t = get_or_create(self, name);
        auto& st = self->state;
        if (st.mapping && st.mapping->added(name))
          self->send(t, keep_atom::value);
        self->send(t, restore_atom::value, std::move(retained),
                   std::move(value), std::move(events));
      },
      [=](restore_atom) { return true; },
      [=](publish_atom, mqtt::message_ptr& m) {
        auto name = m->topic;
        auto send = [=](mqtt::message_ptr msg) {
          auto t = get_or_create(self, msg->topic);
          self->send(t, publish_atom::value, std::move(msg));
        };
        if (!after_retire(self, name, [=] { send(m); }))
          send(std::move(m));
      },
      [=](retire_atom, const std::string& name) {
        // An idle topic asks to be retired. Until it answers, requests for
        // its name wait here, so that nothing the tree sends can reach it
        // after it has gone.
        auto& st = self->state;
        auto t = caf::actor_cast<topic_interface>(self->current_sender());
        auto found = st.topics.find(name);
        if (!t || !found || *found != t || st.retiring.count(name) > 0)
          return;
        st.retiring[name];
        tracked(self->request(t, topic_request_timeout, retire_atom::value))
            .then([=](bool retired) { finish_retire(self, name, t, retired); },
                  [=](caf::error& err) {
                    CASTOR_LOG(debug, "topic tree",
                               "retire error " << caf::to_string(err));
                    finish_retire(self, name, t, true);
                  });
      },
      [=](gc_config_atom, uint32_t idle_ms) {
        self->state.topic_idle_ms = idle_ms;
      },
      [=](notify_atom, topic_watch& w) -> bool {
        auto& ws = self->state.watches;
        size_t mine = 0;
        for (auto& x : ws)
          mine += x.watcher == w.watcher ? 1 : 0;
        if (!w.watcher || mine >= max_watches_per_watcher
            || ws.size() >= max_watches)
          return false;
        auto parsed = parse_selector(w.selector);
        auto s = std::get_if<topic_selector>(&parsed);
        if (s == nullptr)
          return false;
        w.parsed = std::make_shared<const topic_selector>(std::move(*s));
        if (mine == 0)
          self->monitor(w.watcher);
        // The paths with topics below them now, before the answer.
        if (w.branches)
          tell_branches(self, w, "branch_selected");
        ws.push_back(std::move(w));
        return true;
      },
      [=](unnotify_atom, const caf::actor& watcher,
          const std::string& selector) -> topic_watch {
        auto& ws = self->state.watches;
        for (auto i = ws.begin(); i != ws.end(); ++i) {
          if (i->watcher == watcher && i->selector == selector) {
            auto w = std::move(*i);
            ws.erase(i);
            if (w.branches)
              tell_branches(self, w, "branch_deselected");
            return w;
          }
        }
        return {};
      },
      [=](exists_atom, const std::string& name, bool has) {
        tell_watches(self, name, has);
      },
      [=](stats_atom) -> uint64_t {
        return self->state.created - self->state.collected;
      },
      [=](fetch_atom, const std::string& filter,
          uint64_t limit) -> topic_listing {
        std::vector<std::pair<std::string_view, topic_interface>> found;
        self->state.topics.for_each_match(
            filter, [&](std::string_view name, topic_interface& t) {
              found.emplace_back(name, t);
            });
        std::sort(found.begin(), found.end(),
                  [](auto& a, auto& b) { return a.first < b.first; });
        topic_listing out;
        out.more = found.size() > limit;
        found.resize(std::min<uint64_t>(found.size(), limit));
        for (auto& [name, t] : found) {
          out.names.emplace_back(name);
          out.topics.push_back(t);
        }
        return out;
      },
      [=](subscribe_atom,
          topic_subscription& ts) -> caf::result<retained_batch> {
        auto& st = self->state;
        // Topics are matched against the subject (a `$delta/` filter's
        // without the prefix); the topics know the subscription by its
        // filter.
        auto info = mqtt::parse_filter(ts.filter);
        std::string subject{info.subject};
        // A subscription by selector: every topic at or under its prefix
        // that it selects, as a wildcard's (topics/subscribe).
        ts.selector = selector_of(ts.filter);
        if (ts.selector)
          subject = subject_of(*ts.selector);
        local_route(self, subject, ts.session.address(), ts.group, ts.filter,
                    true);
        // In a node group, a new route first reaches the members: then the
        // subscription is made (and answered, so the SUBACK means that a
        // publish on any node reaches it). What comes for the subject
        // meanwhile waits behind it, in order.
        auto rp = self->template make_response_promise<retained_batch>();
        bool wildcard = info.wildcard;
        if (auto w = st.route_waits.find(subject); w != st.route_waits.end()) {
          w->second.then.push_back([=]() mutable {
            subscribe_now(self, std::move(ts), subject, wildcard, rp);
          });
          return rp;
        }
        subscribe_now(self, std::move(ts), subject, wildcard, rp);
        return rp;
      },
      [=](redeliver_atom, const std::string& topic, std::string& group,
          std::string& filter, share_redelivery& batch) {
        if (auto t = self->state.topics.find(topic))
          self->send(*t, redeliver_atom::value, std::move(group),
                     std::move(filter), std::move(batch));
      },
      [=](unsub_atom, const topic_unsubscription& u) -> caf::result<bool> {
        // Answered once every topic concerned has forgotten the session's
        // subscriptions.
        auto acc = std::make_shared<unsub_pending>();
        acc->rp = self->make_response_promise();
        for (auto& f : u.filters)
          unsubscribe_one(self, u.session, f, acc);
        acc->done();
        return acc->rp;
      });
}

caf::behavior topic_tree(topic_tree_actor* self, mapping_ptr mapping,
                         missing_ptr missing) {
  self->state.mapping = std::move(mapping);
  self->state.missing = std::move(missing);
  return census(self, metrics::actor_kind::topic_tree, topic_tree_impl(self));
}

caf::behavior topic_tree_broker(topic_tree_broker_type* self, caf::actor timers,
                                mapping_ptr mapping, missing_ptr missing) {
  self->state.topics_on_io_thread = true;
  self->state.timers = std::move(timers);
  self->state.mapping = std::move(mapping);
  self->state.missing = std::move(missing);
  return census(self, metrics::actor_kind::topic_tree, topic_tree_impl(self));
}

} // namespace castor
