#include "dataplane/pipeline/ipsec_state.h"

#include <algorithm>
#include <span>

#include "dataplane/sad/sa_params.h"

namespace tcpsec::pipeline {

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

esp::Lifetime lifetime_of(const v1::SecurityAssociation& sa) {
  esp::Lifetime l;
  if (sa.soft().packets()) l.soft_packets = sa.soft().packets();
  if (sa.hard().packets()) l.hard_packets = sa.hard().packets();
  if (sa.soft().bytes()) l.soft_bytes = sa.soft().bytes();
  if (sa.hard().bytes()) l.hard_bytes = sa.hard().bytes();
  return l;
}

// Sequence numbers left unused when an outbound SA is replaced: its worker
// may still send a burst or two from the old record after the swap.
constexpr uint64_t kReplaceSequenceGap = 1024;

}  // namespace

IpsecState::~IpsecState() = default;

void IpsecState::free_outbound(void* self, sad::SaIndex i) {
  static_cast<IpsecState*>(self)->out_[i].reset();
}

void IpsecState::free_inbound(void* self, sad::SaIndex i) {
  static_cast<IpsecState*>(self)->in_[i].reset();
}

Expected<std::unique_ptr<IpsecState>> IpsecState::create(const Options& options) {
  std::unique_ptr<IpsecState> st(new IpsecState());
  st->workers_ = std::max(1u, options.workers);
  sad::SaTable::Options topts;
  topts.max_sas = std::max<uint32_t>(64, options.max_sas);
  topts.max_readers = st->workers_;
  topts.on_free_context = st.get();

  topts.name = "sad-in";
  topts.on_free = &IpsecState::free_inbound;
  auto in = sad::SaTable::create(topts);
  if (!in) return Status::error("inbound SA table: " + in.error());
  st->in_table_ = std::move(*in);
  st->in_.resize(topts.max_sas);
  st->in_owner_.resize(topts.max_sas);

  topts.name = "sad-out";
  topts.on_free = &IpsecState::free_outbound;
  auto out = sad::SaTable::create(topts);
  if (!out) return Status::error("outbound SA table: " + out.error());
  st->out_table_ = std::move(*out);
  st->out_.resize(topts.max_sas);

  spd::SpdPublisher::Options popts;
  popts.max_readers = st->workers_;
  auto publisher = spd::SpdPublisher::create(popts);
  if (!publisher) return Status::error("SPD: " + publisher.error());
  st->spd_ = std::move(*publisher);
  if (auto s = st->spd_->update({}); !s) return Status::error("SPD: " + s.message());
  return st;
}

Expected<PreparedSa> IpsecState::prepare(const v1::SecurityAssociation& sa, unsigned owner,
                                         uint64_t now_tsc) {
  auto keys = std::make_unique<crypto::SaCrypto>();
  auto algorithm = sad::esp_algorithm(sa.algorithm());
  if (!algorithm) return Status::error("algorithm: not an ESP algorithm");
  if (auto s = keys->install(algorithm->algorithm, bytes_of(sa.encryption_key()),
                             bytes_of(sa.integrity_key()));
      !s) {
    return s;
  }
  SaTimes times{now_tsc, sa.soft().seconds(), sa.hard().seconds()};
  esp::EspMode mode =
      sa.mode() == v1::MODE_TRANSPORT ? esp::EspMode::kTransport : esp::EspMode::kTunnel;
  PreparedSa p;
  if (sa.direction() == v1::DIRECTION_OUTBOUND) {
    auto out = std::make_unique<OutboundSa>();
    esp::EspSaOutConfig c;
    c.spi = sa.spi();
    c.mode = mode;
    c.esn = sa.esn();
    c.lifetime = lifetime_of(sa);
    c.last_seq = sa.last_sequence();
    if (mode == esp::EspMode::kTunnel) {
      auto local = net::IpAddress::parse(sa.tunnel_local());
      auto peer = net::IpAddress::parse(sa.tunnel_peer());
      if (!local || !peer) return Status::error("bad tunnel endpoints");
      c.tunnel_source = out->local = *local;
      c.tunnel_destination = out->peer = *peer;
    }
    if (auto s = out->esp.init(c, *keys); !s) return s;
    const auto& e = sa.encapsulation();
    if (e.has_udp()) {
      out->encap = OuterEncap::kUdp;
      out->local_port = static_cast<uint16_t>(e.udp().local_port() ? e.udp().local_port() : 4500);
      out->peer_port = static_cast<uint16_t>(e.udp().peer_port() ? e.udp().peer_port() : 4500);
    } else if (e.has_pseudo_tcp()) {
      out->encap = OuterEncap::kPseudoTcp;
      out->local_port = static_cast<uint16_t>(e.pseudo_tcp().local_port());
      out->peer_port = static_cast<uint16_t>(e.pseudo_tcp().peer_port());
    }
    out->owner = owner;
    out->times = times;
    out->keys = std::move(keys);
    p.outbound = true;
    p.key = sad::SaKey::of(sa.spi());
    p.out = std::move(out);
    return p;
  }
  esp::EspSaInConfig c;
  c.spi = sa.spi();
  c.mode = mode;
  c.esn = sa.esn();
  if (sa.replay_window()) c.replay_window = sa.replay_window();
  c.lifetime = lifetime_of(sa);
  auto in = std::make_unique<InboundSa>();
  if (auto s = in->esp.init(c, *keys); !s) return s;
  if (sa.has_selector()) {
    auto sel = spd::selector_from_proto(sa.selector());
    if (!sel) return Status::error("selector: " + sel.error());
    in->selector = std::move(*sel);
    in->has_selector = true;
  }
  in->owner = owner;
  in->times = times;
  in->keys = std::move(keys);
  net::IpAddress local;
  if (!sa.tunnel_local().empty()) {
    if (auto a = net::IpAddress::parse(sa.tunnel_local())) local = *a;
  }
  p.key = local.family == net::IpFamily::kNone ? sad::SaKey::of(sa.spi())
                                               : sad::SaKey::of(sa.spi(), local);
  p.in = std::move(in);
  return p;
}

