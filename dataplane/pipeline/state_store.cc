#include "dataplane/pipeline/state_store.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <regex>

#include "dataplane/config/config_loader.h"
#include "dataplane/sad/sa_params.h"

namespace tcpsec::pipeline {

namespace {

using Code = ApplyOutcome::Code;

ApplyOutcome failure(Code code, std::string message) {
  ApplyOutcome o;
  o.code = code;
  o.message = std::move(message);
  return o;
}

std::string spi_text(uint32_t spi) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08" PRIx32, spi);
  return b;
}

std::string normal_address(const std::string& text) {
  auto a = net::IpAddress::parse(text);
  return a ? a->to_string() : text;
}

const char* direction_name(bool outbound) {
  return outbound ? "OUTBOUND" : "INBOUND";
}

std::string describe(bool outbound, uint32_t spi, const std::string& local) {
  std::string s = std::string(direction_name(outbound)) + " SPI " + spi_text(spi);
  if (!outbound && !local.empty()) s += " on " + local;
  return s;
}

// Where each element of the candidate configuration's lists came from, to
// turn the validator's "sas[7].spi" into the request's "add_sas[2].spi".
struct Origin {
  std::vector<std::string> sas, policies, listeners, peers, connections;
};

std::string rewrite_paths(const std::string& message, const Origin& o) {
  static const std::regex list(
      R"((sas|policies|pseudo_tcp\.listeners|pseudo_tcp\.peers|pseudo_tcp\.connections)\[(\d+)\])");
  std::string out;
  auto begin = std::sregex_iterator(message.begin(), message.end(), list);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    size_t pos = static_cast<size_t>(m.position(0));
    // Only whole names: "add_sas[1]" is already the request's.
    if (pos > 0 && (std::isalnum(static_cast<unsigned char>(message[pos - 1])) ||
                    message[pos - 1] == '_' || message[pos - 1] == '.')) {
      continue;
    }
    const std::string name = m[1];
    size_t index = std::stoul(m[2]);
    const std::vector<std::string>* table = name == "sas"                    ? &o.sas
                                            : name == "policies"             ? &o.policies
                                            : name == "pseudo_tcp.listeners" ? &o.listeners
                                            : name == "pseudo_tcp.peers"     ? &o.peers
                                                                             : &o.connections;
    if (index >= table->size()) continue;
    out.append(message, last, pos - last);
    out += (*table)[index];
    last = pos + static_cast<size_t>(m.length(0));
  }
  out.append(message, last, std::string::npos);
  return out;
}

bool touches_ipsec(const v1::ApplyRequest& r) {
  return r.add_sas_size() || r.update_sas_size() || r.delete_sas_size() || r.set_policies_size() ||
         r.delete_policies_size();
}

}  // namespace

StateStore::SaMapKey StateStore::key_of(const v1::SecurityAssociation& sa) {
  bool outbound = sa.direction() == v1::DIRECTION_OUTBOUND;
  return {outbound, sa.spi(), outbound ? std::string() : normal_address(sa.tunnel_local())};
}

Status StateStore::load(const v1::DataplaneConfig& config) {
  v1::ApplyRequest r;
  *r.mutable_add_sas() = config.sas();
  *r.mutable_set_policies() = config.policies();
  *r.mutable_add_connections() = config.pseudo_tcp().connections();
  // Unnamed policies from a file get a stable name so they can be replaced.
  for (int i = 0; i < r.set_policies_size(); ++i) {
    if (r.set_policies(i).name().empty())
      r.mutable_set_policies(i)->set_name("policies[" + std::to_string(i) + "]");
  }
  {
    std::lock_guard lock(mu_);
    *listeners_.mutable_listeners() = config.pseudo_tcp().listeners();
    *peers_.mutable_peers() = config.pseudo_tcp().peers();
  }
  ApplyOutcome o = apply(r);
  if (!o.ok()) return Status::error(o.message);
  return Status::ok();
}

