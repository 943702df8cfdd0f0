#include "common/unix_socket_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tcpsec::common {

Status prepare_unix_socket(const std::string& path, const std::string& where) {
  if (path.empty()) return Status::error(where + "empty path");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::error(where + "longer than " +
                         std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::error(where + "exists and is not a socket");
    if (unlink(path.c_str()) != 0) {
      return Status::error(where + "cannot remove the stale socket: " + std::strerror(errno));
    }
  }
  return Status::ok();
}

void listen_on_unix_socket(grpc::ServerBuilder& builder, const std::string& path) {
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
}

Expected<std::unique_ptr<grpc::Server>> start_server(grpc::ServerBuilder& builder,
                                                     const std::string& path,
                                                     const std::string& service_name,
                                                     const std::string& where) {
  // Start-up is single-threaded as far as file creation goes, so the
  // process-wide umask is safe to switch around the socket's creation.
  const mode_t old_mask = umask(0117);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  umask(old_mask);
  if (!server) return Status::error(where + "cannot listen (see gRPC's log above)");
  if (auto* health = server->GetHealthCheckService()) health->SetServingStatus(service_name, true);
  if (!path.empty() && chmod(path.c_str(), 0660) != 0) {
    const int err = errno;
    server->Shutdown();
    return Status::error(where + "chmod 0660: " + std::strerror(err));
  }
  return server;
}

}  // namespace tcpsec::common
