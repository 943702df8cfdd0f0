#include "controlplane/selectors/address_pool.h"

#include <optional>

namespace tcpsec::selectors {

namespace {

// Bound on remembered released leases, so a flood of identities cannot grow
// the map without limit.
constexpr size_t kMaxRemembered = 65536;

std::string count(U128 n) {
  if (n > U128{UINT64_MAX}) return "more than 2^64";
  return std::to_string(static_cast<uint64_t>(n));
}

}  // namespace

Expected<AddressPool> AddressPool::create(std::string_view text) {
  auto p = Prefix::parse(text);
  if (!p) return Status::error("address pool: " + p.error());
  U128 first = p->first().to_u128();
  U128 last = p->last().to_u128();
  unsigned host_bits = p->address.bits() - p->length;
  if (!p->address.v6 && host_bits >= 2) {
    ++first;  // network
    --last;   // broadcast
  } else if (p->address.v6 && host_bits >= 1) {
    ++first;  // subnet-router anycast
  }
  if (first > last) {
    return Status::error("address pool " + p->to_string() + " has no usable address");
  }
  return AddressPool(*p, first, last);
}

const Address* AddressPool::lease_of(const std::string& identity) const {
  auto it = leases_.find(identity);
  return it == leases_.end() ? nullptr : &it->second;
}

Expected<Address> AddressPool::allocate(const std::string& identity) {
  if (auto it = leases_.find(identity); it != leases_.end()) return it->second;
  if (auto it = remembered_.find(identity); it != remembered_.end()) {
    Address a = it->second;
    remembered_by_address_.erase(a.to_u128());
    remembered_.erase(it);
    if (used_.insert(a.to_u128()).second) {
      leases_.emplace(identity, a);
      return a;
    }
  }
  if (U128(used_.size()) >= capacity()) {
    return Status::error("address pool " + prefix_.to_string() + " is exhausted (" +
                         count(capacity()) + " addresses leased)");
  }
  // The next free address after the last one handed out, wrapping around,
  // preferring addresses that no released lease remembers. Terminates
  // early: among used + remembered + 1 consecutive addresses one is free
  // and unremembered, or the pool is smaller than that.
  U128 candidate = next_;
  std::optional<U128> fallback;
  std::optional<U128> chosen;
  for (U128 tried = 0; tried < capacity(); ++tried) {
    if (!used_.contains(candidate)) {
      if (!remembered_by_address_.contains(candidate)) {
        chosen = candidate;
        break;
      }
      if (!fallback) fallback = candidate;
    }
    candidate = candidate == last_ ? first_ : candidate + 1;
  }
  if (!chosen) chosen = fallback;  // exists: fewer leases than capacity
  candidate = *chosen;
  // Taking an address someone released: they lose the claim on it.
  if (auto it = remembered_by_address_.find(candidate); it != remembered_by_address_.end()) {
    remembered_.erase(it->second);
    remembered_by_address_.erase(it);
  }
  used_.insert(candidate);
  next_ = candidate == last_ ? first_ : candidate + 1;
  Address a = Address::from_u128(candidate, prefix_.address.v6);
  leases_.emplace(identity, a);
  return a;
}

bool AddressPool::release(const std::string& identity) {
  auto it = leases_.find(identity);
  if (it == leases_.end()) return false;
  used_.erase(it->second.to_u128());
  if (remembered_.size() >= kMaxRemembered) {
    remembered_by_address_.erase(remembered_.begin()->second.to_u128());
    remembered_.erase(remembered_.begin());
  }
  remembered_[identity] = it->second;
  remembered_by_address_[it->second.to_u128()] = identity;
  leases_.erase(it);
  return true;
}

}  // namespace tcpsec::selectors
