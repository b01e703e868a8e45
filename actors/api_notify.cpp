#include "actors/api_notify.hpp"
#include "actors/tracked.hpp"

#include <memory>

#include <caf/event_based_actor.hpp>

#include "actors/iface/timeouts.hpp"

namespace castor {

namespace {

const api::error tree_unavailable{"UNAVAILABLE",
                                  "the topic tree did not answer in time"};

/// Topics asked for their value at once while the present ones are found.
constexpr size_t present_window = 1000;

/// Where the events of one selection go.
struct event_target {
  caf::actor connection;
  std::string topic;
  std::string correlation;
  bool has_correlation = false;
};

/// The walk over the topics a selection selects now.
struct present_walk {
  event_target to;
  std::string event; ///< "selected" or "deselected"
  std::vector<std::string> names;
  std::vector<topic_interface> topics;
  size_t next = 0;
  uint64_t told = 0;
  std::function<void(uint64_t)> done;
};

template <class Self>
void tell(Self* self, const event_target& to, const std::string& event,
          const std::string& path) {
  self->send(to.connection, notify_atom::value, to.topic, to.correlation,
             to.has_correlation,
             nlohmann::json{{"event", event}, {"path", path}}.dump());
}

/// Asks the next window of topics for their value; tells of each that has
/// one, in name order.
template <class Self>
void walk_window(Self* self, const std::shared_ptr<present_walk>& w) {
  auto first = w->next;
  auto last = std::min(w->names.size(), first + present_window);
  if (first == last)
    return w->done(w->told);
  w->next = last;
  auto has = std::make_shared<std::vector<bool>>(last - first, false);
  auto pending = std::make_shared<size_t>(last - first);
  auto answered = [=] {
    if (--*pending > 0)
      return;
    for (size_t k = 0; k < has->size(); ++k) {
      if ((*has)[k]) {
        tell(self, w->to, w->event, w->names[first + k]);
        ++w->told;
      }
    }
    walk_window(self, w);
  };
  for (size_t i = first; i < last; ++i)
    tracked(
        self->request(w->topics[i], topic_request_timeout, fetch_atom::value))
        .then(
            [=](mqtt::message_ptr& m) {
              (*has)[i - first] = m != nullptr;
              answered();
            },
            [=](caf::error&) { answered(); });
}

/// Tells `to` of every topic `selector` selects that has a value and that
/// the caller may select, then runs `done` with how many.
template <class Self>
void tell_present(Self* self, const api_context& ctx,
                  const std::string& selector, event_target to,
                  std::string event, std::function<void(uint64_t)> done,
                  std::function<void()> failed) {
  auto q = query_of(selector);
  tracked(self->request(ctx.tree, tree_request_timeout, fetch_atom::value,
                        q.filter, max_fetch_scan))
      .then(
          [=](topic_listing& l) mutable {
            auto w = std::make_shared<present_walk>();
            w->to = std::move(to);
            w->event = std::move(event);
            w->done = std::move(done);
            for (size_t i = 0; i < l.names.size(); ++i) {
              if (!q.selects(l.names[i])
                  || (ctx.access && !ctx.access->may_subscribe(l.names[i])))
                continue;
              w->names.push_back(std::move(l.names[i]));
              w->topics.push_back(l.topics[i]);
            }
            walk_window(self, w);
          },
          [=](caf::error&) mutable { failed(); });
}

} // namespace

void run_notify(caf::event_based_actor* self, const api_context& ctx,
                api::notify_topics n,
                caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.connection)
    return finish(api::error_answer(
        {"UNAVAILABLE", "no connection to tell of the topics"}));
  topic_watch w;
  w.watcher = ctx.connection;
  w.selector = n.selector;
  w.topic = ctx.reply_topic;
  w.has_correlation = ctx.correlation.has_value();
  w.correlation = ctx.correlation.value_or(std::string{});
  w.branches = n.branches;
  w.access.principal = ctx.principal;
  w.access.ptr = ctx.access ? ctx.access : allow_everything();
  event_target to{w.watcher, w.topic, w.correlation, w.has_correlation};
  auto selector = n.selector;
  // The watch first, then the topics there already: a topic that gains a
  // value meanwhile may be told of twice (added and selected), never not.
  tracked(self->request(ctx.tree, tree_request_timeout, notify_atom::value,
                        std::move(w)))
      .then(
          [=](bool accepted) mutable {
            if (!accepted)
              return finish(api::error_answer(
                  {"TOO_MANY_SELECTIONS",
                   "a connection has at most "
                       + std::to_string(max_watches_per_watcher)
                       + " selections of topics/notify (the server "
                       + std::to_string(max_watches) + ")"}));
            tell_present(
                self, ctx, selector, to, "selected",
                [=](uint64_t n) mutable {
                  finish(api::ok_answer({{"selected", n}}));
                },
                [=]() mutable { finish(api::error_answer(tree_unavailable)); });
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(tree_unavailable));
          });
}

void run_unnotify(caf::event_based_actor* self, const api_context& ctx,
                  api::unnotify_topics n,
                  caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  tracked(self->request(ctx.tree, tree_request_timeout, unnotify_atom::value,
                        ctx.connection, n.selector))
      .then(
          [=](topic_watch& w) mutable {
            if (!w.watcher)
              return finish(api::ok_answer({{"existed", false}}));
            // The selection's own topic and correlation data.
            event_target to{w.watcher, w.topic, w.correlation,
                            w.has_correlation};
            tell_present(
                self, ctx, w.selector, to, "deselected",
                [=](uint64_t n) mutable {
                  finish(api::ok_answer({{"existed", true}, {"deselected", n}}));
                },
                [=]() mutable { finish(api::error_answer(tree_unavailable)); });
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(tree_unavailable));
          });
}

} // namespace castor
