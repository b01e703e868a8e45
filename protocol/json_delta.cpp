#include "protocol/json_delta.hpp"

#include <string>

namespace castor {

namespace {

using json = nlohmann::json;

/// A reference token of a JSON pointer (RFC 6901): '~' -> "~0", '/' -> "~1".
std::string escape(const std::string& key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out.push_back(c);
  }
  return out;
}

json operation(const char* op, const std::string& path) {
  return json{{"op", op}, {"path", path}};
}

json operation(const char* op, const std::string& path, const json& value) {
  return json{{"op", op}, {"path", path}, {"value", value}};
}

/// Replaces the value at `path`. An object member named "-" is replaced
/// with `add` (the same effect, RFC 6902 4.1): some libraries (Debian's
/// python3-jsonpatch) refuse `replace` at a path ending in "-", which they
/// take for the end of an array. Array paths end in an index, never "-".
json replace(const std::string& path, const json& value) {
  bool dash = path.size() >= 2 && path.compare(path.size() - 2, 2, "/-") == 0;
  return operation(dash ? "add" : "replace", path, value);
}

/// Appends to `ops` what makes `b` from `a` at `path`.
void diff(const json& a, const json& b, const std::string& path, json& ops) {
  if (a == b)
    return;
  bool containers
      = (a.is_object() && b.is_object()) || (a.is_array() && b.is_array());
  if (!containers) {
    ops.push_back(replace(path, b));
    return;
  }
  json sub = json::array();
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it)
      if (!b.contains(it.key()))
        sub.push_back(operation("remove", path + "/" + escape(it.key())));
    for (auto it = b.begin(); it != b.end(); ++it) {
      auto p = path + "/" + escape(it.key());
      auto old = a.find(it.key());
      if (old == a.end())
        sub.push_back(operation("add", p, it.value()));
      else
        diff(*old, it.value(), p, sub);
    }
  } else {
    // Arrays: common leading and trailing elements stay; the elements in
    // between are diffed pairwise, the surplus removed or added.
    size_t pre = 0;
    while (pre < a.size() && pre < b.size() && a[pre] == b[pre])
      ++pre;
    size_t suf = 0;
    while (suf < a.size() - pre && suf < b.size() - pre
           && a[a.size() - 1 - suf] == b[b.size() - 1 - suf])
      ++suf;
    size_t na = a.size() - pre - suf;
    size_t nb = b.size() - pre - suf;
    size_t both = std::min(na, nb);
    for (size_t i = 0; i < both; ++i)
      diff(a[pre + i], b[pre + i], path + "/" + std::to_string(pre + i), sub);
    for (size_t i = nb; i < na; ++i)
      sub.push_back(
          operation("remove", path + "/" + std::to_string(pre + both)));
    for (size_t i = na; i < nb; ++i)
      sub.push_back(
          operation("add", path + "/" + std::to_string(pre + i), b[pre + i]));
  }
  // The operations, or the whole part if that is shorter.
  auto whole = replace(path, b);
  if (sub.dump().size() >= whole.dump().size() + 2) {
    ops.push_back(std::move(whole));
    return;
  }
  for (auto& op : sub)
    ops.push_back(std::move(op));
}

} // namespace

nlohmann::json make_json_patch(const nlohmann::json& from,
                               const nlohmann::json& to) {
  json ops = json::array();
  diff(from, to, "", ops);
  return ops;
}

std::optional<nlohmann::json> apply_json_patch(const nlohmann::json& from,
                                               const nlohmann::json& patch) {
  if (!patch.is_array())
    return std::nullopt;
  try {
    return from.patch(patch);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

} // namespace castor