Status IpsecState::add(PreparedSa sa) {
  if (sa.outbound) {
    auto idx = out_table_->add(sa.key, [&](sad::SaIndex i) { out_[i] = std::move(sa.out); });
    return idx ? Status::ok() : idx.status();
  }
  auto idx = in_table_->add(sa.key, [&](sad::SaIndex i) {
    in_owner_[i] = static_cast<uint16_t>(sa.in->owner);
    in_[i] = std::move(sa.in);
  });
  return idx ? Status::ok() : idx.status();
}

Status IpsecState::replace(PreparedSa sa) {
  if (sa.outbound) {
    sad::SaIndex old = out_table_->lookup_exact(sa.key);
    if (old == sad::kNoSa) return Status::error("not installed");
    const OutboundSa& before = *out_[old];
    // The owner writes `seq`: a relaxed read of a value it only increases.
    uint64_t sent = std::atomic_ref<const uint64_t>(before.esp.seq).load(std::memory_order_relaxed);
    OutboundSa& next = *sa.out;
    next.owner = before.owner;
    next.esp.seq = std::max(next.esp.seq, sent + kReplaceSequenceGap);
    next.esp.packets = before.esp.packets;
    next.esp.bytes = before.esp.bytes;
    next.times.installed_tsc = before.times.installed_tsc;
    auto idx = out_table_->replace(sa.key, [&](sad::SaIndex i) { out_[i] = std::move(sa.out); });
    return idx ? Status::ok() : idx.status();
  }
  sad::SaIndex old = in_table_->lookup_exact(sa.key);
  if (old == sad::kNoSa) return Status::error("not installed");
  const InboundSa& before = *in_[old];
  InboundSa& next = *sa.in;
  next.owner = before.owner;
  // A packet accepted by the old record in the instant of the copy may be
  // accepted once more by the new one; a window reset would accept them all.
  if (next.esp.window.size() == before.esp.window.size()) next.esp.window = before.esp.window;
  next.esp.packets = before.esp.packets;
  next.esp.bytes = before.esp.bytes;
  next.times.installed_tsc = before.times.installed_tsc;
  auto idx = in_table_->replace(sa.key, [&](sad::SaIndex i) { in_[i] = std::move(sa.in); });
  return idx ? Status::ok() : idx.status();
}

Status IpsecState::remove(bool outbound, const sad::SaKey& key) {
  return (outbound ? out_table_ : in_table_)->remove(key);
}

Status IpsecState::set_policies(std::span<const spd::Policy> policies) {
  return spd_->update(policies);
}

Status IpsecState::register_reader(unsigned id) {
  if (auto s = in_table_->register_reader(id); !s) return s;
  if (auto s = out_table_->register_reader(id); !s) return s;
  return spd_->register_reader(id);
}

void IpsecState::quiescent(unsigned id) {
  in_table_->quiescent(id);
  out_table_->quiescent(id);
  spd_->quiescent(id);
}

void IpsecState::unregister_reader(unsigned id) {
  in_table_->unregister_reader(id);
  out_table_->unregister_reader(id);
  spd_->unregister_reader(id);
}

}  // namespace tcpsec::pipeline
