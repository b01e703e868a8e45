// Replicas of persistent sessions in a node group
// (actors/cluster_replicas.hpp): a node sends each of its sessions' whole
// replica to the session's keeper (the owner of its client id among the
// other members), coalescing changes; a session that ends has its replica
// dropped there; keepers move with the members. A keeper resumes a session
// from its replica only once the holder has left (or restarted), and hands
// replicas of holders that left on to the client id's new owner.

#define CAF_SUITE castor_cluster_replicas

#include "caf/test/dsl.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/cluster_claims.hpp"
#include "actors/cluster_replicas.hpp"

using namespace caf;
using namespace castor;

namespace {

behavior idle(event_based_actor*) {
  return {[](int) {}};
}

mqtt::subscription sub(const std::string& filter, uint8_t qos) {
  mqtt::subscription s;
  s.filter = filter;
  s.max_qos = qos;
  return s;
}

session_replica added(const std::string& id, std::vector<std::string> filters,
                      uint32_t expiry = 300, bool full = false) {
  session_replica r;
  r.client_id = id;
  r.principal = "alice";
  r.expiry = expiry;
  r.full = full;
  for (auto& f : filters) {
    r.subs.push_back(sub(f, 1));
    r.subscription_ids.push_back(0);
  }
  return r;
}

std::vector<std::string> filters_of(const session_replica& r) {
  std::vector<std::string> out;
  for (auto& s : r.subs)
    out.push_back(s.filter);
  return out;
}

/// A client id whose owner among `others` is `keeper`.
std::string id_kept_by(const std::string& keeper,
                       const std::vector<std::string>& others,
                       const std::string& prefix = "c") {
  for (int i = 0;; ++i) {
    auto id = prefix + std::to_string(i);
    if (claim_owner(id, others) == keeper)
      return id;
  }
}

struct fixture : test_coordinator_fixture<> {
  actor s1 = sys.spawn(idle);
  actor s2 = sys.spawn(idle);
  actor router_n2 = sys.spawn(idle);
  actor router_n3 = sys.spawn(idle);
  actor router_n3_again = sys.spawn(idle);
  /// The members' routers as the test has them.
  std::map<std::string, actor> routers;
  session_replicas::router_fn lookup = [this](const std::string& n) {
    auto i = routers.find(n);
    return i == routers.end() ? actor{} : i->second;
  };
  actor_addr a1 = s1.address();
  actor_addr a2 = s2.address();
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_replicas_tests, fixture)

CAF_TEST(changes go together to the keeper as one whole replica) {
  session_replicas r;
  std::vector<std::string> nodes{"n1", "n2", "n3"};
  auto id = id_kept_by("n2", {"n2", "n3"});
  CAF_CHECK(r.change(a1, added(id, {"a", "b"}, 300, true)));
  CAF_CHECK(!r.change(a1, added(id, {"c"})));
  session_replica gone_b;
  gone_b.client_id = id;
  gone_b.principal = "alice";
  gone_b.expiry = 300;
  gone_b.remove = {"b"};
  r.change(a1, std::move(gone_b));
  auto out = r.flush("n1", nodes, false);
  CAF_REQUIRE_EQUAL(out.put.size(), 1u);
  CAF_REQUIRE_EQUAL(out.put["n2"].size(), 1u);
  auto& sent = out.put["n2"][0];
  CAF_CHECK_EQUAL(sent.holder, "n1");
  CAF_CHECK(sent.full);
  CAF_CHECK_EQUAL(sent.expiry, 300u);
  CAF_CHECK_EQUAL(filters_of(sent), (std::vector<std::string>{"a", "c"}));
  CAF_CHECK(out.drop.empty());
  // Nothing changed since: nothing to send.
  out = r.flush("n1", nodes, false);
  CAF_CHECK(out.put.empty() && out.drop.empty());
  // The session ends: its keeper drops the replica.
  auto d = r.gone(a1);
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_EQUAL(d->first, "n2");
  CAF_CHECK_EQUAL(d->second, id);
  CAF_CHECK(!r.gone(a1).has_value());
  CAF_CHECK_EQUAL(r.sessions(), 0u);
}

CAF_TEST(expiry zero drops the replica and a new session replaces it) {
  session_replicas r;
  std::vector<std::string> nodes{"n1", "n2", "n3"};
  auto id = id_kept_by("n3", {"n2", "n3"});
  r.change(a1, added(id, {"a"}, 300, true));
  r.flush("n1", nodes, false);
  // A DISCONNECT with expiry 0: the keeper drops it at once.
  r.change(a1, added(id, {}, 0));
  auto out = r.flush("n1", nodes, false);
  CAF_CHECK(out.put.empty());
  CAF_CHECK_EQUAL(out.drop["n3"], std::vector<std::string>{id});
  // A change from a session that is not the id's (an old one, ending)
  // with expiry 0 changes nothing.
  r.change(a1, added(id, {"a"}, 300, true));
  r.flush("n1", nodes, false);
  r.change(a2, added(id, {"x"}, 0));
  CAF_CHECK(!r.dirty());
  // A new session of the id replaces the old one's replica; the old one
  // going down then drops nothing.
  CAF_CHECK(r.change(a2, added(id, {"x"}, 60, true)));
  out = r.flush("n1", nodes, false);
  CAF_CHECK_EQUAL(filters_of(out.put["n3"].at(0)),
                  std::vector<std::string>{"x"});
  CAF_CHECK(!r.gone(a1).has_value());
  CAF_CHECK(r.gone(a2).has_value());
}

CAF_TEST(replicas move to the new keeper when the members change) {
  session_replicas r;
  // With n1 and n2 only, n2 keeps everything of n1.
  auto id = id_kept_by("n3", {"n2", "n3"});
  r.change(a1, added(id, {"a"}, 300, true));
  auto out = r.flush("n1", {"n1", "n2"}, false);
  CAF_CHECK_EQUAL(out.put["n2"].size(), 1u);
  // n3 joins and is the id's keeper now: it gets the replica, n2 drops it.
  out = r.flush("n1", {"n1", "n2", "n3"}, true);
  CAF_CHECK_EQUAL(out.put["n3"].size(), 1u);
  CAF_CHECK_EQUAL(out.drop["n2"], std::vector<std::string>{id});
  // Unchanged members: nothing moves.
  out = r.flush("n1", {"n1", "n2", "n3"}, true);
  CAF_CHECK(out.put.empty() && out.drop.empty());
  // Alone: no keeper, and the last one drops it.
  out = r.flush("n1", {"n1"}, true);
  CAF_CHECK(out.put.empty());
  CAF_CHECK_EQUAL(out.drop["n3"], std::vector<std::string>{id});
}

CAF_TEST(a replica resumes only once its holder has left or restarted) {
  session_replicas r;
  routers["n3"] = router_n3;
  auto rep = added("c1", {"a", "b"}, 300, true);
  rep.holder = "n3";
  std::vector<session_replica> rs{rep};
  CAF_CHECK_EQUAL(r.keep(std::move(rs), lookup), 0u);
  CAF_CHECK_EQUAL(r.kept(), 1u);
  CAF_CHECK(!r.resumable("c1", lookup));
  CAF_CHECK(!r.take("c1", true, "alice", true, lookup).has_value());
  // n3 restarts: a new router under its name. Its sessions died with it.
  routers["n3"] = router_n3_again;
  CAF_CHECK(r.resumable("c1", lookup));
  // Another principal is refused, and the replica stays.
  auto snap = r.take("c1", true, "mallory", true, lookup);
  CAF_REQUIRE(snap.has_value());
  CAF_CHECK(snap->refused && !snap->present);
  CAF_CHECK_EQUAL(r.kept(), 1u);
  snap = r.take("c1", true, "alice", true, lookup);
  CAF_REQUIRE(snap.has_value());
  CAF_CHECK(snap->present && !snap->refused);
  session_replica resumed;
  resumed.subs = snap->subs;
  CAF_CHECK_EQUAL(filters_of(resumed), (std::vector<std::string>{"a", "b"}));
  CAF_CHECK_EQUAL(r.kept(), 0u);
  // A clean start takes it away without resuming it.
  rs = {rep};
  r.keep(std::move(rs), lookup); // seen under n3's new router: live again
  CAF_CHECK(!r.resumable("c1", lookup));
  routers.erase("n3");
  snap = r.take("c1", false, "alice", true, lookup);
  CAF_REQUIRE(snap.has_value());
  CAF_CHECK(!snap->present && !snap->refused);
  CAF_CHECK_EQUAL(r.kept(), 0u);
}

CAF_TEST(a holder drops only its own replicas) {
  session_replicas r;
  routers["n2"] = router_n2;
  routers["n3"] = router_n3;
  auto rep = added("c1", {"a"}, 300, true);
  rep.holder = "n3";
  std::vector<session_replica> rs{rep};
  r.keep(std::move(rs), lookup);
  // The session moved to n2, which sent its replica here too; n3's old
  // session then ends: the drop names n3, and n2's replica stays.
  rep.holder = "n2";
  rs = {rep};
  r.keep(std::move(rs), lookup);
  r.drop({"c1"}, "n3");
  CAF_CHECK_EQUAL(r.kept(), 1u);
  r.drop({"c1"}, "n2");
  CAF_CHECK_EQUAL(r.kept(), 0u);
}

CAF_TEST(replicas of holders that left expire or go to the new owner) {
  session_replicas r;
  routers["n3"] = router_n3;
  auto t0 = session_replicas::clock::now();
  std::vector<session_replica> rs;
  for (auto& [id, expiry] : std::vector<std::pair<std::string, uint32_t>>{
           {"short", 5}, {"long", 100}, {"never", 0xFFFFFFFFu}}) {
    auto rep = added(id, {"a"}, expiry, true);
    rep.holder = "n3";
    rs.push_back(rep);
  }
  r.keep(std::move(rs), lookup);
  auto mine = [](const std::string&) { return std::string{"n1"}; };
  CAF_CHECK(r.tick("n1", mine, lookup, t0).empty());
  routers.erase("n3"); // n3 leaves: the expiry counts from now
  CAF_CHECK(r.tick("n1", mine, lookup, t0 + std::chrono::seconds(1)).empty());
  CAF_CHECK_EQUAL(r.kept(), 3u);
  r.tick("n1", mine, lookup, t0 + std::chrono::seconds(6));
  CAF_CHECK_EQUAL(r.kept(), 2u); // "short" has expired
  CAF_CHECK(!r.resumable("short", lookup));
  // n4 joins and owns "long": it goes there, with what is left of its
  // expiry, marked as a replica whose holder has left.
  auto n4_owns_long = [](const std::string& id) {
    return std::string{id == "long" ? "n4" : "n1"};
  };
  auto out = r.tick("n1", n4_owns_long, lookup, t0 + std::chrono::seconds(11));
  CAF_REQUIRE_EQUAL(out["n4"].size(), 1u);
  auto& moved = out["n4"][0];
  CAF_CHECK_EQUAL(moved.client_id, "long");
  CAF_CHECK(moved.orphan);
  CAF_CHECK_EQUAL(moved.expiry, 90u);
  CAF_CHECK_EQUAL(r.kept(), 1u);
  // At n4 it resumes, although a node named n3 may be a member again.
  session_replicas at_n4;
  routers["n3"] = router_n3_again;
  std::vector<session_replica> orphans{moved};
  at_n4.keep(std::move(orphans), lookup);
  CAF_CHECK(at_n4.resumable("long", lookup));
  // An orphan does not replace the replica of a session that lives on.
  auto live = added("long", {"b"}, 300, true);
  live.holder = "n3";
  session_replicas at_n5;
  std::vector<session_replica> lives{live};
  at_n5.keep(std::move(lives), lookup);
  orphans = {moved};
  at_n5.keep(std::move(orphans), lookup);
  CAF_CHECK(!at_n5.resumable("long", lookup));
}

session_replica will_of(const std::string& id, const std::string& topic,
                        uint32_t delay, bool has = true) {
  session_replica r;
  r.client_id = id;
  r.principal = "alice";
  r.will_part = true;
  r.has_will = has;
  r.will.topic = topic;
  r.will.payload = "gone";
  r.will_delay = delay;
  return r;
}

std::vector<std::string> due_ids(session_replicas& r) {
  std::vector<std::string> out;
  for (auto& [id, will] : r.due_wills())
    out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

CAF_TEST(a connection will goes with the replica until the connection ends) {
  session_replicas r;
  std::vector<std::string> nodes{"n1", "n2", "n3"};
  auto id = id_kept_by("n2", {"n2", "n3"});
  actor c1 = sys.spawn(idle);
  actor c2 = sys.spawn(idle);
  // A client without a session that outlives it: the replica is kept for
  // the will only.
  CAF_CHECK(r.change(c1.address(), will_of(id, "w/1", 0)));
  auto out = r.flush("n1", nodes, false);
  CAF_REQUIRE_EQUAL(out.put["n2"].size(), 1u);
  CAF_CHECK(out.put["n2"][0].has_will);
  CAF_CHECK_EQUAL(out.put["n2"][0].will.topic, "w/1");
  CAF_CHECK_EQUAL(out.put["n2"][0].expiry, 0u);
  // A session with an expiry joins it: one replica with both.
  CAF_CHECK(r.change(a1, added(id, {"a"}, 300, true)));
  out = r.flush("n1", nodes, false);
  CAF_REQUIRE_EQUAL(out.put["n2"].size(), 1u);
  CAF_CHECK(out.put["n2"][0].has_will);
  CAF_CHECK_EQUAL(filters_of(out.put["n2"][0]), std::vector<std::string>{"a"});
  // A new connection of the id takes over (with another will); the old
  // one ending then changes nothing.
  CAF_CHECK(r.change(c2.address(), will_of(id, "w/2", 10)));
  r.flush("n1", nodes, false);
  CAF_CHECK(!r.gone(c1.address()).has_value());
  CAF_CHECK(!r.dirty());
  // The connection ends: the keeper drops the will only (a whole replica
  // could overwrite a newer one of the id, from where the session moves).
  CAF_CHECK(!r.gone(c2.address()).has_value());
  CAF_CHECK(r.dirty());
  out = r.flush("n1", nodes, false);
  CAF_CHECK(out.put.empty() && out.drop.empty());
  CAF_CHECK_EQUAL(out.drop_wills["n2"], std::vector<std::string>{id});
  // The session takes a will waiting for its delay, then publishes it.
  CAF_CHECK(!r.change(a1, will_of(id, "w/2", 10)));
  out = r.flush("n1", nodes, false);
  CAF_CHECK(out.put["n2"].at(0).has_will);
  CAF_CHECK_EQUAL(out.put["n2"].at(0).will_delay, 10u);
  r.change(a1, will_of(id, "", 0, false));
  out = r.flush("n1", nodes, false);
  CAF_CHECK(out.put.empty());
  CAF_CHECK_EQUAL(out.drop_wills["n2"], std::vector<std::string>{id});
  // The session changes: its whole replica, without the will.
  r.change(a1, added(id, {"b"}));
  out = r.flush("n1", nodes, false);
  CAF_CHECK(!out.put["n2"].at(0).has_will);
  // The session ends: the keeper drops the replica.
  auto d = r.gone(a1);
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_EQUAL(d->first, "n2");
  // A will-only replica goes with its connection.
  actor c3 = sys.spawn(idle);
  r.change(c3.address(), will_of(id, "w/3", 0));
  r.flush("n1", nodes, false);
  d = r.gone(c3.address());
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_EQUAL(d->second, id);
  CAF_CHECK_EQUAL(r.sessions(), 0u);
}

CAF_TEST(a keeper publishes the wills of a holder that left as they fall due) {
  session_replicas r;
  routers["n3"] = router_n3;
  auto t0 = session_replicas::clock::now();
  std::vector<session_replica> rs;
  for (auto& [id, expiry] : std::vector<std::pair<std::string, uint32_t>>{
           {"plain", 0}, {"delayed", 300}, {"resumed", 300}, {"clean", 300}}) {
    auto rep = added(
        id, expiry ? std::vector<std::string>{"a"} : std::vector<std::string>{},
        expiry, true);
    rep.holder = "n3";
    rep.has_will = true;
    rep.will.topic = "will/" + id;
    rep.will_delay = expiry ? 5 : 0;
    rs.push_back(rep);
  }
  r.keep(std::move(rs), lookup);
  auto mine = [](const std::string&) { return std::string{"n1"}; };
  r.tick("n1", mine, lookup, t0);
  CAF_CHECK(due_ids(r).empty()); // n3 lives
  routers.erase("n3");
  // A will-only replica resumes nothing; its will goes at once.
  CAF_CHECK(!r.resumable("plain", lookup));
  CAF_CHECK(!r.take("plain", true, "alice", true, lookup).has_value());
  r.tick("n1", mine, lookup, t0 + std::chrono::seconds(1));
  CAF_CHECK_EQUAL(due_ids(r), std::vector<std::string>{"plain"});
  CAF_CHECK_EQUAL(r.kept(), 3u);
  // A resume before the delay cancels the will; a clean start publishes it.
  auto snap = r.take("resumed", true, "alice", true, lookup);
  CAF_REQUIRE(snap.has_value());
  CAF_CHECK(snap->present);
  CAF_CHECK(due_ids(r).empty());
  snap = r.take("clean", false, "alice", true, lookup);
  CAF_REQUIRE(snap.has_value());
  CAF_CHECK_EQUAL(due_ids(r), std::vector<std::string>{"clean"});
  // The delay counts from when the keeper noticed the holder gone.
  r.tick("n1", mine, lookup, t0 + std::chrono::seconds(5));
  CAF_CHECK(due_ids(r).empty());
  r.tick("n1", mine, lookup, t0 + std::chrono::seconds(6));
  CAF_CHECK_EQUAL(due_ids(r), std::vector<std::string>{"delayed"});
  r.tick("n1", mine, lookup, t0 + std::chrono::seconds(7));
  CAF_CHECK(due_ids(r).empty());             // once
  CAF_CHECK(r.resumable("delayed", lookup)); // the session is still there
}

CAF_TEST(a node that stops withdraws the wills of its clients) {
  session_replicas r;
  std::vector<std::string> nodes{"n1", "n2", "n3"};
  auto id = id_kept_by("n2", {"n2", "n3"});
  auto other = id_kept_by("n3", {"n2", "n3"}, "d");
  actor c1 = sys.spawn(idle);
  actor c2 = sys.spawn(idle);
  r.change(c1.address(), will_of(id, "w/1", 0));
  r.change(a1, added(other, {"a"}, 300, true));
  r.change(c2.address(), will_of(other, "w/2", 0));
  auto out = r.flush("n1", nodes, false);
  auto withdrawn = r.withdraw_wills();
  CAF_CHECK_EQUAL(withdrawn["n2"], std::vector<std::string>{id});
  CAF_CHECK_EQUAL(withdrawn["n3"], std::vector<std::string>{other});
  CAF_CHECK_EQUAL(r.sessions(), 1u); // the session with an expiry stays
  CAF_CHECK(!r.gone(c1.address()).has_value());
  // At a keeper: the session stays without its will, a will-only replica
  // goes.
  session_replicas keeper;
  routers["n1"] = router_n2;
  auto kept = out.put["n2"];
  keeper.keep(std::move(kept), lookup);
  kept = out.put["n3"];
  keeper.keep(std::move(kept), lookup);
  CAF_CHECK_EQUAL(keeper.kept(), 2u);
  keeper.drop_wills({id, other}, "n1");
  CAF_CHECK_EQUAL(keeper.kept(), 1u);
  routers.erase("n1");
  keeper.tick(
      "n2", [](const std::string&) { return std::string{"n2"}; }, lookup,
      session_replicas::clock::now());
  CAF_CHECK(keeper.due_wills().empty());
  CAF_CHECK(keeper.resumable(other, lookup));
}

CAF_TEST_FIXTURE_SCOPE_END()