ApplyOutcome StateStore::apply(const v1::ApplyRequest& request) {
  std::lock_guard lock(mu_);
  return apply_locked(request);
}

ApplyOutcome StateStore::validate(const v1::ApplyRequest& r) {
  IpsecState* ips = gw_.ipsec();
  if (!ips && touches_ipsec(r)) {
    return failure(Code::kFailedPrecondition,
                   "this dataplane runs as a pseudo-TCP relay: SAs and policies need "
                   "ipsec.enabled (or sas/policies) in its configuration");
  }
  // Keys that must exist or must not, named the way a person reads them.
  std::set<SaMapKey> deleted;
  for (int i = 0; i < r.delete_sas_size(); ++i) {
    const v1::SaId& id = r.delete_sas(i);
    bool outbound = id.direction() == v1::DIRECTION_OUTBOUND;
    SaMapKey key{outbound, id.spi(), outbound ? "" : normal_address(id.tunnel_local())};
    std::string where = "delete_sas[" + std::to_string(i) + "]";
    if (id.direction() != v1::DIRECTION_INBOUND && !outbound)
      return failure(Code::kInvalidArgument, where + ".direction: INBOUND or OUTBOUND");
    if (!sas_.count(key)) {
      return failure(
          Code::kInvalidArgument,
          where + ": " + describe(outbound, id.spi(), std::get<2>(key)) + " is not installed");
    }
    if (!deleted.insert(key).second)
      return failure(Code::kInvalidArgument, where + ": listed twice");
  }
  std::set<SaMapKey> updated;
  for (int i = 0; i < r.update_sas_size(); ++i) {
    SaMapKey key = key_of(r.update_sas(i));
    std::string where = "update_sas[" + std::to_string(i) + "]";
    if (!sas_.count(key)) {
      return failure(Code::kInvalidArgument,
                     where + ": " + describe(std::get<0>(key), std::get<1>(key), std::get<2>(key)) +
                         " is not installed (add_sas adds it)");
    }
    if (deleted.count(key)) return failure(Code::kInvalidArgument, where + ": also in delete_sas");
    updated.insert(key);
  }
  for (int i = 0; i < r.add_sas_size(); ++i) {
    SaMapKey key = key_of(r.add_sas(i));
    if (sas_.count(key) && !deleted.count(key)) {
      return failure(Code::kInvalidArgument,
                     "add_sas[" + std::to_string(i) + "].spi: " +
                         describe(std::get<0>(key), std::get<1>(key), std::get<2>(key)) +
                         " is already installed (update_sas replaces an SA)");
    }
    if (deleted.count(key)) {
      return failure(Code::kInvalidArgument,
                     "add_sas[" + std::to_string(i) + "]: also in delete_sas (use update_sas)");
    }
  }
  std::set<std::string> policy_names;
  for (const auto& p : policies_) policy_names.insert(p.name());
  std::set<std::string> dropped_policies;
  for (int i = 0; i < r.delete_policies_size(); ++i) {
    if (!policy_names.count(r.delete_policies(i))) {
      return failure(Code::kInvalidArgument, "delete_policies[" + std::to_string(i) +
                                                 "]: no policy named '" + r.delete_policies(i) +
                                                 "'");
    }
    dropped_policies.insert(r.delete_policies(i));
  }
  for (int i = 0; i < r.set_policies_size(); ++i) {
    if (r.set_policies(i).name().empty()) {
      return failure(
          Code::kInvalidArgument,
          "set_policies[" + std::to_string(i) + "].name: required (policies are replaced by name)");
    }
    dropped_policies.insert(r.set_policies(i).name());  // replaced
  }
  for (int i = 0; i < r.delete_connections_size(); ++i) {
    const v1::ConnectionKey& k = r.delete_connections(i);
    auto local = net::IpAddress::parse(k.local_address());
    auto peer = net::IpAddress::parse(k.peer_address());
    std::string where = "delete_connections[" + std::to_string(i) + "]";
    if (!local) return failure(Code::kInvalidArgument, where + ".local_address: " + local.error());
    if (!peer) return failure(Code::kInvalidArgument, where + ".peer_address: " + peer.error());
    ctcp::FlowKey key{*local, *peer, static_cast<uint16_t>(k.local_port()),
                      static_cast<uint16_t>(k.peer_port())};
    if (k.local_port() > 65535 || k.peer_port() > 65535 ||
        gw_.connections().lookup_flow(key) == ctcp::kNoConn) {
      return failure(Code::kInvalidArgument, where + ": no connection " + local->to_string() + ":" +
                                                 std::to_string(k.local_port()) + " -> " +
                                                 peer->to_string() + ":" +
                                                 std::to_string(k.peer_port()));
    }
  }

  // The resulting state, checked by the configuration's own validator.
  v1::DataplaneConfig candidate = gw_.config();
  candidate.clear_sas();
  candidate.clear_policies();
  candidate.mutable_pseudo_tcp()->clear_connections();
  Origin o;
  for (const auto& [key, def] : sas_) {
    if (deleted.count(key) || updated.count(key)) continue;
    *candidate.add_sas() = def.sa;
    o.sas.push_back("installed SA " +
                    describe(std::get<0>(key), std::get<1>(key), std::get<2>(key)));
  }
  for (int i = 0; i < r.update_sas_size(); ++i) {
    *candidate.add_sas() = r.update_sas(i);
    o.sas.push_back("update_sas[" + std::to_string(i) + "]");
  }
  for (int i = 0; i < r.add_sas_size(); ++i) {
    *candidate.add_sas() = r.add_sas(i);
    o.sas.push_back("add_sas[" + std::to_string(i) + "]");
  }
  for (const auto& p : policies_) {
    if (dropped_policies.count(p.name())) continue;
    v1::Policy& kept = *candidate.add_policies() = p;
    o.policies.push_back("installed policy '" + p.name() + "'");
    // An installed PROTECT policy whose SA is gone already (removed by its
    // hard time lifetime in check_lifetimes) drops its traffic (esp_no_sa)
    // until the control plane installs a new SA or replaces the policy. It
    // is not this request's doing, so it must not refuse the request: it is
    // checked as the DISCARD it acts as. (An SA this request deletes is
    // still installed here, so a policy it would leave dangling is refused.)
    if (p.action() == v1::POLICY_ACTION_PROTECT) {
      bool outbound = p.direction() == v1::DIRECTION_OUTBOUND;
      bool named = std::any_of(sas_.begin(), sas_.end(), [&](const auto& e) {
        return std::get<0>(e.first) == outbound && std::get<1>(e.first) == p.sa_spi();
      });
      if (!named) {
        kept.set_action(v1::POLICY_ACTION_DISCARD);
        kept.set_sa_spi(0);
      }
    }
  }
  for (int i = 0; i < r.set_policies_size(); ++i) {
    *candidate.add_policies() = r.set_policies(i);
    o.policies.push_back("set_policies[" + std::to_string(i) + "]");
  }
  auto* pt = candidate.mutable_pseudo_tcp();
  *pt->mutable_listeners() = r.has_listeners() ? r.listeners().listeners() : listeners_.listeners();
  for (int i = 0; i < pt->listeners_size(); ++i)
    o.listeners.push_back((r.has_listeners() ? "listeners.listeners[" : "installed listeners[") +
                          std::to_string(i) + "]");
  *pt->mutable_peers() = r.has_tcp_peers() ? r.tcp_peers().peers() : peers_.peers();
  for (int i = 0; i < pt->peers_size(); ++i)
    o.peers.push_back((r.has_tcp_peers() ? "tcp_peers.peers[" : "installed tcp_peers[") +
                      std::to_string(i) + "]");
  *pt->mutable_connections() = r.add_connections();
  for (int i = 0; i < r.add_connections_size(); ++i)
    o.connections.push_back("add_connections[" + std::to_string(i) + "]");
  if (auto s = config::validate_dataplane_config(candidate); !s)
    return failure(Code::kInvalidArgument, rewrite_paths(s.message(), o));
  return {};
}

