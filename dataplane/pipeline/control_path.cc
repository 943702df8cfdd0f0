// The worker's side of the control plane's packet stream: IKE that arrives
// goes up (ControlChannel) while a control plane listens, and worker 0
// sends what comes down (IKE over UDP or pseudo-TCP, connection closes).
#include "dataplane/pipeline/worker.h"

namespace tcpsec::pipeline {

void Worker::punt_ike(rte_mbuf* m, IkeTransport transport, ctcp::ConnId id) {
  ControlChannel& channel = gw_.control();
  if (!channel.attached()) return punt_to_local(m);  // relay: the host's IKE daemon
  m->hash.fdir.lo = static_cast<uint32_t>(transport);
  m->hash.fdir.hi = id;
  if (!channel.punt(m)) return drop(m, DropReason::kIkePuntFull);
  counters_.add(Counter::kIkePunted);
}

void Worker::drain_injected() {
  constexpr unsigned kBurst = 32;
  rte_mbuf* ms[kBurst];
  unsigned n = gw_.control().take_injected(ms, kBurst);
  auto& table = gw_.connections();
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = ms[i];
    switch (static_cast<IkeTransport>(m->hash.fdir.lo)) {
      case IkeTransport::kUdp:
        counters_.add(Counter::kIkeInjected);
        send_l3(m);
        break;
      case IkeTransport::kPseudoTcp:
        counters_.add(Counter::kIkeInjected);
        inject_ctcp(m, static_cast<uint16_t>(m->hash.fdir.hi));
        break;
      case IkeTransport::kClose:
      case IkeTransport::kCloseReset: {
        bool reset = static_cast<IkeTransport>(m->hash.fdir.lo) == IkeTransport::kCloseReset;
        ctcp::ConnId id = m->hash.fdir.hi;
        rte_pktmbuf_free(m);
        if (id >= table.capacity()) break;
        counters_.add(Counter::kConnectionsDeleted);
        ctcp_close(id, table.at(id), reset, CloseReason::kDeleted);
        break;
      }
      default:
        drop(m, DropReason::kIkeInjectBad);
    }
  }
}

}  // namespace tcpsec::pipeline
