// GatewayServer: the Gateway operator service (proto/tcpsec/v1/gateway.proto)
// of tcpsec-ike on a unix socket (mode 0660), with health checking and
// reflection. Calls are handed to the IkeDaemon's thread.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "controlplane/daemon/ike_daemon.h"

namespace tcpsec::daemon {

class GatewayServer {
 public:
  static Expected<std::unique_ptr<GatewayServer>> start(const std::string& unix_socket,
                                                        IkeDaemon& daemon);
  void publish(const v1::GatewayEvent& event);
  void shutdown();
  ~GatewayServer();

  struct Impl;

 private:
  explicit GatewayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpsec::daemon
