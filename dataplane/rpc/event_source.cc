#include "dataplane/rpc/event_source.h"

#include <cctype>
#include <cinttypes>
#include <cstdio>

#include <rte_cycles.h>

namespace tcpsec::rpc {

namespace {

const char* reason_name(pipeline::CloseReason r) {
  switch (r) {
    case pipeline::CloseReason::kReset:
      return "reset";
    case pipeline::CloseReason::kFin:
      return "fin";
    case pipeline::CloseReason::kIdle:
      return "idle";
    case pipeline::CloseReason::kGrace:
      return "grace";
    case pipeline::CloseReason::kHandshakeTimeout:
      return "handshake_timeout";
    case pipeline::CloseReason::kDeleted:
      return "deleted";
    case pipeline::CloseReason::kNone:
      break;
  }
  return "";
}

v1::EventType type_of(pipeline::ControlEventType t) {
  switch (t) {
    case pipeline::ControlEventType::kConnectionEstablished:
      return v1::EVENT_TYPE_CONNECTION_ESTABLISHED;
    case pipeline::ControlEventType::kConnectionClosed:
      return v1::EVENT_TYPE_CONNECTION_CLOSED;
    case pipeline::ControlEventType::kHandshakeFailed:
      return v1::EVENT_TYPE_HANDSHAKE_FAILED;
    case pipeline::ControlEventType::kNone:
      break;
  }
  return v1::EVENT_TYPE_UNSPECIFIED;
}

}  // namespace

std::vector<v1::Event> collect_events(pipeline::Gateway& gw, pipeline::StateStore& store,
                                      uint64_t started_tsc) {
  std::vector<v1::Event> out;
  const double hz = static_cast<double>(gw.tsc_hz());
  pipeline::ControlEvent batch[64];
  unsigned n;
  while ((n = gw.control().take_events(batch, 64)) > 0) {
    for (unsigned i = 0; i < n; ++i) {
      const auto& e = batch[i];
      v1::Event ev;
      ev.set_type(type_of(e.type));
      ev.set_time_s(static_cast<double>(e.tsc - started_tsc) / hz);
      auto* c = ev.mutable_connection();
      c->set_local_address(e.local.to_string());
      c->set_local_port(e.local_port);
      c->set_peer_address(e.peer.to_string());
      c->set_peer_port(e.peer_port);
      ev.set_reason(reason_name(e.reason));
      out.push_back(std::move(ev));
    }
  }
  double now_s = static_cast<double>(rte_rdtsc() - started_tsc) / hz;
  for (const auto& e : store.check_lifetimes()) {
    v1::Event ev;
    ev.set_type(e.hard ? v1::EVENT_TYPE_SA_HARD_EXPIRED : v1::EVENT_TYPE_SA_SOFT_EXPIRED);
    ev.set_time_s(now_s);
    ev.mutable_sa()->set_spi(e.spi);
    ev.mutable_sa()->set_direction(e.outbound ? v1::DIRECTION_OUTBOUND : v1::DIRECTION_INBOUND);
    ev.mutable_sa()->set_tunnel_local(e.tunnel_local);
    ev.set_limit(e.limit);
    out.push_back(std::move(ev));
  }
  return out;
}

std::string describe_event(const v1::Event& e) {
  char b[256];
  // "EVENT_TYPE_HANDSHAKE_FAILED" -> "handshake_failed".
  std::string type = v1::EventType_Name(e.type());
  if (type.rfind("EVENT_TYPE_", 0) == 0) type.erase(0, 11);
  for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (e.has_sa()) {
    std::snprintf(b, sizeof b, "event: %s %s spi=0x%08" PRIx32 " limit=%s", type.c_str(),
                  v1::Direction_Name(e.sa().direction()).c_str(), e.sa().spi(), e.limit().c_str());
  } else {
    const auto& c = e.connection();
    std::snprintf(b, sizeof b, "event: %s local=%s:%u peer=%s:%u reason=%s", type.c_str(),
                  c.local_address().c_str(), c.local_port(), c.peer_address().c_str(),
                  c.peer_port(), e.reason().c_str());
  }
  return b;
}

}  // namespace tcpsec::rpc
