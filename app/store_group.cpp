#include "app/store_group.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include <caf/all.hpp>

#include "actors/cluster_guard.hpp"
#include "actors/cluster_types.hpp"
#include "actors/http_types.hpp"
#include "app/rest_security_edit.hpp"
#include "log/log.hpp"
#include "security/crypto.hpp"

namespace castor {

namespace {

/// How often a member asks the keeper for its store.
constexpr std::chrono::milliseconds pull_period{500};
/// How long a node waits for the keeper (well within the HTTP router's
/// http_answer_timeout, so that an edit gets this node's answer).
constexpr std::chrono::seconds keeper_timeout{10};

struct store_group_state {
  http_context_ptr ctx;
  cluster_routes_ptr routes;
  /// The store whose text and digest are cached.
  std::shared_ptr<const security::security_store> cached;
  std::string text;
  std::string digest;
  /// A pull is under way; another was asked for meanwhile.
  bool pulling = false;
  bool pull_again = false;
  /// Reloads passed to the keeper and not answered yet: no pull is made
  /// meanwhile, which could bring back the store from before the reload.
  int updates = 0;
  static inline const char* name = "castor.store_group";
};

using store_group_actor = caf::stateful_actor<store_group_state>;

/// The text and digest of the store in effect.
const store_group_state& current(store_group_actor* self) {
  auto& st = self->state;
  auto store = st.ctx->auth.store_state->get();
  if (store != st.cached) {
    st.cached = store;
    st.text = store_text(*st.ctx);
    st.digest = security::sha256(st.text);
  }
  return st;
}

/// Whether `err` comes from a keeper of a version without the group's
/// store (an older node answers its messages so).
bool older_keeper(const caf::error& err) {
  return err == caf::sec::unexpected_message;
}

/// Tells every member that the store changed.
void tell_members(store_group_actor* self) {
  for (auto& r : self->state.routes->routers())
    self->send(r, cl_store_atom::value);
}

/// Puts the group's store `text` (from `from`) in effect here: whether it
/// is in effect.
bool take(store_group_actor* self, const std::string& text,
          const std::string& from) {
  if (security::sha256(text) == current(self).digest)
    return true;
  if (auto err = take_store(*self->state.ctx, text)) {
    CASTOR_LOG(error, "cluster",
               "the group's security store from "
                   << from << " was not taken: " << *err);
    return false;
  }
  auto store = self->state.ctx->auth.store_state->get();
  CASTOR_LOG(info, "cluster",
             "security store " << self->state.ctx->cfg.security.store_file
                               << ": the group's store from " << from << " ("
                               << store->principals().size() << " principals, "
                               << store->roles().size() << " roles)");
  return true;
}

/// The node name of CAF node `n` as this node's routes know it.
std::string name_of(store_group_actor* self, const caf::node_id& n) {
  for (auto& [name, router] : self->state.routes->member_routers())
    if (router.node() == n)
      return name;
  return to_string(n);
}

std::string node_of(store_group_actor* self, const caf::actor& a) {
  return name_of(self, a.node());
}

/// Asks the keeper for its store (none when this node keeps it).
void pull(store_group_actor* self) {
  auto& st = self->state;
  auto keeper = st.routes->lock_keeper();
  if (!keeper || st.updates > 0)
    return;
  if (st.pulling) {
    st.pull_again = true;
    return;
  }
  st.pulling = true;
  auto done = [self] {
    auto& st = self->state;
    st.pulling = false;
    if (std::exchange(st.pull_again, false))
      pull(self);
  };
  self->request(keeper, keeper_timeout, cl_store_atom::value,
                current(self).digest)
      .then(
          [self, keeper, done](std::string& text) {
            // A reload passed to the keeper meanwhile is not undone.
            if (!text.empty() && self->state.updates == 0)
              take(self, text, "keeper " + node_of(self, keeper));
            done();
          },
          [done](caf::error&) {
            // An older keeper, or none with a store: this node keeps its
            // own; one that did not answer is asked again.
            done();
          });
}

caf::behavior store_group(store_group_actor* self, http_context_ptr ctx,
                          cluster_routes_ptr routes) {
  self->state.ctx = ctx;
  self->state.routes = routes;
  drop_unexpected(self, routes, "the store keeper");
  self->delayed_send(self, pull_period, tick_atom::value);
  return {
      // -- on this node -----------------------------------------------------
      [=](http_atom, http::request& req) -> caf::result<http::response> {
        auto keeper = routes->lock_keeper();
        if (!keeper) {
          auto r = edit_store(*ctx, req);
          if (r.status / 100 == 2)
            tell_members(self);
          return r;
        }
        // The caller's credentials stay here: the router has checked them.
        auto forwarded = req;
        forwarded.headers.erase(
            std::remove_if(forwarded.headers.begin(), forwarded.headers.end(),
                           [](auto& h) { return h.first == "authorization"; }),
            forwarded.headers.end());
        auto rp = self->make_response_promise<http::response>();
        auto name = node_of(self, keeper);
        self->request(keeper, keeper_timeout, cl_store_atom::value,
                      std::move(forwarded))
            .then(
                [=](http::response& r, std::string& text) mutable {
                  if (!text.empty())
                    take(self, text, "keeper " + name);
                  rp.deliver(std::move(r));
                },
                [=](caf::error& err) mutable {
                  if (older_keeper(err)) {
                    // A keeper of an older version: the store stays each
                    // node's own, as before.
                    rp.deliver(edit_store(*ctx, req));
                    return;
                  }
                  if (err == caf::sec::feature_disabled) {
                    rp.deliver(http::error_response(
                        409, "NO_STORE",
                        "the group's security store is kept by " + name
                            + ", which has no security store "
                              "(security.store_file): every member needs "
                              "one"));
                    return;
                  }
                  rp.deliver(http::error_response(
                      503, "UNAVAILABLE",
                      "the group's security store is kept by " + name
                          + ", which did not answer in time (" + to_string(err)
                          + "); the change may still be made there: list "
                            "the principals or roles to see"));
                });
        return rp;
      },
      [=](update_atom, std::string& text) {
        auto keeper = routes->lock_keeper();
        if (!keeper) {
          tell_members(self);
          return;
        }
        ++self->state.updates;
        auto name = node_of(self, keeper);
        self->request(keeper, keeper_timeout, cl_store_atom::value,
                      update_atom::value, std::move(text))
            .then([self](bool) { --self->state.updates; },
                  [self, name](caf::error& err) {
                    --self->state.updates;
                    CASTOR_LOG(warning, "cluster",
                               "the reloaded security store did not reach "
                               "the group's keeper "
                                   << name << " (" << to_string(err)
                                   << "): it is this node's own until the "
                                      "keeper's store replaces it");
                  });
      },
      [=](tick_atom) {
        pull(self);
        self->delayed_send(self, pull_period, tick_atom::value);
      },
      // -- from the members, for this node as the keeper --------------------
      [=](cl_store_atom,
          http::request& req) -> caf::result<http::response, std::string> {
        if (routes->lock_keeper())
          return {http::error_response(
                      503, "UNAVAILABLE",
                      "the group's security store keeper has just changed; "
                      "nothing changed, try again"),
                  std::string{}};
        auto r = edit_store(*ctx, req);
        if (r.status / 100 != 2)
          return {std::move(r), std::string{}};
        tell_members(self);
        return {std::move(r), current(self).text};
      },
      [=](cl_store_atom, update_atom, std::string& text) -> bool {
        if (routes->lock_keeper())
          return false;
        auto& sender = self->current_sender();
        auto from
            = sender ? name_of(self, sender->node()) : std::string{"a member"};
        if (!take(self, text, "a reload on " + from))
          return false;
        tell_members(self);
        return true;
      },
      [=](cl_store_atom, std::string& digest) -> std::string {
        auto& st = current(self);
        return st.digest == digest ? std::string{} : st.text;
      },
      [=](cl_store_atom) { pull(self); },
  };
}

} // namespace

caf::actor spawn_store_group(caf::actor_system& sys, http_context_ptr ctx,
                             cluster_routes_ptr routes) {
  return sys.spawn<caf::detached>(store_group, std::move(ctx),
                                  std::move(routes));
}

} // namespace castor
