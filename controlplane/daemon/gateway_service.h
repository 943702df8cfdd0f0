// GatewayServer: the Gateway operator service (proto/tcpsec/v1/gateway.proto)
// of tcpsec-ike on a unix socket (mode 0660: file permissions are its access
// control) and optionally on TCP for remote operators, where only TLS with
// a client certificate from the configured CA gets in. Health checking and
// reflection on both. Calls are handed to the IkeDaemon's thread.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "controlplane/daemon/ike_daemon.h"

namespace tcpsec::daemon {

class GatewayServer {
 public:
  // On `unix_socket` (may be empty) and, when `endpoint` is set, on TCP
  // with TLS that requires a client certificate signed by its client_ca.
  static Expected<std::unique_ptr<GatewayServer>> start(const std::string& unix_socket,
                                                        const v1::OperatorEndpoint* endpoint,
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
