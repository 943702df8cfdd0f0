#include "dataplane/rpc/event_hub.h"

namespace tcpsec::rpc {

void EventHub::publish(const v1::Event& event) {
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

EventHub::Handle EventHub::subscribe() {
  std::lock_guard lock(mu_);
  subs_.emplace_back();
  return std::prev(subs_.end());
}

void EventHub::unsubscribe(Handle h) {
  std::lock_guard lock(mu_);
  subs_.erase(h);
}

std::optional<v1::Event> EventHub::next(Handle h, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !h->queue.empty(); })) return std::nullopt;
  v1::Event e = std::move(h->queue.front());
  h->queue.pop_front();
  return e;
}

}  // namespace tcpsec::rpc
