#include "dataplane/rpc/dataplane_service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <rte_ethdev.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <rte_mbuf.h>

#include "common/event_hub.h"
#include "common/unix_socket_server.h"
#include "dataplane/rpc/packet_stream.h"
#include "dataplane/stats/counters.h"
#include "dataplane/stats/drop_reason.h"
#include "tcpsec/v1/dataplane.grpc.pb.h"

#ifdef TCPSEC_GRPC_REFLECTION
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#endif

namespace tcpsec::rpc {
namespace {

// A relaxed load of a plain integer another lcore writes (its only writer):
// never torn, never a lock on the writer's side.
template <typename T>
T load_relaxed(const T& v) {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_relaxed);
}

v1::ConnectionState to_proto(ctcp::ConnState s) {
  switch (s) {
    case ctcp::ConnState::kSynSent:
      return v1::CONNECTION_STATE_SYN_SENT;
    case ctcp::ConnState::kSynReceived:
      return v1::CONNECTION_STATE_SYN_RECEIVED;
    case ctcp::ConnState::kEstablished:
      return v1::CONNECTION_STATE_ESTABLISHED;
    case ctcp::ConnState::kClosing:
      return v1::CONNECTION_STATE_CLOSING;
    case ctcp::ConnState::kFree:
      break;
  }
  return v1::CONNECTION_STATE_UNSPECIFIED;
}

grpc::Status to_grpc(const pipeline::ApplyOutcome& o) {
  using Code = pipeline::ApplyOutcome::Code;
  switch (o.code) {
    case Code::kOk:
      return grpc::Status::OK;
    case Code::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, o.message};
    case Code::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, o.message};
    case Code::kResourceExhausted:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, o.message};
    case Code::kInternal:
      break;
  }
  return {grpc::StatusCode::INTERNAL, o.message};
}

class Service final : public v1::Dataplane::Service {
 public:
  Service(pipeline::Gateway& gw, pipeline::StateStore& store, EventHub<v1::Event>& events,
          const DataplaneServer::Workers& workers, std::chrono::steady_clock::time_point started)
      : gw_(gw), store_(store), events_(events), workers_(workers), started_(started) {}

  grpc::Status Apply(grpc::ServerContext*, const v1::ApplyRequest* request,
                     v1::ApplyReply* reply) override {
    pipeline::ApplyOutcome o = store_.apply(*request);
    if (o.ok()) *reply = o.reply;
    return to_grpc(o);
  }

  grpc::Status RestoreState(grpc::ServerContext*, const v1::DataplaneState* state,
                            v1::ApplyReply* reply) override {
    pipeline::ApplyOutcome o = store_.restore(*state);
    if (o.ok()) *reply = o.reply;
    return to_grpc(o);
  }

  grpc::Status DumpState(grpc::ServerContext*, const v1::DumpStateRequest*,
                         v1::DataplaneState* reply) override {
    *reply = store_.dump();
    return grpc::Status::OK;
  }

  grpc::Status ListSas(grpc::ServerContext*, const v1::ListSasRequest*,
                       v1::ListSasReply* reply) override {
    *reply = store_.list_sas();
    return grpc::Status::OK;
  }

  grpc::Status ListPolicies(grpc::ServerContext*, const v1::ListPoliciesRequest*,
                            v1::ListPoliciesReply* reply) override {
    *reply = store_.list_policies();
    return grpc::Status::OK;
  }

  grpc::Status AllocateSpis(grpc::ServerContext*, const v1::AllocateSpisRequest* request,
                            v1::AllocateSpisReply* reply) override {
    uint32_t count = request->count() ? request->count() : 1;
    if (count > 64) return {grpc::StatusCode::INVALID_ARGUMENT, "count: at most 64"};
    if (!gw_.ipsec()) {
      return {grpc::StatusCode::FAILED_PRECONDITION,
              "this dataplane runs as a pseudo-TCP relay (no ipsec.enabled)"};
    }
    for (uint32_t spi : store_.allocate_spis(count)) reply->add_spis(spi);
    return grpc::Status::OK;
  }

