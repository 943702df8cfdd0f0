#include "controlplane/daemon/ike_daemon.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <future>
#include <set>

#include "controlplane/ikesa/child_rekey.h"
#include "controlplane/ikesa/config_payload.h"
#include "controlplane/ikesa/ike_auth.h"
#include "controlplane/ikesa/ike_init.h"
#include "controlplane/ikesa/ike_rekey.h"
#include "controlplane/ikesa/informational.h"
#include "controlplane/message/message_codec.h"

namespace tcpsec::daemon {

using ikesa::IkeSa;
using ikesa::IkeSaState;

namespace {

constexpr uint16_t kIkePort = 500;
constexpr uint16_t kNatTPort = 4500;

uint64_t random_spi() {
  uint64_t spi = 0;
  while (spi == 0) RAND_bytes(reinterpret_cast<uint8_t*>(&spi), sizeof spi);
  return spi;
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string spi_text(uint64_t spi) {
  char b[20];
  std::snprintf(b, sizeof b, "%016" PRIx64, spi);
  return b;
}

}  // namespace

IkeDaemon::IkeDaemon(v1::GatewayConfig config, link::DataplaneLink& link)
    : config_(std::move(config)), link_(link) {
  started_ms_ = now_ms();
  RAND_bytes(cookie_secret_.data(), static_cast<int>(cookie_secret_.size()));
  for (const auto& c : config_.connections()) {
    if (c.address_pool().empty()) continue;
    auto pool = selectors::AddressPool::create(c.address_pool());
    if (pool) {
      pools_.emplace(c.name(), std::move(*pool));
    } else {  // validation refuses such a pool; stay usable anyway
      std::fprintf(stderr, "tcpsec-ike: connection %s: %s\n", c.name().c_str(),
                   pool.error().c_str());
    }
  }
}

IkeDaemon::~IkeDaemon() {
  link_.stop();
}

ike::Bytes IkeDaemon::cookie_for(const ike::Bytes& nonce_i, const std::string& peer,
                                 uint64_t spi_i) const {
  // Version (for a future secret rotation) | SHA-256(Ni | IPi | SPIi | secret).
  ike::Bytes in(nonce_i);
  in.insert(in.end(), peer.begin(), peer.end());
  for (int i = 0; i < 8; ++i) in.push_back(static_cast<uint8_t>(spi_i >> (56 - 8 * i)));
  in.insert(in.end(), cookie_secret_.begin(), cookie_secret_.end());
  ike::Bytes out(4 + SHA256_DIGEST_LENGTH, 0);
  SHA256(in.data(), in.size(), out.data() + 4);
  return out;
}

uint64_t IkeDaemon::now_ms() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void IkeDaemon::emit(const std::string& connection, const std::string& kind,
                     const std::string& message) {
  std::fprintf(stderr, "tcpsec-ike: event %s %s%s%s\n", connection.c_str(), kind.c_str(),
               message.empty() ? "" : ": ", message.c_str());
  if (sink_) {
    v1::GatewayEvent e;
    e.set_time_s(static_cast<double>(now_ms() - started_ms_) / 1000.0);
    e.set_connection(connection);
    e.set_kind(kind);
    e.set_message(message);
    sink_(e);
  }
}

ikesa::TaskContext IkeDaemon::context() {
  return ikesa::TaskContext{
      link_,
      config_,
      [this](const std::string& c, const std::string& k, const std::string& m) { emit(c, k, m); },
      now_ms(),
      &next_policy_priority_,
      &next_child_id_,
      [this](uint64_t delay_ms, v1::ApplyRequest r) {
        deferred_.push_back({now_ms() + delay_ms, std::move(r)});
      },
      &pools_};
}

void IkeDaemon::post(Work w) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(w));
  }
  cv_.notify_one();
}

Status IkeDaemon::start() {
  auto s = link_.start([this](v1::PacketIn p) { post(std::move(p)); },
                       [this](v1::Event e) { post(std::move(e)); });
  if (!s) return s;
  // TCP listeners are global to the responder role (gateway.proto).
  v1::ApplyRequest r;
  auto* listeners = r.mutable_listeners();
  for (const auto& l : config_.tcp_listeners()) {
    auto* out = listeners->add_listeners();
    out->set_address(l.address());
    for (uint32_t p : l.ports()) out->add_ports(p);
  }
  if (config_.tcp_listeners_size() > 0) {
    if (auto a = link_.apply(r); !a)
      return Status::error("installing TCP listeners: " + a.message());
  }
  for (const auto& c : config_.connections()) {
    if (c.auto_start())
      post(Command([this, name = c.name()] {
        if (auto st = initiate_now(name); !st) emit(name, "ike_down", st.message());
      }));
  }
  return Status::ok();
}

