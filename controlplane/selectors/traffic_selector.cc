#include "controlplane/selectors/traffic_selector.h"

#include <map>
#include <tuple>

namespace tcpsec::selectors {

Expected<ike::TrafficSelector> from_prefix(std::string_view prefix, uint8_t ip_protocol,
                                           PortRange ports) {
  auto p = Prefix::parse(prefix);
  if (!p) return p.status();
  if (ports.start > ports.end) {
    return Status::error("port range " + std::to_string(ports.start) + "-" +
                         std::to_string(ports.end) + " is empty");
  }
  ike::TrafficSelector ts;
  ts.type = p->address.v6 ? ike::TsType::kIpv6AddrRange : ike::TsType::kIpv4AddrRange;
  ts.ip_protocol = ip_protocol;
  ts.start_port = ports.start;
  ts.end_port = ports.end;
  Address first_addr = p->first();  // span() points into it
  auto first = first_addr.span();
  Address last_addr = p->last();
  auto last = last_addr.span();
  ts.start_address.assign(first.begin(), first.end());
  ts.end_address.assign(last.begin(), last.end());
  return ts;
}

Expected<ike::Ts> from_prefixes(const std::vector<std::string>& prefixes, uint8_t ip_protocol,
                                PortRange ports) {
  ike::Ts out;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    auto ts = from_prefix(prefixes[i], ip_protocol, ports);
    if (!ts) return Status::error("[" + std::to_string(i) + "]: " + ts.error());
    out.selectors.push_back(std::move(*ts));
  }
  return out;
}

Expected<AddressRange> address_range(const ike::TrafficSelector& ts) {
  size_t want;
  if (ts.type == ike::TsType::kIpv4AddrRange) {
    want = 4;
  } else if (ts.type == ike::TsType::kIpv6AddrRange) {
    want = 16;
  } else {
    return Status::error("unsupported traffic selector type " + ike::to_string(ts.type));
  }
  if (ts.start_address.size() != want || ts.end_address.size() != want) {
    return Status::error("traffic selector addresses are not " + std::to_string(want) + " bytes");
  }
  AddressRange r{*Address::from_bytes(ts.start_address), *Address::from_bytes(ts.end_address)};
  if (r.first > r.last) return Status::error("traffic selector start address after end address");
  if (ts.start_port > ts.end_port)
    return Status::error("traffic selector start port after end port");
  return r;
}

std::vector<Prefix> range_to_prefixes(const Address& first, const Address& last) {
  std::vector<Prefix> out;
  if (first.v6 != last.v6 || first > last) return out;
  const unsigned bits = first.bits();
  U128 start = first.to_u128();
  const U128 end = last.to_u128();
  for (;;) {
    // The shortest prefix starting at `start` that stays within `end`.
    unsigned len = 0;
    for (; len < bits; ++len) {
      U128 hosts = host_mask(bits - len);
      if ((start & hosts) == 0 && (start | hosts) <= end) break;
    }
    U128 hosts = host_mask(bits - len);
    out.push_back(Prefix{Address::from_u128(start, first.v6), len});
    U128 block_end = start | hosts;
    if (block_end >= end) break;
    start = block_end + 1;
  }
  return out;
}

Expected<std::vector<Prefix>> range_to_prefixes(const ike::TrafficSelector& ts) {
  auto r = address_range(ts);
  if (!r) return r.status();
  return range_to_prefixes(r->first, r->last);
}

namespace {

std::string protocol_name(uint8_t p) {
  switch (p) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "ipv6-icmp";
    case 132:
      return "sctp";
    default:
      return std::to_string(p);
  }
}

}  // namespace