ApplyOutcome StateStore::apply_locked(const v1::ApplyRequest& r) {
  if (ApplyOutcome o = validate(r); !o.ok()) return o;
  IpsecState* ips = gw_.ipsec();
  ApplyOutcome done;

  // Room first: nothing is touched unless everything fits.
  if (ips) {
    uint32_t need[2] = {0, 0};  // inbound, outbound
    for (const auto& sa : r.add_sas()) ++need[sa.direction() == v1::DIRECTION_OUTBOUND];
    for (const auto& sa : r.update_sas()) ++need[sa.direction() == v1::DIRECTION_OUTBOUND];
    for (int d = 0; d < 2; ++d) {
      uint32_t free = need[d] ? ips->available(d == 1) : 0;
      if (need[d] > free) {
        return failure(Code::kResourceExhausted,
                       std::string("add_sas/update_sas: ") + std::to_string(need[d]) + " " +
                           direction_name(d == 1) + " SAs need a record and " +
                           std::to_string(free) + " are free (ipsec.max_sas " +
                           std::to_string(ips->capacity()) + ")");
      }
    }
  }

  // Connections (they can fail on a full table or a flow that appeared
  // meanwhile): undone if anything later fails.
  std::vector<ctcp::FlowKey> added_connections;
  auto undo_connections = [&] {
    for (const auto& key : added_connections) {
      ctcp::ConnId id = gw_.connections().lookup_flow(key);
      if (id != ctcp::kNoConn) {
        gw_.forget_connection(key, id);
        gw_.connections().remove(id);
      }
    }
  };
  for (int i = 0; i < r.add_connections_size(); ++i) {
    const auto& c = r.add_connections(i);
    if (auto s = gw_.install_connection(c); !s) {
      undo_connections();
      return failure(Code::kFailedPrecondition,
                     "add_connections[" + std::to_string(i) + "]: " + s.message());
    }
    added_connections.push_back(
        {*net::IpAddress::parse(c.local_address()), *net::IpAddress::parse(c.peer_address()),
         static_cast<uint16_t>(c.local_port()), static_cast<uint16_t>(c.peer_port())});
  }

  // SA records, all built before any is published.
  uint64_t now = rte_rdtsc();
  auto build = [&](const v1::SecurityAssociation& sa, const std::string& where,
                   std::vector<PreparedSa>& out) -> ApplyOutcome {
    auto p = IpsecState::prepare(sa, ips->next_owner(), now);
    if (!p) return failure(Code::kInvalidArgument, where + ": " + p.error());
    if (p->outbound) gw_.resolve_egress(*p->out);
    out.push_back(std::move(*p));
    return {};
  };
  std::vector<PreparedSa> adds, updates;
  for (int i = 0; i < r.add_sas_size(); ++i) {
    if (auto o = build(r.add_sas(i), "add_sas[" + std::to_string(i) + "]", adds); !o.ok()) {
      undo_connections();
      return o;
    }
  }
  for (int i = 0; i < r.update_sas_size(); ++i) {
    if (auto o = build(r.update_sas(i), "update_sas[" + std::to_string(i) + "]", updates);
        !o.ok()) {
      undo_connections();
      return o;
    }
  }
  std::vector<spd::Policy> policies;
  bool policies_changed = r.set_policies_size() || r.delete_policies_size();
  std::vector<v1::Policy> next_policies;
  if (policies_changed) {
    std::set<std::string> dropped(r.delete_policies().begin(), r.delete_policies().end());
    for (const auto& p : r.set_policies()) dropped.insert(p.name());
    for (const auto& p : policies_)
      if (!dropped.count(p.name())) next_policies.push_back(p);
    for (const auto& p : r.set_policies()) next_policies.push_back(p);
    for (size_t i = 0; i < next_policies.size(); ++i) {
      auto p = spd::policy_from_proto(next_policies[i]);
      if (!p) {
        undo_connections();
        return failure(Code::kInvalidArgument,
                       "policy '" + next_policies[i].name() + "': " + p.error());
      }
      policies.push_back(std::move(*p));
    }
  }

  // Publish: new SAs, then replacements, then the policies that may use
  // them, then removals (no policy names them any more).
  std::vector<std::pair<bool, sad::SaKey>> published;
  auto undo_adds = [&] {
    for (const auto& [outbound, key] : published) ips->remove(outbound, key);
  };
  for (size_t i = 0; i < adds.size(); ++i) {
    bool outbound = adds[i].outbound;
    sad::SaKey key = adds[i].key;
    if (auto s = ips->add(std::move(adds[i])); !s) {
      undo_adds();
      undo_connections();
      return failure(Code::kInternal, "add_sas[" + std::to_string(i) + "]: " + s.message());
    }
    published.emplace_back(outbound, key);
  }
  for (size_t i = 0; i < updates.size(); ++i) {
    // Capacity was checked and the key exists: replace cannot fail short
    // of a bug, after which the state is reported as it is.
    if (auto s = ips->replace(std::move(updates[i])); !s) {
      return failure(Code::kInternal, "update_sas[" + std::to_string(i) + "]: " + s.message() +
                                          " (earlier changes of this request are applied)");
    }
  }
  if (policies_changed) {
    if (auto s = ips->set_policies(policies); !s) {
      undo_adds();
      undo_connections();
      return failure(Code::kInternal, "policies: " + s.message());
    }
    policies_ = std::move(next_policies);
  }
  for (const auto& id : r.delete_sas()) {
    bool outbound = id.direction() == v1::DIRECTION_OUTBOUND;
    std::string local = outbound ? "" : normal_address(id.tunnel_local());
    sad::SaKey key = sad::SaKey::of(id.spi());
    if (!local.empty()) key = sad::SaKey::of(id.spi(), *net::IpAddress::parse(local));
    ips->remove(outbound, key);
    sas_.erase({outbound, id.spi(), local});
  }
  for (const auto& sa : r.add_sas()) sas_[key_of(sa)] = SaDef{sa};
  for (const auto& sa : r.update_sas()) sas_[key_of(sa)] = SaDef{sa};

  // Deleted connections are closed by worker 0 (which can send the RST).
  for (const auto& k : r.delete_connections()) {
    ctcp::FlowKey key{*net::IpAddress::parse(k.local_address()),
                      *net::IpAddress::parse(k.peer_address()),
                      static_cast<uint16_t>(k.local_port()), static_cast<uint16_t>(k.peer_port())};
    ctcp::ConnId id = gw_.connections().lookup_flow(key);
    if (id == ctcp::kNoConn) continue;
    rte_mbuf* m = rte_pktmbuf_alloc(gw_.pool());
    if (!m) return failure(Code::kResourceExhausted, "delete_connections: no mbuf for the request");
    m->hash.fdir.lo = static_cast<uint32_t>(r.reset_connections() ? IkeTransport::kCloseReset
                                                                  : IkeTransport::kClose);
    m->hash.fdir.hi = id;
    if (!gw_.control().inject(m)) {
      rte_pktmbuf_free(m);
      return failure(Code::kResourceExhausted, "delete_connections: the worker's queue is full");
    }
  }
  if (r.has_listeners()) {
    gw_.set_listeners(r.listeners().listeners());
    listeners_ = r.listeners();
  }
  if (r.has_tcp_peers()) {
    gw_.set_tcp_peers(r.tcp_peers().peers());
    peers_ = r.tcp_peers();
  }

  v1::ApplyReply& reply = done.reply;
  reply.set_sas_added(r.add_sas_size());
  reply.set_sas_updated(r.update_sas_size());
  reply.set_sas_deleted(r.delete_sas_size());
  reply.set_policies_set(r.set_policies_size());
  reply.set_policies_deleted(r.delete_policies_size());
  reply.set_connections_added(r.add_connections_size());
  reply.set_connections_deleted(r.delete_connections_size());
  return done;
}