void IkeDaemon::run(const std::atomic<bool>& stop) {
  uint64_t next_tick = now_ms() + 100;
  while (!stop.load()) {
    std::deque<Work> work;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !queue_.empty(); });
      work.swap(queue_);
    }
    for (auto& w : work) {
      if (auto* p = std::get_if<v1::PacketIn>(&w)) {
        handle(*p);
      } else if (auto* c = std::get_if<Command>(&w)) {
        (*c)();
      }
      // Dataplane events (connection closed, SA expired) are logged by the
      // dataplane; rekeying on SA_SOFT_EXPIRED is future work.
    }
    if (now_ms() >= next_tick) {
      tick();
      next_tick = now_ms() + 100;
    }
  }
}

// ---- operator commands ------------------------------------------------------

Status IkeDaemon::initiate(const std::string& connection) {
  auto done = std::make_shared<std::promise<Status>>();
  auto f = done->get_future();
  post(Command([this, connection, done] { done->set_value(initiate_now(connection)); }));
  return f.get();
}

uint32_t IkeDaemon::terminate(const std::string& connection) {
  auto done = std::make_shared<std::promise<uint32_t>>();
  auto f = done->get_future();
  post(Command([this, connection, done] {
    uint32_t n = 0;
    for (auto& [spi, sa] : sas_) {
      if (sa->connection().name() != connection || sa->state() != IkeSaState::kEstablished)
        continue;
      sa->set_state(IkeSaState::kDeleting);
      queue_task(*sa, std::make_unique<ikesa::Informational>(
                          true, ikesa::Informational::Kind::kDeleteIke));
      ++n;
    }
    done->set_value(n);
  }));
  return f.get();
}

v1::ListIkeSasReply IkeDaemon::list() {
  auto done = std::make_shared<std::promise<v1::ListIkeSasReply>>();
  auto f = done->get_future();
  post(Command([this, done] {
    v1::ListIkeSasReply reply;
    for (const auto& [spi, sa] : sas_) {
      auto* info = reply.add_ike_sas();
      info->set_connection(sa->connection().name());
      info->set_initiator_spi(sa->spi_i());
      info->set_responder_spi(sa->spi_r());
      info->set_initiator(sa->initiator());
      info->set_state(ikesa::to_string(sa->state()));
      info->set_local_address(sa->path().local_address);
      info->set_remote_address(sa->path().peer_address);
      info->set_remote_id(sa->remote_id_text);
      info->set_transport(sa->path().transport == v1::TRANSPORT_PSEUDO_TCP ? "pseudo_tcp"
                          : sa->path().nat                                 ? "udp-natt"
                                                                           : "udp");
      info->set_proposal(sa->proposal_text);
      if (sa->established_ms)
        info->set_established_s(static_cast<double>(now_ms() - sa->established_ms) / 1000.0);
      for (const auto& c : sa->children) {
        auto* ci = info->add_children();
        ci->set_name(c.name);
        ci->set_spi_in(c.spi_in);
        ci->set_spi_out(c.spi_out);
        ci->set_state("INSTALLED");
        for (const auto& t : c.local_ts) ci->add_local_ts(t);
        for (const auto& t : c.remote_ts) ci->add_remote_ts(t);
        ci->set_encryption(v1::EspAlgorithm_Name(c.algorithm));
      }
    }
    done->set_value(std::move(reply));
  }));
  return f.get();
}

Expected<v1::SetConfigReply> IkeDaemon::set_config(v1::GatewayConfig config) {
  auto done = std::make_shared<std::promise<Expected<v1::SetConfigReply>>>();
  auto f = done->get_future();
  post(Command([this, config = std::move(config), done]() mutable {
    auto fail = [&](const std::string& m) { done->set_value(Status::error(m)); };
    if (config.dataplane_socket() != config_.dataplane_socket())
      return fail("dataplane_socket: cannot change while running");
    if (config.unix_socket() != config_.unix_socket())
      return fail("unix_socket: cannot change while running");
    if (config.operator_endpoint().SerializeAsString() !=
        config_.operator_endpoint().SerializeAsString())
      return fail("operator_endpoint: cannot change while running");
    v1::SetConfigReply reply;
    std::map<std::string, const v1::Connection*> next;
    for (const auto& c : config.connections()) next[c.name()] = &c;
    std::set<std::string> gone;  // removed or changed: their IKE SAs go
    for (const auto& c : config_.connections()) {
      auto it = next.find(c.name());
      if (it == next.end()) {
        reply.set_connections_removed(reply.connections_removed() + 1);
        gone.insert(c.name());
      } else if (it->second->SerializeAsString() != c.SerializeAsString()) {
        reply.set_connections_changed(reply.connections_changed() + 1);
        gone.insert(c.name());
      }
    }
    for (const auto& c : config.connections())
      if (!find_connection(c.name())) reply.set_connections_added(reply.connections_added() + 1);
    // Listeners first (the dataplane may refuse them: then nothing changed).
    auto listeners_text = [](const v1::GatewayConfig& c) {
      std::string t;
      for (const auto& l : c.tcp_listeners()) t += l.SerializeAsString() + '\n';
      return t;
    };
    if (listeners_text(config) != listeners_text(config_)) {
      v1::ApplyRequest r;
      auto* listeners = r.mutable_listeners();
      for (const auto& l : config.tcp_listeners()) {
        auto* out = listeners->add_listeners();
        out->set_address(l.address());
        for (uint32_t p : l.ports()) out->add_ports(p);
      }
      if (auto s = link_.apply(r); !s) return fail("tcp_listeners: " + s.message());
    }
    for (auto& [spi, sa] : sas_) {
      if (!gone.count(sa->connection().name()) || sa->state() == IkeSaState::kDead) continue;
      if (sa->state() == IkeSaState::kEstablished) {
        sa->set_state(IkeSaState::kDeleting);
        queue_task(*sa, std::make_unique<ikesa::Informational>(
                            true, ikesa::Informational::Kind::kDeleteIke));
      } else {
        auto ctx = context();
        ikesa::remove_children(*sa, ctx);
        sa->set_state(IkeSaState::kDead);
      }
      reply.set_ike_sas_deleted(reply.ike_sas_deleted() + 1);
    }
    std::set<std::string> existed;
    for (const auto& c : config_.connections()) existed.insert(c.name());
    config_ = std::move(config);
    pools_.clear();
    for (const auto& c : config_.connections()) {
      if (c.address_pool().empty()) continue;
      if (auto pool = selectors::AddressPool::create(c.address_pool()))
        pools_.emplace(c.name(), std::move(*pool));
    }
    for (const auto& c : config_.connections()) {
      if (c.auto_start() && (!existed.count(c.name()) || gone.count(c.name()))) {
        if (auto s = initiate_now(c.name()); !s) emit(c.name(), "ike_down", s.message());
      }
    }
    emit("", "config_applied",
         std::to_string(reply.connections_added()) + " added, " +
             std::to_string(reply.connections_removed()) + " removed, " +
             std::to_string(reply.connections_changed()) + " changed");
    done->set_value(reply);
  }));
  return f.get();
}

