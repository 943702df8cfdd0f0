// DataplaneServer: the Dataplane gRPC service (proto/tcpsec/v1/dataplane.proto)
// on a unix socket, answering from gRPC's own threads.
//
// Reads never slow the workers down: per-lcore counters are plain uint64
// each written by one lcore, read here with relaxed atomic loads; connections
// are visited with ConnectionTable::for_each (their hot fields are atomics).
// gRPC types stay in the .cc so main and the tests need no gRPC headers.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "dataplane/pipeline/gateway.h"
#include "dataplane/pipeline/state_store.h"
#include "dataplane/pipeline/worker.h"
#include "tcpsec/v1/dataplane.pb.h"

namespace tcpsec::rpc {

class DataplaneServer {
 public:
  using Workers = std::vector<std::unique_ptr<pipeline::Worker>>;

  // Serves on `unix_socket` (a path, not a URI) with mode 0660, replacing a
  // stale socket file. `gateway` and `workers` must outlive the server; start
  // it once the workers run and shut it down before they stop.
  static Expected<std::unique_ptr<DataplaneServer>> start(
      const std::string& unix_socket, pipeline::Gateway& gateway, pipeline::StateStore& store,
      const Workers& workers, std::chrono::steady_clock::time_point started);

  // Hands an event to every WatchEvents caller.
  void publish(const v1::Event& event);

  // Stops accepting calls, waits for those in flight, removes the socket.
  // Idempotent; the destructor calls it.
  void shutdown();
  ~DataplaneServer();

  DataplaneServer(const DataplaneServer&) = delete;
  DataplaneServer& operator=(const DataplaneServer&) = delete;

  struct Impl;

 private:
  explicit DataplaneServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpsec::rpc
