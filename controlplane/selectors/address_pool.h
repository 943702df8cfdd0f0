// Virtual addresses for remote-access clients (configuration payload),
// drawn from a prefix. Not thread-safe: the IKE daemon's loop owns it.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "controlplane/selectors/address.h"

namespace tcpsec::selectors {

class AddressPool {
 public:
  // "10.3.0.0/24": hands out 10.3.0.1 .. 10.3.0.254 (IPv4 prefixes shorter
  // than /31 skip the network and broadcast addresses; IPv6 skips the
  // subnet-router anycast address ::0). Error for a bad prefix or one with
  // no usable address.
  static Expected<AddressPool> create(std::string_view prefix);

  // The address leased to `identity` (e.g. selectors::to_string of its
  // IKE ID). The same identity gets the same address back while it holds a
  // lease, and after release() as long as nobody else took it. Error
  // "address pool 10.3.0.0/24 is exhausted (254 addresses leased)".
  Expected<Address> allocate(const std::string& identity);
  // Ends the lease; returns false if `identity` had none.
  bool release(const std::string& identity);

  const Prefix& prefix() const { return prefix_; }
  size_t leased() const { return leases_.size(); }
  U128 capacity() const { return last_ - first_ + 1; }
  // The current lease, if any.
  const Address* lease_of(const std::string& identity) const;

 private:
  AddressPool(Prefix prefix, U128 first, U128 last)
      : prefix_(prefix), first_(first), last_(last), next_(first) {}

  Prefix prefix_;
  U128 first_;
  U128 last_;
  U128 next_;  // where the search for a free address starts
  std::map<std::string, Address> leases_;
  std::map<std::string, Address> remembered_;  // released, for handing back
  std::map<U128, std::string> remembered_by_address_;
  std::set<U128> used_;
};

}  // namespace tcpsec::selectors
