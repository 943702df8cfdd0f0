// MockDataplaneLink: a DataplaneLink for unit tests. It records what the
// daemon applied and sent, hands out SPIs, and lets the test deliver
// packets and events as if they came from the dataplane.
#pragma once

#include <mutex>
#include <vector>

#include "controlplane/link/dataplane_link.h"

namespace tcpsec::link {

class MockDataplaneLink final : public DataplaneLink {
 public:
  Expected<std::vector<uint32_t>> allocate_spis(uint32_t count) override {
    std::lock_guard lock(mu_);
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < count; ++i) out.push_back(next_spi_++);
    return out;
  }
  Status apply(const v1::ApplyRequest& request) override {
    std::lock_guard lock(mu_);
    if (!fail_apply_.empty()) return Status::error(fail_apply_);
    applied_.push_back(request);
    return Status::ok();
  }
  Expected<v1::ListSasReply> list_sas() override { return v1::ListSasReply{}; }
  Expected<v1::DataplaneState> dump_state() override { return v1::DataplaneState{}; }
  Status send(const v1::PacketOut& packet) override {
    std::lock_guard lock(mu_);
    sent_.push_back(packet);
    return Status::ok();
  }
  Status start(PacketHandler on_packet, EventHandler on_event) override {
    on_packet_ = std::move(on_packet);
    on_event_ = std::move(on_event);
    return Status::ok();
  }
  void stop() override {}

  // ---- test side ----
  void deliver(const v1::PacketIn& p) { on_packet_(p); }
  void deliver(const v1::Event& e) { on_event_(e); }
  std::vector<v1::PacketOut> take_sent() {
    std::lock_guard lock(mu_);
    return std::exchange(sent_, {});
  }
  std::vector<v1::ApplyRequest> applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }
  void fail_apply(std::string message) { fail_apply_ = std::move(message); }

 private:
  std::mutex mu_;
  uint32_t next_spi_ = 0xc0000001;
  std::vector<v1::PacketOut> sent_;
  std::vector<v1::ApplyRequest> applied_;
  std::string fail_apply_;
  PacketHandler on_packet_;
  EventHandler on_event_;
};

}  // namespace tcpsec::link