const v1::Connection* IkeDaemon::find_connection(const std::string& name) const {
  for (const auto& c : config_.connections())
    if (c.name() == name) return &c;
  return nullptr;
}

// A responder's connection for a new IKE SA: ours is the local address, the
// peer fits remote_address (empty or %any: anyone).
const v1::Connection* IkeDaemon::match_connection(const v1::PacketIn& p) const {
  for (const auto& c : config_.connections()) {
    if (c.local_address() != p.local_address()) continue;
    if (c.remote_address().empty() || c.remote_address() == "%any" ||
        c.remote_address() == p.peer_address())
      return &c;
  }
  return nullptr;
}

Status IkeDaemon::initiate_now(const std::string& name) {
  const v1::Connection* c = find_connection(name);
  if (!c) return Status::error("no connection named '" + name + "'");
  if (c->remote_address().empty() || c->remote_address() == "%any")
    return Status::error("connection '" + name + "' has no remote_address to initiate to");
  uint64_t spi = random_spi();
  auto sa = std::make_unique<IkeSa>(*c, true, spi);
  ikesa::PeerPath& path = sa->path();
  path.local_address = c->local_address();
  path.peer_address = c->remote_address();
  path.local_port = path.peer_port = kIkePort;
  if (c->transport().encapsulation() == v1::IKE_ENCAPSULATION_TCP) {
    path.transport = v1::TRANSPORT_PSEUDO_TCP;
    path.tcp_peer_port = static_cast<uint16_t>(c->transport().remote_tcp_port());
  }
  sa->send_initial_contact = true;
  for (const auto& [other_spi, other] : sas_) {
    if (other->connection().name() == name && other->state() != IkeSaState::kDead)
      sa->send_initial_contact = false;
  }
  IkeSa& ref = *sa;
  sas_[spi] = std::move(sa);
  emit(name, "ike_connecting",
       std::string("to ") + path.peer_address +
           (path.transport == v1::TRANSPORT_PSEUDO_TCP ? " over pseudo-TCP" : " over UDP"));
  queue_task(ref, std::make_unique<ikesa::IkeInit>(true));
  return Status::ok();
}

// ---- tasks and sending --------------------------------------------------------

void IkeDaemon::queue_task(IkeSa& sa, std::unique_ptr<ikesa::Task> task) {
  waiting_[sa.our_spi()].push_back(std::move(task));
  if (!active_.count(sa.our_spi())) next_task(sa);
}

void IkeDaemon::next_task(IkeSa& sa) {
  auto& q = waiting_[sa.our_spi()];
  if (q.empty() || active_.count(sa.our_spi())) return;
  std::unique_ptr<ikesa::Task> task = std::move(q.front());
  q.pop_front();
  auto ctx = context();
  std::vector<ike::Payload> payloads;
  if (auto s = task->build_request(sa, ctx, payloads); !s)
    return fail(sa, "ike_down", std::string(task->name()) + ": " + s.message());
  uint32_t id = sa.next_request_id;
  Expected<std::vector<ike::Bytes>> bytes = Status::error("unset");
  if (task->exchange() == ike::ExchangeType::kIkeSaInit) {
    ike::Message m;
    m.header.initiator_spi = sa.spi_i();
    m.header.exchange = ike::ExchangeType::kIkeSaInit;
    m.header.initiator = true;
    m.header.message_id = 0;
    m.payloads = std::move(payloads);
    auto one = ike::serialize(m);
    if (one) {
      sa.init_request = *one;
      bytes = std::vector<ike::Bytes>{std::move(*one)};
    } else {
      bytes = one.status();
    }
  } else {
    bytes = sa.protect_message(task->exchange(), false, id, payloads);
  }
  if (!bytes) return fail(sa, "ike_down", std::string(task->name()) + ": " + bytes.error());
  sa.pending_id = id;
  active_[sa.our_spi()] = std::move(task);
  send_request(sa, *bytes);
}

