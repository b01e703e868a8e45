#include "net.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <unordered_map>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "options.hpp"

namespace castor::bench {

namespace {

constexpr size_t scratch_size = 256 * 1024;
constexpr int max_events = 1024;

SSL_CTX* tls_ctx = nullptr;

std::string tls_errors() {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!s.empty())
      s += "; ";
    s += buf;
  }
  return s.empty() ? "unknown TLS error" : s;
}

} // namespace

bool enable_tls(const std::string& ca_file, std::string& err) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    err = "cannot create a TLS context: " + tls_errors();
    return false;
  }
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    err = "TLS CA file '" + ca_file + "': " + tls_errors();
    SSL_CTX_free(ctx);
    return false;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // The output buffer may grow (and move) between a short write and its
  // retry; idle connections give their record buffers back.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                            | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                            | SSL_MODE_RELEASE_BUFFERS);
  tls_ctx = ctx;
  return true;
}

event_loop::event_loop(frame_handler& h)
    : handler_(h), scratch_(scratch_size),
      events_(new std::vector<epoll_event>(max_events)) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
}

event_loop::~event_loop() {
  for (uint32_t i = 0; i < clients_.size(); ++i)
    if (clients_[i].fd >= 0)
      ::close(clients_[i].fd);
  if (epfd_ >= 0)
    ::close(epfd_);
  delete events_;
}

bool event_loop::set_target(const std::string& host, uint16_t port,
                            std::string& err, int slot) {
  auto& addr = addrs_[slot];
  auto& addr_len = addr_lens_[slot];
  if (!is_loopback(host)) {
    err = "refusing non-loopback host " + host;
    return false;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  auto port_str = std::to_string(port);
  int rc = getaddrinfo(host == "localhost" ? "127.0.0.1" : host.c_str(),
                       port_str.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    err = std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  // Checked again on the resolved address: only loopback is ever a target.
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    if ((ntohl(a->sin_addr.s_addr) >> 24) != 127) {
      err = "resolved address is not loopback";
      return false;
    }
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    if (!IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) {
      err = "resolved address is not loopback";
      return false;
    }
  } else {
    err = "unsupported address family";
    return false;
  }
  return true;
}

bool event_loop::open(uint32_t index, std::string& err) {
  auto& c = clients_[index];
  auto& addr = addrs_[c.target];
  auto addr_len = addr_lens_[c.target];
  int fd
      = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Before connect(): the window scale is agreed in the handshake.
  if (c.rcvbuf > 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c.rcvbuf, sizeof(c.rcvbuf));
  if (addr.ss_family == AF_INET) {
    // Spread the connections over 64 loopback source addresses and let the
    // kernel pick the port at connect() time: with tens of thousands of
    // connections (and the TIME_WAIT sockets of earlier runs) a single
    // source address makes every connect() scan the whole ephemeral port
    // range. All of 127.0.0.0/8 is loopback.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7F000001u + (source_counter_++ % 64));
    src.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
      err = std::string("bind: ") + std::strerror(errno);
      ::close(fd);
      return false;
    }
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len);
  if (rc != 0 && errno != EINPROGRESS) {
    err = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (tls_ctx != nullptr) {
    c.ssl = SSL_new(tls_ctx);
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, fd) != 1) {
      err = "cannot create a TLS connection: " + tls_errors();
      SSL_free(c.ssl);
      c.ssl = nullptr;
      ::close(fd);
      return false;
    }
    SSL_set_connect_state(c.ssl);
    SSL_set_tlsext_host_name(c.ssl, "localhost");
    SSL_set1_host(c.ssl, "localhost");
  }
  c.fd = fd;
  c.state = conn_state::wait_connack;
  c.want_out = true; // the connect completes when the socket is writable
  c.in_paused = c.read_budget == 0;
  epoll_event ev{};
  ev.events = (c.in_paused ? 0u : EPOLLIN) | EPOLLOUT;
  ev.data.u64 = index;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    err = std::string("epoll_ctl: ") + std::strerror(errno);
    ::close(fd);
    c.fd = -1;
    c.state = conn_state::closed;
    return false;
  }
  ++open_count_;
  return true;
}

