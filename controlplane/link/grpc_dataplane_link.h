// GrpcDataplaneLink: DataplaneLink over the Dataplane gRPC service
// (proto/tcpsec/v1/dataplane.proto) on tcpsec-dataplane's unix socket.
//
// One reader thread per stream (packets, events); sends go through the
// packet stream's writer under a mutex (gRPC allows one writer at a time).
// gRPC types stay in the .cc.
#pragma once

#include <memory>
#include <string>

#include "controlplane/link/dataplane_link.h"

namespace tcpsec::link {

class GrpcDataplaneLink final : public DataplaneLink {
 public:
  // `unix_socket`: a path. Calls fail with a clear message while the
  // dataplane is not there; nothing is retried here.
  explicit GrpcDataplaneLink(const std::string& unix_socket);
  ~GrpcDataplaneLink() override;

  Expected<std::vector<uint32_t>> allocate_spis(uint32_t count) override;
  Status apply(const v1::ApplyRequest& request) override;
  Expected<v1::ListSasReply> list_sas() override;
  Expected<v1::DataplaneState> dump_state() override;
  Status send(const v1::PacketOut& packet) override;
  Status start(PacketHandler on_packet, EventHandler on_event) override;
  void stop() override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpsec::link
