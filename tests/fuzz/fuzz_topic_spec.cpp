// Fuzzes topic specifications (protocol/topic_spec.hpp): the removal-policy
// and range parsers and make_specification.
//
// Input: a mode byte, then text. Mode 0: a removal policy; 1: a range;
// otherwise a type line and then property lines `NAME=VALUE`. Checked:
// nothing throws or faults; an error's offset lies within the text; an
// accepted expression's canonical text parses again to the same text and
// means the same (due() and keeps() agree on facts drawn from the input);
// an accepted specification made again from its canonical properties is
// equal to it, and its properties hold no default.

#include "protocol/topic_spec.hpp"

#include "fuzz_check.hpp"

#include <map>
#include <string>
#include <string_view>

using namespace castor;

namespace {

void check_policy(std::string_view text, castor_fuzz::input& in) {
  auto p = parse_removal_policy(text);
  if (auto e = std::get_if<expression_error>(&p)) {
    FUZZ_CHECK(e->offset <= text.size());
    FUZZ_CHECK(!e->message.empty());
    return;
  }
  auto& policy = std::get<removal_policy>(p);
  auto canonical = policy.to_string();
  auto again = parse_removal_policy(canonical);
  FUZZ_CHECK(std::holds_alternative<removal_policy>(again));
  auto& second = std::get<removal_policy>(again);
  FUZZ_CHECK(second.to_string() == canonical);
  for (int i = 0; i < 8; ++i) {
    removal_policy::facts f;
    f.now = static_cast<int64_t>(in.u32()) * 1000;
    f.last_update = static_cast<int64_t>(in.u32()) * 1000;
    auto subs = in.byte();
    auto below = static_cast<int64_t>(in.u32()) * 1000;
    f.below_since = [subs, below](uint64_t n) -> std::optional<int64_t> {
      if (subs < n)
        return below;
      return std::nullopt;
    };
    f.session_closed = in.flag();
    FUZZ_CHECK(policy.due(f) == second.due(f));
  }
}

void check_range(std::string_view text, castor_fuzz::input& in) {
  auto r = parse_range(text);
  if (auto e = std::get_if<expression_error>(&r)) {
    FUZZ_CHECK(e->offset <= text.size());
    return;
  }
  auto& range = std::get<range_expression>(r);
  auto again = parse_range(range.to_string());
  FUZZ_CHECK(std::holds_alternative<range_expression>(again));
  auto& second = std::get<range_expression>(again);
  FUZZ_CHECK(second.limit == range.limit && second.last == range.last);
  for (int i = 0; i < 8; ++i) {
    uint64_t newer = in.u32();
    std::chrono::milliseconds age{in.u32()};
    FUZZ_CHECK(range.keeps(newer, age) == second.keeps(newer, age));
  }
}

void check_specification(castor_fuzz::input& in) {
  auto type = in.until('\n');
  std::map<std::string, std::string> props;
  while (!in.empty()) {
    auto line = in.until('\n');
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      continue;
    props[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  auto s = make_specification(type, props);
  if (auto e = std::get_if<specification_error>(&s)) {
    FUZZ_CHECK(!e->message.empty());
    FUZZ_CHECK(e->property.empty() || props.count(e->property) > 0
               || e->property == "TIME_SERIES_EVENT_VALUE_TYPE");
    return;
  }
  auto& spec = std::get<topic_specification>(s);
  auto canonical = spec.properties();
  for (auto& [name, value] : canonical) {
    FUZZ_CHECK(!value.empty());
    if (name != "OWNER" && name != "CONFLATION" && name != "REMOVAL"
        && name.rfind("TIME_SERIES_", 0) != 0)
      FUZZ_CHECK(value == "true"); // a flag that is false is left out
  }
  FUZZ_CHECK(canonical.count("CONFLATION") == 0
             || canonical.at("CONFLATION") != "off");
  auto again = make_specification(to_string(spec.type), canonical);
  FUZZ_CHECK(std::holds_alternative<topic_specification>(again));
  FUZZ_CHECK(std::get<topic_specification>(again) == spec);
  FUZZ_CHECK(std::get<topic_specification>(again).properties() == canonical);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  castor_fuzz::input in{data, size};
  auto mode = in.byte() % 3;
  if (mode == 2) {
    check_specification(in);
    return 0;
  }
  auto text = std::string(in.until('\0'));
  if (mode == 0)
    check_policy(text, in);
  else
    check_range(text, in);
  return 0;
}