void IkeDaemon::send(IkeSa& sa, const ike::Bytes& message) {
  const ikesa::PeerPath& p = sa.path();
  v1::PacketOut out;
  out.set_transport(p.transport);
  out.set_local_address(p.local_address);
  out.set_peer_address(p.peer_address);
  out.set_local_port(p.local_port);
  out.set_peer_port(p.peer_port);
  out.set_tcp_peer_port(p.tcp_peer_port);
  out.set_ike(std::string(message.begin(), message.end()));
  if (auto s = link_.send(out); !s)
    std::fprintf(stderr, "tcpsec-ike: %s: send: %s\n", sa.connection().name().c_str(),
                 s.message().c_str());
}

void IkeDaemon::send(IkeSa& sa, const std::vector<ike::Bytes>& datagrams) {
  for (const auto& d : datagrams) send(sa, d);
}

void IkeDaemon::send_request(IkeSa& sa, const std::vector<ike::Bytes>& message) {
  sa.pending_request = message;
  sa.pending = true;
  sa.pending_sent_ms = now_ms();
  sa.pending_tries = 0;
  send(sa, message);
}

void IkeDaemon::fail(IkeSa& sa, const std::string& kind, const std::string& why) {
  emit(sa.connection().name(), kind, why);
  auto ctx = context();
  ikesa::remove_children(sa, ctx);
  sa.set_state(IkeSaState::kDead);
}

void IkeDaemon::established(IkeSa& sa) {
  sa.set_state(IkeSaState::kEstablished);
  sa.established_ms = sa.last_heard_ms = now_ms();
  emit(sa.connection().name(), "ike_up",
       spi_text(sa.spi_i()) + "_i " + spi_text(sa.spi_r()) + "_r " + sa.proposal_text + " with " +
           sa.remote_id_text);
  for (const auto& c : sa.children) {
    char b[64];
    std::snprintf(b, sizeof b, "in %08" PRIx32 " out %08" PRIx32, c.spi_in, c.spi_out);
    emit(sa.connection().name(), "child_up", b);
  }
}

void IkeDaemon::adopt(IkeSa& old, std::unique_ptr<IkeSa> next) {
  if (!next) return;
  next->set_state(IkeSaState::kEstablished);
  next->established_ms = next->last_heard_ms = now_ms();
  emit(old.connection().name(), "ike_rekeyed",
       spi_text(next->spi_i()) + "_i " + spi_text(next->spi_r()) + "_r " + next->proposal_text);
  uint64_t spi = next->our_spi();
  sas_[spi] = std::move(next);
}

void IkeDaemon::start_rekey(IkeSa& sa, bool ike) {
  sa.rekey_started_ms = now_ms();
  if (ike) {
    queue_task(sa, std::make_unique<ikesa::IkeRekey>(true));
    return;
  }
  for (const auto& c : sa.children) {
    if (!c.rekeyed && !c.awaiting_switch)
      queue_task(sa, std::make_unique<ikesa::ChildRekey>(true, c.spi_in));
  }
}

Status IkeDaemon::rekey(const std::string& connection, bool ike) {
  auto done = std::make_shared<std::promise<Status>>();
  auto f = done->get_future();
  post(Command([this, connection, ike, done] {
    uint32_t n = 0;
    for (auto& [spi, sa] : sas_) {
      if (sa->connection().name() != connection || sa->state() != IkeSaState::kEstablished ||
          sa->rekeyed_away)
        continue;
      start_rekey(*sa, ike);
      ++n;
    }
    done->set_value(n ? Status::ok()
                      : Status::error("connection '" + connection + "' has no established IKE SA"));
  }));
  return f.get();
}

// The peer says it has no other IKE SA with us (it restarted): the ones we
// still hold for its identity are stale; they go without a delete exchange.
void IkeDaemon::initial_contact(IkeSa& sa) {
  auto ctx = context();
  std::vector<uint64_t> stale;
  for (auto& [spi, other] : sas_) {
    if (other.get() == &sa || other->state() == IkeSaState::kDead ||
        other->connection().name() != sa.connection().name() ||
        other->remote_id_text != sa.remote_id_text) {
      continue;
    }
    ikesa::remove_children(*other, ctx);
    other->set_state(IkeSaState::kDead);
    stale.push_back(spi);
    emit(sa.connection().name(), "ike_down",
         "INITIAL_CONTACT from " + sa.remote_id_text + ": stale IKE SA " + spi_text(spi) +
             " removed");
  }
  for (uint64_t spi : stale) forget(spi);
}

