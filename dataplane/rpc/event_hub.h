// EventHub: dataplane events (v1::Event) fanned out to every WatchEvents
// caller. The main thread publishes (it drains the workers' event ring and
// the SA lifetime monitor); each watcher has its own bounded queue, so a
// slow watcher loses its oldest events, never blocks the others.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include "tcpsec/v1/dataplane.pb.h"

namespace tcpsec::rpc {

class EventHub {
 public:
  static constexpr size_t kQueueLimit = 4096;

  struct Subscription {
    std::deque<v1::Event> queue;
    uint64_t lost = 0;
  };
  using Handle = std::list<Subscription>::iterator;

  void publish(const v1::Event& event);
  Handle subscribe();
  void unsubscribe(Handle h);
  // The next event for `h`, or nothing after `timeout`.
  std::optional<v1::Event> next(Handle h, std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::list<Subscription> subs_;
};

}  // namespace tcpsec::rpc
