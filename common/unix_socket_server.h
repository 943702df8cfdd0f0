// The local control sockets of tcpsec's daemons: a gRPC server listening on
// a unix socket that only its owner and group may use (mode 0660 from the
// moment it exists), replacing a stale socket an earlier run left behind.
// Shared by the Dataplane service (tcpsec-dataplane) and the Gateway service
// (tcpsec-ike).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace grpc {
class Server;
class ServerBuilder;
}  // namespace grpc

namespace tcpsec::common {

// Checks `path` for a listener and removes a stale socket there. Errors
// start with `where` (the configuration field and the path): a path too
// long for a unix socket, something other than a socket in the way, or a
// stale socket that cannot be removed.
Status prepare_unix_socket(const std::string& path, const std::string& where);

// Adds the unix-socket listener at `path` (prepared above) to `builder`.
void listen_on_unix_socket(grpc::ServerBuilder& builder, const std::string& path);

// Builds and starts the server with its unix socket created mode 0660 (not
// opened wider and narrowed afterwards), then marks `service_name` as
// serving in the health service (grpc.health.v1: "" is the whole server).
// `path` empty: no unix socket was added. On error the server is stopped.
Expected<std::unique_ptr<grpc::Server>> start_server(grpc::ServerBuilder& builder,
                                                     const std::string& path,
                                                     const std::string& service_name,
                                                     const std::string& where);

}  // namespace tcpsec::common