void IkeDaemon::forget(uint64_t our_spi) {
  if (auto it = sas_.find(our_spi); it != sas_.end() && !it->second->rekeyed_away) {
    auto ctx = context();
    ikesa::release_address(*it->second, ctx);
  }
  active_.erase(our_spi);
  waiting_.erase(our_spi);
  std::erase_if(half_open_, [&](const auto& e) { return e.second == our_spi; });
  sas_.erase(our_spi);
}

// ---- receiving ------------------------------------------------------------------

void IkeDaemon::handle(v1::PacketIn& p) {
  std::span<const uint8_t> bytes = bytes_of(p.ike());
  ike::ParseError perr;
  auto h = ike::parse_header(bytes, &perr);
  if (!h) {
    std::fprintf(stderr, "tcpsec-ike: dropped a message from %s: %s\n", p.peer_address().c_str(),
                 h.error().c_str());
    return;
  }
  // Our SPI is the responder's in messages from the original initiator.
  uint64_t ours = h->initiator ? h->responder_spi : h->initiator_spi;
  if (h->exchange == ike::ExchangeType::kIkeSaInit && !h->response && h->responder_spi == 0) {
    return handle_new_sa(*h, bytes, p);
  }
  auto it = sas_.find(ours);
  if (it == sas_.end()) {
    std::fprintf(stderr, "tcpsec-ike: dropped %s from %s: no IKE SA %s\n",
                 ike::to_string(h->exchange).c_str(), p.peer_address().c_str(),
                 spi_text(ours).c_str());
    return;
  }
  IkeSa& sa = *it->second;
  if (sa.state() == IkeSaState::kDead) return;
  if (p.peer_address() != sa.path().peer_address) return;  // MOBIKE is not supported
  sa.last_heard_ms = now_ms();
  if (h->response) {
    handle_response(sa, *h, bytes);
  } else {
    handle_request(sa, *h, bytes, p);
  }
  if (sa.state() == IkeSaState::kDead) forget(sa.our_spi());
}

void IkeDaemon::handle_new_sa(const ike::Header& h, std::span<const uint8_t> bytes,
                              const v1::PacketIn& p) {
  auto key = std::make_pair(p.peer_address(), h.initiator_spi);
  if (auto it = half_open_.find(key); it != half_open_.end()) {
    auto sa = sas_.find(it->second);
    // Our response was lost: the IKE_SA_INIT response again (not
    // last_response, which is IKE_AUTH's once that has been answered).
    if (sa != sas_.end() && !sa->second->init_response.empty())
      send(*sa->second, sa->second->init_response);
    return;
  }
  auto message = ike::parse(bytes);
  if (!message) {
    std::fprintf(stderr, "tcpsec-ike: IKE_SA_INIT from %s: %s\n", p.peer_address().c_str(),
                 message.error().c_str());
    return;
  }
  const v1::Connection* c = match_connection(p);
  auto answer_error = [&](ike::NotifyType type, const ike::Bytes& data) {
    ike::Message m;
    m.header = h;
    m.header.response = true;
    m.header.initiator = false;
    m.header.responder_spi = 0;
    m.payloads.push_back(ikesa::notify_payload(type, data));
    auto out = ike::serialize(m);
    if (!out) return;
    IkeSa tmp(c ? *c : v1::Connection{}, false, 0);
    tmp.path().local_address = p.local_address();
    tmp.path().peer_address = p.peer_address();
    tmp.path().local_port = static_cast<uint16_t>(p.local_port());
    tmp.path().peer_port = static_cast<uint16_t>(p.peer_port());
    tmp.path().transport = p.transport();
    send(tmp, *out);
  };
  if (!c) {
    std::fprintf(stderr, "tcpsec-ike: IKE_SA_INIT from %s to %s: no connection matches\n",
                 p.peer_address().c_str(), p.local_address().c_str());
    return answer_error(ike::NotifyType::kNoProposalChosen, {});
  }
  // Under load (too many half-open SAs), a new SA costs the initiator a
  // round trip first: the COOKIE proves it receives at its address, and we
  // keep no state until it comes back (RFC 7296 2.6).
  const uint32_t threshold =
      config_.timers().cookie_threshold() ? config_.timers().cookie_threshold() : 100;
  size_t half_open = 0;
  for (const auto& [spi, other] : sas_)
    half_open += !other->initiator() && other->state() == IkeSaState::kConnecting;
  if (half_open >= threshold) {
    const ike::Payload* nonce = message->find(ike::PayloadType::kNonce);
    if (!nonce) return answer_error(ike::NotifyType::kInvalidSyntax, {});
    ike::Bytes expected =
        cookie_for(nonce->get<ike::Nonce>()->data, p.peer_address(), h.initiator_spi);
    const ike::Notify* cookie = message->find_notify(ike::NotifyType::kCookie);
    if (!cookie || cookie->data != expected) {
      std::fprintf(stderr, "tcpsec-ike: %zu half-open IKE SAs: COOKIE required from %s\n",
                   half_open, p.peer_address().c_str());
      return answer_error(ike::NotifyType::kCookie, expected);
    }
  }
  uint64_t spi = random_spi();
  auto sa = std::make_unique<IkeSa>(*c, false, spi);
  sa->set_spi_i(h.initiator_spi);
  ikesa::PeerPath& path = sa->path();
  path.local_address = p.local_address();
  path.peer_address = p.peer_address();
  path.local_port = static_cast<uint16_t>(p.local_port());
  path.peer_port = static_cast<uint16_t>(p.peer_port());
  path.transport = p.transport();
  sa->init_request.assign(bytes.begin(), bytes.end());
  ikesa::IkeInit task(false);
  auto ctx = context();
  std::vector<ike::Payload> out;
  ikesa::TaskError error;
  if (!task.respond(*sa, ctx, message->payloads, out, error)) {
    emit(c->name(),
         error.notify == ike::NotifyType::kInvalidKePayload ? "invalid_ke" : "no_proposal",
         error.message);
    return answer_error(error.notify, error.notify_data);
  }
  ike::Message m;
  m.header = h;
  m.header.responder_spi = spi;
  m.header.response = true;
  m.header.initiator = false;
  m.payloads = std::move(out);
  auto response = ike::serialize(m);
  if (!response) {
    std::fprintf(stderr, "tcpsec-ike: IKE_SA_INIT response: %s\n", response.error().c_str());
    return;
  }
  sa->init_response = *response;
  sa->last_response = {*response};
  sa->last_response_id = 0;
  sa->expected_request_id = 1;
  sa->last_heard_ms = now_ms();
  send(*sa, *response);
  half_open_[key] = spi;
  sas_[spi] = std::move(sa);
}

