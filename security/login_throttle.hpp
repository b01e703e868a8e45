#pragma once

// The slow-down of password guessing (docs/security.md, "Enforcement").
// Attempts are counted under two keys, the client's address and the user
// name it tries (none for clients without one, or with a bearer token),
// and an attempt counts from the moment it starts: while it waits and
// while its password is hashed it counts as a failure, so that guesses
// sent side by side slow each other down just as guesses sent one after
// the other do. Its outcome then settles it: a failure stays counted, a
// success clears the count of its user name only (never the address's,
// so that one valid account does not free an address to guess others).
//
//   count of a key   = recorded failures + attempts in progress
//   delay of a key   = 0 below its threshold, else delay * 2^(count -
//                      threshold), at most max_delay
//   delay            = the larger of the two keys' delays
//
// Besides, each address has a budget of `address_rate` failed (or still
// undecided) attempts per minute, refilled continuously; an attempt that
// finds it empty is refused at once, without hashing anything. Successes
// give their share back.
//
// Pure and single-threaded: the authenticator chain owns one and passes
// the time in. The maps are bounded (least recently used entries go first,
// entries with attempts in progress last) and forget a key after
// `forget_after` without failures.

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace castor::security {

struct throttle_limits {
  /// Failures (and attempts in progress) of one user name before its next
  /// attempts wait.
  uint32_t user_threshold = 3;
  /// The same for one address, whatever the user names.
  uint32_t address_threshold = 10;
  std::chrono::milliseconds delay{500};
  std::chrono::milliseconds max_delay{10000};
  /// Failed or undecided attempts one address may have per minute; beyond,
  /// attempts are refused at once. 0 = no limit.
  uint32_t address_rate = 60;
  /// A key without a failure for this long is forgotten.
  std::chrono::milliseconds forget_after{std::chrono::minutes{10}};
  /// Keys remembered at once, per kind (addresses, user names).
  size_t max_tracked = 10000;
};

class login_throttle {
public:
  using clock_type = std::chrono::steady_clock;
  using time_point = clock_type::time_point;
  using duration = clock_type::duration;

  /// What an attempt that starts now must do.
  struct admission {
    enum kind_t : uint8_t {
      go,     ///< decide now
      wait,   ///< decide after `delay`
      refuse, ///< the address is over its rate: refuse at once
    } kind = go;
    duration delay{};
  };

  explicit login_throttle(throttle_limits limits = {});

  /// An attempt from `address` for `user` ("" = no user key) starts. Unless
  /// refused, it counts as in progress until `end` is called for it.
  admission begin(const std::string& address, const std::string& user,
                  time_point now);

  /// How an attempt ended.
  enum class outcome : uint8_t {
    success, ///< clears the user name's count, gives the rate back
    failure, ///< counted under both keys
    neutral, ///< not decided (server busy, a handler failed): forgotten
  };

  /// The attempt started with the same `address` and `user` has ended.
  void end(const std::string& address, const std::string& user, outcome how,
           time_point now);

  /// Recorded failures plus attempts in progress under a key (for tests
  /// and statistics); 0 for a key not tracked.
  uint32_t address_count(const std::string& address) const;
  uint32_t user_count(const std::string& user) const;

  size_t tracked_addresses() const noexcept {
    return addresses_.map.size();
  }
  size_t tracked_users() const noexcept {
    return users_.map.size();
  }

  const throttle_limits& limits() const noexcept {
    return limits_;
  }

private:
  struct entry {
    uint32_t failures = 0;
    uint32_t in_progress = 0;
    time_point last_failure{};
    /// Rate budget (addresses only), in attempts.
    double tokens = 0;
    time_point refilled{};
    std::list<std::string>::iterator lru;
  };

  /// One kind of key: the entries and their use order (front = most
  /// recently used).
  struct table {
    std::unordered_map<std::string, entry> map;
    std::list<std::string> order;
  };

  entry* find(table& t, const std::string& key, time_point now);
  entry& get(table& t, const std::string& key, time_point now);
  void touch(table& t, entry& e);
  void drop_if_idle(table& t, const std::string& key, time_point now);
  void refill(entry& e, time_point now) const;
  duration delay_of(uint32_t count, uint32_t threshold) const;
  bool forgotten(const entry& e, time_point now) const;

  throttle_limits limits_;
  table addresses_;
  table users_;
};

} // namespace castor::security
