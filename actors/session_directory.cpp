#include "actors/session_directory.hpp"

#include <chrono>
#include <cstdio>
#include <random>

namespace castor {

namespace {

std::string now_ms() {
  using namespace std::chrono;
  return std::to_string(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch())
          .count());
}

} // namespace

void session_directory::opened(const opening& o,
                               const caf::actor& connection) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (epoch_.empty()) {
    char buf[9];
    std::snprintf(buf, sizeof(buf), "%08x",
                  static_cast<unsigned>(std::random_device{}()));
    epoch_ = buf;
  }
  session_record* rec = nullptr;
  auto known = id_of_client_.find(o.client_id);
  if (known != id_of_client_.end()) {
    auto i = by_id_.find(known->second);
    if (o.resumed && i != by_id_.end()) {
      rec = &i->second;
    } else {
      if (i != by_id_.end())
        by_id_.erase(i);
      id_of_client_.erase(known);
    }
  }
  if (rec == nullptr) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s-%012llx", epoch_.c_str(),
                  static_cast<unsigned long long>(++next_));
    std::string id = buf;
    rec = &by_id_[id];
    rec->id = id;
    rec->client_id = o.client_id;
    auto& f = rec->facts.fixed.emplace();
    f.session_id = id;
    f.start_time = now_ms();
    id_of_client_[o.client_id] = id;
  }
  // What this connection brings: its CONNECT's user properties replace
  // those of the last one (properties set through the API stay); the
  // fixed ones are the server's.
  for (auto& [k, v] : o.user_properties)
    if (k.empty() || k.front() != '$')
      rec->facts.properties[k] = v;
  auto& f = *rec->facts.fixed;
  f.client_id = o.client_id;
  f.principal = o.principal;
  f.client_ip = o.client_ip;
  f.transport = o.transport;
  f.listener = o.listener;
  f.connected = true;
  rec->facts.roles = {o.roles.begin(), o.roles.end()};
  rec->connection = connection;
  rec->session = o.session;
  changed();
}

void session_directory::set_session(const std::string& client_id,
                                    const caf::actor& connection,
                                    const caf::actor& session) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto known = id_of_client_.find(client_id);
  if (known == id_of_client_.end())
    return;
  auto i = by_id_.find(known->second);
  if (i != by_id_.end() && i->second.connection == connection)
    i->second.session = session;
}

void session_directory::disconnected(const std::string& client_id,
                                     const caf::actor& connection) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto known = id_of_client_.find(client_id);
  if (known == id_of_client_.end())
    return;
  auto i = by_id_.find(known->second);
  if (i == by_id_.end() || i->second.connection != connection)
    return;
  i->second.connection = nullptr;
  i->second.facts.fixed->connected = false;
  changed();
}

void session_directory::ended(const std::string& client_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto known = id_of_client_.find(client_id);
  if (known == id_of_client_.end())
    return;
  by_id_.erase(known->second);
  id_of_client_.erase(known);
  changed();
}

session_directory::page session_directory::list(const session_filter& f,
                                                const std::string& after,
                                                size_t limit) const {
  std::lock_guard<std::mutex> guard{mtx_};
  page out;
  for (auto i = by_id_.upper_bound(after); i != by_id_.end(); ++i) {
    if (!f.selects(i->second.facts))
      continue;
    if (out.sessions.size() == limit) {
      out.more = true;
      break;
    }
    out.sessions.push_back(i->second);
  }
  return out;
}

std::optional<session_record>
session_directory::get(const std::string& id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = by_id_.find(id);
  if (i == by_id_.end())
    return std::nullopt;
  return i->second;
}

std::string session_directory::id_of_client(const std::string& client_id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = id_of_client_.find(client_id);
  return i == id_of_client_.end() ? std::string{} : i->second;
}

bool session_directory::set_properties(
    const std::string& id, const std::map<std::string, std::string>& props) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = by_id_.find(id);
  if (i == by_id_.end())
    return false;
  for (auto& [k, v] : props)
    i->second.facts.properties[k] = v;
  changed();
  return true;
}

void session_directory::set_roles(const std::string& client_id,
                                  const caf::actor& connection,
                                  const std::vector<std::string>& roles) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto known = id_of_client_.find(client_id);
  if (known == id_of_client_.end())
    return;
  auto i = by_id_.find(known->second);
  if (i == by_id_.end() || i->second.connection != connection)
    return;
  i->second.facts.roles = {roles.begin(), roles.end()};
  changed();
}

bool session_directory::any(const session_filter& f) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [id, r] : by_id_)
    if (f.selects(r.facts))
      return true;
  return false;
}

size_t session_directory::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return by_id_.size();
}

std::vector<std::string> session_directory::client_ids() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> out;
  out.reserve(id_of_client_.size());
  for (auto& [client_id, id] : id_of_client_)
    out.push_back(client_id);
  return out;
}

std::pair<size_t, size_t> session_directory::connected_and_offline() const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t connected = 0;
  for (auto& [id, rec] : by_id_)
    if (rec.connection)
      ++connected;
  return {connected, by_id_.size() - connected};
}

} // namespace castor
