// Fuzzes topic selectors (protocol/topic_selector.hpp): the parser and the
// matcher.
//
// Input: the selector's text up to the first newline, then topic names one
// per line. Checked: nothing throws or faults; an error's offset lies
// within the text and it says something; an accepted selector parses again
// from its text to the same kind, prefix and choices; every topic it
// selects lies at or under its literal prefix; a set selects what one of
// its members selects.

#include "protocol/topic.hpp"
#include "protocol/topic_selector.hpp"

#include "fuzz_check.hpp"

#include <string>
#include <string_view>
#include <vector>

using namespace castor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  auto text = in.substr(0, nl);
  std::vector<std::string_view> topics;
  while (nl != std::string_view::npos && topics.size() < 64) {
    auto start = nl + 1;
    nl = in.find('\n', start);
    auto t = in.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (mqtt::valid_topic_name(t))
      topics.push_back(t);
  }
  auto r = parse_selector(text);
  if (auto e = std::get_if<selector_error>(&r)) {
    FUZZ_CHECK(e->offset <= text.size());
    FUZZ_CHECK(!e->message.empty());
    return 0;
  }
  auto& s = std::get<topic_selector>(r);
  auto again = parse_selector(s.text());
  FUZZ_CHECK(std::holds_alternative<topic_selector>(again));
  auto& s2 = std::get<topic_selector>(again);
  FUZZ_CHECK(s2.what() == s.what() && s2.prefix() == s.prefix());
  const auto& prefix = s.prefix();
  for (auto t : topics) {
    bool yes = s.selects(t);
    FUZZ_CHECK(yes == s2.selects(t));
    if (yes && !prefix.empty())
      FUZZ_CHECK(t == prefix
                 || (t.size() > prefix.size()
                     && t.substr(0, prefix.size()) == prefix
                     && t[prefix.size()] == '/'));
    if (s.what() == topic_selector::kind::set) {
      bool any = false;
      for (auto& m : s.members())
        any = any || m.selects(t);
      FUZZ_CHECK(any == yes);
    }
  }
  return 0;
}
