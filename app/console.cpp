// The web console's files (console/, built into the binary by
// cmake/embed_console.cmake) under /console/, and its settings:
//
//   GET /console              301 to /console/
//   GET /console/             index.html
//   GET /console/<file>       the file, or 404
//   GET /console/settings.json  {"mqtt_path", "version"}: where the
//                             listener that was asked upgrades to MQTT over
//                             WebSocket, for the console's live values
//
// Every answer has Cache-Control: no-cache and an ETag (the file's digest),
// so a browser revalidates (304 when unchanged) and never runs the files of
// an older server. The HTML page forbids framing and everything not from
// the server itself (Content-Security-Policy).

#include <cstring>
#include <string>
#include <string_view>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "app/cli.hpp"
#include "app/console_files.hpp"
#include "app/http_router.hpp"

namespace castor {

namespace {

const console::file* find_file(std::string_view name) {
  auto* fs = console::files();
  for (std::size_t i = 0; i < console::file_count(); ++i)
    if (name == fs[i].name)
      return &fs[i];
  return nullptr;
}

void common_headers(http::response& r) {
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
}

/// Whether an If-None-Match header names `etag` (or is "*").
bool not_modified(const http::request& req, std::string_view etag) {
  auto* h = req.header("if-none-match");
  if (!h)
    return false;
  std::string_view v = *h;
  if (v == "*")
    return true;
  while (!v.empty()) {
    auto comma = v.find(',');
    auto tag = v.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ')
      tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ')
      tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/")
      tag.remove_prefix(2);
    if (tag == etag)
      return true;
    if (comma == std::string_view::npos)
      break;
    v.remove_prefix(comma + 1);
  }
  return false;
}

http::response settings(http_router_actor* self, const http::request& req) {
  std::string ws_path = "/mqtt";
  for (auto& l : self->state.ctx->cfg.listeners)
    if (l.name == req.listener)
      ws_path = l.websocket.path;
  http::response r;
  r.body = nlohmann::json{{"mqtt_path", ws_path},
                          {"version", std::string(castor_version)}}
               .dump();
  common_headers(r);
  return r;
}

} // namespace

http::response http_console(http_router_actor* self, const http::request& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    auto r = http::error_response(405, "METHOD_NOT_ALLOWED",
                                  req.method
                                      + " is not allowed on the console "
                                        "(use GET)");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (req.path == "/console") {
    http::response r;
    r.status = 301;
    r.content_type.clear();
    r.headers.emplace_back("Location", "/console/");
    return r;
  }
  auto name = std::string_view{req.path}.substr(std::strlen("/console/"));
  if (name.empty())
    name = "index.html";
  if (name == "settings.json")
    return settings(self, req);
  auto* f = find_file(name);
  if (!f)
    return http::error_response(404, "NOT_FOUND",
                                "the console has no file "
                                    + std::string(name.substr(0, 200)));
  http::response r;
  common_headers(r);
  r.headers.emplace_back("ETag", f->etag);
  if (not_modified(req, f->etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = f->content_type;
  r.body.assign(reinterpret_cast<const char*>(f->data), f->size);
  if (std::string_view{f->content_type}.substr(0, 9) == "text/html") {
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; connect-src 'self'; "
                           "img-src 'self' data:; worker-src 'self' blob:; "
                           "frame-ancestors 'none'; "
                           "base-uri 'none'; form-action 'none'");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return r;
}

} // namespace castor
