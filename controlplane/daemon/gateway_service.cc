#include "controlplane/daemon/gateway_service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>

#include "common/event_hub.h"
#include "common/unix_socket_server.h"
#include "controlplane/config/gateway_config.h"
#include "tcpsec/v1/gateway.grpc.pb.h"

#ifdef TCPSEC_GRPC_REFLECTION
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#endif

namespace tcpsec::daemon {

namespace {

class Service final : public v1::Gateway::Service {
 public:
  Service(IkeDaemon& d, EventHub<v1::GatewayEvent>& events) : daemon_(d), events_(events) {}

  grpc::Status ListIkeSas(grpc::ServerContext*, const v1::ListIkeSasRequest*,
                          v1::ListIkeSasReply* reply) override {
    *reply = daemon_.list();
    return grpc::Status::OK;
  }
  grpc::Status Initiate(grpc::ServerContext*, const v1::InitiateRequest* r,
                        v1::InitiateReply*) override {
    if (auto s = daemon_.initiate(r->connection()); !s)
      return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    return grpc::Status::OK;
  }
  grpc::Status Terminate(grpc::ServerContext*, const v1::TerminateRequest* r,
                         v1::TerminateReply* reply) override {
    reply->set_ike_sas(daemon_.terminate(r->connection()));
    return grpc::Status::OK;
  }
  grpc::Status Rekey(grpc::ServerContext*, const v1::RekeyRequest* r, v1::RekeyReply*) override {
    if (auto s = daemon_.rekey(r->connection(), r->ike()); !s)
      return {grpc::StatusCode::FAILED_PRECONDITION, s.message()};
    return grpc::Status::OK;
  }
  grpc::Status SetConfig(grpc::ServerContext*, const v1::SetConfigRequest* r,
                         v1::SetConfigReply* reply) override {
    if (auto s = ikeconfig::validate_gateway_config(r->config()); !s)
      return {grpc::StatusCode::INVALID_ARGUMENT, "config." + s.message()};
    auto done = daemon_.set_config(ikeconfig::with_defaults(r->config()));
    if (!done) return {grpc::StatusCode::FAILED_PRECONDITION, "config." + done.error()};
    *reply = *done;
    return grpc::Status::OK;
  }

  grpc::Status WatchGatewayEvents(grpc::ServerContext* context,
                                  const v1::WatchGatewayEventsRequest*,
                                  grpc::ServerWriter<v1::GatewayEvent>* writer) override {
    auto h = events_.subscribe();
    while (!context->IsCancelled()) {
      auto e = events_.next(h, std::chrono::milliseconds(100));
      if (e && !writer->Write(*e)) break;
    }
    events_.unsubscribe(h);
    return grpc::Status::OK;
  }

 private:
  IkeDaemon& daemon_;
  EventHub<v1::GatewayEvent>& events_;
};

}  // namespace

struct GatewayServer::Impl {
  std::string path;
  EventHub<v1::GatewayEvent> events;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  std::once_flag shut;
};

namespace {

Expected<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(std::string("operator_endpoint.") + what + ": cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

Expected<std::unique_ptr<GatewayServer>> GatewayServer::start(const std::string& unix_socket,
                                                              const v1::OperatorEndpoint* endpoint,
                                                              IkeDaemon& daemon) {
  auto impl = std::make_unique<Impl>();
  impl->path = unix_socket;
  impl->service = std::make_unique<Service>(daemon, impl->events);
  grpc::EnableDefaultHealthCheckService(true);
#ifdef TCPSEC_GRPC_REFLECTION
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
#endif
  grpc::ServerBuilder builder;
  // unix_socket "" is allowed (no local socket: the operator endpoint, if any).
  const std::string where =
      unix_socket.empty() ? "Gateway service: " : "unix_socket \"" + unix_socket + "\": ";
  if (!unix_socket.empty()) {
    if (Status s = common::prepare_unix_socket(unix_socket, where); !s) return s;
    common::listen_on_unix_socket(builder, unix_socket);
  }
  int tcp_port = 0;
  if (endpoint) {
    auto cert = read_file(endpoint->certificate(), "certificate");
    if (!cert) return cert.status();
    auto key = read_file(endpoint->private_key(), "private_key");
    if (!key) return key.status();
    auto ca = read_file(endpoint->client_ca(), "client_ca");
    if (!ca) return ca.status();
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = *ca;
    tls.pem_key_cert_pairs.push_back({*key, *cert});
    builder.AddListeningPort(endpoint->listen(), grpc::SslServerCredentials(tls), &tcp_port);
  }
  builder.RegisterService(impl->service.get());
  auto server = common::start_server(builder, unix_socket, "tcpsec.v1.Gateway", where);
  if (!server) return server.status();
  impl->server = std::move(*server);
  if (endpoint && tcp_port == 0) {
    impl->server->Shutdown();
    return Status::error("operator_endpoint.listen: cannot listen on " + endpoint->listen());
  }
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void GatewayServer::publish(const v1::GatewayEvent& event) {
  impl_->events.publish(event);
}

void GatewayServer::shutdown() {
  std::call_once(impl_->shut, [this] {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    impl_->server->Wait();
    if (!impl_->path.empty()) unlink(impl_->path.c_str());
  });
}

GatewayServer::~GatewayServer() {
  shutdown();
}

}  // namespace tcpsec::daemon