  grpc::Status WatchEvents(grpc::ServerContext* context, const v1::WatchEventsRequest*,
                           grpc::ServerWriter<v1::Event>* writer) override {
    auto h = events_.subscribe();
    while (!context->IsCancelled()) {
      auto e = events_.next(h, std::chrono::milliseconds(100));
      if (e && !writer->Write(*e)) break;
    }
    events_.unsubscribe(h);
    return grpc::Status::OK;
  }

  // Reads PacketOut on a thread of its own while this one forwards punted
  // packets (one reader and one writer at a time, as gRPC allows).
  grpc::Status PacketStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::PacketIn, v1::PacketOut>* stream) override {
    pipeline::ControlChannel& channel = gw_.control();
    if (!channel.attach()) {
      return {grpc::StatusCode::ALREADY_EXISTS, "another control plane holds the packet stream"};
    }
    std::atomic<bool> reading{true};
    std::thread reader([&] {
      v1::PacketOut out;
      while (stream->Read(&out)) {
        auto m = mbuf_from_packet_out(gw_, out);
        if (!m) {
          std::fprintf(stderr, "tcpsec-dataplane: packet stream: %s\n", m.error().c_str());
          continue;
        }
        if (!channel.inject(*m)) {
          rte_pktmbuf_free(*m);
          std::fprintf(stderr, "tcpsec-dataplane: packet stream: inject queue full\n");
        }
      }
      reading.store(false);
    });
    rte_mbuf* batch[32];
    while (!context->IsCancelled() && reading.load()) {
      unsigned n = channel.take_punted(batch, 32);
      bool ok = true;
      for (unsigned i = 0; i < n; ++i) {
        v1::PacketIn in;
        if (ok && packet_in_from_mbuf(gw_, batch[i], in)) ok = stream->Write(in);
        rte_pktmbuf_free(batch[i]);
      }
      if (!ok) break;
      if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    channel.detach();
    // The reader is still in Read() only when this side ends the stream (a
    // failed Write): cancelling wakes it. After the client's half-close it
    // is done already, and a cancel would turn the OK it gets into CANCELLED.
    if (reading.load()) context->TryCancel();
    reader.join();
    return grpc::Status::OK;
  }

  grpc::Status GetCounters(grpc::ServerContext*, const v1::GetCountersRequest*,
                           v1::CountersReply* reply) override {
    Counters sum;
    DropCounters drops;
    for (const auto& w : workers_) {
      const Counters& c = w->counters();
      uint64_t worker_rx = 0, worker_tx = 0;
      for (size_t i = 0; i < sum.count.size(); ++i) {
        uint64_t v = load_relaxed(c.count[i]);
        sum.count[i] += v;
        if (i == static_cast<size_t>(Counter::kRxPackets)) worker_rx = v;
        if (i == static_cast<size_t>(Counter::kTxPackets)) worker_tx = v;
      }
      for (size_t i = 0; i < drops.count.size(); ++i)
        drops.count[i] += load_relaxed(w->drops().count[i]);
      auto* wc = reply->add_workers();
      wc->set_index(static_cast<uint32_t>(reply->workers_size() - 1));
      wc->set_rx_packets(worker_rx);
      wc->set_tx_packets(worker_tx);
    }
    for (size_t i = 0; i < sum.count.size(); ++i) {
      auto* v = reply->add_counters();
      v->set_name(std::string(kCounterNames[i]));
      v->set_value(sum.count[i]);
    }
    for (size_t i = 1; i < drops.count.size(); ++i) {  // [0] is "none"
      auto* v = reply->add_drops();
      v->set_name(std::string(kDropReasonNames[i]));
      v->set_value(drops.count[i]);
    }
    for (const auto& itf : gw_.interfaces()) {
      rte_eth_stats st{};
      rte_eth_stats_get(itf.port_id, &st);
      auto* p = reply->add_ports();
      p->set_name(itf.name);
      p->set_port_id(itf.port_id);
      p->set_rx_packets(st.ipackets);
      p->set_tx_packets(st.opackets);
      p->set_rx_bytes(st.ibytes);
      p->set_tx_bytes(st.obytes);
      p->set_rx_missed(st.imissed);
      p->set_rx_errors(st.ierrors);
      p->set_tx_errors(st.oerrors);
    }
    reply->set_uptime_s(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
    return grpc::Status::OK;
  }

  // Records are read without the table's writer lock: the hot fields are
  // atomics, the slow-path ones are loaded relaxed. A record freed and
  // reused while it is being read can show a mix of both connections; the
  // next call is right again (this thread is no RCU reader).
  grpc::Status ListConnections(grpc::ServerContext*, const v1::ListConnectionsRequest*,
                               v1::ListConnectionsReply* reply) override {
    ctcp::ConnectionTable& table = gw_.connections();
    reply->set_capacity(table.capacity());
    table.for_each([&](ctcp::ConnId id, ctcp::Connection& c) {
      auto* out = reply->add_connections();
      out->set_id(id);
      const ctcp::FlowKey key = c.key;
      out->set_local_address(key.local.to_string());
      out->set_local_port(key.local_port);
      out->set_peer_address(key.peer.to_string());
      out->set_peer_port(key.peer_port);
      if (const auto* itf = gw_.interface(c.port_id)) out->set_port(itf->name);
      out->set_state(to_proto(c.state.load(std::memory_order_acquire)));
      out->set_we_initiated(c.we_initiated);
      out->set_installed(c.installed);
      out->set_tx_packets(c.tx_packets.load(std::memory_order_relaxed));
      out->set_rx_packets(c.rx_packets.load(std::memory_order_relaxed));
      for (const auto& ike : c.ike) {
        uint64_t spi = load_relaxed(ike.initiator);
        if (spi != 0) out->add_ike_initiator_spis(spi);
      }
      out->set_esp_spi_count(load_relaxed(c.esp_sa_count));
      out->set_send_next(c.snd_nxt.load(std::memory_order_relaxed));
      out->set_receive_next(c.rcv_nxt.load(std::memory_order_relaxed));
    });
    return grpc::Status::OK;
  }

 private:
  pipeline::Gateway& gw_;
  pipeline::StateStore& store_;
  EventHub<v1::Event>& events_;
  const DataplaneServer::Workers& workers_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

struct DataplaneServer::Impl {
  std::string path;
  EventHub<v1::Event> events;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  std::once_flag shut;
};

Expected<std::unique_ptr<DataplaneServer>> DataplaneServer::start(
    const std::string& unix_socket, pipeline::Gateway& gateway, pipeline::StateStore& store,
    const Workers& workers, std::chrono::steady_clock::time_point started) {
  const std::string where = "rpc.unix_socket \"" + unix_socket + "\": ";
  if (Status s = common::prepare_unix_socket(unix_socket, where); !s) return s;

  auto impl = std::make_unique<Impl>();
  impl->path = unix_socket;
  impl->service = std::make_unique<Service>(gateway, store, impl->events, workers, started);
  grpc::EnableDefaultHealthCheckService(true);
#ifdef TCPSEC_GRPC_REFLECTION
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
#endif
  grpc::ServerBuilder builder;
  common::listen_on_unix_socket(builder, unix_socket);
  builder.RegisterService(impl->service.get());
  // A few threads are plenty for an operator's and a control plane's calls.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  // Streams (events, packets) each hold a thread for their lifetime.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 4);
  auto server = common::start_server(builder, unix_socket, "tcpsec.v1.Dataplane", where);
  if (!server) return server.status();
  impl->server = std::move(*server);
  return std::unique_ptr<DataplaneServer>(new DataplaneServer(std::move(impl)));
}

DataplaneServer::DataplaneServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void DataplaneServer::publish(const v1::Event& event) {
  impl_->events.publish(event);
}

void DataplaneServer::shutdown() {
  std::call_once(impl_->shut, [this] {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    impl_->server->Wait();
    unlink(impl_->path.c_str());
  });
}

DataplaneServer::~DataplaneServer() {
  shutdown();
}

}  // namespace tcpsec::rpc
