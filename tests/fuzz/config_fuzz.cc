// libFuzzer target for the dataplane configuration loader: any bytes, read
// as text format and as JSON, must parse or fail cleanly; whatever parses
// must validate or fail cleanly; with_defaults() must keep a valid config
// valid and be idempotent.
//
// Seed corpus: the repository's config/dataplane-* files.
//   config_fuzz -max_len=65536 corpus/ config/   (corpus/ collects new inputs)
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tcpsec::config::ConfigFormat;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (ConfigFormat format : {ConfigFormat::kText, ConfigFormat::kJson}) {
    auto config = tcpsec::config::parse_dataplane_config(text, format, "fuzz");
    if (!config) continue;
    tcpsec::Status valid = tcpsec::config::validate_dataplane_config(*config);
    tcpsec::v1::DataplaneConfig filled = tcpsec::config::with_defaults(*config);
    tcpsec::Status still_valid = tcpsec::config::validate_dataplane_config(filled);
    if (valid.is_ok() && !still_valid.is_ok()) __builtin_trap();
    if (!google::protobuf::util::MessageDifferencer::Equals(tcpsec::config::with_defaults(filled),
                                                            filled)) {
      __builtin_trap();
    }
  }
  return 0;
}
