// The server's store (docs/persistence.md): opened and read before the
// listeners open, written by the store writer while the server runs, and
// synced once more when it stops.

#include <chrono>

#include <caf/all.hpp>

#include "app/server.hpp"
#include "protocol/owner_access.hpp"
#include "protocol/session_access.hpp"
#include "log/log.hpp"

namespace castor {

std::optional<std::string> server::open_storage(const mapping_ptr& mapping) {
  const auto& sc = cfg_.storage;
  if (!sc.enabled)
    return std::nullopt;
  auto start = std::chrono::steady_clock::now();
  auto opened = storage::open_rocksdb(sc.data_dir);
  for (auto& r : opened.repairs)
    CASTOR_LOG(warning, "storage", r);
  if (!opened.db)
    return "storage.data_dir: " + opened.error;
  store_ = std::move(opened.db);
  loaded_ = std::make_shared<records::loaded>(records::load_all(*store_));
  auto& l = *loaded_;
  for (auto& d : l.damaged)
    CASTOR_LOG(warning, "storage", "record skipped: " << d);
  // The API's topics as they were; then every later change is kept.
  for (auto& [path, spec] : l.specs)
    mapping->add(path, spec);
  store_counters_ = std::make_shared<store_counters>();
  store_writer_options opts;
  opts.sync = sc.durability == durability_mode::sync;
  opts.interval_ms = sc.async_interval_ms;
  store_writer_ = spawn_store_writer(sys_, store_, opts, store_counters_);
  mapping->observe(
      [writer = store_writer_](const std::string& path,
                               const topic_mapping::spec_ptr& spec) {
        caf::anon_send(writer, store_atom::value,
                       records::key(records::spec_prefix, path),
                       spec ? records::encode_spec(*spec) : std::string{});
      });
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  CASTOR_LOG(
      info, "storage",
      "opened '" << sc.data_dir << "' in " << ms << " ms: " << l.specs.size()
                 << " topics added through the API, " << l.retained
                 << " retained messages, " << l.values
                 << " typed topic values, " << l.events << " time series events"
                 << ", " << l.sessions.size() << " persistent sessions with "
                 << l.session_messages << " messages"
                 << (l.expired
                         ? ", " + std::to_string(l.expired) + " expired since"
                         : std::string{})
                 << (l.damaged.empty() ? std::string{}
                                       : ", " + std::to_string(l.damaged.size())
                                             + " damaged records skipped")
                 << " (durability " << (opts.sync ? "sync" : "async") << ")");
  return std::nullopt;
}

void server::restore_topics() {
  if (!loaded_)
    return;
  auto start = std::chrono::steady_clock::now();
  auto& l = loaded_; // kept for restore_sessions
  caf::scoped_actor self{sys_};
  for (auto& [path, spec] : l->specs)
    if (l->topics.count(path) == 0)
      self->send(tree_, restore_atom::value, path, mqtt::message_ptr{},
                 mqtt::message_ptr{}, publish_batch{});
  for (auto& [path, t] : l->topics)
    self->send(tree_, restore_atom::value, path, std::move(t.retained),
               std::move(t.value), publish_batch{std::move(t.events)});
  // Sent after them: answered once the tree has handed them out.
  self->request(tree_, caf::infinite, restore_atom::value)
      .receive([](bool) {},
               [](caf::error& err) {
                 CASTOR_LOG(error, "storage",
                            "the topic tree did not take the stored values: "
                                << caf::to_string(err));
               });
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  CASTOR_LOG(info, "storage",
             "restored " << l->topics.size() << " topics' values in " << ms
                         << " ms");
}

void server::restore_sessions(
    const std::shared_ptr<security::rights_registry>& rights,
    const mapping_ptr& mapping) {
  if (!loaded_)
    return;
  auto l = std::move(loaded_);
  loaded_ = nullptr;
  // Records of sessions that ended as their topics wrote them.
  for (auto& key : l->orphans)
    caf::anon_send(store_writer_, store_atom::value, key, std::string{});
  if (l->sessions.empty())
    return;
  auto start = std::chrono::steady_clock::now();
  auto count = l->sessions.size();
  caf::scoped_actor self{sys_};
  for (auto& x : l->sessions) {
    // The rights its principal has now, as a connection of it gets them
    // (actors/connection_auth.cpp).
    if (rights) {
      auto access = mqtt::with_ownership(rights->rights_of(x.principal, x.roles),
                                         mapping, x.principal);
      x.access = std::make_shared<mqtt::session_access>(std::move(access));
    } else {
      x.access = allow_everything();
    }
  }
  // Answered once their subscriptions are in force.
  self->request(registry_, std::chrono::seconds{300}, restore_atom::value,
                std::move(l->sessions))
      .receive([](bool) {},
               [](caf::error& err) {
                 CASTOR_LOG(error, "storage",
                            "the persistent sessions did not all come back: "
                                << caf::to_string(err));
               });
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  CASTOR_LOG(info, "storage",
             "restored " << count << " persistent sessions with "
                         << l->session_messages << " messages in " << ms
                         << " ms");
}

void server::stop_storage() {
  if (!store_writer_)
    return;
  caf::scoped_actor self{sys_};
  self->request(store_writer_, std::chrono::seconds{10}, sync_atom::value)
      .receive([](bool) {},
               [](caf::error& err) {
                 CASTOR_LOG(warning, "storage",
                            "the store writer did not finish in time: "
                                << caf::to_string(err));
               });
  self->send_exit(store_writer_, caf::exit_reason::user_shutdown);
  self->wait_for(store_writer_);
  store_writer_ = nullptr;
  store_.reset();
}

} // namespace castor