ApplyOutcome StateStore::restore(const v1::DataplaneState& state) {
  std::lock_guard lock(mu_);
  v1::ApplyRequest r;
  // Everything installed goes, unless the state has it again (updated).
  std::set<SaMapKey> wanted;
  for (const auto& sa : state.sas()) wanted.insert(key_of(sa));
  for (const auto& [key, def] : sas_) {
    if (wanted.count(key)) continue;
    auto* id = r.add_delete_sas();
    id->set_spi(std::get<1>(key));
    id->set_direction(std::get<0>(key) ? v1::DIRECTION_OUTBOUND : v1::DIRECTION_INBOUND);
    id->set_tunnel_local(std::get<2>(key));
  }
  for (const auto& sa : state.sas())
    *(sas_.count(key_of(sa)) ? r.add_update_sas() : r.add_add_sas()) = sa;
  std::set<std::string> names;
  for (const auto& p : state.policies()) names.insert(p.name());
  for (const auto& p : policies_)
    if (!names.count(p.name())) r.add_delete_policies(p.name());
  *r.mutable_set_policies() = state.policies();
  // Connections: those of the state that are not live already.
  for (const auto& c : state.connections()) {
    auto local = net::IpAddress::parse(c.local_address());
    auto peer = net::IpAddress::parse(c.peer_address());
    if (local && peer &&
        gw_.connections().lookup_flow({*local, *peer, static_cast<uint16_t>(c.local_port()),
                                       static_cast<uint16_t>(c.peer_port())}) != ctcp::kNoConn) {
      continue;
    }
    *r.add_add_connections() = c;
  }
  *r.mutable_listeners() = state.listeners();
  *r.mutable_tcp_peers() = state.tcp_peers();
  return apply_locked(r);
}

