// Fuzzes session filters (protocol/session_filter.hpp): the parser and the
// evaluator.
//
// Input: the filter's text up to the first newline, then the session's
// facts, one per line: `name=value` a property, `@role` a role. Checked:
// nothing throws or faults; an error's offset lies within the text (or at
// the size limit) and it says something; an accepted filter parses again
// from its text and selects the same; `not (F)` selects the opposite and
// `(F) or all` everything.

#include "protocol/session_filter.hpp"

#include "fuzz_check.hpp"

#include <string>
#include <string_view>

using namespace castor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  auto text = in.substr(0, nl);
  session_facts facts;
  size_t lines = 0;
  while (nl != std::string_view::npos && lines++ < 64) {
    auto start = nl + 1;
    nl = in.find('\n', start);
    auto line
        = in.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty() && line[0] == '@') {
      facts.roles.emplace(line.substr(1));
    } else if (auto eq = line.find('='); eq != std::string_view::npos) {
      facts.properties[std::string{line.substr(0, eq)}]
          = std::string{line.substr(eq + 1)};
    }
  }
  auto r = parse_session_filter(text);
  if (auto e = std::get_if<session_filter_error>(&r)) {
    FUZZ_CHECK(e->offset <= std::max(text.size(), max_session_filter_size));
    FUZZ_CHECK(!e->message.empty());
    return 0;
  }
  auto& f = std::get<session_filter>(r);
  bool yes = f.selects(facts);
  auto again = parse_session_filter(f.text());
  FUZZ_CHECK(std::holds_alternative<session_filter>(again));
  FUZZ_CHECK(std::get<session_filter>(again).selects(facts) == yes);
  if (text.size() + 16 <= max_session_filter_size) {
    auto negated = parse_session_filter("not (" + std::string{text} + "\n)");
    if (auto n = std::get_if<session_filter>(&negated))
      FUZZ_CHECK(n->selects(facts) == !yes);
    auto any = parse_session_filter("(" + std::string{text} + "\n) or all");
    if (auto a = std::get_if<session_filter>(&any))
      FUZZ_CHECK(a->selects(facts));
  }
  return 0;
}