void event_loop::set_events(uint32_t index) {
  auto& c = clients_[index];
  epoll_event ev{};
  ev.events = (c.in_paused ? 0u : EPOLLIN) | (c.want_out ? EPOLLOUT : 0u);
  ev.data.u64 = index;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void event_loop::set_want_out(uint32_t index, bool on) {
  auto& c = clients_[index];
  if (c.want_out == on || c.fd < 0)
    return;
  c.want_out = on;
  set_events(index);
}

void event_loop::set_read_budget(uint32_t index, size_t bytes) {
  auto& c = clients_[index];
  c.read_budget = bytes;
  bool pause = bytes == 0;
  if (c.in_paused == pause || c.fd < 0) {
    c.in_paused = pause;
    return;
  }
  c.in_paused = pause;
  set_events(index);
}

void event_loop::close(uint32_t index) {
  auto& c = clients_[index];
  if (c.ssl != nullptr) {
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  if (c.fd >= 0) {
    ::close(c.fd); // also leaves the epoll set
    c.fd = -1;
    --open_count_;
  }
  c.state = conn_state::closed;
  c.out.clear();
  c.out.shrink_to_fit();
  c.in.clear();
  c.in.shrink_to_fit();
  c.out_off = 0;
}

void event_loop::fail(uint32_t index, const char* why) {
  auto& c = clients_[index];
  if (c.state == conn_state::closed)
    return;
  bool expected = c.closing;
  close(index);
  if (!expected)
    handler_.on_closed(index, c, why);
}

bool event_loop::tls_handshake(uint32_t index) {
  auto& c = clients_[index];
  ERR_clear_error();
  int r = SSL_do_handshake(c.ssl);
  if (r == 1)
    return true;
  int e = SSL_get_error(c.ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    set_want_out(index, false);
    return false;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    set_want_out(index, true);
    return false;
  }
  auto why = "TLS handshake failed: " + tls_errors();
  fail(index, why.c_str());
  return false;
}

long event_loop::tls_read(uint32_t index, size_t cap) {
  auto& c = clients_[index];
  size_t total = 0;
  while (total < cap) {
    ++counts_.reads;
    ERR_clear_error();
    int want = static_cast<int>(std::min<size_t>(cap - total, 1 << 30));
    int n = SSL_read(c.ssl, scratch_.data() + total, want);
    if (n > 0) {
      total += static_cast<size_t>(n);
      continue;
    }
    int e = SSL_get_error(c.ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      break;
    if (total > 0)
      break; // hand over what came; the failure shows on the next read
    if (e == SSL_ERROR_ZERO_RETURN) {
      fail(index, "connection closed by the server (close_notify)");
    } else {
      auto why = "TLS read failed: " + tls_errors();
      fail(index, why.c_str());
    }
    return -1;
  }
  return static_cast<long>(total);
}

bool event_loop::flush(uint32_t index) {
  auto& c = clients_[index];
  if (c.fd < 0)
    return false;
  if (c.ssl != nullptr) {
    if (!SSL_is_init_finished(c.ssl) && !tls_handshake(index))
      return c.fd >= 0;
    while (c.out_off < c.out.size()) {
      ++counts_.writes;
      ERR_clear_error();
      int want = static_cast<int>(
          std::min<size_t>(c.out.size() - c.out_off, 1 << 30));
      int n = SSL_write(c.ssl, c.out.data() + c.out_off, want);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      int e = SSL_get_error(c.ssl, n);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        set_want_out(index, true);
        return true;
      }
      auto why = "TLS write failed: " + tls_errors();
      fail(index, why.c_str());
      return false;
    }
    c.out.clear();
    c.out_off = 0;
    set_want_out(index, false);
    return true;
  }
  while (c.out_off < c.out.size()) {
    ++counts_.writes;
    ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                       MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_want_out(index, true);
      return true;
    }
    fail(index, n < 0 ? std::strerror(errno) : "write returned 0");
    return false;
  }
  c.out.clear();
  c.out_off = 0;
  set_want_out(index, false);
  return true;
}

void event_loop::flush_dirty() {
  // flush() may not add to dirty_, but handlers called from it might (on
  // failure): iterate by index.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    uint32_t idx = dirty_[i];
    clients_[idx].dirty = false;
    if (clients_[idx].pending_out() > 0)
      flush(idx);
  }
  dirty_.clear();
}

void event_loop::handle_readable(uint32_t index) {
  auto& c = clients_[index];
  if (c.read_budget == 0)
    return;
  ssize_t n = 0;
  if (c.ssl != nullptr) {
    if (!SSL_is_init_finished(c.ssl)) {
      flush(index); // the handshake goes on, then the queued CONNECT
      return;
    }
    n = tls_read(index, std::min(scratch_.size(), c.read_budget));
    if (n < 0)
      return;
    if (n == 0) {
      ++counts_.empty_reads;
      return;
    }
  } else {
    ++counts_.reads;
    n = ::read(c.fd, scratch_.data(), std::min(scratch_.size(), c.read_budget));
  }
  if (n == 0) {
    fail(index, "connection closed by the server");
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      ++counts_.empty_reads;
      return;
    }
    fail(index, std::strerror(errno));
    return;
  }
  if (c.read_budget != SIZE_MAX) {
    c.read_budget -= static_cast<size_t>(n);
    if (c.read_budget == 0 && !c.in_paused) {
      c.in_paused = true;
      set_events(index);
    }
  }
  const uint8_t* data = scratch_.data();
  size_t len = static_cast<size_t>(n);
  counts_.bytes_read += len;
  bool buffered = !c.in.empty();
  if (buffered) {
    c.in.insert(c.in.end(), data, data + len);
    data = c.in.data();
    len = c.in.size();
  }
  size_t pos = 0;
  frame f{};
  while (pos < len) {
    long used = next_frame(data + pos, len - pos, f);
    if (used < 0) {
      fail(index, "malformed remaining length from the server");
      return;
    }
    if (used == 0)
      break;
    pos += static_cast<size_t>(used);
    handler_.on_frame(index, c, f);
    if (c.state == conn_state::closed)
      return;
  }
  // `c` may have been relocated? No: clients_ never grows while running.
  if (buffered) {
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<long>(pos));
  } else if (pos < len) {
    c.in.assign(data + pos, data + len);
  }
}

