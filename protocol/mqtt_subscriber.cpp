#include "protocol/mqtt_subscriber.hpp"

#include <algorithm>

namespace castor::mqtt {

bool deliver_through(const update& u, const std::string& client_id,
                     const std::vector<delivery_options>& opts, delivery& out) {
  const auto& m = *u.msg;
  bool any = false;
  uint8_t qos = 0;
  bool rap = false;
  out.subscription_ids.clear();
  for (auto& o : opts) {
    if (o.no_local && !m.origin.empty() && m.origin == client_id)
      continue;
    any = true;
    qos = std::max(qos, std::min(m.qos, o.max_qos));
    rap = rap || o.retain_as_published;
    if (o.subscription_id != 0)
      out.subscription_ids.push_back(o.subscription_id);
  }
  if (!any)
    return false;
  out.msg = u.msg;
  out.seq = u.seq;
  out.qos = qos;
  out.retain = rap && m.retain;
  out.from_share = false;
  return true;
}

delivery share_delivery(const update& u, const delivery_options& o) {
  delivery d;
  d.msg = u.msg;
  d.seq = u.seq;
  d.qos = std::min(u.msg->qos, o.max_qos);
  d.retain = o.retain_as_published && u.msg->retain;
  if (o.subscription_id != 0)
    d.subscription_ids.push_back(o.subscription_id);
  d.from_share = true;
  return d;
}

bool retained_delivery(const update& u, const std::string& client_id,
                       const subscription& sub, uint32_t subscription_id,
                       bool existed, bool shared, delivery& out) {
  if (!u || shared)
    return false;
  if (sub.retain_handling == 2 || (sub.retain_handling == 1 && existed))
    return false;
  if (sub.no_local && u.msg->origin == client_id)
    return false;
  out.msg = u.msg;
  out.seq = u.seq;
  out.qos = std::min(u.msg->qos, sub.max_qos);
  out.retain = true; // retained messages sent on subscribe keep RETAIN
  out.subscription_ids.clear();
  if (subscription_id != 0)
    out.subscription_ids.push_back(subscription_id);
  out.from_share = false;
  return true;
}

} // namespace castor::mqtt
