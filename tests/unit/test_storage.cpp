#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "actors/store_records.hpp"
#include "storage/store.hpp"

using namespace castor;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system's temporary directory.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "castor-store-XXXXXX");
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// What every store does, whatever keeps it.
void check_store(storage::store& db) {
  CHECK(db.write({{"r:a", "1"}, {"r:b", "2"}, {"v:a", "3"}}, true).empty());
  CHECK_EQ(db.get("r:a").value_or(""), "1");
  CHECK_FALSE(db.get("r:c"));
  std::vector<std::string> keys;
  db.scan("r:", [&](std::string_view k, std::string_view v) {
    keys.emplace_back(k);
    return true;
  });
  CHECK_EQ(keys, std::vector<std::string>{"r:a", "r:b"});
  // An empty value erases.
  CHECK(db.write({{"r:a", ""}, {"r:b", "4"}}, false).empty());
  CHECK(db.sync().empty());
  CHECK_FALSE(db.get("r:a"));
  CHECK_EQ(db.get("r:b").value_or(""), "4");
  // scan stops when told.
  int seen = 0;
  db.scan("", [&](std::string_view, std::string_view) {
    ++seen;
    return false;
  });
  CHECK_EQ(seen, 1);
}

mqtt::message_ptr message(const std::string& topic, const std::string& payload,
                          std::optional<uint32_t> expiry = std::nullopt) {
  mqtt::publish p;
  p.topic = topic;
  p.payload = payload;
  p.qos = 1;
  p.retain = true;
  p.props.content_type = "application/json";
  if (expiry)
    p.props.message_expiry_interval = *expiry;
  return mqtt::make_message(std::move(p), "dev-1",
                            std::chrono::steady_clock::now());
}

} // namespace

