#include "simclr/io/state_dict_reader.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <variant>
#include <vector>

#include "simclr/core/error.h"

namespace simclr::io {
namespace {

// The values a state-dict pickle builds live in one arena and refer to each
// other by index: destroying them never recurses, whatever the file nests,
// and a reference cycle cannot leak.
using Index = uint32_t;
struct Global {
  std::string module, name;
};
struct Storage {
  std::string key;
  c10::ScalarType dtype;
};
using Items = std::vector<Index>;                       // a list or a tuple
using Pairs = std::vector<std::pair<Index, Index>>;     // a dict
struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string, Global, Storage, torch::Tensor, Items, Pairs> v;
  bool is_tuple = false;  // Items is a tuple or a list
  bool is_mark = false;
  // Set once the value is inside a container. torch.save's pickler finishes a
  // container before it puts it into another, so changing a contained one is
  // refused: that keeps `depth` exact and the values acyclic.
  bool contained = false;
  int depth = 0;  // containers nested inside, this one included
};

c10::ScalarType storage_dtype(const Global& g, const std::string& path) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"FloatStorage", torch::kFloat},  {"DoubleStorage", torch::kDouble}, {"HalfStorage", torch::kHalf},
      {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kLong}, {"IntStorage", torch::kInt},
      {"ShortStorage", torch::kShort},  {"CharStorage", torch::kChar},    {"ByteStorage", torch::kByte},
      {"BoolStorage", torch::kBool}};
  const auto it = types.find(g.name);
  SIMCLR_CHECK(g.module == "torch" && it != types.end(), "'{}': unsupported tensor storage type {}.{}", path,
               g.module, g.name);
  return it->second;
}

class Reader {
 public:
  explicit Reader(const ZipArchive& zip) : zip_(zip), path_(zip.path()) {
    // torch.save puts every record under one folder, named after the file.
    SIMCLR_CHECK(!zip.records().empty(), "'{}' is an empty zip file: not written by torch.save", path_);
    const std::string& first = zip.records().front().name;
    prefix_ = first.substr(0, first.find('/') + 1);
    const ZipRecord* pkl = zip.find(prefix_ + "data.pkl");
    SIMCLR_CHECK(!prefix_.empty() && pkl, "'{}' is a zip file without data.pkl: not written by torch.save", path_);
    SIMCLR_CHECK(pkl->size <= kMaxPickleBytes,
                 "'{}': its data.pkl is {} bytes, more than the {} a state dict of tensors needs", path_, pkl->size,
                 kMaxPickleBytes);
    bytes_ = zip.read(*pkl);
  }

  const Value& root() { return values_[run()]; }
  // A (name, tensor) entry of a dict, or nullptrs where it holds other types.
  std::pair<const std::string*, const torch::Tensor*> entry(Index k, Index v) const {
    return {std::get_if<std::string>(&values_[k].v), std::get_if<torch::Tensor>(&values_[v].v)};
  }