std::string to_string(const ike::TrafficSelector& ts) {
  auto r = address_range(ts);
  if (!r) return "(" + r.error() + ")";
  std::string out;
  auto prefixes = range_to_prefixes(r->first, r->last);
  if (prefixes.size() == 1) {
    out = prefixes.front().to_string();
  } else {
    out = r->first.to_string() + "-" + r->last.to_string();
  }
  bool any_port = ts.start_port == 0 && ts.end_port == 65535;
  if (ts.ip_protocol != 0 || !any_port) {
    out += "[" + protocol_name(ts.ip_protocol);
    if (!any_port) {
      out += "/" + std::to_string(ts.start_port);
      if (ts.end_port != ts.start_port) out += "-" + std::to_string(ts.end_port);
    }
    out += "]";
  }
  return out;
}

std::string to_string(const ike::Ts& ts) {
  std::string out;
  for (const auto& s : ts.selectors) {
    if (!out.empty()) out += ' ';
    out += to_string(s);
  }
  return out;
}

namespace {

// A group of selectors sharing family, protocol and ports.
using GroupKey = std::tuple<bool, uint8_t, uint16_t, uint16_t>;  // v6, protocol, ports

Expected<std::map<GroupKey, std::vector<Prefix>>> group(const ike::Ts& ts, const char* side) {
  std::map<GroupKey, std::vector<Prefix>> out;
  for (size_t i = 0; i < ts.selectors.size(); ++i) {
    const auto& s = ts.selectors[i];
    auto r = address_range(s);
    if (!r) return Status::error(std::string(side) + "[" + std::to_string(i) + "]: " + r.error());
    auto& list = out[GroupKey{r->first.v6, s.ip_protocol, s.start_port, s.end_port}];
    for (const Prefix& p : range_to_prefixes(r->first, r->last)) list.push_back(p);
  }
  return out;
}

constexpr size_t kMaxDataplanePrefixes = 64;  // ipsec.proto TrafficSelector

bool any_ports(uint16_t start, uint16_t end) {
  return start == 0 && end == 65535;
}

bool has_ports(uint8_t protocol) {
  return protocol == 6 || protocol == 17 || protocol == 132;
}

}  // namespace

Expected<std::vector<v1::TrafficSelector>> to_dataplane(const ike::Ts& local,
                                                        const ike::Ts& remote) {
  auto l = group(local, "local");
  if (!l) return l.status();
  auto r = group(remote, "remote");
  if (!r) return r.status();
  std::vector<v1::TrafficSelector> out;
  for (const auto& [lk, lp] : *l) {
    for (const auto& [rk, rp] : *r) {
      auto [lv6, lproto, lstart, lend] = lk;
      auto [rv6, rproto, rstart, rend] = rk;
      if (lv6 != rv6) continue;
      if (lproto != 0 && rproto != 0 && lproto != rproto) continue;
      uint8_t proto = lproto != 0 ? lproto : rproto;
      bool ports = !any_ports(lstart, lend) || !any_ports(rstart, rend);
      if (ports && !has_ports(proto)) {
        return Status::error("ports with protocol " + std::to_string(proto) +
                             ": the dataplane takes ports only for TCP, UDP and SCTP");
      }
      if (lp.size() > kMaxDataplanePrefixes || rp.size() > kMaxDataplanePrefixes) {
        return Status::error("the selectors need more than " +
                             std::to_string(kMaxDataplanePrefixes) +
                             " prefixes per side, the most a dataplane selector takes");
      }
      v1::TrafficSelector ts;
      for (const Prefix& p : lp) ts.add_local_prefixes(p.to_string());
      for (const Prefix& p : rp) ts.add_remote_prefixes(p.to_string());
      ts.set_protocol(proto);
      if (!any_ports(lstart, lend)) {
        ts.mutable_local_ports()->set_min(lstart);
        ts.mutable_local_ports()->set_max(lend);
      }
      if (!any_ports(rstart, rend)) {
        ts.mutable_remote_ports()->set_min(rstart);
        ts.mutable_remote_ports()->set_max(rend);
      }
      out.push_back(std::move(ts));
    }
  }
  if (out.empty()) {
    return Status::error("no local and remote selectors share an address family and protocol: " +
                         to_string(local) + " <-> " + to_string(remote));
  }
  return out;
}

}  // namespace tcpsec::selectors
