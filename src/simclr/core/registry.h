// A registry: the one place where the components of one kind (datasets,
// augmentation operations, losses, encoders, evaluation protocols) are
// listed by name. Config validation, the command line's help and the error
// for an unknown name all read it, so a name is written once.
//
// Each kind keeps its registry as a function-local static built from a table
// in one file (for example models/encoders.cpp), not from self-registering
// globals: simclr is a static library, and the linker drops an object file
// that nothing references, with its registrar. One line in the table adds a
// component.
#pragma once
#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "simclr/core/error.h"

namespace simclr {

// Entry: any struct with a `std::string name` and a `std::string help`
// member (one line, shown in the help), plus whatever the kind needs to
// build the component (its factory).
template <class Entry>
class Registry {
 public:
  // `kind` names the component in messages: "loss", "dataset format", ...
  Registry(std::string kind, std::initializer_list<Entry> entries) : kind_(std::move(kind)), entries_(entries) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        SIMCLR_CHECK(entries_[i].name != entries_[j].name, "{} '{}' is registered twice", kind_, entries_[i].name);
      }
    }
  }

  // The entry called `name`; otherwise throws "unknown loss 'ntxent'
  // (loss.name); known: nt_xent, nt_logistic, margin".
  const Entry& at(const std::string& name, const std::string& key = "") const {
    if (const Entry* e = find(name)) return *e;
    throw Error(fmt::format("unknown {} '{}'{}; known: {}", kind_, name, key.empty() ? "" : " (" + key + ")",
                            joined_names()));
  }
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  bool contains(const std::string& name) const { return find(name) != nullptr; }

  // Names in registration order (the order help and messages list them).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }
  std::string joined_names(const std::string& separator = ", ") const {
    std::string out;
    for (const auto& e : entries_) out += (out.empty() ? "" : separator) + e.name;
    return out;
  }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::vector<Entry> entries_;
};

}  // namespace simclr
