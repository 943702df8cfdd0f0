#include "dataplane/net/route_table.h"

#include <algorithm>
#include <string>

namespace tcpsec::net {
namespace {

IpPrefix masked(const IpPrefix& p) {
  IpPrefix out = p;
  unsigned full = p.length / 8, rest = p.length % 8;
  for (unsigned i = full; i < out.address.bytes.size(); ++i) {
    if (i == full && rest != 0) {
      out.address.bytes[i] &= static_cast<uint8_t>(0xff << (8 - rest));
    } else {
      out.address.bytes[i] = 0;
    }
  }
  return out;
}

}  // namespace

Status RouteTable::add(const IpPrefix& prefix, const IpAddress& next_hop, uint16_t port) {
  const IpAddress& a = prefix.address;
  if (!a.is_v4() && !a.is_v6()) return Status::error("route prefix has no address family");
  unsigned max_len = a.is_v4() ? 32 : 128;
  if (prefix.length > max_len) {
    return Status::error("route " + prefix.to_string() + ": prefix length over " +
                         std::to_string(max_len));
  }
  if (next_hop.family != IpFamily::kNone && next_hop.family != a.family) {
    return Status::error("route " + prefix.to_string() + ": next hop " + next_hop.to_string() +
                         " is of the other address family");
  }
  Route r{masked(prefix), next_hop, port};
  std::vector<Route>& routes = a.is_v4() ? v4_ : v6_;
  for (const Route& e : routes) {
    if (e.prefix.length != r.prefix.length || e.prefix.address != r.prefix.address) continue;
    // The same route again (say, two addresses of one interface subnet) is
    // harmless; a different next hop or port for the prefix is a conflict.
    if (e.next_hop == r.next_hop && e.port == r.port) return Status::ok();
    return Status::error("route " + r.prefix.to_string() + " is configured twice, differently");
  }
  // Keep longest prefixes first; among equals, insertion order.
  auto pos = std::upper_bound(routes.begin(), routes.end(), r, [](const Route& x, const Route& y) {
    return x.prefix.length > y.prefix.length;
  });
  routes.insert(pos, r);
  return Status::ok();
}

bool RouteTable::lookup(const IpAddress& dst, RouteResult& out) const {
  const std::vector<Route>* routes;
  if (dst.is_v4()) {
    routes = &v4_;
  } else if (dst.is_v6()) {
    routes = &v6_;
  } else {
    return false;
  }
  for (const Route& r : *routes) {
    if (!r.prefix.contains(dst)) continue;
    out.port = r.port;
    out.next_hop = r.next_hop.family == IpFamily::kNone ? dst : r.next_hop;
    return true;
  }
  return false;
}

}  // namespace tcpsec::net
