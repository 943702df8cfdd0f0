// The packets of the Dataplane service's PacketStream: punted IKE datagrams
// (mbufs from the workers) to PacketIn, and PacketOut to mbufs for worker 0.
// Plain functions over the Gateway, so tests need no gRPC channel.
#pragma once

#include "common/status.h"
#include "dataplane/pipeline/gateway.h"
#include "tcpsec/v1/dataplane.pb.h"

struct rte_mbuf;

namespace tcpsec::rpc {

// `m` holds IP/UDP/IKE from its data start, with the transport and
// connection id the worker stored. False (and `out` unspecified) when the
// datagram is not IKE after all.
bool packet_in_from_mbuf(pipeline::Gateway& gateway, const rte_mbuf* m, v1::PacketIn& out);

// A packet for worker 0's inject queue, or an error naming the field
// ("PacketOut.local_address: 192.0.2.9 is not an address of a PUBLIC port").
Expected<rte_mbuf*> mbuf_from_packet_out(pipeline::Gateway& gateway, const v1::PacketOut& p);

}  // namespace tcpsec::rpc
