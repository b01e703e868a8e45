#include <caf/all.hpp>

#include "app/http_router.hpp"

namespace castor {

namespace {

void counter(std::string& out, const char* name, const char* help,
             const std::atomic<uint64_t>& v) {
  out += "# HELP castor_";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE castor_";
  out += name;
  out += " counter\ncastor_";
  out += name;
  out += ' ';
  out += std::to_string(v.load(std::memory_order_relaxed));
  out += '\n';
}

} // namespace

http::response http_metrics(http_router_actor* self, const http::request&) {
  auto& c = *self->state.ctx->counters;
  http::response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  auto& out = r.body;
  counter(out, "connections_accepted_total", "Connections accepted.",
          c.connections_accepted);
  counter(out, "messages_received_total", "PUBLISH packets received.",
          c.messages_in);
  counter(out, "messages_sent_total", "PUBLISH packets sent.", c.messages_out);
  return r;
}

} // namespace castor
