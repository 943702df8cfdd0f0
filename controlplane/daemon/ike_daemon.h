// IkeDaemon: the IKE SAs of tcpsec-ike and the loop that drives them.
//
// One thread runs everything that touches an IKE SA (run()): packets and
// events from the DataplaneLink, operator commands and timers are queued
// to it, so IKE state needs no locks. It routes each IKE message to its
// SA by SPI, owns message IDs, SK protection, retransmissions, the UDP ->
// pseudo-TCP fallback of `auto` connections and dead-peer detection; the
// exchanges themselves are tasks (controlplane/ikesa).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "controlplane/ikesa/ike_sa.h"
#include "controlplane/ikesa/task.h"
#include "controlplane/link/dataplane_link.h"
#include "controlplane/selectors/address_pool.h"
#include "tcpsec/v1/gateway.pb.h"

namespace tcpsec::daemon {

class IkeDaemon {
 public:
  using EventSink = std::function<void(const v1::GatewayEvent&)>;

  // `config` must be validated and have its defaults filled in.
  IkeDaemon(v1::GatewayConfig config, link::DataplaneLink& link);
  ~IkeDaemon();

  // Opens the dataplane streams, installs the TCP listeners and starts the
  // auto_start connections (from run()'s thread).
  Status start();
  // Runs until `stop` is set (checked every 100 ms).
  void run(const std::atomic<bool>& stop);
  void set_event_sink(EventSink sink) { sink_ = std::move(sink); }

  // Thread-safe: queued to run()'s thread; they wait for the answer.
  Status initiate(const std::string& connection);
  uint32_t terminate(const std::string& connection);
  // Replaces the configuration (validated, defaults filled; the sockets
  // must not change): see Gateway.SetConfig.
  Expected<v1::SetConfigReply> set_config(v1::GatewayConfig config);
  // Rekeys the connection's IKE SA (`ike`) or its Child SAs now.
  Status rekey(const std::string& connection, bool ike);
  v1::ListIkeSasReply list();

  // Tests and fuzzing only: what run() does with one packet from the
  // dataplane / at one timer tick, synchronously on the caller's thread.
  // Never while run() is running on another thread.
  void handle_for_test(v1::PacketIn p) { handle(p); }
  void tick_for_test() { tick(); }

 private:
  using Command = std::function<void()>;
  using Work = std::variant<v1::PacketIn, v1::Event, Command>;
  void post(Work w);
  void handle(v1::PacketIn& p);
  void handle_new_sa(const ike::Header& h, std::span<const uint8_t> bytes, const v1::PacketIn& p);
  void handle_request(ikesa::IkeSa& sa, const ike::Header& h, std::span<const uint8_t> bytes,
                      const v1::PacketIn& p);
  void handle_response(ikesa::IkeSa& sa, const ike::Header& h, std::span<const uint8_t> bytes);
  void tick();
  Status initiate_now(const std::string& connection);
  // Starts `task` as initiator now, or after the task in flight.
  void queue_task(ikesa::IkeSa& sa, std::unique_ptr<ikesa::Task> task);
  void next_task(ikesa::IkeSa& sa);
  void send(ikesa::IkeSa& sa, const ike::Bytes& message);
  void send(ikesa::IkeSa& sa, const std::vector<ike::Bytes>& datagrams);
  void send_request(ikesa::IkeSa& sa, const std::vector<ike::Bytes>& message);
  void fail(ikesa::IkeSa& sa, const std::string& kind, const std::string& why);
  void established(ikesa::IkeSa& sa);
  void forget(uint64_t our_spi);
  // Registers the IKE SA that replaced `old` by a rekey.
  void adopt(ikesa::IkeSa& old, std::unique_ptr<ikesa::IkeSa> next);
  void start_rekey(ikesa::IkeSa& sa, bool ike);
  void initial_contact(ikesa::IkeSa& sa);
  ike::Bytes cookie_for(const ike::Bytes& nonce_i, const std::string& peer, uint64_t spi_i) const;
  void emit(const std::string& connection, const std::string& kind, const std::string& message);
  ikesa::TaskContext context();
  const v1::Connection* find_connection(const std::string& name) const;
  const v1::Connection* match_connection(const v1::PacketIn& p) const;
  uint64_t now_ms() const;

  v1::GatewayConfig config_;
  link::DataplaneLink& link_;
  EventSink sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;
  std::map<uint64_t, std::unique_ptr<ikesa::IkeSa>> sas_;           // by our SPI
  std::map<std::pair<std::string, uint64_t>, uint64_t> half_open_;  // (peer, SPIi) -> our SPI
  std::map<uint64_t, std::unique_ptr<ikesa::Task>> active_;         // our SPI -> awaiting reply
  std::map<uint64_t, std::deque<std::unique_ptr<ikesa::Task>>> waiting_;
  uint32_t next_policy_priority_ = 1000;
  uint32_t next_child_id_ = 1;
  std::array<uint8_t, 32> cookie_secret_{};
  struct Deferred {
    uint64_t due_ms;
    v1::ApplyRequest request;
  };
  std::vector<Deferred> deferred_;                       // applied by tick() when due
  std::map<std::string, selectors::AddressPool> pools_;  // by connection name
  uint64_t started_ms_ = 0;
};

}  // namespace tcpsec::daemon
