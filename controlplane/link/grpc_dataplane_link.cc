#include "controlplane/link/grpc_dataplane_link.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "tcpsec/v1/dataplane.grpc.pb.h"

namespace tcpsec::link {

namespace {

constexpr auto kCallTimeout = std::chrono::seconds(5);

Status failed(const char* what, const grpc::Status& s) {
  return Status::error(std::string("dataplane ") + what + ": " + s.error_message() + " (" +
                       std::to_string(static_cast<int>(s.error_code())) + ")");
}

void set_deadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

}  // namespace

struct GrpcDataplaneLink::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Dataplane::Stub> stub;

  std::mutex write_mu;
  std::unique_ptr<grpc::ClientContext> packet_ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::PacketOut, v1::PacketIn>> packets;
  std::unique_ptr<grpc::ClientContext> event_ctx;
  std::unique_ptr<grpc::ClientReader<v1::Event>> events;
  std::thread packet_reader, event_reader;
  std::atomic<bool> running{false};
};

GrpcDataplaneLink::GrpcDataplaneLink(const std::string& unix_socket)
    : impl_(std::make_unique<Impl>()) {
  impl_->channel = grpc::CreateChannel("unix:" + unix_socket, grpc::InsecureChannelCredentials());
  impl_->stub = v1::Dataplane::NewStub(impl_->channel);
}

GrpcDataplaneLink::~GrpcDataplaneLink() {
  stop();
}

Expected<std::vector<uint32_t>> GrpcDataplaneLink::allocate_spis(uint32_t count) {
  grpc::ClientContext ctx;
  set_deadline(ctx);
  v1::AllocateSpisRequest req;
  req.set_count(count);
  v1::AllocateSpisReply reply;
  if (auto s = impl_->stub->AllocateSpis(&ctx, req, &reply); !s.ok())
    return failed("AllocateSpis", s);
  return std::vector<uint32_t>(reply.spis().begin(), reply.spis().end());
}

Status GrpcDataplaneLink::apply(const v1::ApplyRequest& request) {
  grpc::ClientContext ctx;
  set_deadline(ctx);
  v1::ApplyReply reply;
  if (auto s = impl_->stub->Apply(&ctx, request, &reply); !s.ok()) return failed("Apply", s);
  return Status::ok();
}

Expected<v1::ListSasReply> GrpcDataplaneLink::list_sas() {
  grpc::ClientContext ctx;
  set_deadline(ctx);
  v1::ListSasReply reply;
  if (auto s = impl_->stub->ListSas(&ctx, v1::ListSasRequest{}, &reply); !s.ok())
    return failed("ListSas", s);
  return reply;
}

Expected<v1::DataplaneState> GrpcDataplaneLink::dump_state() {
  grpc::ClientContext ctx;
  set_deadline(ctx);
  v1::DataplaneState reply;
  if (auto s = impl_->stub->DumpState(&ctx, v1::DumpStateRequest{}, &reply); !s.ok())
    return failed("DumpState", s);
  return reply;
}

Status GrpcDataplaneLink::send(const v1::PacketOut& packet) {
  std::lock_guard lock(impl_->write_mu);
  if (!impl_->packets) return Status::error("dataplane packet stream: not started");
  if (!impl_->packets->Write(packet)) return Status::error("dataplane packet stream: closed");
  return Status::ok();
}

Status GrpcDataplaneLink::start(PacketHandler on_packet, EventHandler on_event) {
  Impl& i = *impl_;
  // Wait (briefly) for the dataplane's socket, so a daemon started right
  // after the dataplane does not fail on a race.
  if (!i.channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
    return Status::error("dataplane: cannot connect to its socket");
  i.event_ctx = std::make_unique<grpc::ClientContext>();
  i.events = i.stub->WatchEvents(i.event_ctx.get(), v1::WatchEventsRequest{});
  i.packet_ctx = std::make_unique<grpc::ClientContext>();
  i.packets = i.stub->PacketStream(i.packet_ctx.get());
  i.running = true;
  i.event_reader = std::thread([&i, on_event] {
    v1::Event e;
    while (i.events->Read(&e)) on_event(e);
  });
  // The first Read tells whether the dataplane accepted the stream: a
  // refusal (ALREADY_EXISTS) ends it at once.
  i.packet_reader = std::thread([&i, on_packet] {
    v1::PacketIn p;
    while (i.packets->Read(&p)) on_packet(p);
    grpc::Status s = i.packets->Finish();
    if (!s.ok() && i.running)
      std::fprintf(stderr, "tcpsec-ike: dataplane packet stream ended: %s\n",
                   s.error_message().c_str());
  });
  return Status::ok();
}

void GrpcDataplaneLink::stop() {
  Impl& i = *impl_;
  if (!i.running.exchange(false)) return;
  if (i.packet_ctx) i.packet_ctx->TryCancel();
  if (i.event_ctx) i.event_ctx->TryCancel();
  if (i.packet_reader.joinable()) i.packet_reader.join();
  if (i.event_reader.joinable()) i.event_reader.join();
  std::lock_guard lock(i.write_mu);
  i.packets.reset();
  i.events.reset();
}

}  // namespace tcpsec::link
