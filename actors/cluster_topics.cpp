#include "actors/cluster_topics.hpp"

#include <map>
#include <memory>

#include "actors/iface/timeouts.hpp"
#include "log/log.hpp"

namespace castor {

cluster_topic cluster_topic_of(const std::string& path,
                               const topic_specification* spec, bool forget) {
  cluster_topic t;
  t.path = path;
  if (!spec) {
    t.removed = true;
    t.forget = forget;
    return t;
  }
  t.type = std::string{to_string(spec->type)};
  auto props = spec->properties();
  t.properties.assign(props.begin(), props.end());
  return t;
}

std::vector<cluster_topic> added_topics(const topic_mapping& mapping) {
  std::vector<cluster_topic> out;
  for (auto& [path, spec] : mapping.added_all())
    out.push_back(cluster_topic_of(path, spec.get()));
  return out;
}

void take_topics(caf::event_based_actor* self, const topic_tree_interface& tree,
                 topic_mapping& mapping, std::vector<cluster_topic>& ts,
                 uint32_t idle_ms) {
  for (auto& t : ts) {
    if (t.removed) {
      mapping.remove(t.path);
      if (!t.forget)
        continue;
      self->request(tree, lookup_timeout, lookup_atom::value, t.path, false)
          .then(
              [self, idle_ms](topic_interface& topic) {
                if (topic)
                  self->send(topic, remove_atom::value, idle_ms);
              },
              [](caf::error&) {});
      continue;
    }
    std::map<std::string, std::string> props(t.properties.begin(),
                                             t.properties.end());
    auto made = make_specification(t.type, props);
    if (auto err = std::get_if<specification_error>(&made)) {
      CASTOR_LOG(warning, "cluster",
                 "a member's topic '" << t.path << "' is not taken: "
                                      << err->property << ": " << err->message);
      continue;
    }
    auto r = mapping.add(t.path, std::make_shared<const topic_specification>(
                                     std::get<topic_specification>(made)));
    if (r == topic_mapping::add_result::conflicts) {
      CASTOR_LOG(warning, "cluster",
                 "a member added the topic '"
                     << t.path
                     << "' with another specification than this node's; "
                        "this node keeps its own");
      continue;
    }
    if (r == topic_mapping::add_result::exists)
      continue;
    self->request(tree, lookup_timeout, lookup_atom::value, t.path, true)
        .then(
            [self](topic_interface& topic) {
              if (topic)
                self->send(topic, keep_atom::value);
            },
            [](caf::error&) {});
  }
}

} // namespace castor
