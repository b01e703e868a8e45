#pragma once

// Non-blocking loopback MQTT connections on one epoll instance: batched
// writes (everything queued for a connection during one loop turn goes out
// in one write()), large reads, frames handed to a handler.

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "wire.hpp"

struct epoll_event;
typedef struct ssl_st SSL;

namespace castor::bench {

/// Makes every connection opened from now on use TLS (TLS 1.2 or 1.3),
/// verifying the server with the CA in `ca_file` under the name
/// "localhost"; false (with a message) when the file is unusable.
bool enable_tls(const std::string& ca_file, std::string& err);

enum class conn_state : uint8_t {
  idle,         ///< not opened yet
  wait_connack, ///< socket open, CONNECT queued or sent
  ready,        ///< CONNACK accepted
  closed,
};

/// One MQTT connection. `role` and `peer` belong to the scenario.
struct client {
  int fd = -1;
  SSL* ssl = nullptr; ///< with enable_tls
  conn_state state = conn_state::idle;
  bool want_out = false;  ///< EPOLLOUT registered
  bool dirty = false;     ///< on the flush list
  bool closing = false;   ///< close after the queued bytes are written
  bool in_paused = false; ///< EPOLLIN dropped: its read budget is spent
  uint8_t role = 0;
  uint8_t target = 0; ///< which of the loop's targets it connects to
  uint32_t peer = 0;                ///< index of the publisher/subscriber
  uint16_t receive_maximum = 65535; ///< the server's, from CONNACK
  uint16_t next_packet_id = 0;
  /// SO_RCVBUF set before connect(); 0 = the kernel's default.
  int rcvbuf = 0;
  /// Bytes the loop may read from this socket before the scenario grants
  /// more (set_read_budget); SIZE_MAX = unlimited.
  size_t read_budget = SIZE_MAX;
  byte_buffer out;
  size_t out_off = 0;
  byte_buffer in; ///< unparsed tail of earlier reads

  size_t pending_out() const {
    return out.size() - out_off;
  }
  uint16_t take_packet_id() {
    if (++next_packet_id == 0)
      next_packet_id = 1;
    return next_packet_id;
  }
};

/// Receives what the event loop reads.
class frame_handler {
public:
  virtual ~frame_handler() = default;
  virtual void on_frame(uint32_t index, client& c, const frame& f) = 0;
  /// The connection failed or the server closed it; `why` names the cause.
  virtual void on_closed(uint32_t index, client& c, const char* why) = 0;
};

class event_loop {
public:
  explicit event_loop(frame_handler& h);
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /// Resolves the broker address (`slot` 1: a second one, for clients
  /// whose `target` is 1); false (with a message) if it fails.
  bool set_target(const std::string& host, uint16_t port, std::string& err,
                  int slot = 0);

  std::vector<client>& clients() {
    return clients_;
  }
  const std::vector<client>& clients() const {
    return clients_;
  }

  /// Starts a non-blocking connect for clients()[index]; the caller queues
  /// its CONNECT in `out` (flushed once the socket is writable). False when
  /// the socket cannot even be created.
  bool open(uint32_t index, std::string& err);

  /// Puts a client with queued output on the flush list.
  void mark_dirty(uint32_t index) {
    auto& c = clients_[index];
    if (!c.dirty) {
      c.dirty = true;
      dirty_.push_back(index);
    }
  }

  /// Lets the loop read up to `bytes` more from clients()[index] (SIZE_MAX:
  /// no limit). While the budget is spent the socket is not polled for
  /// input, so the server's writes back up into the kernel's buffers.
  void set_read_budget(uint32_t index, size_t bytes);

  /// Waits up to `timeout_ms` for events and dispatches them; then writes
  /// every dirty client's output.
  void run_once(int timeout_ms);

  /// Writes every dirty client's queued output.
  void flush_dirty();

  /// Closes the socket now (no DISCONNECT).
  void close(uint32_t index);

  /// Sends DISCONNECT on every ready connection and waits (at most
  /// `timeout_ms`) for the server to close them first, so that the
  /// TIME_WAIT state stays on the server's side; then closes the rest.
  void disconnect_all(int timeout_ms);

  /// For each of `indices`: bytes written to that socket which the server
  /// has not read yet, i.e. still in this side's send queue (SIOCOUTQ) or
  /// in the server's receive queue (its socket's rx_queue in
  /// /proc/net/tcp and tcp6, same host). -1 where unknown (closed socket,
  /// server socket not found).
  std::vector<long> unread_by_server(const std::vector<uint32_t>& indices);

  size_t open_count() const {
    return open_count_;
  }

  /// System calls made so far, to show what the generator itself costs.
  struct syscall_counts {
    uint64_t reads = 0, writes = 0, waits = 0, empty_reads = 0, bytes_read = 0;
  };
  const syscall_counts& counts() const {
    return counts_;
  }

private:
  void handle_readable(uint32_t index);
  /// TLS: reads plaintext into scratch_ (at most `cap` bytes); returns the
  /// count, 0 when nothing came, -1 when the connection failed.
  long tls_read(uint32_t index, size_t cap);
  /// TLS: advances the handshake; false when it failed (connection closed)
  /// or is waiting for the socket.
  bool tls_handshake(uint32_t index);
  bool flush(uint32_t index);
  void set_want_out(uint32_t index, bool on);
  void set_events(uint32_t index);
  void fail(uint32_t index, const char* why);

  frame_handler& handler_;
  int epfd_ = -1;
  sockaddr_storage addrs_[2]{};
  socklen_t addr_lens_[2]{};
  std::vector<client> clients_;
  std::vector<uint32_t> dirty_;
  std::vector<uint8_t> scratch_;
  std::vector<epoll_event>* events_ = nullptr;
  size_t open_count_ = 0;
  uint32_t source_counter_ = 0;
  syscall_counts counts_;
};

} // namespace castor::bench
