// A test driver of the C++ SDK: reads one JSON command a line on stdin,
// runs it on a castor::client, and writes one JSON line per answer
// (`{"re": N, ...}`, N counting commands from 1) and per callback
// (`{"ev": ...}`). The integration tests (tests/integration/
// test_37_sdk_streams.py) drive the SDK's calls with it.
//
// Commands ({"op": ..., fields}):
//   connect      host port [ws ws_path tls ca_file client_id session_expiry
//                keep_alive username password]
//   disconnect
//   subscribe    filter tag            -> {"ev":"message","tag",topic,payload,qos}
//   values       filter tag            -> {"ev":"value","tag",path,value,from_delta}
//   sel_subscribe selector tag [delta] -> message or value events
//   sel_unsubscribe selector [delta]
//   publish      topic payload [qos]
//   request      operation body        -> {"re","ok","answer"} or {"re","ok":false,code,message}
//   handler      path prefix           -> answers prefix+payload; payload "fail"
//                                         answers the error NOPE
//   send_request path payload          -> {"re","ok","payload"}
//   send_message path value            -> {"re","ok","answer"} (messages/send)
//   notify       selector tag          -> {"ev":"notify","tag",event,path}
//   unnotify     selector
//   sessions_list filter | session_get session | session_props session properties
//   session_close session | session_close_filter filter
//   session_subscribe session selector [delta] | session_unsubscribe session selector [delta]
//   stream_set   path value            -> {"re","ok","answer","patches","updates"}

#include <castor/client.hpp>

#include <iostream>
#include <map>
#include <memory>
#include <mutex>

using castor::json;

namespace {

std::mutex out_mutex;

void emit(const json& j) {
  std::lock_guard<std::mutex> g(out_mutex);
  std::cout << j.dump() << std::endl;
}

json value_json(const castor::value& v) {
  return v.is_json ? v.data : json(v.payload);
}

} // namespace

