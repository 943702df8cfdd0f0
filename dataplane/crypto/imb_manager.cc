#include "dataplane/crypto/imb_manager.h"

#include <string>

namespace tcpsec::crypto::detail {

Expected<IMB_MGR*> new_manager() {
  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) return Status::error("intel-ipsec-mb: alloc_mb_mgr failed");
  IMB_ARCH arch = IMB_ARCH_NONE;
  init_mb_mgr_auto(mgr, &arch);
  int err = imb_get_errno(mgr);
  if (err != 0 || arch == IMB_ARCH_NONE) {
    std::string why = err != 0 ? imb_get_strerror(err) : "no usable code path";
    free_mb_mgr(mgr);
    return Status::error("intel-ipsec-mb: init_mb_mgr_auto failed: " + why);
  }
  return mgr;
}

Expected<IMB_MGR*> key_manager() {
  // Initialised once, thread-safely; never freed (it lives as long as the
  // process and holds no secrets).
  static const Expected<IMB_MGR*> mgr = new_manager();
  return mgr;
}

const char* arch_name(const IMB_MGR* mgr) {
  switch (static_cast<IMB_ARCH>(mgr->used_arch)) {
    case IMB_ARCH_NOAESNI:
      return "sse-no-aesni";
    case IMB_ARCH_SSE:
      return "sse";
    case IMB_ARCH_AVX:
      return "avx";
    case IMB_ARCH_AVX2:
      return "avx2";
    case IMB_ARCH_AVX512:
      return "avx512";
    default:
      return "unknown";
  }
}

}  // namespace tcpsec::crypto::detail