void IkeDaemon::handle_request(IkeSa& sa, const ike::Header& h, std::span<const uint8_t> bytes,
                               const v1::PacketIn& p) {
  if (h.message_id + 1 == sa.expected_request_id && !sa.last_response.empty()) {
    // A retransmission: our response was lost. Answered from the cache to
    // the SA's ports (the copy is not authenticated: it moves nothing).
    std::fprintf(stderr, "tcpsec-ike: %s: request %u again (%s): resending our response\n",
                 sa.connection().name().c_str(), h.message_id, ike::to_string(h.exchange).c_str());
    send(sa, sa.last_response);
    return;
  }
  if (h.message_id != sa.expected_request_id) {
    // RFC 7296 2.3: outside the window (old, or ahead of it): drop.
    std::fprintf(stderr, "tcpsec-ike: %s: dropped %s request with message ID %u (expecting %u)\n",
                 sa.connection().name().c_str(), ike::to_string(h.exchange).c_str(), h.message_id,
                 sa.expected_request_id);
    return;
  }
  auto received = sa.receive(bytes);
  if (!received) {
    // Unauthenticated: no answer (RFC 7296 2.21.2).
    std::fprintf(stderr, "tcpsec-ike: %s: request %u: %s\n", sa.connection().name().c_str(),
                 h.message_id, received.error().c_str());
    return;
  }
  if (!*received) return;  // an IKE fragment; the rest is on its way
  auto inner = std::move(*received);
  // Authentic: the peer moves IKE to 4500 after NAT detection; answer where
  // it asks (only now: a forged copy must not redirect us, RFC 7296 2.23).
  sa.path().local_port = static_cast<uint16_t>(p.local_port());
  sa.path().peer_port = static_cast<uint16_t>(p.peer_port());
  std::unique_ptr<ikesa::Task> task;
  switch (h.exchange) {
    case ike::ExchangeType::kIkeAuth:
      if (sa.initiator() || sa.state() != IkeSaState::kConnecting) return;
      task = std::make_unique<ikesa::IkeAuth>(false);
      break;
    case ike::ExchangeType::kInformational:
      task = std::make_unique<ikesa::Informational>(false);
      break;
    case ike::ExchangeType::kCreateChildSa:
      if (sa.state() != IkeSaState::kEstablished) break;
      if (ikesa::is_ike_rekey(*inner)) {
        task = std::make_unique<ikesa::IkeRekey>(false);
      } else {
        // A Child SA rekey (REKEY_SA) or an additional Child SA.
        task = std::make_unique<ikesa::ChildRekey>(false);
      }
      break;
    default:
      break;
  }
  std::vector<ike::Payload> out;
  ikesa::TaskError error;
  bool ok = true;
  auto ctx = context();
  if (task) {
    ok = task->respond(sa, ctx, *inner, out, error);
    if (!ok) out = {ikesa::notify_payload(error.notify, error.notify_data)};
  } else {
    // An exchange we do not answer in this state (e.g. CREATE_CHILD_SA
    // before the IKE SA is up).
    out = {ikesa::notify_payload(ike::NotifyType::kNoAdditionalSas)};
  }
  auto response = sa.protect_message(h.exchange, true, h.message_id, out);
  if (!response) {
    std::fprintf(stderr, "tcpsec-ike: %s: response: %s\n", sa.connection().name().c_str(),
                 response.error().c_str());
    return;
  }
  sa.last_response = *response;
  sa.last_response_id = h.message_id;
  sa.expected_request_id = h.message_id + 1;
  send(sa, *response);
  if (h.exchange == ike::ExchangeType::kIkeAuth) {
    if (ok && ike::find_notify(*inner, ike::NotifyType::kInitialContact)) initial_contact(sa);
    if (ok) {
      established(sa);
    } else {
      fail(sa, "ike_down", error.message);
    }
  } else if (h.exchange == ike::ExchangeType::kInformational && sa.state() == IkeSaState::kDead) {
    if (!sa.rekeyed_away) emit(sa.connection().name(), "ike_down", "deleted by the peer");
  } else if (h.exchange == ike::ExchangeType::kCreateChildSa && task && !ok) {
    emit(sa.connection().name(), "rekey_refused", error.message);
  } else if (h.exchange == ike::ExchangeType::kCreateChildSa && ok) {
    if (auto* rekey = dynamic_cast<ikesa::IkeRekey*>(task.get())) adopt(sa, rekey->take_new_sa());
  }
}

