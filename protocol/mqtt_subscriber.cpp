#include "protocol/mqtt_subscriber.hpp"

#include <algorithm>

namespace castor::mqtt {

unsigned deliver_through(const update& u, const std::string& client_id,
                         const std::vector<delivery_options>& opts,
                         delivery& plain, delivery& delta) {
  const auto& m = *u.msg;
  auto fill = [&](delivery& out, uint8_t qos, bool rap, bool delta_form) {
    out.msg = u.msg;
    out.seq = u.seq;
    out.qos = qos;
    out.retain = rap && m.retain;
    out.from_share = false;
    out.conflate = u.conflate;
    out.tidy = u.tidy;
    out.delta_form = delta_form;
    out.delta = delta_form ? u.delta : nullptr;
    out.base = delta_form ? u.base : 0;
  };
  if (opts.size() == 1 && !opts[0].delta) {
    // The common case: one plain subscription.
    auto& o = opts[0];
    if (o.no_local && !m.origin.empty() && m.origin == client_id)
      return 0;
    plain.subscription_ids.clear();
    if (o.subscription_id != 0)
      plain.subscription_ids.push_back(o.subscription_id);
    fill(plain, std::min(m.qos, o.max_qos), o.retain_as_published, false);
    return plain_delivery;
  }
  struct acc {
    bool any = false;
    uint8_t qos = 0;
    bool rap = false;
  } form[2];
  plain.subscription_ids.clear();
  delta.subscription_ids.clear();
  for (auto& o : opts) {
    if (o.no_local && !m.origin.empty() && m.origin == client_id)
      continue;
    auto& a = form[o.delta ? 1 : 0];
    a.any = true;
    a.qos = std::max(a.qos, std::min(m.qos, o.max_qos));
    a.rap = a.rap || o.retain_as_published;
    if (o.subscription_id != 0)
      (o.delta ? delta : plain).subscription_ids.push_back(o.subscription_id);
  }
  unsigned made = 0;
  for (int i = 0; i < 2; ++i) {
    if (!form[i].any)
      continue;
    fill(i == 0 ? plain : delta, form[i].qos, form[i].rap, i == 1);
    made |= i == 0 ? plain_delivery : delta_delivery;
  }
  return made;
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
  d.conflate = u.conflate;
  d.tidy = u.tidy;
  if (o.delta) {
    d.delta_form = true;
    d.delta = u.delta;
    d.base = u.base;
  }
  return d;
}

bool retained_delivery(const update& u, const std::string& client_id,
                       const subscription& sub, uint32_t subscription_id,
                       bool existed, bool shared, bool delta, delivery& out) {
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
  out.delta_form = delta;
  return true;
}

} // namespace castor::mqtt
