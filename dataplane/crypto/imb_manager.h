// Private to dataplane/crypto: allocating intel-ipsec-mb managers.
#pragma once

// Without the library's pre-0.53 names (SHA1, CBC, GCM, ENCRYPT... as macros).
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <intel-ipsec-mb.h>

#include "common/status.h"

namespace tcpsec::crypto::detail {

// A manager initialised for the best code path this CPU supports
// (init_mb_mgr_auto: AVX-512 with VAES, AVX2, AVX, SSE, or SSE without
// AES-NI). Every manager in the process picks the same path, which matters:
// GCM key data expanded by one path is only valid for that path. Free with
// free_mb_mgr().
Expected<IMB_MGR*> new_manager();

// The process-wide manager used only for key expansion, whose functions are
// stateless (safe from any thread). Created on first use.
Expected<IMB_MGR*> key_manager();

// Human-readable name of a manager's code path.
const char* arch_name(const IMB_MGR* mgr);

}  // namespace tcpsec::crypto::detail
