#include "dataplane/pipeline/ipsec_state.h"

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

}  // namespace

IpsecState::~IpsecState() = default;

Expected<std::unique_ptr<IpsecState>> IpsecState::create(const v1::DataplaneConfig& config,
                                                         unsigned workers) {
  std::unique_ptr<IpsecState> st(new IpsecState());
  sad::SaTable::Options topts;
  topts.name = "sad-in";
  topts.max_sas = std::max<uint32_t>(64, static_cast<uint32_t>(config.sas_size()));
  topts.max_readers = workers;
  auto table = sad::SaTable::create(topts);
  if (!table) return Status::error("inbound SA table: " + table.error());
  st->in_table_ = std::move(*table);
  st->in_.resize(topts.max_sas);

  unsigned next_owner = 0;
  for (int i = 0; i < config.sas_size(); ++i) {
    const v1::SecurityAssociation& sa = config.sas(i);
    std::string where = "sas[" + std::to_string(i) + "]";
    auto keys = std::make_unique<crypto::SaCrypto>();
    auto algorithm = sad::esp_algorithm(sa.algorithm());
    if (!algorithm) return Status::error(where + ".algorithm: not an ESP algorithm");
    if (auto s = keys->install(algorithm->algorithm, bytes_of(sa.encryption_key()),
                               bytes_of(sa.integrity_key()));
        !s) {
      return Status::error(where + ": " + s.message());
    }
    esp::EspMode mode =
        sa.mode() == v1::MODE_TRANSPORT ? esp::EspMode::kTransport : esp::EspMode::kTunnel;
    unsigned owner = next_owner++ % std::max(1u, workers);
    if (sa.direction() == v1::DIRECTION_OUTBOUND) {
      auto out = std::make_unique<OutboundSa>();
      esp::EspSaOutConfig c;
      c.spi = sa.spi();
      c.mode = mode;
      c.esn = sa.esn();
      c.lifetime = lifetime_of(sa);
      if (mode == esp::EspMode::kTunnel) {
        auto local = net::IpAddress::parse(sa.tunnel_local());
        auto peer = net::IpAddress::parse(sa.tunnel_peer());
        if (!local || !peer) return Status::error(where + ": bad tunnel endpoints");
        c.tunnel_source = out->local = *local;
        c.tunnel_destination = out->peer = *peer;
      }
      if (auto s = out->esp.init(c, *keys); !s) return Status::error(where + ": " + s.message());
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
      st->out_index_[sa.spi()] = static_cast<uint32_t>(st->out_.size());
      st->out_.push_back(std::move(out));
    } else {
      esp::EspSaInConfig c;
      c.spi = sa.spi();
      c.mode = mode;
      c.esn = sa.esn();
      if (sa.replay_window()) c.replay_window = sa.replay_window();
      c.lifetime = lifetime_of(sa);
      auto in = std::make_unique<InboundSa>();
      if (auto s = in->esp.init(c, *keys); !s) return Status::error(where + ": " + s.message());
      if (sa.has_selector()) {
        auto sel = spd::selector_from_proto(sa.selector());
        if (!sel) return Status::error(where + ".selector: " + sel.error());
        in->selector = std::move(*sel);
        in->has_selector = true;
      }
      in->owner = owner;
      net::IpAddress local;
      if (!sa.tunnel_local().empty()) {
        if (auto a = net::IpAddress::parse(sa.tunnel_local())) local = *a;
      }
      auto idx = st->in_table_->add(local.family == net::IpFamily::kNone
                                        ? sad::SaKey::of(sa.spi())
                                        : sad::SaKey::of(sa.spi(), local));
      if (!idx) return Status::error(where + ": " + idx.error());
      st->in_[*idx] = std::move(in);
    }
    st->keys_.push_back(std::move(keys));
  }

  auto policies = spd::policies_from_config(config);
  if (!policies) return Status::error(policies.error());
  st->has_policies_ = !policies->empty();
  spd::SpdPublisher::Options popts;
  popts.max_readers = workers;
  auto publisher = spd::SpdPublisher::create(popts);
  if (!publisher) return Status::error("SPD: " + publisher.error());
  st->spd_ = std::move(*publisher);
  if (auto s = st->spd_->update(*policies); !s) return Status::error("SPD: " + s.message());
  return st;
}

Status IpsecState::register_reader(unsigned id) {
  if (auto s = in_table_->register_reader(id); !s) return s;
  return spd_->register_reader(id);
}

void IpsecState::quiescent(unsigned id) {
  in_table_->quiescent(id);
  spd_->quiescent(id);
}

void IpsecState::unregister_reader(unsigned id) {
  in_table_->unregister_reader(id);
  spd_->unregister_reader(id);
}

}  // namespace tcpsec::pipeline