v1::DataplaneState StateStore::dump() {
  std::lock_guard lock(mu_);
  v1::DataplaneState st;
  std::map<uint32_t, uint64_t> sent;
  if (IpsecState* ips = gw_.ipsec()) {
    ips->for_each_outbound([&](OutboundSa& sa) {
      sent[sa.esp.spi] = std::atomic_ref<uint64_t>(sa.esp.seq).load(std::memory_order_relaxed);
    });
  }
  for (const auto& [key, def] : sas_) {
    v1::SecurityAssociation* sa = st.add_sas();
    *sa = def.sa;
    if (std::get<0>(key)) sa->set_last_sequence(std::max(sa->last_sequence(), sent[sa->spi()]));
  }
  for (const auto& p : policies_) *st.add_policies() = p;
  auto& table = gw_.connections();
  table.for_each([&](ctcp::ConnId id, ctcp::Connection& c) {
    if (c.state.load(std::memory_order_acquire) != ctcp::ConnState::kEstablished) return;
    v1::PseudoTcpConnection* out = st.add_connections();
    out->set_local_address(c.key.local.to_string());
    out->set_peer_address(c.key.peer.to_string());
    out->set_local_port(c.key.local_port);
    out->set_peer_port(c.key.peer_port);
    out->set_send_next(c.snd_nxt.load(std::memory_order_relaxed));
    out->set_receive_next(c.rcv_nxt.load(std::memory_order_relaxed));
    for (const auto& ike : c.ike) {
      uint64_t spi = std::atomic_ref<const uint64_t>(ike.initiator).load(std::memory_order_relaxed);
      if (spi != 0) out->add_ike_initiator_spis(spi);
    }
    for (uint32_t spi : table.esp_spis(id)) out->add_esp_spis(spi);
  });
  *st.mutable_listeners() = listeners_;
  *st.mutable_tcp_peers() = peers_;
  return st;
}

