#include "dataplane/net/route_table.h"

#include <algorithm>
#include <cstring>
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

// The address as two 64-bit words in memory order (compared only with words
// made the same way).
inline void words(const IpAddress& a, uint64_t out[2]) {
  std::memcpy(out, a.bytes.data(), 16);
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
  Route r{masked(prefix), next_hop, port, {}, {}};
  IpAddress mask = r.prefix.address;
  for (unsigned i = 0; i < mask.bytes.size(); ++i) {
    const unsigned len = r.prefix.length;
    const unsigned bits = i * 8 >= len ? 0 : std::min(8u, len - i * 8);
    mask.bytes[i] = static_cast<uint8_t>(0xff00 >> bits);
  }
  words(r.prefix.address, r.net);
  words(mask, r.mask);
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
  uint64_t d[2];
  words(dst, d);
  for (const Route& r : *routes) {
    if (((d[0] & r.mask[0]) ^ r.net[0]) | ((d[1] & r.mask[1]) ^ r.net[1])) continue;
    out.port = r.port;
    out.next_hop = r.next_hop.family == IpFamily::kNone ? dst : r.next_hop;
    return true;
  }
  return false;
}

}  // namespace tcpsec::net
