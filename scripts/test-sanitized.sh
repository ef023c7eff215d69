#!/usr/bin/env bash
# Builds the library, the program and the test suite with AddressSanitizer
# and UndefinedBehaviorSanitizer (build-asan/) and runs the suite: any
# memory error or undefined behaviour fails the test that hit it.
#   scripts/test-sanitized.sh [CTEST_REGEX]   e.g. 'FaultInjection|Untrusted' 
# LibTorch, OpenCV and the other libraries are Debian's, not instrumented:
# what is checked is simclr's own code and what it hands them. Leak
# detection is off (LibTorch keeps global state alive until exit).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build-asan
# -O1 -g1: line tables are enough for ASan's stack traces, and the build is
# quicker (the whole suite, built and run: 17 minutes on 2 cores).
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMCLR_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DSIMCLR_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target simclr_tests simclr_cli simclr_write_fault
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The fault-injection shim goes into LD_PRELOAD after ASan's runtime.
export SIMCLR_ASAN_RUNTIME="$(g++ -print-file-name=libasan.so)"
ctest --test-dir "$BUILD_DIR" -j"$(nproc)" --output-on-failure --timeout 1500 ${1:+-R "$1"}