v1::ListSasReply StateStore::list_sas() {
  std::lock_guard lock(mu_);
  v1::ListSasReply reply;
  IpsecState* ips = gw_.ipsec();
  if (!ips) return reply;
  reply.set_capacity(ips->capacity());
  uint64_t now = rte_rdtsc();
  double hz = static_cast<double>(gw_.tsc_hz());
  struct Live {
    unsigned worker;
    uint64_t packets, bytes, seq;
    bool soft, hard;
    uint64_t installed;
  };
  std::map<SaMapKey, Live> live;
  auto relaxed = [](const auto& v) {
    return std::atomic_ref<std::remove_cvref_t<decltype(v)>>(
               const_cast<std::remove_cvref_t<decltype(v)>&>(v))
        .load(std::memory_order_relaxed);
  };
  ips->for_each_outbound([&](OutboundSa& sa) {
    const auto& e = sa.esp;
    uint64_t packets = relaxed(e.packets), bytes = relaxed(e.bytes), seq = relaxed(e.seq);
    bool hard = packets >= e.lifetime.hard_packets || bytes >= e.lifetime.hard_bytes ||
                seq == (e.esn ? ~uint64_t{0} : uint64_t{0xffffffff});
    live[{true, e.spi, ""}] = {
        sa.owner, packets, bytes, seq, relaxed(e.soft_expired), hard, sa.times.installed_tsc};
  });
  ips->for_each_inbound([&](const sad::SaKey& key, InboundSa& sa) {
    const auto& e = sa.esp;
    uint64_t packets = relaxed(e.packets), bytes = relaxed(e.bytes);
    bool hard = packets >= e.lifetime.hard_packets || bytes >= e.lifetime.hard_bytes;
    live[{false, key.spi, key.has_local() ? key.local.to_string() : ""}] = {sa.owner,
                                                                            packets,
                                                                            bytes,
                                                                            e.window.top(),
                                                                            relaxed(e.soft_expired),
                                                                            hard,
                                                                            sa.times.installed_tsc};
  });
  for (const auto& [key, def] : sas_) {
    const auto& sa = def.sa;
    v1::SaInfo* info = reply.add_sas();
    info->set_spi(sa.spi());
    info->set_direction(sa.direction());
    info->set_name(sa.name());
    info->set_mode(sa.mode());
    info->set_algorithm(sa.algorithm());
    info->set_tunnel_local(sa.tunnel_local());
    info->set_tunnel_peer(sa.tunnel_peer());
    info->set_encapsulation(sa.encapsulation().has_udp()          ? "udp"
                            : sa.encapsulation().has_pseudo_tcp() ? "pseudo_tcp"
                                                                  : "plain");
    auto it = live.find(key);
    if (it == live.end()) continue;
    const Live& l = it->second;
    info->set_worker(l.worker);
    info->set_packets(l.packets);
    info->set_bytes(l.bytes);
    info->set_sequence(l.seq);
    info->set_soft_expired(l.soft);
    info->set_hard_expired(l.hard);
    info->set_age_s(static_cast<double>(now - l.installed) / hz);
  }
  return reply;
}

