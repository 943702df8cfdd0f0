// EventHub<Event>: events fanned out to every watcher of a gRPC stream
// (the dataplane's WatchEvents, tcpsec-ike's WatchGatewayEvents). Each
// watcher has its own bounded queue, so a slow watcher loses its oldest
// events and never blocks the publisher or the other watchers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <optional>

namespace tcpsec {

template <typename Event>
class EventHub {
 public:
  static constexpr size_t kQueueLimit = 4096;

  struct Subscription {
    std::deque<Event> queue;
    uint64_t lost = 0;
  };
  using Handle = typename std::list<Subscription>::iterator;

  void publish(const Event& event) {
    {
      std::lock_guard lock(mu_);
      for (auto& s : subs_) {
        if (s.queue.size() >= kQueueLimit) {
          s.queue.pop_front();
          ++s.lost;
        }
        s.queue.push_back(event);
      }
    }
    cv_.notify_all();
  }

  Handle subscribe() {
    std::lock_guard lock(mu_);
    subs_.emplace_back();
    return std::prev(subs_.end());
  }

  void unsubscribe(Handle h) {
    std::lock_guard lock(mu_);
    subs_.erase(h);
  }

  // The next event for `h`, or nothing after `timeout`.
  std::optional<Event> next(Handle h, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !h->queue.empty(); })) return std::nullopt;
    Event e = std::move(h->queue.front());
    h->queue.pop_front();
    return e;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::list<Subscription> subs_;
};

}  // namespace tcpsec
