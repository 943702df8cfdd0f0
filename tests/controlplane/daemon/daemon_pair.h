// Two IkeDaemons on MockDataplaneLinks, each on its own thread, and a pump
// that carries each PacketOut of one to the other as a PacketIn: the harness
// of the two-daemon tests (ike_daemon_test, ike_daemon_certs_test).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controlplane/daemon/ike_daemon.h"
#include "controlplane/link/mock_dataplane_link.h"

namespace tcpsec::daemon::testing {

// One side: a daemon on a mock link, running on its own thread once started;
// its events are kept for the test to look at.
struct Side {
  link::MockDataplaneLink link;
  std::unique_ptr<IkeDaemon> daemon;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<v1::GatewayEvent> events;

  explicit Side(v1::GatewayConfig c) {
    daemon = std::make_unique<IkeDaemon>(std::move(c), link);
    daemon->set_event_sink([this](const v1::GatewayEvent& e) {
      std::lock_guard lock(mu);
      events.push_back(e);
    });
  }
  void start() {
    ASSERT_TRUE(daemon->start());
    thread = std::thread([this] { daemon->run(stop); });
  }
  ~Side() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  bool saw(const std::string& kind) {
    std::lock_guard lock(mu);
    for (const auto& e : events)
      if (e.kind() == kind) return true;
    return false;
  }
  std::string event_text() {
    std::lock_guard lock(mu);
    std::string s;
    for (const auto& e : events) s += e.kind() + ": " + e.message() + "\n";
    return s;
  }
};

// What the far side receives for a packet one side sent.
inline v1::PacketIn arrive(const v1::PacketOut& out) {
  v1::PacketIn in;
  in.set_transport(out.transport());
  in.set_port("public");
  in.set_local_address(out.peer_address());
  in.set_peer_address(out.local_address());
  in.set_local_port(out.peer_port());
  in.set_peer_port(out.local_port());
  in.set_ike(out.ike());
  return in;
}

// Carries packets both ways from start() until destroyed; `drop(packet)`
// loses one (a hostile network). Counts packets by transport and the size
// of the largest.
struct Pump {
  Side& a;
  Side& b;
  std::function<bool(const v1::PacketOut&)> drop = [](const v1::PacketOut&) { return false; };
  std::atomic<bool> stop{false};
  std::atomic<int> udp_seen{0}, tcp_seen{0};
  std::atomic<size_t> largest{0};
  std::thread thread;
  Pump(Side& a_, Side& b_) : a(a_), b(b_) {}
  void start() {
    thread = std::thread([this] {
      using namespace std::chrono_literals;
      while (!stop) {
        for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
          for (const auto& p : from->link.take_sent()) {
            (p.transport() == v1::TRANSPORT_UDP ? udp_seen : tcp_seen)++;
            largest = std::max(largest.load(), p.ike().size());
            if (!drop(p)) to->link.deliver(arrive(p));
          }
        }
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  // Starts the pump, then b (the responder), then a (the initiator), so
  // that a's first IKE_SA_INIT finds b running.
  void start_all() {
    start();
    b.start();
    a.start();
  }
  ~Pump() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

// Polls `f` until it holds or `limit` passes.
template <typename F>
bool eventually(F&& f, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

}  // namespace tcpsec::daemon::testing
