// IkeSa: one IKE SA's state – SPIs, role, negotiated transforms, keys,
// nonces, message IDs, where its peer is – and the protection of its
// messages (SK payload). The exchanges themselves are tasks (task.h) that
// read and change an IkeSa; the daemon owns IkeSas and routes packets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/crypto/diffie_hellman.h"
#include "controlplane/crypto/ike_keys.h"
#include "controlplane/crypto/sk_cipher.h"
#include "controlplane/message/message_codec.h"
#include "controlplane/message/payloads.h"
#include "tcpsec/v1/dataplane.pb.h"
#include "tcpsec/v1/gateway.pb.h"

namespace tcpsec::ikesa {

using ike::Bytes;

// Where the peer is and how its packets travel.
struct PeerPath {
  std::string local_address;
  std::string peer_address;
  uint16_t local_port = 500;
  uint16_t peer_port = 500;
  v1::Transport transport = v1::TRANSPORT_UDP;
  uint16_t tcp_peer_port = 0;  // pseudo-TCP: the peer's TCP port (initiator)
  bool nat = false;            // NAT detected: IKE on 4500, ESP in UDP
};

enum class IkeSaState { kConnecting, kEstablished, kDeleting, kDead };
const char* to_string(IkeSaState s);

struct ChildSa {
  uint32_t id = 0;  // stable across rekeys: names its dataplane policies
  std::string name;
  uint32_t spi_in = 0;   // ours: the peer sends ESP with it
  uint32_t spi_out = 0;  // the peer's
  v1::EspAlgorithm algorithm = v1::ESP_ALGORITHM_UNSPECIFIED;
  std::string proposal_text;
  std::vector<std::string> local_ts, remote_ts;  // for lists and logs
  std::vector<v1::TrafficSelector> selectors;    // the dataplane's, local -> remote
  std::vector<std::string> policy_names;         // installed in the dataplane
  std::vector<uint32_t> policy_priorities;
  uint64_t installed_ms = 0;
  // Make-before-break: a Child SA whose replacement is installed waits for
  // the delete exchange (its SAs still decrypt late packets).
  bool rekeyed = false;
  // Responder of a rekey: the new SA, installed, gets the traffic (the
  // policies) once the peer deletes the old one.
  bool awaiting_switch = false;
};

class IkeSa {
 public:
  IkeSa(const v1::Connection& connection, bool initiator, uint64_t our_spi);

  const v1::Connection& connection() const { return connection_; }
  bool initiator() const { return initiator_; }
  uint64_t spi_i() const { return spi_i_; }
  uint64_t spi_r() const { return spi_r_; }
  void set_spi_r(uint64_t spi) { spi_r_ = spi; }
  void set_spi_i(uint64_t spi) { spi_i_ = spi; }
  uint64_t our_spi() const { return initiator_ ? spi_i_ : spi_r_; }
  IkeSaState state() const { return state_; }
  void set_state(IkeSaState s) { state_ = s; }
  PeerPath& path() { return path_; }
  const PeerPath& path() const { return path_; }

  // Negotiation results (IKE_SA_INIT).
  ikecrypto::IkeSaTransforms transforms{};
  std::string proposal_text;  // for logs and lists
  std::optional<ikecrypto::DhKeyPair> dh;
  Bytes nonce_i, nonce_r;
  Bytes init_request, init_response;  // RealMessage1/2 for AUTH
  // The peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427) from IKE_SA_INIT.
  std::vector<uint16_t> peer_signature_hashes;
  // Keys, and the SK ciphers made from them.
  Status install_keys(std::span<const uint8_t> shared_secret);
  // The same from a given SKEYSEED (a rekeyed IKE SA, RFC 7296 2.18).
  Status install_keys_from_skeyseed(std::span<const uint8_t> skeyseed);
  const ikecrypto::IkeSaKeys& keys() const { return *keys_; }

  // Message IDs (RFC 7296 2.2): ours for requests we send, the peer's we expect.
  uint32_t next_request_id = 0;
  uint32_t expected_request_id = 0;
  // The last response we sent (retransmitted when its request repeats):
  // one datagram, or its IKE fragments.
  std::vector<Bytes> last_response;
  uint32_t last_response_id = UINT32_MAX;
  // Our outstanding request (retransmitted until answered).
  std::vector<Bytes> pending_request;
  uint32_t pending_id = 0;
  bool pending = false;
  uint64_t pending_sent_ms = 0;
  uint32_t pending_tries = 0;

  std::vector<ChildSa> children;
  uint64_t established_ms = 0;
  uint64_t last_heard_ms = 0;
  std::string remote_id_text;
  // Remote access: the address leased to the peer from the pool.
  std::string virtual_address;
  // Set when the peer stopped answering: an auto_start connection is
  // brought up again (never after a refusal, which would only repeat).
  bool restart_when_dead = false;
  // Replaced by a rekeyed IKE SA (which took the Child SAs): its deletion
  // is no tunnel going down.
  bool rekeyed_away = false;
  // When we last started a rekey of this SA (or of one of its children).
  uint64_t rekey_started_ms = 0;
  // Initiator: send INITIAL_CONTACT (we hold no other IKE SA with the peer).
  bool send_initial_contact = false;
  // The peer announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383).
  bool peer_fragmentation = false;

  // A protected message: header (our SPIs, `exchange`, flags from role and
  // `response`, `message_id`) with an SK payload around `inner`.
  Expected<Bytes> protect(ike::ExchangeType exchange, bool response, uint32_t message_id,
                          const std::vector<ike::Payload>& inner);
  // The inner payloads of a received protected message (ICV checked).
  Expected<std::vector<ike::Payload>> open(std::span<const uint8_t> datagram);

  // IKE fragmentation (RFC 7383). The largest IKE message (from its
  // header) sent as one datagram; larger ones go as SKF fragments when the
  // peer supports them (1280 bytes of IP: what strongSwan also uses).
  static constexpr size_t kMaxUnfragmented = 1280 - 40 - 8 - 4;
  // protect(), split into fragments when needed.
  Expected<std::vector<Bytes>> protect_message(ike::ExchangeType exchange, bool response,
                                               uint32_t message_id,
                                               const std::vector<ike::Payload>& inner);
  // open() for SK and SKF messages: a fragment is checked and kept, and
  // nothing comes back (nullopt) until the message is complete.
  Expected<std::optional<std::vector<ike::Payload>>> receive(std::span<const uint8_t> datagram);

 private:
  // The header of a message this IKE SA sends: its SPIs, our role.
  ike::Header header(ike::ExchangeType exchange, bool response, uint32_t message_id) const;

  v1::Connection connection_;
  bool initiator_ = false;
  uint64_t spi_i_ = 0, spi_r_ = 0;
  IkeSaState state_ = IkeSaState::kConnecting;
  PeerPath path_;
  std::optional<ikecrypto::IkeSaKeys> keys_;
  std::optional<ikecrypto::SkCipherPair> sk_;
  // Reassembly of one fragmented message at a time (RFC 7383 2.6).
  struct Reassembly {
    uint32_t message_id = 0;
    bool response = false;
    uint16_t total = 0;
    ike::PayloadType first_type = ike::PayloadType::kNone;
    std::vector<Bytes> parts;  // decrypted, by fragment number - 1
  };
  std::optional<Reassembly> reassembly_;
};

// The SPI bytes in network order (prf+ seeds, NAT detection).
Bytes spi_bytes(uint64_t spi);

}  // namespace tcpsec::ikesa
