// The gRPC plumbing every tcpsecctl client shares (the Dataplane service's
// and tcpsec-ike's Gateway service's): the --timeout deadline, one error
// line naming the command and socket, and unary calls whose reply is printed
// by a table function or, with --json, as JSON.
#pragma once

#include <grpcpp/grpcpp.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "cli/ctl_output.h"

namespace tcpsecctl {

// A channel to the service at unix socket `path`, or nullptr after one line
// on stderr: gRPC would only say "failed to connect", so a missing path or
// something other than a socket is named here, with `hint` (how to make the
// service listen there) after "cannot reach <who> at <path>: <why>".
inline std::shared_ptr<grpc::Channel> connect_unix(const std::string& path, const char* who,
                                                   const char* hint) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "tcpsecctl: cannot reach %s at %s: %s (%s)\n", who, path.c_str(),
                 std::strerror(errno), hint);
    return nullptr;
  }
  if (!S_ISSOCK(st.st_mode)) {
    std::fprintf(stderr, "tcpsecctl: %s is not a socket\n", path.c_str());
    return nullptr;
  }
  return grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
}

// Options: anything with `socket`, `command`, `timeout_s` and `json`.
// kJsonByDefault: whether a unary call prints JSON under --json unless told.
template <typename Stub, typename Options, bool kJsonByDefault>
class RpcClient {
 protected:
  RpcClient(const Options& o, std::unique_ptr<Stub> stub) : o_(o), stub_(std::move(stub)) {}

  void deadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::duration<double>(o_.timeout_s)));
  }

  int fail(const grpc::Status& s) const {
    std::fprintf(stderr, "tcpsecctl: %s on unix:%s failed: %s (%d)\n", o_.command.c_str(),
                 o_.socket.c_str(), s.error_message().c_str(), static_cast<int>(s.error_code()));
    return 1;
  }

  template <typename Request, typename Reply, typename Table>
  int unary(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Reply*),
            const Request& request, Table table, bool json_ok = kJsonByDefault) {
    grpc::ClientContext ctx;
    deadline(ctx);
    Reply reply;
    grpc::Status s = (stub_.get()->*method)(&ctx, request, &reply);
    if (!s.ok()) return fail(s);
    if (o_.json && json_ok) return print_json(reply) ? 0 : 1;
    table(reply);
    return 0;
  }

  const Options& o_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace tcpsecctl
