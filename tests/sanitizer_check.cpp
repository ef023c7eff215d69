// Built only into simclr_sanitized_tests (tests/CMakeLists.txt): proves that
// the sanitizers are really on there, so a green run of that binary means
// "no memory error found", not "nothing was looking".
#include <gtest/gtest.h>

namespace {

TEST(SanitizerCheck, AddressSanitizerStopsAHeapOverflow) {
#if !defined(__SANITIZE_ADDRESS__)
  FAIL() << "simclr_sanitized_tests was built without -fsanitize=address";
#else
  EXPECT_DEATH(
      {
        char* volatile p = new char[4];
        p[4] = 1;  // one past the end
        delete[] p;
      },
      "heap-buffer-overflow");
#endif
}

TEST(SanitizerCheck, UndefinedBehaviourSanitizerStopsASignedOverflow) {
  EXPECT_DEATH(
      {
        volatile int big = 2147483647;
        volatile int sum = big + 1;
        (void)sum;
      },
      "signed integer overflow");
}

}  // namespace