int main() {
  auto c = std::make_unique<castor::client>();
  std::map<std::string, std::unique_ptr<castor::update_stream>> streams;
  c->on_state([](castor::connection_state s, const std::string& why) {
    emit({{"ev", "state"},
          {"state", s == castor::connection_state::connected ? "connected" : "disconnected"},
          {"why", why}});
  });
  std::string line;
  uint64_t n = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty())
      continue;
    ++n;
    json out{{"re", n}, {"ok", true}};
    try {
      auto cmd = json::parse(line);
      auto op = cmd.at("op").get<std::string>();
      auto tag = cmd.value("tag", std::string());
      auto on_message = [tag](const castor::message& m) {
        emit({{"ev", "message"}, {"tag", tag}, {"topic", m.topic},
              {"payload", m.payload}, {"qos", m.qos}});
      };
      auto on_value = [tag](const std::string& path, const std::optional<castor::value>&,
                            const castor::value& v) {
        emit({{"ev", "value"}, {"tag", tag}, {"path", path}, {"value", value_json(v)},
              {"from_delta", v.from_delta}});
      };
      if (op == "connect") {
        castor::connect_options o;
        o.host = cmd.value("host", "127.0.0.1");
        o.port = cmd.at("port").get<uint16_t>();
        if (cmd.value("ws", false))
          o.transport = castor::transport_kind::websocket;
        o.ws_path = cmd.value("ws_path", "/mqtt");
        o.tls.enabled = cmd.value("tls", false);
        o.tls.ca_file = cmd.value("ca_file", "");
        o.client_id = cmd.value("client_id", "");
        o.session_expiry = cmd.value("session_expiry", 0u);
        o.keep_alive = cmd.value("keep_alive", 30);
        o.reconnect.initial_delay = std::chrono::milliseconds(50);
        o.reconnect.max_delay = std::chrono::milliseconds(500);
        if (cmd.contains("username"))
          o.username = cmd["username"].get<std::string>();
        if (cmd.contains("password"))
          o.password = cmd["password"].get<std::string>();
        c->connect(o);
        out["client_id"] = c->client_id();
      } else if (op == "disconnect") {
        c->disconnect();
      } else if (op == "subscribe") {
        out["id"] = c->subscribe(cmd.at("filter"), on_message).get();
      } else if (op == "values") {
        out["id"] = c->subscribe_values(cmd.at("filter"), on_value).get();
      } else if (op == "sel_subscribe") {
        if (cmd.value("delta", false))
          out["answer"] = c->subscribe_selector_values(cmd.at("selector"), on_value).get();
        else
          out["answer"] = c->subscribe_selector(cmd.at("selector"), on_message).get();
      } else if (op == "sel_unsubscribe") {
        out["answer"] =
            c->unsubscribe_selector(cmd.at("selector"), cmd.value("delta", false)).get();
      } else if (op == "publish") {
        castor::message m;
        m.topic = cmd.at("topic");
        m.payload = cmd.at("payload");
        m.qos = cmd.value("qos", 1);
        c->publish(m).get();
      } else if (op == "request") {
        out["answer"] = c->request(cmd.at("operation"), cmd.at("body")).get();
      } else if (op == "handler") {
        auto prefix = cmd.value("prefix", std::string());
        out["answer"] = c->add_handler(cmd.at("path"), [prefix](const castor::message& m) {
                           if (m.payload == "fail")
                             throw castor::error("NOPE", "asked to fail");
                           return prefix + m.payload;
                         }).get();
      } else if (op == "send_request") {
        out["payload"] = c->send_request(cmd.at("path"), cmd.at("payload")).get().payload;
      } else if (op == "send_message") {
        out["answer"] = c->send_message(cmd.at("path"), cmd.at("value")).get();
      } else if (op == "notify") {
        out["answer"] = c->notify(cmd.at("selector"), [tag](const std::string& e,
                                                           const std::string& p) {
                           emit({{"ev", "notify"}, {"tag", tag}, {"event", e}, {"path", p}});
                         }).get();
      } else if (op == "unnotify") {
        out["answer"] = c->unnotify(cmd.at("selector")).get();
      } else if (op == "sessions_list") {
        out["answer"] = c->list_sessions(cmd.value("filter", "all")).get();
      } else if (op == "session_get") {
        out["answer"] = c->get_session(cmd.at("session")).get();
      } else if (op == "session_props") {
        out["answer"] =
            c->set_session_properties(cmd.at("session"), cmd.at("properties")).get();
      } else if (op == "session_roles") {
        out["answer"] = c->change_roles(
                             cmd.at("session"),
                             cmd.value("add", std::vector<std::string>{}),
                             cmd.value("remove", std::vector<std::string>{}))
                            .get();
      } else if (op == "session_close") {
        out["answer"] = c->close_session(cmd.at("session")).get();
      } else if (op == "session_close_filter") {
        out["answer"] = c->close_sessions(cmd.at("filter")).get();
      } else if (op == "session_subscribe") {
        out["answer"] = c->subscribe_session(cmd.at("session"), cmd.at("selector"), 1,
                                             cmd.value("delta", false))
                            .get();
      } else if (op == "session_unsubscribe") {
        out["answer"] = c->unsubscribe_session(cmd.at("session"), cmd.at("selector"),
                                               cmd.value("delta", false))
                            .get();
      } else if (op == "stream_set") {
        auto path = cmd.at("path").get<std::string>();
        auto& s = streams[path];
        if (!s)
          s = std::make_unique<castor::update_stream>(*c, path);
        out["answer"] = s->set(cmd.at("value")).get();
        out["patches"] = s->patches();
        out["updates"] = s->updates();
      } else {
        out = {{"re", n}, {"ok", false}, {"code", "USAGE"}, {"message", "unknown op " + op}};
      }
    } catch (const castor::error& e) {
      out = {{"re", n}, {"ok", false}, {"code", e.code()}, {"message", e.message()}};
    } catch (const castor::connection_error& e) {
      out = {{"re", n}, {"ok", false}, {"code", "CONNECTION_ERROR"}, {"message", e.what()},
             {"reason", e.reason()}};
    } catch (const std::exception& e) {
      out = {{"re", n}, {"ok", false}, {"code", "EXCEPTION"}, {"message", e.what()}};
    }
    emit(out);
  }
  streams.clear();
  c->disconnect();
  return 0;
}
