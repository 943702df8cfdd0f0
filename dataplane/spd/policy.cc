#include "dataplane/spd/policy.h"

#include <algorithm>
#include <string_view>

namespace tcpsec::spd {
namespace {

std::string at(std::string_view field, int index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

Status prefixed(const std::string& path, const Status& s) {
  return Status::error(path + s.message());
}

// `p` with every bit after its length cleared.
net::IpPrefix network_of(net::IpPrefix p) {
  const size_t len = std::min<size_t>(p.length, p.address.size() * 8);
  for (size_t bit = len; bit < p.address.bytes.size() * 8; ++bit) {
    p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return p;
}

Expected<std::vector<net::IpPrefix>> prefixes(
    const char* field, const google::protobuf::RepeatedPtrField<std::string>& list) {
  std::vector<net::IpPrefix> out;
  out.reserve(static_cast<size_t>(list.size()));
  for (int i = 0; i < list.size(); ++i) {
    // IpPrefix::parse copies the text; keep NULs and huge strings out.
    const std::string& text = list.Get(i);
    auto p = text.size() <= 80 && text.find('\0') == std::string::npos
                 ? net::IpPrefix::parse(text)
                 : Expected<net::IpPrefix>(Status::error("not an address prefix"));
    if (!p) return Status::error(at(field, i) + ": " + p.error());
    out.push_back(network_of(*p));
  }
  return out;
}

Expected<PortRange> ports(const char* field, const v1::SelectorPortRange& r) {
  if (r.min() == 0 && r.max() == 0) return PortRange{};
  if (r.min() > 65535 || r.max() > 65535 || r.min() > r.max()) {
    return Status::error(std::string(field) + ": bad port range " + std::to_string(r.min()) + "-" +
                         std::to_string(r.max()));
  }
  return PortRange{static_cast<uint16_t>(r.min()), static_cast<uint16_t>(r.max())};
}

bool any_contains(const std::vector<net::IpPrefix>& list, const net::IpAddress& a) {
  if (list.empty()) return true;
  return std::any_of(list.begin(), list.end(),
                     [&](const net::IpPrefix& p) { return p.contains(a); });
}

}  // namespace

const char* to_string(Direction d) {
  return d == Direction::kInbound ? "inbound" : "outbound";
}

const char* to_string(Action a) {
  switch (a) {
    case Action::kDiscard:
      return "discard";
    case Action::kBypass:
      return "bypass";
    case Action::kProtect:
      return "protect";
  }
  return "unknown";
}

bool Selector::matches(Direction d, const net::IpAddress& src, const net::IpAddress& dst,
                       uint8_t proto, uint16_t src_port, uint16_t dst_port) const {
  const bool out = d == Direction::kOutbound;
  const net::IpAddress& l = out ? src : dst;
  const net::IpAddress& r = out ? dst : src;
  const uint16_t lp = out ? src_port : dst_port;
  const uint16_t rp = out ? dst_port : src_port;
  return (protocol == 0 || protocol == proto) && local_ports.contains(lp) &&
         remote_ports.contains(rp) && any_contains(local, l) && any_contains(remote, r);
}

Expected<Selector> selector_from_proto(const v1::TrafficSelector& s) {
  Selector out;
  auto local = prefixes("local_prefixes", s.local_prefixes());
  if (!local) return local.status();
  auto remote = prefixes("remote_prefixes", s.remote_prefixes());
  if (!remote) return remote.status();
  if (s.protocol() > 255) {
    return Status::error("protocol: " + std::to_string(s.protocol()) + " is not an IP protocol");
  }
  auto lp = ports("local_ports", s.local_ports());
  if (!lp) return lp.status();
  auto rp = ports("remote_ports", s.remote_ports());
  if (!rp) return rp.status();
  out.local = std::move(*local);
  out.remote = std::move(*remote);
  out.protocol = static_cast<uint8_t>(s.protocol());
  out.local_ports = *lp;
  out.remote_ports = *rp;
  return out;
}

Expected<Policy> policy_from_proto(const v1::Policy& p) {
  Policy out;
  out.name = p.name();
  out.priority = p.priority();
  switch (p.direction()) {
    case v1::DIRECTION_INBOUND:
      out.direction = Direction::kInbound;
      break;
    case v1::DIRECTION_OUTBOUND:
      out.direction = Direction::kOutbound;
      break;
    default:
      return Status::error("direction: must be INBOUND or OUTBOUND");
  }
  switch (p.action()) {
    case v1::POLICY_ACTION_PROTECT:
      out.action = Action::kProtect;
      break;
    case v1::POLICY_ACTION_BYPASS:
      out.action = Action::kBypass;
      break;
    case v1::POLICY_ACTION_DISCARD:
      out.action = Action::kDiscard;
      break;
    default:
      return Status::error("action: must be PROTECT, BYPASS or DISCARD");
  }
  auto sel = selector_from_proto(p.match());
  if (!sel) return prefixed("match.", sel.status());
  out.match = std::move(*sel);
  out.sa_spi = p.sa_spi();
  return out;
}

Expected<std::vector<Policy>> policies_from_config(const v1::DataplaneConfig& config) {
  std::vector<Policy> out;
  out.reserve(static_cast<size_t>(config.policies_size()));
  for (int i = 0; i < config.policies_size(); ++i) {
    auto p = policy_from_proto(config.policies(i));
    if (!p) return prefixed(at("policies", i) + ".", p.status());
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace tcpsec::spd
