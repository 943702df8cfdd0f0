// The daemons' unix-socket gRPC listener: what may be in the way of its
// path, and the mode and health status it starts with.
#include "common/unix_socket_server.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace tcpsec::common {
namespace {

class UnixSocketServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tcpsec-uds-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(UnixSocketServerTest, RefusesWhatCannotBeASocketPath) {
  EXPECT_TRUE(contains(prepare_unix_socket("", "x: ").message(), "x: empty path"));
  const std::string too_long = dir_ + "/" + std::string(sizeof(sockaddr_un::sun_path), 's');
  Status s = prepare_unix_socket(too_long, "rpc.unix_socket: ");
  EXPECT_TRUE(contains(s.message(), "rpc.unix_socket: longer than")) << s.message();
  const std::string file = dir_ + "/file";
  std::ofstream(file) << "not a socket";
  s = prepare_unix_socket(file, "unix_socket: ");
  EXPECT_TRUE(contains(s.message(), "exists and is not a socket")) << s.message();
  struct stat st {};
  EXPECT_EQ(lstat(file.c_str(), &st), 0) << "a file in the way must be left alone";
}

TEST_F(UnixSocketServerTest, RemovesAStaleSocket) {
  const std::string path = dir_ + "/stale.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);  // the socket file stays: an earlier run's leftover
  ASSERT_TRUE(prepare_unix_socket(path, "x: "));
  struct stat st {};
  EXPECT_NE(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(prepare_unix_socket(path, "x: "));  // nothing there: fine too
}

TEST_F(UnixSocketServerTest, StartsWithMode0660AndHealthy) {
  const std::string path = dir_ + "/api.sock";
  ASSERT_TRUE(prepare_unix_socket(path, "x: "));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  listen_on_unix_socket(builder, path);
  grpc::CallbackGenericService nothing;  // a server needs a service to poll for
  builder.RegisterCallbackGenericService(&nothing);
  auto server = start_server(builder, path, "tcpsec.v1.Test", "x: ");
  ASSERT_TRUE(server) << server.error();
  struct stat st {};
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  auto channel = grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request, reply;  // grpc.health.v1.HealthCheckRequest{service}
  const std::string service = "tcpsec.v1.Test";
  std::string encoded = std::string(1, '\x0a') + static_cast<char>(service.size()) + service;
  grpc::Slice slice(encoded);
  request = grpc::ByteBuffer(&slice, 1);
  grpc::GenericStub stub(channel);
  grpc::Status status;
  bool done = false;
  std::mutex mu;
  std::condition_variable cv;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &reply,
                 [&](grpc::Status s) {
                   std::lock_guard lock(mu);
                   status = s;
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
  (*server)->Shutdown();
}

}  // namespace
}  // namespace tcpsec::common