TEST_SUITE("storage") {

  TEST_CASE("a store in memory keeps, erases and scans by prefix") {
    auto db = storage::make_memory_store();
    check_store(*db);
  }

  TEST_CASE("a RocksDB store does the same, and keeps it across a reopen") {
    temp_dir dir;
    auto path = (dir.path / "data").string();
    {
      auto opened = storage::open_rocksdb(path);
      REQUIRE_MESSAGE(opened.db, opened.error);
      CHECK(opened.repairs.empty());
      check_store(*opened.db);
    }
    auto again = storage::open_rocksdb(path);
    REQUIRE_MESSAGE(again.db, again.error);
    CHECK_EQ(again.db->get("r:b").value_or(""), "4");
    CHECK_EQ(again.db->get("v:a").value_or(""), "3");
    CHECK_FALSE(again.db->get("r:a"));
  }

  TEST_CASE("a directory in use by another store is refused, naming it") {
    temp_dir dir;
    auto path = (dir.path / "data").string();
    auto first = storage::open_rocksdb(path);
    REQUIRE(first.db);
    auto second = storage::open_rocksdb(path);
    CHECK_FALSE(second.db);
    CHECK_NE(second.error.find("'" + path + "'"), std::string::npos);
    CHECK_NE(second.error.find("in use by another process"), std::string::npos);
  }

  TEST_CASE("a directory written by a newer format is refused") {
    temp_dir dir;
    auto path = (dir.path / "data").string();
    {
      auto opened = storage::open_rocksdb(path);
      REQUIRE(opened.db);
      std::string key{"\0format", 7};
      CHECK(opened.db->write({{key, "castor-store 99"}}, true).empty());
    }
    auto again = storage::open_rocksdb(path);
    CHECK_FALSE(again.db);
    CHECK_NE(again.error.find("newer Castor (store format 99)"),
             std::string::npos);
  }

  TEST_CASE("a message record keeps the message and counts its expiry") {
    auto m = message("plant/a", "{\"t\":1}", 3600);
    bool damaged = true;
    auto back = records::decode_message(records::encode_message(*m), damaged);
    CHECK_FALSE(damaged);
    REQUIRE(back);
    CHECK_EQ(back->topic, "plant/a");
    CHECK_EQ(back->payload, "{\"t\":1}");
    CHECK_EQ(back->origin, "dev-1");
    CHECK(back->retain);
    CHECK_EQ(mqtt::props_of(*back).content_type.value_or(""),
             "application/json");
    CHECK(back->has_expiry);
    auto left = mqtt::remaining_expiry(*back, std::chrono::steady_clock::now());
    CHECK_GE(left, 3599u);
    CHECK_LE(left, 3600u);
  }

  TEST_CASE("a message whose expiry passed while stored is not read back") {
    auto m = message("plant/a", "x", 2);
    auto rec = records::encode_message(*m);
    // Saved three seconds ago: the wall-clock stamp follows the version.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count()
              - 3000;
    for (int i = 0; i < 8; ++i)
      rec[1 + i] = static_cast<char>((uint64_t(ms) >> (8 * (7 - i))) & 0xFF);
    bool damaged = true;
    CHECK_FALSE(records::decode_message(rec, damaged));
    CHECK_FALSE(damaged);
  }

  TEST_CASE("damaged records are reported, not misread") {
    bool damaged = false;
    CHECK_FALSE(records::decode_message("", damaged));
    CHECK(damaged);
    auto rec = records::encode_message(*message("a", "b"));
    CHECK_FALSE(
        records::decode_message(rec.substr(0, rec.size() - 3), damaged));
    CHECK(damaged);
    rec[0] = 7; // a record version this one does not know
    CHECK_FALSE(records::decode_message(rec, damaged));
    CHECK(damaged);
    std::string why;
    CHECK_FALSE(records::decode_spec("\x01\x00\x00", why));
    CHECK_EQ(why, "cut short");
  }

  TEST_CASE("load_all reads specifications, retained messages and values") {
    auto db = storage::make_memory_store();
    std::map<std::string, std::string> props{{"CONFLATION", "conflate"}};
    auto made = make_specification("json", props);
    REQUIRE(std::holds_alternative<topic_specification>(made));
    auto spec = std::get<topic_specification>(made);
    auto m1 = message("plant/a", "{\"t\":1}");
    auto m2 = message("plant/b", "{\"t\":2}");
    CHECK(db->write({{records::key(records::spec_prefix, "plant/a"),
                      records::encode_spec(spec)},
                     {records::key(records::retained_prefix, "plant/a"),
                      records::encode_message(*m1)},
                     {records::key(records::value_prefix, "plant/b"),
                      records::encode_message(*m2)},
                     {records::key(records::value_prefix, "plant/c"), "junk"}},
                    true)
              .empty());
    auto l = records::load_all(*db);
    REQUIRE_EQ(l.specs.size(), 1u);
    CHECK_EQ(l.specs[0].first, "plant/a");
    CHECK(*l.specs[0].second == spec);
    CHECK_EQ(l.retained, 1u);
    CHECK_EQ(l.values, 1u);
    REQUIRE_EQ(l.damaged.size(), 1u);
    CHECK_NE(l.damaged[0].find("v:plant/c"), std::string::npos);
    CHECK_EQ(l.topics.at("plant/a").retained->payload, "{\"t\":1}");
    CHECK_EQ(l.topics.at("plant/b").value->payload, "{\"t\":2}");
  }

  TEST_CASE("a persistent session comes back with its messages in order") {
    auto db = storage::make_memory_store();
    stored_session x;
    x.client_id = "dev-1";
    x.principal = "alice";
    x.roles = {"devices", "readers"};
    x.expiry = 3600;
    mqtt::subscription s1;
    s1.filter = "a/#";
    s1.max_qos = 2;
    s1.no_local = true;
    s1.retain_handling = 1;
    x.subs = {s1};
    x.subscription_ids = {7};
    x.has_will = true;
    x.will.topic = "wills/dev-1";
    x.will.payload = "gone";
    x.will.qos = 1;
    x.will_delay = 30;
    x.will_due = true;
    x.qos2_ids = {5, 9};
    auto d = [](const char* topic, const char* payload, uint8_t qos) {
      mqtt::delivery r;
      r.msg = message(topic, payload);
      r.qos = qos;
      r.subscription_ids = {7};
      return r;
    };
    auto k1 = records::message_key("dev-1", "a/x", 100, 2, false);
    auto k2 = records::message_key("dev-1", "a/x", 100, 1, false);
    auto k3 = records::message_key("dev-1", "a/y", 100, 1, false);
    auto k4 = records::message_key("gone", "a/y", 100, 1, false);
    CHECK(db->write({{records::key(records::session_prefix, "dev-1"),
                      records::encode_session(x)},
                     {k1, records::encode_delivery(d("a/x", "2", 1), 0, false)},
                     {k2, records::encode_delivery(d("a/x", "1", 2), 3, false)},
                     {k3, records::encode_delivery(mqtt::delivery{}, 4, true)},
                     {k4, records::encode_delivery(d("a/y", "x", 1), 0, false)},
                     {records::key(records::session_prefix, "bad"), "junk"}},
                    true)
              .empty());
    auto l = records::load_all(*db);
    REQUIRE_EQ(l.sessions.size(), 1u);
    auto& y = l.sessions[0];
    CHECK_EQ(y.client_id, "dev-1");
    CHECK_EQ(y.principal, "alice");
    CHECK_EQ(y.roles, x.roles);
    CHECK_EQ(y.expiry, 3600u);
    REQUIRE_EQ(y.subs.size(), 1u);
    CHECK(y.subs[0] == s1);
    CHECK_EQ(y.subscription_ids, x.subscription_ids);
    CHECK(y.has_will);
    CHECK(y.will == x.will);
    CHECK_EQ(y.will_delay, 30u);
    CHECK(y.will_due);
    CHECK_EQ(y.qos2_ids, x.qos2_ids);
    // Per topic in the order published (seq 1 before 2), each with its
    // state: a QoS 2 message sent as packet 3; one whose PUBREC came.
    REQUIRE_EQ(y.messages.size(), 3u);
    CHECK_EQ(y.messages[0].d.msg->payload, "1");
    CHECK_EQ(y.messages[0].d.qos, 2);
    CHECK_EQ(y.messages[0].packet_id, 3);
    CHECK_EQ(y.messages[0].d.store_key, k2);
    CHECK_EQ(y.messages[1].d.msg->payload, "2");
    CHECK_EQ(y.messages[1].d.subscription_ids, std::vector<uint32_t>{7});
    CHECK_EQ(y.messages[1].packet_id, 0);
    CHECK(y.messages[2].released);
    CHECK_EQ(y.messages[2].packet_id, 4);
    CHECK_EQ(l.session_messages, 3u);
    // A message of no session is erased; a damaged session reported.
    CHECK_EQ(l.orphans, std::vector<std::string>{k4});
    REQUIRE_EQ(l.damaged.size(), 1u);
    CHECK_NE(l.damaged[0].find("c:bad"), std::string::npos);
  }
}
