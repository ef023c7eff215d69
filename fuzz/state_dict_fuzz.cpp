// libFuzzer entry point; see fuzz_targets.h and scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return simclr::fuzz::fuzz_state_dict(data, size);
}
