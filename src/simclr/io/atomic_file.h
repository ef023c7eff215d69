#pragma once
#include <functional>
#include <string>

namespace simclr {

// Writes `path` atomically: `write(tmp)` fills a temporary file next to it,
// which is fsynced and renamed over `path`. A crash at any point leaves either
// the old file or the new one, never a half-written one.
void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write);

// Convenience for text files (configs, JSON results).
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace simclr
