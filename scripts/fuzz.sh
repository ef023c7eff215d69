#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and runs each for SECONDS
# (default 180) on a copy of its checked-in corpus. Inputs that crash are
# written to build-fuzz/artifacts/; add them to fuzz/corpus/<target>/ once
# fixed, so tests/fuzz_corpus_test.cpp replays them in every test run.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     TARGET: idx cifar stl10 state_dict
# state_dict links LibTorch (libtorch-dev) and fuzzes io/state_dict_reader.cpp
# and io/zip_check.cpp; its corpus seeds come from fuzz/make_seeds.py.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(idx cifar stl10 state_dict)
command -v clang++ >/dev/null || { echo "fuzz.sh needs clang (apt-get install clang)" >&2; exit 1; }
cmake -S fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target "${targets[@]/%/_fuzz}"
mkdir -p build-fuzz/artifacts
declare -A max_len=([idx]=4096 [cifar]=8192 [stl10]=60000 [state_dict]=8192)
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  cp -n fuzz/corpus/$t/* "$work"/ 2>/dev/null || true
  echo "== fuzzing $t for ${seconds}s"
  build-fuzz/${t}_fuzz "$work" -max_total_time="$seconds" -max_len="${max_len[$t]}" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/${t}- 2>&1 | grep -v "# Uses:" | tail -n 12
done