void event_loop::disconnect_all(int timeout_ms) {
  for (uint32_t i = 0; i < clients_.size(); ++i) {
    auto& c = clients_[i];
    if (c.state == conn_state::ready) {
      encode_disconnect(c.out);
      c.closing = true;
      mark_dirty(i);
    } else if (c.fd >= 0) {
      close(i);
    }
  }
  flush_dirty();
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(timeout_ms);
  while (open_count_ > 0 && std::chrono::steady_clock::now() < deadline)
    run_once(20);
  for (uint32_t i = 0; i < clients_.size(); ++i)
    close(i);
}

namespace {

/// An address as /proc/net/tcp{,6} prints it: the raw (network order)
/// words in hex as host integers, then the port.
std::string proc_net_address(const sockaddr_storage& a) {
  char buf[64];
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    std::snprintf(buf, sizeof(buf), "%08X:%04X", in->sin_addr.s_addr,
                  ntohs(in->sin_port));
  } else {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    uint32_t w[4];
    std::memcpy(w, &in6->sin6_addr, sizeof(w));
    std::snprintf(buf, sizeof(buf), "%08X%08X%08X%08X:%04X", w[0], w[1], w[2],
                  w[3], ntohs(in6->sin6_port));
  }
  return buf;
}

} // namespace

std::vector<long>
event_loop::unread_by_server(const std::vector<uint32_t>& indices) {
  std::vector<long> out(indices.size(), -1);
  std::vector<long> ours(indices.size(), 0); // our unacknowledged bytes
  // The server's socket has our peer address as its local one and ours as
  // its remote one.
  std::unordered_map<std::string, size_t> wanted;
  for (size_t k = 0; k < indices.size(); ++k) {
    auto& c = clients_[indices[k]];
    if (c.fd < 0)
      continue;
    sockaddr_storage mine{}, peer{};
    socklen_t l1 = sizeof(mine), l2 = sizeof(peer);
    if (getsockname(c.fd, reinterpret_cast<sockaddr*>(&mine), &l1) != 0
        || getpeername(c.fd, reinterpret_cast<sockaddr*>(&peer), &l2) != 0)
      continue;
    int outq = 0;
    if (ioctl(c.fd, SIOCOUTQ, &outq) != 0)
      continue;
    ours[k] = outq;
    wanted.emplace(proc_net_address(peer) + " " + proc_net_address(mine), k);
  }
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    FILE* f = std::fopen(table, "r");
    if (!f)
      continue;
    char line[512];
    while (!wanted.empty() && std::fgets(line, sizeof(line), f)) {
      char local[64], remote[64];
      unsigned st = 0;
      unsigned long txq = 0, rxq = 0;
      if (std::sscanf(line, " %*[0-9]: %63s %63s %x %lx:%lx", local, remote,
                      &st, &txq, &rxq)
          != 5)
        continue;
      auto it = wanted.find(std::string(local) + " " + remote);
      if (it == wanted.end())
        continue;
      out[it->second] = ours[it->second] + static_cast<long>(rxq);
      wanted.erase(it);
    }
    std::fclose(f);
  }
  return out; // -1 where the server's side was not found
}

void event_loop::run_once(int timeout_ms) {
  auto& evs = *events_;
  ++counts_.waits;
  int n = epoll_wait(epfd_, evs.data(), max_events, timeout_ms);
  for (int i = 0; i < n; ++i) {
    auto index = static_cast<uint32_t>(evs[i].data.u64);
    auto& c = clients_[index];
    if (c.fd < 0)
      continue;
    uint32_t e = evs[i].events;
    if (e & EPOLLIN)
      handle_readable(index);
    if (c.fd < 0)
      continue;
    if (e & EPOLLOUT)
      flush(index);
    if (c.fd < 0)
      continue;
    if ((e & (EPOLLERR | EPOLLHUP)) && !(e & EPOLLIN)) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      fail(index, err ? std::strerror(err) : "connection hung up");
    }
  }
  flush_dirty();
}

} // namespace castor::bench
