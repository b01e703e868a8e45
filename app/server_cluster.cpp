// The server's part in a node group (docs/cluster.md): the node agent
// (actors/cluster_agent.hpp), published on the cluster port at start and
// leaving the group at stop.

#include <fstream>
#include <sstream>

#include <unistd.h>

#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/cluster_agent.hpp"
#include "actors/cluster_claims.hpp"
#include "actors/cluster_router.hpp"
#include "app/http_router.hpp"
#include "app/server.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "localhost";
  return buf;
}

bool wildcard(const std::string& addr) {
  return addr == "0.0.0.0" || addr == "::" || addr == "[::]";
}

/// "host:port" to its parts (the configuration has checked the form).
std::pair<std::string, uint16_t> split_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  auto host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, static_cast<uint16_t>(std::stoul(text.substr(colon + 1)))};
}

} // namespace

std::string cluster_node_name(const cluster_config& c) {
  return c.node_name.empty() ? host_name() + ":" + std::to_string(c.port)
                             : c.node_name;
}

std::variant<cluster_settings, std::string>
make_cluster_settings(const cluster_config& c) {
  cluster_settings s;
  s.group = c.name;
  std::ifstream in{c.secret_file, std::ios::binary};
  if (!in)
    return "cluster.secret_file '" + c.secret_file + "': cannot be read";
  std::ostringstream text;
  text << in.rdbuf();
  s.secret = text.str();
  auto first = s.secret.find_first_not_of(" \t\r\n");
  auto last = s.secret.find_last_not_of(" \t\r\n");
  s.secret = first == std::string::npos
                 ? std::string{}
                 : s.secret.substr(first, last - first + 1);
  if (s.secret.size() < 16)
    return "cluster.secret_file '" + c.secret_file
           + "': the secret must be at least 16 bytes (it has "
           + std::to_string(s.secret.size()) + ")";
  s.self.host = !c.advertise.empty() ? c.advertise
                : wildcard(c.bind)   ? host_name()
                                     : c.bind;
  s.self.port = c.port;
  s.self.node = cluster_node_name(c);
  s.self.incarnation = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (auto& seed : c.seeds)
    s.seeds.push_back(split_endpoint(seed));
  s.heartbeat = std::chrono::milliseconds{c.heartbeat_ms};
  s.failure_timeout = std::chrono::milliseconds{c.failure_timeout_ms};
  s.max_members = c.max_members;
  return s;
}

std::optional<std::string>
server::start_cluster(const session_directory_ptr& sessions) {
  if (!cfg_.cluster.enabled)
    return std::nullopt;
  auto settings = make_cluster_settings(cfg_.cluster);
  if (auto err = std::get_if<std::string>(&settings))
    return *err;
  auto view = std::make_shared<cluster_view>(
      std::get<cluster_settings>(std::move(settings)));
  view->routes = routes_;
  view->local_stats = [sessions] { return node_stats(sessions); };
  cluster_router_
      = spawn_cluster_router(sys_, tree_, routes_, sessions, cluster_claims_);
  auto agent = spawn_cluster_agent(sys_, view, routes_, cluster_router_);
  routes_->set_agent(agent);
  auto& c = cfg_.cluster;
  auto port = sys_.middleman().publish(agent, c.port, c.bind.c_str(), true);
  if (!port) {
    caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
    return "cluster: cannot listen on " + c.bind + ":" + std::to_string(c.port)
           + ": " + sys_.render(port.error());
  }
  caf::anon_send(agent, open_atom::value);
  cluster_ = agent;
  cluster_view_ = view;
  CASTOR_LOG(info, "cluster",
             "node " << view->settings().self.node << " of group '" << c.name
                     << "' listening on " << c.bind << ":" << *port
                     << " (advertised as " << view->settings().self.host << ":"
                     << view->settings().self.port << "), " << c.seeds.size()
                     << " seeds");
  return std::nullopt;
}

void server::stop_cluster() {
  if (!cluster_)
    return;
  // The others are told and acknowledge (each within a second) before
  // the endpoint closes, so that none takes this node for failed.
  caf::scoped_actor self{sys_};
  self->request(cluster_, std::chrono::seconds{2}, cl_leave_atom::value)
      .receive([](bool) {}, [](caf::error&) {});
  CASTOR_LOG(info, "cluster", "left the group");
  sys_.middleman().unpublish(cluster_, cfg_.cluster.port);
  caf::anon_send_exit(cluster_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(cluster_router_, caf::exit_reason::user_shutdown);
  routes_->set_agent(nullptr);
  cluster_ = nullptr;
  cluster_router_ = nullptr;
}

} // namespace castor