void IkeDaemon::handle_response(IkeSa& sa, const ike::Header& h, std::span<const uint8_t> bytes) {
  auto it = active_.find(sa.our_spi());
  if (it == active_.end() || !sa.pending || h.message_id != sa.pending_id) return;
  ikesa::Task& task = *it->second;
  auto ctx = context();
  Status result = Status::ok();
  if (task.exchange() == ike::ExchangeType::kIkeSaInit) {
    auto message = ike::parse(bytes);
    if (!message) return;  // keep retransmitting: maybe a forged reply
    if (h.responder_spi != 0) sa.set_spi_r(h.responder_spi);
    sa.init_response.assign(bytes.begin(), bytes.end());
    auto& init = static_cast<ikesa::IkeInit&>(task);
    result = init.process_response(sa, ctx, message->payloads);
    if (result && init.restart()) {
      // New DH group or a cookie: the same task sends IKE_SA_INIT again.
      sa.set_spi_r(0);
      sa.pending = false;
      std::unique_ptr<ikesa::Task> again = std::move(it->second);
      active_.erase(it);
      waiting_[sa.our_spi()].push_front(std::move(again));
      return next_task(sa);
    }
  } else {
    auto inner = sa.receive(bytes);
    if (!inner) return;   // not authentic: ignore, keep retransmitting
    if (!*inner) return;  // an IKE fragment; the rest is on its way
    result = task.process_response(sa, ctx, **inner);
  }
  sa.pending = false;
  ++sa.next_request_id;
  std::unique_ptr<ikesa::Task> done = std::move(it->second);
  active_.erase(it);
  if (!result && done->exchange() == ike::ExchangeType::kCreateChildSa) {
    // A refused or failed rekey leaves the SAs as they were; the next
    // attempt comes with the next lifetime check.
    emit(sa.connection().name(), "rekey_failed",
         std::string(done->name()) + ": " + result.message());
    return next_task(sa);
  }
  if (!result) return fail(sa, "ike_down", std::string(done->name()) + ": " + result.message());
  if (auto* rekey = dynamic_cast<ikesa::ChildRekey*>(done.get())) {
    emit(sa.connection().name(), "child_rekeyed", "");
    queue_task(sa, std::make_unique<ikesa::Informational>(
                       true, std::vector<uint32_t>{rekey->old_spi_in()}));
    return;
  }
  if (auto* rekey = dynamic_cast<ikesa::IkeRekey*>(done.get())) {
    adopt(sa, rekey->take_new_sa());
    // The old IKE SA's delete goes over the same path as the SA itself.
    queue_task(
        sa, std::make_unique<ikesa::Informational>(true, ikesa::Informational::Kind::kDeleteIke));
    return;
  }
  if (done->exchange() == ike::ExchangeType::kIkeSaInit) {
    // NAT found: IKE moves to 4500 with the non-ESP marker (RFC 7296 2.23).
    if (sa.path().nat && sa.path().transport == v1::TRANSPORT_UDP)
      sa.path().local_port = sa.path().peer_port = kNatTPort;
    queue_task(sa, std::make_unique<ikesa::IkeAuth>(true));
    return;
  }
  if (done->exchange() == ike::ExchangeType::kIkeAuth) established(sa);
  if (done->exchange() == ike::ExchangeType::kInformational &&
      static_cast<ikesa::Informational&>(*done).kind() == ikesa::Informational::Kind::kDeleteIke) {
    if (!sa.rekeyed_away) emit(sa.connection().name(), "ike_down", "deleted");
    sa.set_state(IkeSaState::kDead);
    return;
  }
  next_task(sa);
}

// ---- timers -----------------------------------------------------------------------

