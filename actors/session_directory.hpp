#pragma once

// The server's sessions as the platform API sees them (docs/platform.md,
// "Sessions"): each with an id and properties, fixed (`$SessionId`,
// `$ClientId`, `$Principal`, `$ClientIP`, `$Transport`, `$Listener`,
// `$Roles`, `$Connected`, `$StartTime`), the MQTT user properties of its
// CONNECT, and those a privileged session set. One thread-safe object shared
// by the connections (which record a session when it opens and when its
// connection goes), the session registry (which removes it when the session
// ends) and the API's request actors (which list, read, change and close
// sessions). Bounded by the sessions themselves.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "protocol/session_filter.hpp"

namespace castor {

struct session_record {
  std::string id;
  std::string client_id;
  session_facts facts; ///< properties and roles
  caf::actor connection; ///< null while the session is offline
  /// The session actor (what holds the subscriptions); null while the
  /// connection keeps the session itself (nothing subscribed yet).
  caf::actor session;
};

class session_directory {
public:
  /// What a connection knows of its session when it opens.
  struct opening {
    std::string client_id;
    std::string principal;
    std::string client_ip;
    std::string transport;
    std::string listener;
    std::vector<std::string> roles;
    std::vector<std::pair<std::string, std::string>> user_properties;
    bool resumed = false; ///< the session was present
    caf::actor session;   ///< the session actor, if it has one
  };

  /// The session of `o.client_id` is connected through `connection`: a
  /// resumed session keeps its id, start time and the properties set for
  /// it; a new one gets a new id.
  void opened(const opening& o, const caf::actor& connection);

  /// The session of `client_id`, connected through `connection`, has a
  /// session actor now (its first subscription).
  void set_session(const std::string& client_id, const caf::actor& connection,
                   const caf::actor& session);

  /// `connection` has gone: its session is offline (if still its).
  void disconnected(const std::string& client_id,
                    const caf::actor& connection);

  /// The session of `client_id` has ended.
  void ended(const std::string& client_id);

  struct page {
    std::vector<session_record> sessions;
    bool more = false;
  };

  /// Sessions `f` selects, by id, after `after` (exclusive), at most
  /// `limit`.
  page list(const session_filter& f, const std::string& after,
            size_t limit) const;

  std::optional<session_record> get(const std::string& id) const;

  /// The id of the session of `client_id` ("" if none).
  std::string id_of_client(const std::string& client_id) const;

  /// Sets properties of the session `id` (names not starting with `$`);
  /// false when there is no such session.
  bool set_properties(const std::string& id,
                      const std::map<std::string, std::string>& props);

  size_t size() const;

  /// The client ids of every session (a node group's owners are told).
  std::vector<std::string> client_ids() const;

  /// Sessions connected now, and offline ones (the metrics).
  std::pair<size_t, size_t> connected_and_offline() const;

  /// The roles of the session `client_id` connected through `connection`
  /// are now `roles`.
  void set_roles(const std::string& client_id, const caf::actor& connection,
                 const std::vector<std::string>& roles);

  /// Whether a session `f` selects exists (connected or not).
  bool any(const session_filter& f) const;

  /// Changes with every change of the sessions (a cheap way to know that
  /// an answer of `any` still stands).
  uint64_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }

private:
  void changed() noexcept {
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  std::atomic<uint64_t> generation_{0};
  mutable std::mutex mtx_;
  std::map<std::string, session_record> by_id_;
  std::map<std::string, std::string> id_of_client_;
  uint64_t next_ = 0;
  std::string epoch_; ///< tells apart the ids of two runs of the server
};

using session_directory_ptr = std::shared_ptr<session_directory>;

} // namespace castor