v1::ListPoliciesReply StateStore::list_policies() {
  std::lock_guard lock(mu_);
  v1::ListPoliciesReply reply;
  std::vector<v1::Policy> sorted = policies_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const v1::Policy& a, const v1::Policy& b) {
    return std::make_pair(a.direction(), a.priority()) <
           std::make_pair(b.direction(), b.priority());
  });
  for (auto& p : sorted) *reply.add_policies() = std::move(p);
  return reply;
}

std::vector<uint32_t> StateStore::allocate_spis(uint32_t count) {
  std::lock_guard lock(mu_);
  uint64_t now = rte_rdtsc();
  std::erase_if(reserved_spis_, [&](const auto& e) { return e.second < now; });
  std::vector<uint32_t> out;
  while (out.size() < count) {
    uint32_t spi = static_cast<uint32_t>(rte_rand());
    if (spi < esp::kMinSpi || reserved_spis_.count(spi)) continue;
    bool used = false;
    for (const auto& [key, def] : sas_) used |= !std::get<0>(key) && std::get<1>(key) == spi;
    if (used) continue;
    reserved_spis_[spi] = now + 60 * gw_.tsc_hz();
    out.push_back(spi);
  }
  return out;
}

std::vector<SaLifetimeEvent> StateStore::check_lifetimes() {
  std::lock_guard lock(mu_);
  std::vector<SaLifetimeEvent> events;
  IpsecState* ips = gw_.ipsec();
  if (!ips) return events;
  uint64_t now = rte_rdtsc();
  uint64_t hz = gw_.tsc_hz();
  struct Seen {
    const char* soft = nullptr;
    const char* hard = nullptr;
    bool time_hard = false;
  };
  std::map<SaMapKey, Seen> seen;
  // Which limit was crossed, from the counters (the worker's flag says only
  // that one was).
  auto classify = [&](Seen& s, bool soft_flag, uint64_t packets, uint64_t bytes,
                      const esp::Lifetime& l, const SaTimes& t) {
    uint64_t age = now - t.installed_tsc;
    if (soft_flag) s.soft = packets >= l.soft_packets ? "packets" : "bytes";
    if (t.soft_seconds && age >= t.soft_seconds * hz && !s.soft) s.soft = "seconds";
    if (packets >= l.hard_packets) s.hard = "packets";
    if (bytes >= l.hard_bytes) s.hard = "bytes";
    if (t.hard_seconds && age >= t.hard_seconds * hz) s.time_hard = true;
  };
  ips->for_each_outbound([&](OutboundSa& sa) {
    Seen& s = seen[{true, sa.esp.spi, ""}];
    const auto& e = sa.esp;
    uint64_t packets = std::atomic_ref<const uint64_t>(e.packets).load(std::memory_order_relaxed);
    uint64_t bytes = std::atomic_ref<const uint64_t>(e.bytes).load(std::memory_order_relaxed);
    uint64_t seq = std::atomic_ref<const uint64_t>(e.seq).load(std::memory_order_relaxed);
    bool soft = std::atomic_ref<const bool>(e.soft_expired).load(std::memory_order_relaxed);
    classify(s, soft, packets, bytes, e.lifetime, sa.times);
    if (seq == (e.esn ? ~uint64_t{0} : uint64_t{0xffffffff})) s.hard = "sequence";
  });
  ips->for_each_inbound([&](const sad::SaKey& key, InboundSa& sa) {
    Seen& s = seen[{false, key.spi, key.has_local() ? key.local.to_string() : ""}];
    const auto& e = sa.esp;
    uint64_t packets = std::atomic_ref<const uint64_t>(e.packets).load(std::memory_order_relaxed);
    uint64_t bytes = std::atomic_ref<const uint64_t>(e.bytes).load(std::memory_order_relaxed);
    bool soft = std::atomic_ref<const bool>(e.soft_expired).load(std::memory_order_relaxed);
    classify(s, soft, packets, bytes, e.lifetime, sa.times);
  });
  std::vector<SaMapKey> expired;
  for (auto& [key, def] : sas_) {
    auto it = seen.find(key);
    if (it == seen.end()) continue;
    const Seen& s = it->second;
    SaLifetimeEvent ev{false, std::get<1>(key), std::get<0>(key), std::get<2>(key), ""};
    if (s.soft && !def.soft_reported) {
      def.soft_reported = true;
      ev.limit = s.soft;
      events.push_back(ev);
    }
    if ((s.hard || s.time_hard) && !def.hard_reported) {
      def.hard_reported = true;
      ev.hard = true;
      ev.limit = s.time_hard ? "seconds" : s.hard;
      events.push_back(ev);
      if (s.time_hard) expired.push_back(key);
    }
  }
  // Past a hard time limit an SA passes no traffic: it goes now.
  for (const auto& key : expired) {
    auto [outbound, spi, local] = key;
    sad::SaKey k = sad::SaKey::of(spi);
    if (!local.empty()) k = sad::SaKey::of(spi, *net::IpAddress::parse(local));
    ips->remove(outbound, k);
    sas_.erase(key);
  }
  return events;
}

}  // namespace tcpsec::pipeline
