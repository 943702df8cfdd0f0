#include "dataplane/pipeline/control_channel.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <string>

namespace tcpsec::pipeline {

static_assert(sizeof(ControlEvent) % 4 == 0, "rte_ring_elem needs a multiple of 4 bytes");

namespace {

void free_all(rte_ring* r) {
  if (!r) return;
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
}

}  // namespace

Expected<std::unique_ptr<ControlChannel>> ControlChannel::create(const char* name_suffix) {
  std::unique_ptr<ControlChannel> c(new ControlChannel());
  std::string suffix = name_suffix;
  auto ring = [&](const char* base, unsigned size) -> Expected<rte_ring*> {
    std::string name = base + suffix;
    rte_ring* r = rte_ring_create(name.c_str(), size, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (!r) return Status::error("ring " + name + ": " + rte_strerror(rte_errno));
    return r;
  };
  auto punted = ring("ike_punt", kPuntRingSize);
  if (!punted) return punted.status();
  c->punted_ = *punted;
  auto injected = ring("ike_inject", kInjectRingSize);
  if (!injected) return injected.status();
  c->injected_ = *injected;
  std::string name = "events" + suffix;
  c->events_ = rte_ring_create_elem(name.c_str(), sizeof(ControlEvent), kEventRingSize,
                                    SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (!c->events_) return Status::error("ring " + name + ": " + rte_strerror(rte_errno));
  return c;
}

ControlChannel::~ControlChannel() {
  free_all(punted_);
  free_all(injected_);
  rte_ring_free(punted_);
  rte_ring_free(injected_);
  rte_ring_free(events_);
}

void ControlChannel::detach() {
  attached_.store(false, std::memory_order_release);
  // Workers may still enqueue a few already classified packets; whatever
  // is left now or later is freed by the next reader or the destructor.
  free_all(punted_);
}

bool ControlChannel::punt(rte_mbuf* m) {
  return rte_ring_mp_enqueue(punted_, m) == 0;
}

unsigned ControlChannel::take_punted(rte_mbuf** out, unsigned n) {
  return rte_ring_sc_dequeue_burst(punted_, reinterpret_cast<void**>(out), n, nullptr);
}

bool ControlChannel::inject(rte_mbuf* m) {
  return rte_ring_mp_enqueue(injected_, m) == 0;
}

unsigned ControlChannel::take_injected(rte_mbuf** out, unsigned n) {
  return rte_ring_sc_dequeue_burst(injected_, reinterpret_cast<void**>(out), n, nullptr);
}

void ControlChannel::post(const ControlEvent& e) {
  if (rte_ring_mp_enqueue_elem(events_, const_cast<ControlEvent*>(&e), sizeof(ControlEvent)) != 0)
    lost_events_.fetch_add(1, std::memory_order_relaxed);
}

unsigned ControlChannel::take_events(ControlEvent* out, unsigned n) {
  return rte_ring_sc_dequeue_burst_elem(events_, out, sizeof(ControlEvent), n, nullptr);
}

}  // namespace tcpsec::pipeline
