// RouteTable: longest-prefix match from destination to egress port and next
// hop. Built at start (slow path), then read-only, so workers read it without
// synchronisation.
//
// Routes are kept per family in a vector sorted longest prefix first and
// scanned linearly, each a masked compare of two 64-bit words (every routed
// packet does this): fine for the handful of routes a gateway has today. Once
// route counts grow, rte_lpm / rte_lpm6 (indexing a next-hop array) are the
// upgrade behind the same interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.h"
#include "dataplane/net/ip_address.h"

namespace tcpsec::net {

struct RouteResult {
  uint16_t port;
  IpAddress next_hop;  // the destination itself for connected routes
};

class RouteTable {
 public:
  // `next_hop` of family kNone makes a connected route (destinations are
  // resolved directly on `port`); otherwise it must match the prefix's family.
  // Host bits of the prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8). Adding
  // an identical route again is a no-op; the same prefix with another next
  // hop or port is an error.
  Status add(const IpPrefix& prefix, const IpAddress& next_hop, uint16_t port);

  // The most specific route containing `dst`; false if none does.
  bool lookup(const IpAddress& dst, RouteResult& out) const;

  size_t size() const { return v4_.size() + v6_.size(); }

 private:
  struct Route {
    IpPrefix prefix;  // host bits cleared
    IpAddress next_hop;
    uint16_t port;
    uint64_t net[2];   // prefix.address as words (words() in route_table.cc)
    uint64_t mask[2];  // the prefix length's mask, the same way
  };
  std::vector<Route> v4_;  // longest prefix first
  std::vector<Route> v6_;
};

}  // namespace tcpsec::net
