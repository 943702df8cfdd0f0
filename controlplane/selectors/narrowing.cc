#include "controlplane/selectors/narrowing.h"

#include <algorithm>
#include <optional>

#include "controlplane/selectors/traffic_selector.h"

namespace tcpsec::selectors {

namespace {

bool is_host(const ike::TrafficSelector& ts) {
  auto r = address_range(ts);
  return r && r->first == r->last;
}

// The configured selectors that the intersections of `offered` with
// `configured` give, minus duplicates and contained ones.
std::vector<ike::TrafficSelector> intersections(const std::vector<ike::TrafficSelector>& offered,
                                                const ike::Ts& configured) {
  std::vector<ike::TrafficSelector> out;
  for (const auto& o : offered) {
    for (const auto& c : configured.selectors) {
      auto i = intersect(o, c);
      if (!i) continue;
      bool covered = std::any_of(out.begin(), out.end(),
                                 [&](const ike::TrafficSelector& x) { return contains(x, *i); });
      if (covered) continue;
      std::erase_if(out, [&](const ike::TrafficSelector& x) { return contains(*i, x); });
      out.push_back(std::move(*i));
    }
  }
  return out;
}

bool fits(const ike::TrafficSelector& ts, const ike::Ts& configured) {
  return std::any_of(configured.selectors.begin(), configured.selectors.end(),
                     [&](const ike::TrafficSelector& c) { return contains(c, ts); });
}

}  // namespace

std::optional<ike::TrafficSelector> intersect(const ike::TrafficSelector& a,
                                              const ike::TrafficSelector& b) {
  if (a.type != b.type) return std::nullopt;
  auto ra = address_range(a);
  auto rb = address_range(b);
  if (!ra || !rb) return std::nullopt;
  if (a.ip_protocol != 0 && b.ip_protocol != 0 && a.ip_protocol != b.ip_protocol) {
    return std::nullopt;
  }
  Address first = std::max(ra->first, rb->first);
  Address last = std::min(ra->last, rb->last);
  uint16_t start_port = std::max(a.start_port, b.start_port);
  uint16_t end_port = std::min(a.end_port, b.end_port);
  if (first > last || start_port > end_port) return std::nullopt;
  ike::TrafficSelector out;
  out.type = a.type;
  out.ip_protocol = a.ip_protocol != 0 ? a.ip_protocol : b.ip_protocol;
  out.start_port = start_port;
  out.end_port = end_port;
  out.start_address.assign(first.span().begin(), first.span().end());
  out.end_address.assign(last.span().begin(), last.span().end());
  return out;
}

bool contains(const ike::TrafficSelector& outer, const ike::TrafficSelector& inner) {
  auto i = intersect(outer, inner);
  return i && *i == inner;
}

Expected<NarrowedTs> narrow(const ike::Ts& tsi, const ike::Ts& tsr, const ike::Ts& our_remote,
                            const ike::Ts& our_local) {
  std::vector<ike::TrafficSelector> offered_i = tsi.selectors;
  std::vector<ike::TrafficSelector> offered_r = tsr.selectors;
  std::optional<ike::TrafficSelector> packet_i, packet_r;
  if (offered_i.size() > 1 && offered_r.size() > 1 && is_host(offered_i.front()) &&
      is_host(offered_r.front())) {
    packet_i = offered_i.front();
    packet_r = offered_r.front();
    offered_i.erase(offered_i.begin());
    offered_r.erase(offered_r.begin());
    if (!fits(*packet_i, our_remote) || !fits(*packet_r, our_local)) {
      packet_i.reset();
      packet_r.reset();
    }
  }
  NarrowedTs out;
  out.tsi.selectors = intersections(offered_i, our_remote);
  out.tsr.selectors = intersections(offered_r, our_local);
  if (packet_i) {
    auto keep_containing = [](std::vector<ike::TrafficSelector>& list,
                              const ike::TrafficSelector& packet) {
      std::vector<ike::TrafficSelector> with;
      for (const auto& ts : list) {
        if (contains(ts, packet)) with.push_back(ts);
      }
      if (!with.empty()) list = std::move(with);
    };
    keep_containing(out.tsi.selectors, *packet_i);
    keep_containing(out.tsr.selectors, *packet_r);
  }
  if (out.tsi.selectors.empty() || out.tsr.selectors.empty()) {
    return Status::error("TS_UNACCEPTABLE: offered TSi " + to_string(tsi) + ", TSr " +
                         to_string(tsr) + "; configured remote " + to_string(our_remote) +
                         ", local " + to_string(our_local));
  }
  return out;
}

Status check_narrowed(const ike::Ts& proposed_tsi, const ike::Ts& proposed_tsr,
                      const ike::Ts& reply_tsi, const ike::Ts& reply_tsr) {
  auto check = [](const char* name, const ike::Ts& proposed, const ike::Ts& reply) -> Status {
    if (reply.selectors.empty()) return Status::error(std::string(name) + " in the reply is empty");
    for (const auto& ts : reply.selectors) {
      if (!fits(ts, proposed)) {
        return Status::error(std::string(name) + " " + to_string(ts) +
                             " in the reply is not within what we proposed, " +
                             to_string(proposed));
      }
    }
    return Status::ok();
  };
  if (auto s = check("TSi", proposed_tsi, reply_tsi); !s) return s;
  return check("TSr", proposed_tsr, reply_tsr);
}

}  // namespace tcpsec::selectors
