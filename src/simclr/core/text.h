// Small text helpers shared by the config parser and the components that
// read lists from it.
#pragma once
#include <sstream>
#include <string>
#include <vector>

#include "simclr/core/error.h"

namespace simclr {

// Splits "a, b,c" into trimmed names; throws naming `key` on an empty item.
// An empty or blank text is an empty list.
inline std::vector<std::string> split_names(const std::string& text, const std::string& key) {
  std::vector<std::string> out;
  if (text.find_first_not_of(" \t") == std::string::npos) return out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    SIMCLR_CHECK(b != std::string::npos, "config key '{}': empty item in '{}'", key, text);
    out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace simclr
