// DataplaneLink: the one seam between tcpsec-ike and the dataplane.
//
// Everything the IKE daemon asks of the dataplane goes through this small
// interface: SPIs for new inbound SAs, all-or-nothing changes of SAs,
// policies and pseudo-TCP connections (Apply), the installed state, IKE
// packets in both directions and the dataplane's events. GrpcDataplaneLink
// talks to tcpsec-dataplane's Dataplane service; tests use a mock.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"
#include "tcpsec/v1/dataplane.pb.h"

namespace tcpsec::link {

class DataplaneLink {
 public:
  using PacketHandler = std::function<void(v1::PacketIn)>;
  using EventHandler = std::function<void(v1::Event)>;

  virtual ~DataplaneLink() = default;

  // Inbound SPIs that are free and reserved for us for a while.
  virtual Expected<std::vector<uint32_t>> allocate_spis(uint32_t count) = 0;
  // SAs, policies, connections, listeners: validated and applied as a
  // whole by the dataplane, or refused with a message naming the field.
  virtual Status apply(const v1::ApplyRequest& request) = 0;
  virtual Expected<v1::ListSasReply> list_sas() = 0;
  virtual Expected<v1::DataplaneState> dump_state() = 0;
  // Queues an IKE message for transmission (non-blocking).
  virtual Status send(const v1::PacketOut& packet) = 0;
  // Opens the packet and event streams; the handlers run on the link's own
  // threads until stop(). Fails if another control plane holds the stream.
  virtual Status start(PacketHandler on_packet, EventHandler on_event) = 0;
  virtual void stop() = 0;
};

}  // namespace tcpsec::link
