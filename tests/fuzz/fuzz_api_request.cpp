// Fuzzes the topic API's request reader (protocol/api_request.hpp).
//
// Input: a byte picking the operation (or a made-up one), then the JSON
// payload. Checked: nothing throws or faults; a refusal has a known code
// and a message, and its answer is valid JSON; reading is deterministic;
// an accepted topics/add's specification made again from its canonical
// properties is equal; an accepted request's paths and selectors are valid.

#include "protocol/api_request.hpp"

#include "fuzz_check.hpp"

#include "protocol/topic.hpp"

#include <string>

using namespace castor;
using namespace castor::api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  castor_fuzz::input in{data, size};
  auto& ops = operations();
  auto pick = in.byte();
  std::string op = pick < ops.size() * 20 ? std::string{ops[pick % ops.size()]}
                                          : std::string{in.string(16)};
  auto payload = std::string{in.rest()};
  auto r = parse_request(op, payload);
  auto again = parse_request(op, payload);
  FUZZ_CHECK(r.index() == again.index());
  if (auto e = std::get_if<error>(&r)) {
    FUZZ_CHECK(e->code == "INVALID_REQUEST" || e->code == "UNKNOWN_OPERATION"
               || e->code == "INVALID_SPECIFICATION"
               || e->code == "INVALID_CONSTRAINT");
    FUZZ_CHECK(!e->message.empty());
    FUZZ_CHECK(e->message == std::get<error>(again).message);
    auto answer = nlohmann::json::parse(error_answer(*e), nullptr, false);
    FUZZ_CHECK(!answer.is_discarded() && answer["ok"] == false);
    return 0;
  }
  auto& req = std::get<request>(r);
  if (auto a = std::get_if<add_topic>(&req)) {
    FUZZ_CHECK(mqtt::valid_topic_name(a->path));
    auto s = make_specification(to_string(a->spec.type), a->spec.properties());
    FUZZ_CHECK(std::holds_alternative<topic_specification>(s));
    FUZZ_CHECK(std::get<topic_specification>(s) == a->spec);
  } else if (auto f = std::get_if<fetch_topics>(&req)) {
    FUZZ_CHECK(mqtt::parse_filter(f->selector).valid);
    FUZZ_CHECK(f->limit >= 1 && f->limit <= 10000);
  } else if (auto p = std::get_if<patch_topic>(&req)) {
    FUZZ_CHECK(p->patch.is_array());
  } else if (auto l = std::get_if<acquire_lock>(&req)) {
    FUZZ_CHECK(!l->name.empty());
  }
  return 0;
}
