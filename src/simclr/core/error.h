// Errors in simclr are exceptions that carry a message naming the thing that
// is wrong and how to fix it; main() catches them, prints, returns non-zero.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace simclr {

// Bad user input: a file, a config value, a dataset. Always recoverable by
// the user, so the message must say what to change.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace simclr

// SIMCLR_CHECK(cond, "format {}", args...): throws simclr::Error when cond is
// false. Used for user data; TORCH_INTERNAL_ASSERT is for broken invariants.
#define SIMCLR_CHECK(cond, ...)                                 \
  do {                                                          \
    if (!(cond)) throw ::simclr::Error(fmt::format(__VA_ARGS__)); \
  } while (0)