void IkeDaemon::tick() {
  const uint64_t now = now_ms();
  // Deferred dataplane changes (rekeyed inbound SAs) that are due.
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (it->due_ms > now) {
      ++it;
      continue;
    }
    if (auto s = link_.apply(it->request); !s)
      std::fprintf(stderr, "tcpsec-ike: removing a rekeyed inbound SA: %s\n", s.message().c_str());
    it = deferred_.erase(it);
  }
  const auto& t = config_.timers();
  const uint64_t base = t.retransmit_ms() ? t.retransmit_ms() : 1000;
  const uint32_t tries = t.retransmit_tries() ? t.retransmit_tries() : 5;
  uint64_t half_open_ms = 0;
  for (uint32_t i = 0; i <= tries; ++i) half_open_ms += base << std::min<uint32_t>(i, 6);
  std::vector<uint64_t> dead;
  for (auto& [spi, sa_ptr] : sas_) {
    IkeSa& sa = *sa_ptr;
    if (sa.pending) {
      uint64_t wait = base << std::min<uint32_t>(sa.pending_tries, 6);
      if (now - sa.pending_sent_ms < wait) continue;
      const v1::Connection& c = sa.connection();
      // `auto`: UDP got no answer; IKE_SA_INIT goes again over pseudo-TCP.
      bool init = sa.pending_id == 0 && sa.state() == IkeSaState::kConnecting;
      uint32_t fallback =
          c.transport().auto_fallback_retransmits() ? c.transport().auto_fallback_retransmits() : 2;
      if (init && c.transport().encapsulation() == v1::IKE_ENCAPSULATION_AUTO &&
          sa.path().transport == v1::TRANSPORT_UDP && sa.pending_tries + 1 >= fallback) {
        sa.path().transport = v1::TRANSPORT_PSEUDO_TCP;
        sa.path().tcp_peer_port = static_cast<uint16_t>(c.transport().remote_tcp_port());
        emit(c.name(), "fallback_to_tcp",
             "no answer over UDP after " + std::to_string(sa.pending_tries + 1) +
                 " transmissions; pseudo-TCP to port " + std::to_string(sa.path().tcp_peer_port));
        sa.pending_tries = 0;
        sa.pending_sent_ms = now;
        send(sa, sa.pending_request);
        continue;
      }
      if (sa.pending_tries >= tries) {
        fail(sa, "peer_dead",
             "no answer after " + std::to_string(sa.pending_tries + 1) + " transmissions");
        sa.restart_when_dead = true;  // a vanished peer, not a refusal
        dead.push_back(spi);
        continue;
      }
      ++sa.pending_tries;
      sa.pending_sent_ms = now;
      send(sa, sa.pending_request);
      continue;
    }
    // Rekey before expiry: the IKE SA's initiator at 90% of a lifetime, the
    // responder at 95% (fewer collisions); one attempt per minute at most.
    if (sa.state() == IkeSaState::kEstablished && !sa.rekeyed_away && !active_.count(spi) &&
        now - sa.rekey_started_ms > 60000) {
      const v1::Connection& c = sa.connection();
      const uint64_t pct = sa.initiator() ? 90 : 95;
      const uint64_t ike_after = uint64_t{c.ike_lifetime_s()} * 10 * pct;
      const uint64_t child_after = uint64_t{c.child_lifetime_s()} * 10 * pct;
      if (c.ike_lifetime_s() && now - sa.established_ms > ike_after) {
        start_rekey(sa, true);
        continue;
      }
      bool child_due = false;
      for (const auto& ch : sa.children)
        child_due |= !ch.rekeyed && c.child_lifetime_s() && now - ch.installed_ms > child_after;
      if (child_due) {
        start_rekey(sa, false);
        continue;
      }
    }
    // A half-open IKE SA (responder, IKE_SA_INIT answered, no valid
    // IKE_AUTH) is forgotten after as long as we would retransmit a request.
    if (!sa.initiator() && sa.state() == IkeSaState::kConnecting &&
        now - sa.last_heard_ms > half_open_ms) {
      std::fprintf(stderr, "tcpsec-ike: %s: half-open IKE SA %s with %s expired (no IKE_AUTH)\n",
                   sa.connection().name().c_str(), spi_text(sa.our_spi()).c_str(),
                   sa.path().peer_address.c_str());
      sa.set_state(IkeSaState::kDead);
      dead.push_back(spi);
      continue;
    }
    const uint32_t dpd = sa.connection().dpd_delay_s();
    if (dpd && sa.state() == IkeSaState::kEstablished && !active_.count(spi) &&
        now - sa.last_heard_ms > uint64_t{dpd} * 1000) {
      sa.last_heard_ms = now;  // one check per interval
      queue_task(sa, std::make_unique<ikesa::Informational>(true));
    }
    if (sa.state() == IkeSaState::kDead) dead.push_back(spi);
  }
  for (uint64_t spi : dead) {
    auto it = sas_.find(spi);
    if (it == sas_.end()) continue;
    bool restart = it->second->restart_when_dead && it->second->connection().auto_start();
    std::string name = it->second->connection().name();
    forget(spi);
    if (restart) {
      if (auto s = initiate_now(name); !s) emit(name, "ike_down", s.message());
    }
  }
}

}  // namespace tcpsec::daemon
