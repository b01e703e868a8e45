// The server's part in a node group (docs/cluster.md): the node agent
// (actors/cluster_agent.hpp), published on the cluster port at start and
// leaving the group at stop.

#include <fstream>
#include <sstream>

#include <unistd.h>

#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "actors/cluster_agent.hpp"
#include "actors/cluster_claims.hpp"
#include "actors/cluster_router.hpp"
#include "app/http_router.hpp"
#include "app/server.hpp"
#include "app/store_group.hpp"
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

/// The last OpenSSL error, as text.
std::string ssl_error() {
  auto e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

/// Whether cluster.tls's files make a TLS context (as CAF's OpenSSL
/// module will load them for each connection, which cannot report a bad
/// file): why not, naming the key and file.
std::optional<std::string> check_tls_files(const cluster_tls_config& t) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
      SSL_CTX_new(TLS_method()), &SSL_CTX_free};
  if (!ctx)
    return "cluster.tls: cannot make a TLS context: " + ssl_error();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), t.cert_file.c_str()) != 1)
    return "cluster.tls.cert_file '" + t.cert_file
           + "': no certificate could be loaded (" + ssl_error() + ")";
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), t.key_file.c_str(),
                                  SSL_FILETYPE_PEM)
      != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return "cluster.tls.key_file '" + t.key_file
             + "': the key does not match cluster.tls.cert_file";
    }
    return "cluster.tls.key_file '" + t.key_file
           + "': no private key could be loaded (" + ssl_error() + ")";
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return "cluster.tls.key_file '" + t.key_file
           + "': the key does not match cluster.tls.cert_file (" + ssl_error()
           + ")";
  if (SSL_CTX_load_verify_locations(ctx.get(), t.ca_file.c_str(), nullptr) != 1)
    return "cluster.tls.ca_file '" + t.ca_file
           + "': no CA certificate could be loaded (" + ssl_error() + ")";
  return std::nullopt;
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
  if (c.tls.enabled()) {
    if (auto err = check_tls_files(c.tls))
      return *err;
    s.tls = true;
  }
  return s;
}

std::optional<std::string>
server::start_cluster(const session_directory_ptr& sessions,
                      const mapping_ptr& mapping, const handlers_ptr& handlers,
                      const missing_ptr& missing) {
  if (!cfg_.cluster.enabled)
    return std::nullopt;
  auto settings = make_cluster_settings(cfg_.cluster);
  if (auto err = std::get_if<std::string>(&settings))
    return *err;
  auto view = std::make_shared<cluster_view>(
      std::get<cluster_settings>(std::move(settings)));
  view->routes = routes_;
  routes_->self_incarnation = view->settings().self.incarnation;
  view->local_stats = [sessions] { return node_stats(sessions); };
  if (auth_.store_state)
    store_group_ = spawn_store_group(sys_, http_ctx_, routes_);
  cluster_router_ = spawn_cluster_router(
      sys_, tree_, routes_,
      {sessions, cluster_claims_, mapping, cfg_.mqtt.topic_idle_timeout_ms,
       handlers, missing, locks_, store_group_});
  auto agent = spawn_cluster_agent(sys_, view, routes_, cluster_router_);
  routes_->set_agent(agent);
  auto& c = cfg_.cluster;
  auto port
      = c.tls.enabled()
            ? caf::openssl::publish(agent, c.port, c.bind.c_str(), true)
            : sys_.middleman().publish(agent, c.port, c.bind.c_str(), true);
  if (!port) {
    caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(cluster_router_, caf::exit_reason::user_shutdown);
    cluster_router_ = nullptr;
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
                     << " seeds" << (c.tls.enabled() ? ", over TLS" : ""));
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
  // (A TLS endpoint too: CAF's OpenSSL module opens it for the same BASP
  // broker, which closes it.)
  sys_.middleman().unpublish(cluster_, cfg_.cluster.port);
  caf::anon_send_exit(cluster_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(cluster_router_, caf::exit_reason::user_shutdown);
  routes_->set_agent(nullptr);
  cluster_ = nullptr;
  cluster_router_ = nullptr;
}

} // namespace castor