 private:
  Index run() {
    for (uint64_t ops = 0;; ++ops) {
      SIMCLR_CHECK(ops < kMaxPickleOps, "'{}': the pickle runs more than {} operations; a state dict needs far fewer",
                   path_, kMaxPickleOps);
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;  // PROTO
        case '.': return pop();    // STOP
        case '}': push(make(Pairs{})); break;  // EMPTY_DICT
        case ']': push(make(Items{})); break;  // EMPTY_LIST
        case ')': push(tuple({})); break;      // EMPTY_TUPLE
        case '(': {                            // MARK
          const Index m = make(std::monostate{});
          values_[m].is_mark = true;
          push(m);
          break;
        }
        case 'N': push(make(std::monostate{})); break;
        case 0x88: push(make(true)); break;
        case 0x89: push(make(false)); break;
        case 'K': push(make(static_cast<int64_t>(byte()))); break;
        case 'M': push(make(static_cast<int64_t>(le(2)))); break;
        case 'J': push(make(static_cast<int64_t>(static_cast<int32_t>(le(4))))); break;
        case 0x8a: {  // LONG1
          const size_t n = byte();
          SIMCLR_CHECK(n <= 8, "'{}': integer too large", path_);
          uint64_t v = le(n);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
          push(make(static_cast<int64_t>(v)));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = bits << 8 | byte();
          double d;
          std::memcpy(&d, &bits, 8);
          push(make(d));
          break;
        }
        case 'X': push(make(text(le(4)))); break;    // BINUNICODE
        case 0x8c: push(make(text(byte()))); break;  // SHORT_BINUNICODE
        case 'c': {                                   // GLOBAL
          std::string module = line();
          std::string name = line();
          push(make(Global{std::move(module), std::move(name)}));
          break;
        }
        case 'q': memo_[byte()] = top(); break;  // BINPUT
        case 'r': memo_[le(4)] = top(); break;   // LONG_BINPUT
        case 'h': push(memo(byte())); break;     // BINGET
        case 'j': push(memo(le(4))); break;      // LONG_BINGET
        case 't': push(tuple(pop_to_mark())); break;
        case 0x85: { const Index a = pop(); push(tuple({a})); break; }
        case 0x86: { const Index b = pop(), a = pop(); push(tuple({a, b})); break; }
        case 0x87: { const Index c = pop(), b = pop(), a = pop(); push(tuple({a, b, c})); break; }
        case 'a': { const Index v = pop(); append(top(), {v}); break; }  // APPEND
        case 'e': { const auto items = pop_to_mark(); append(top(), items); break; }  // APPENDS
        case 's': { const Index v = pop(), k = pop(); set_items(top(), {k, v}); break; }  // SETITEM
        case 'u': { const auto items = pop_to_mark(); set_items(top(), items); break; }   // SETITEMS
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        case 'R': { const Index args = pop(), fn = pop(); push(reduce(fn, args)); break; }
        case 'b': pop(); break;  // BUILD: object state (the OrderedDict's _metadata) is not needed
        default:
          throw Error(fmt::format("'{}': pickle opcode 0x{:02x} at byte {} is outside what torch.save writes for a "
                                  "state dict; save model.state_dict() with torch.save",
                                  path_, op, pos_ - 1));
      }
    }
  }

  uint8_t byte() {
    SIMCLR_CHECK(pos_ < bytes_.size(), "'{}': the pickle is truncated", path_);
    return bytes_[pos_++];
  }
  uint64_t le(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(byte()) << (8 * i);
    return v;
  }
  std::string text(uint64_t n) {
    SIMCLR_CHECK(n <= bytes_.size() - pos_, "'{}': the pickle is truncated", path_);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string line() {
    const auto* begin = bytes_.data() + pos_;
    const auto* end = static_cast<const uint8_t*>(std::memchr(begin, '\n', bytes_.size() - pos_));
    SIMCLR_CHECK(end, "'{}': the pickle is truncated", path_);
    pos_ += static_cast<size_t>(end - begin) + 1;
    return std::string(reinterpret_cast<const char*>(begin), static_cast<size_t>(end - begin));
  }

  template <typename T>
  Index make(T v) {
    // One value per operation at most, so kMaxPickleOps bounds the arena.
    values_.emplace_back();
    values_.back().v = std::move(v);
    return static_cast<Index>(values_.size() - 1);
  }
  Index tuple(const Items& items) {
    const Index t = make(Items{});
    contain(t, items);
    std::get<Items>(values_[t].v) = items;
    values_[t].is_tuple = true;
    return t;
  }
  void push(Index v) {
    SIMCLR_CHECK(stack_.size() < kMaxPickleOps, "'{}': malformed pickle (stack overflow)", path_);
    stack_.push_back(v);
  }
  Index pop() {
    SIMCLR_CHECK(!stack_.empty(), "'{}': malformed pickle (stack underflow)", path_);
    const Index v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Index top() {
    SIMCLR_CHECK(!stack_.empty(), "'{}': malformed pickle (empty stack)", path_);
    return stack_.back();
  }
  Index memo(uint64_t key) {
    const auto it = memo_.find(key);
    SIMCLR_CHECK(it != memo_.end(), "'{}': malformed pickle (memo {} unset)", path_, key);
    return it->second;
  }
  Items pop_to_mark() {
    const auto mark = std::find_if(stack_.rbegin(), stack_.rend(), [&](Index v) { return values_[v].is_mark; });
    SIMCLR_CHECK(mark != stack_.rend(), "'{}': malformed pickle (no mark)", path_);
    const auto from = mark.base();  // the first item after the mark
    Items items(from, stack_.end());
    stack_.erase(from - 1, stack_.end());
    return items;
  }
  // Puts `items` inside `container`: checks and updates nesting depth.
  void contain(Index container, const Items& items) {
    Value& c = values_[container];
    SIMCLR_CHECK(!c.contained, "'{}': malformed pickle (a container changed after it was put in another)", path_);
    for (const Index i : items) {
      SIMCLR_CHECK(i != container, "'{}': malformed pickle (a container inside itself)", path_);
      Value& item = values_[i];
      SIMCLR_CHECK(!item.is_mark, "'{}': malformed pickle (a mark used as a value)", path_);
      item.contained = true;
      c.depth = std::max(c.depth, item.depth + 1);
    }
    c.depth = std::max(c.depth, 1);
    SIMCLR_CHECK(c.depth <= kMaxPickleDepth,
                 "'{}': the pickle nests containers more than {} deep; a state dict nests 3 or 4", path_,
                 kMaxPickleDepth);
  }
  void append(Index list, const Items& items) {
    auto* l = std::get_if<Items>(&values_[list].v);
    SIMCLR_CHECK(l && !values_[list].is_tuple, "'{}': malformed pickle (append to a non-list)", path_);
    contain(list, items);
    l->insert(l->end(), items.begin(), items.end());
  }
  void set_items(Index dict, const Items& items) {
    auto* d = std::get_if<Pairs>(&values_[dict].v);
    SIMCLR_CHECK(d, "'{}': malformed pickle (set item on a non-dict)", path_);
    SIMCLR_CHECK(items.size() % 2 == 0, "'{}': malformed pickle (odd SETITEMS)", path_);
    contain(dict, items);
    for (size_t i = 0; i < items.size(); i += 2) d->emplace_back(items[i], items[i + 1]);
  }
  const Items& items(Index v) {
    const auto* t = std::get_if<Items>(&values_[v].v);
    SIMCLR_CHECK(t, "'{}': malformed pickle (expected a tuple)", path_);
    return *t;
  }
  int64_t integer(Index v) {
    const auto* i = std::get_if<int64_t>(&values_[v].v);
    SIMCLR_CHECK(i, "'{}': malformed pickle (expected an integer)", path_);
    return *i;
  }

  // ('storage', torch.<Type>Storage, key, location, numel)
  Index persistent_load(Index pid) {
    const Items t = items(pid);
    SIMCLR_CHECK(t.size() >= 3, "'{}': unexpected persistent id", path_);
    const auto* g = std::get_if<Global>(&values_[t[1]].v);
    const auto* key = std::get_if<std::string>(&values_[t[2]].v);
    SIMCLR_CHECK(g && key, "'{}': unexpected persistent id", path_);
    Storage s{*key, storage_dtype(*g, path_)};
    return make(std::move(s));
  }

  Index reduce(Index fn, Index args) {
    const auto* g = std::get_if<Global>(&values_[fn].v);
    SIMCLR_CHECK(g, "'{}': malformed pickle (REDUCE of a non-global)", path_);
    const std::string name = g->module + "." + g->name;
    if (name == "collections.OrderedDict") return make(Pairs{});
    if (name == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks, ...)
      const Items a = items(args);
      SIMCLR_CHECK(a.size() >= 4, "'{}': malformed tensor record", path_);
      const auto* storage = std::get_if<Storage>(&values_[a[0]].v);
      SIMCLR_CHECK(storage, "'{}': malformed tensor record", path_);
      const Items& size_items = items(a[2]);
      const Items& stride_items = items(a[3]);
      SIMCLR_CHECK(size_items.size() == stride_items.size() && size_items.size() <= kMaxTensorDims,
                   "'{}': malformed tensor record ({} sizes, {} strides)", path_, size_items.size(),
                   stride_items.size());
      std::vector<int64_t> size, stride;
      for (const Index s : size_items) size.push_back(integer(s));
      for (const Index s : stride_items) stride.push_back(integer(s));
      const Storage s = *storage;  // make() below may move the arena
      torch::Tensor t = tensor_from(s, integer(a[1]), size, stride);
      return make(std::move(t));
    }
    throw Error(fmt::format("'{}' holds a {} object; only state dicts of tensors are supported (save "
                            "model.state_dict())",
                            path_, name));
  }

  // The storage record, read once into a tensor of exactly its size.
  const torch::Tensor& storage(const Storage& s) {
    auto it = storages_.find(s.key);
    if (it != storages_.end()) {
      SIMCLR_CHECK(it->second.scalar_type() == s.dtype, "'{}': tensor data 'data/{}' is read as two types", path_,
                   s.key);
      return it->second;
    }
    const std::string record = prefix_ + "data/" + s.key;
    const ZipRecord* r = zip_.find(record);
    SIMCLR_CHECK(r, "'{}': tensor data '{}' is missing", path_, record);
    const uint64_t element = c10::elementSize(s.dtype);
    SIMCLR_CHECK(r->size % element == 0, "'{}': tensor data '{}' has {} bytes, not a whole number of {}-byte {}",
                 path_, record, r->size, element, c10::toString(s.dtype));
    // r->size was checked against the file by ZipArchive (at most the file's
    // size, or a bounded multiple of it when deflated).
    auto flat = torch::empty({static_cast<int64_t>(r->size / element)}, torch::TensorOptions().dtype(s.dtype));
    zip_.read_into(*r, flat.data_ptr());
    return storages_.emplace(s.key, std::move(flat)).first->second;
  }

  torch::Tensor tensor_from(const Storage& s, int64_t offset, const std::vector<int64_t>& size,
                            const std::vector<int64_t>& stride) {
    const torch::Tensor& flat = storage(s);
    const int64_t available = flat.numel();
    auto outside = [&](const char* why) {
      return Error(fmt::format("'{}': a tensor of size {} and stride {} at offset {} {} its storage 'data/{}' of {} "
                               "elements",
                               path_, c10::str(c10::IntArrayRef(size)), c10::str(c10::IntArrayRef(stride)), offset,
                               why, s.key, available));
    };
    if (offset < 0) throw outside("starts before");
    int64_t numel = 1, last = offset;  // last: the highest element index it uses
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] < 0 || stride[i] < 0) throw outside("has a negative size or stride, unlike any in");
      if (__builtin_mul_overflow(numel, size[i], &numel)) throw outside("has more elements than fit in");
    }
    if (numel == 0) {
      if (offset > available) throw outside("starts after");
      return torch::empty(size, torch::TensorOptions().dtype(s.dtype));
    }
    for (size_t i = 0; i < size.size(); ++i) {
      int64_t reach = 0;
      if (__builtin_mul_overflow(size[i] - 1, stride[i], &reach) || __builtin_add_overflow(last, reach, &last)) {
        throw outside("reaches beyond");
      }
    }
    if (last >= available) throw outside("reaches beyond");
    if (numel > available) throw outside("has more elements than");
    return flat.as_strided(size, stride, offset);
  }

  const ZipArchive& zip_;
  std::string path_, prefix_;
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
  std::vector<Value> values_;
  std::vector<Index> stack_;
  std::unordered_map<uint64_t, Index> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

}  // namespace

std::map<std::string, torch::Tensor> read_torch_save_state_dict(const ZipArchive& zip) {
  std::map<std::string, torch::Tensor> out;
  try {
    Reader reader(zip);
    const Value& root = reader.root();
    const auto* dict = std::get_if<Pairs>(&root.v);
    SIMCLR_CHECK(dict, "'{}' does not hold a dict; save model.state_dict()", zip.path());
    // The items are in the reader's arena: look them up while it lives.
    for (const auto& [k, v] : *dict) {
      const auto [name, tensor] = reader.entry(k, v);
      SIMCLR_CHECK(name && tensor, "'{}': a state dict maps names to tensors; this one holds other entries",
                   zip.path());
      out[*name] = *tensor;
    }
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot read '{}' as a torch.save zip file: {}", zip.path(), e.what_without_backtrace()));
  }
  return out;
}

std::map<std::string, torch::Tensor> read_torch_save_state_dict(const std::string& path) {
  ZipArchive zip(path, "weights file");
  zip.verify();
  return read_torch_save_state_dict(zip);
}

}  // namespace simclr::io
