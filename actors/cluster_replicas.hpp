#pragma once

// Replicas of persistent sessions in a node group (docs/cluster.md,
// "Sessions"): what another node resumes a session with when the node
// that held it dies or stops. Kept by each node's claims actor
// (actors/cluster_claims.hpp); this is its bookkeeping, without messages.
//
// A session with an expiry (one that outlives its connection) tells its
// node's claims actor what changes of its subscriptions, principal and
// expiry (session_replica, actors/types.hpp). The node keeps that as its
// *outbox*, and sends each session's whole replica (at most every
// `replica_flush`) to the session's **keeper**: the owner of its client id
// among the other members (rendezvous hashing, as claim_owner). When the
// holder leaves the group, the members that stay are the others, so the
// keeper is then the client id's owner, which every CONNECT of the id asks
// first: it answers that it holds the session itself, and hands the
// replica over as a snapshot (subscriptions, no messages).
//
// A session that ends tells nothing: the claims actor monitors it, and
// its replica goes (the keeper is told) when it is down.
//
// A replica also carries the will of the client id's connection (or of its
// session while the will waits for its delay), for any session, expiry 0
// included: the connection that holds it tells the claims actor on CONNECT,
// and the will part goes when that connection is down. When the holder
// leaves the group, the keeper publishes the will once its delay has
// passed (`due_wills`), unless a CONNECT resumes the session first; a
// replica kept for a will only goes once the will is out. When the members
// change, keepers move: a session's replica goes to its new keeper (and
// the old one drops it), and a replica whose holder has left goes to the
// id's new owner. A replica whose holder has left expires after the
// session's expiry interval, counted from when the keeper noticed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "actors/types.hpp"

namespace castor {

/// How long a node collects its sessions' changes before it sends their
/// replicas on.
inline constexpr std::chrono::milliseconds replica_flush{20};
/// Replicas a node keeps for the other members, at most (more are
/// refused and logged).
inline constexpr size_t replicas_max = 1'000'000;
/// Replicas per message.
inline constexpr size_t replica_chunk = 500;

class session_replicas {
public:
  using clock = std::chrono::steady_clock;
  /// A member's router by node name (null: not a member).
  using router_fn = std::function<caf::actor(const std::string&)>;

  // -- this node's sessions ------------------------------------------------

  /// A change from the local session (or, for `c.will_part`, connection)
  /// `session`. Returns whether that actor is new here (the caller
  /// monitors it).
  bool change(const caf::actor_addr& session, session_replica&& c);

  /// The session or connection `session` has gone: what its keeper must
  /// drop (the keeper and the client id), if the replica goes with it.
  /// (If the other part stays, the replica is sent again at the next
  /// flush.)
  std::optional<std::pair<std::string, std::string>>
  gone(const caf::actor_addr& session);

  /// What goes out: whole replicas to their keepers, and client ids that
  /// former keepers drop.
  struct sends {
    std::map<std::string, std::vector<session_replica>> put;
    std::map<std::string, std::vector<std::string>> drop;
    /// Wills gone while their session stays (drop_wills at the keeper:
    /// a whole replica sent instead could overwrite a newer one of the
    /// client id, from the node its session moves to).
    std::map<std::string, std::vector<std::string>> drop_wills;
  };

  /// The replicas to send now: those that changed, or, with `moved`, every
  /// one whose keeper among `nodes` (the group, this node `me` included)
  /// is not the one it was sent to.
  sends flush(const std::string& me, const std::vector<std::string>& nodes,
              bool moved);

  /// This node stops: the wills of its clients are no longer the
  /// group's to publish (a server that shuts down publishes none; the
  /// clients connect again elsewhere). Forgets them here, and returns the
  /// client ids each keeper drops the will of.
  std::map<std::string, std::vector<std::string>> withdraw_wills();

  bool dirty() const noexcept {
    return !dirty_.empty() || !will_drops_.empty() || !drops_.empty();
  }
  size_t sessions() const noexcept {
    return outbox_.size();
  }

  // -- replicas kept for the other members ----------------------------------

  /// Replicas from a member (whole ones). False for those refused as
  /// over `replicas_max` (counted in the return: how many).
  size_t keep(std::vector<session_replica>&& rs, const router_fn& router_of);

  /// `holder` no longer holds `ids`.
  void drop(const std::vector<std::string>& ids, const std::string& holder);

  /// `holder` stops: the wills of `ids` are not to be published.
  void drop_wills(const std::vector<std::string>& ids,
                  const std::string& holder);

  /// Whether the replica of `id` resumes its session: its holder has left
  /// the group (or restarted), and it is not kept for a will only.
  bool resumable(const std::string& id, const router_fn& router_of);

  /// A CONNECT of `id` takes its replica, if it is resumable: a snapshot
  /// with its subscriptions (`present`), or with `resume` false an empty
  /// one (the replica goes); a principal other than the session's gets
  /// `refused` with `refuse_foreign` (the replica stays), or an empty
  /// snapshot (it goes). Nothing if there is no resumable replica. A will
  /// of the replica is cancelled by a resume, and due at once otherwise.
  std::optional<session_snapshot> take(const std::string& id, bool resume,
                                       const std::string& principal,
                                       bool refuse_foreign,
                                       const router_fn& router_of);

  /// Once a second and when the members change: notes when holders left,
  /// forgets replicas whose session has expired since, and returns those
  /// of holders that left whose client id `owner` now gives to another
  /// node (forgotten here; they go there as orphans).
  std::map<std::string, std::vector<session_replica>>
  tick(const std::string& me,
       const std::function<std::string(const std::string&)>& owner,
       const router_fn& router_of, clock::time_point now);

  size_t kept() const noexcept {
    return kept_.size();
  }

  /// Wills of holders that left whose time has come (by `take` and
  /// `tick`), with their client ids: the caller publishes them.
  std::vector<std::pair<std::string, mqtt::will_message>> due_wills() {
    return std::exchange(due_, {});
  }

private:
  struct local_entry {
    caf::actor_addr session;
    std::string principal;
    uint32_t expiry = 0;
    /// The connection or session that holds the will (null: no will).
    caf::actor_addr will_holder;
    mqtt::will_message will;
    uint32_t will_delay = 0;
    /// filter -> the subscription and its identifier.
    std::map<std::string, std::pair<mqtt::subscription, uint32_t>> subs;
    std::string keeper; ///< where its replica went ("" nowhere yet)
    bool dirty = false;
  };
  struct kept_entry {
    session_replica r;
    caf::actor holder_router; ///< the holder's router when last seen
    std::optional<clock::time_point> gone_since;
  };
  bool holder_live(kept_entry& k, const router_fn& router_of);
  session_replica whole(const std::string& id, const local_entry& e,
                        const std::string& me) const;
  bool change_will(const caf::actor_addr& holder, session_replica&& c);
  void mark_dirty(const std::string& id, local_entry& e);
  /// The will of `e` goes. True if nothing is left of it (the caller
  /// erases it; its keeper is told at the next flush).
  bool forget_will(const std::string& id, local_entry& e);

  std::unordered_map<std::string, local_entry> outbox_;
  std::unordered_map<caf::actor_addr, std::string> by_session_;
  std::vector<std::string> dirty_;
  std::unordered_map<std::string, kept_entry> kept_;
  std::vector<std::pair<std::string, mqtt::will_message>> due_;
  std::map<std::string, std::vector<std::string>> will_drops_;
  std::map<std::string, std::vector<std::string>> drops_;
};

} // namespace castor
