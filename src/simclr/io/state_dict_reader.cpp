#include "simclr/io/state_dict_reader.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <memory>
#include <variant>

#include "simclr/core/error.h"

namespace simclr::io {
namespace {

// The values a state-dict pickle builds.
struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Global {
  std::string module, name;
};
struct Storage {
  std::string key;
  c10::ScalarType dtype;
};
struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string, Global, Storage, torch::Tensor,
               std::vector<ValuePtr>, std::vector<std::pair<ValuePtr, ValuePtr>>>
      v;
  bool is_tuple = false;  // vector<ValuePtr> is a tuple or a list
  bool is_mark = false;
};

ValuePtr make(decltype(Value::v) v) {
  auto p = std::make_shared<Value>();
  p->v = std::move(v);
  return p;
}

c10::ScalarType storage_dtype(const std::string& name) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"FloatStorage", torch::kFloat},  {"DoubleStorage", torch::kDouble}, {"HalfStorage", torch::kHalf},
      {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kLong}, {"IntStorage", torch::kInt},
      {"ShortStorage", torch::kShort},  {"CharStorage", torch::kChar},    {"ByteStorage", torch::kByte},
      {"BoolStorage", torch::kBool}};
  const auto it = types.find(name);
  SIMCLR_CHECK(it != types.end(), "unsupported tensor storage type torch.{}", name);
  return it->second;
}

class Reader {
 public:
  Reader(const std::string& path) : path_(path), archive_(path) {
    std::string pkl;
    for (const auto& r : archive_.getAllRecords()) {
      if (r == "data.pkl") pkl = r;
    }
    SIMCLR_CHECK(!pkl.empty(), "'{}' is a zip file without data.pkl: not written by torch.save", path);
    auto [ptr, size] = archive_.getRecord(pkl);
    bytes_.assign(static_cast<const uint8_t*>(ptr.get()), static_cast<const uint8_t*>(ptr.get()) + size);
  }

  ValuePtr run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;  // PROTO
        case '.': return pop();    // STOP
        case '}': push(make(std::vector<std::pair<ValuePtr, ValuePtr>>{})); break;  // EMPTY_DICT
        case ']': push(make(std::vector<ValuePtr>{})); break;                         // EMPTY_LIST
        case ')': push(tuple({})); break;                                             // EMPTY_TUPLE
        case '(': {  // MARK
          auto m = std::make_shared<Value>();
          m->is_mark = true;
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
          SIMCLR_CHECK(n <= 8, "{}: integer too large", path_);
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
        case 'X': push(make(text(le(4)))); break;     // BINUNICODE
        case 0x8c: push(make(text(byte()))); break;   // SHORT_BINUNICODE
        case 'c': {                                    // GLOBAL
          const std::string module = line(), name = line();
          push(make(Global{module, name}));
          break;
        }
        case 'q': memo_[byte()] = top(); break;  // BINPUT
        case 'r': memo_[le(4)] = top(); break;   // LONG_BINPUT
        case 'h': push(memo(byte())); break;     // BINGET
        case 'j': push(memo(le(4))); break;      // LONG_BINGET
        case 't': push(tuple(pop_to_mark())); break;
        case 0x85: { auto a = pop(); push(tuple({a})); break; }
        case 0x86: { auto b = pop(), a = pop(); push(tuple({a, b})); break; }
        case 0x87: { auto c = pop(), b = pop(), a = pop(); push(tuple({a, b, c})); break; }
        case 'a': { auto v = pop(); list_of(top()).push_back(v); break; }
        case 'e': { auto items = pop_to_mark(); auto& l = list_of(top()); l.insert(l.end(), items.begin(), items.end()); break; }
        case 's': { auto v = pop(), k = pop(); dict_of(top()).emplace_back(k, v); break; }
        case 'u': {
          auto items = pop_to_mark();
          SIMCLR_CHECK(items.size() % 2 == 0, "{}: odd SETITEMS", path_);
          auto& d = dict_of(top());
          for (size_t i = 0; i < items.size(); i += 2) d.emplace_back(items[i], items[i + 1]);
          break;
        }
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        case 'R': { auto args = pop(), fn = pop(); push(reduce(fn, args)); break; }
        case 'b': pop(); break;  // BUILD: object state (the OrderedDict's _metadata) is not needed
        default:
          throw Error(fmt::format("'{}': pickle opcode 0x{:02x} at byte {} is outside what torch.save writes for a "
                                  "state dict; save model.state_dict() with torch.save",
                                  path_, op, pos_ - 1));
      }
    }
  }

 private:
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
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::string line() {
    std::string s;
    for (uint8_t c = byte(); c != '\n'; c = byte()) s += static_cast<char>(c);
    return s;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    SIMCLR_CHECK(!stack_.empty(), "'{}': malformed pickle (stack underflow)", path_);
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr top() {
    SIMCLR_CHECK(!stack_.empty(), "'{}': malformed pickle (empty stack)", path_);
    return stack_.back();
  }
  ValuePtr memo(uint64_t key) {
    const auto it = memo_.find(key);
    SIMCLR_CHECK(it != memo_.end(), "'{}': malformed pickle (memo {} unset)", path_, key);
    return it->second;
  }
  std::vector<ValuePtr> pop_to_mark() {
    std::vector<ValuePtr> items;
    while (true) {
      auto v = pop();
      if (v->is_mark) break;
      items.push_back(v);
    }
    std::reverse(items.begin(), items.end());
    return items;
  }
  static ValuePtr tuple(std::vector<ValuePtr> items) {
    auto v = make(std::move(items));
    v->is_tuple = true;
    return v;
  }
  std::vector<ValuePtr>& list_of(const ValuePtr& v) {
    auto* l = std::get_if<std::vector<ValuePtr>>(&v->v);
    SIMCLR_CHECK(l && !v->is_tuple, "'{}': malformed pickle (append to a non-list)", path_);
    return *l;
  }
  std::vector<std::pair<ValuePtr, ValuePtr>>& dict_of(const ValuePtr& v) {
    auto* d = std::get_if<std::vector<std::pair<ValuePtr, ValuePtr>>>(&v->v);
    SIMCLR_CHECK(d, "'{}': malformed pickle (set item on a non-dict)", path_);
    return *d;
  }
  const std::vector<ValuePtr>& items(const ValuePtr& v) {
    auto* t = std::get_if<std::vector<ValuePtr>>(&v->v);
    SIMCLR_CHECK(t, "'{}': malformed pickle (expected a tuple)", path_);
    return *t;
  }
  int64_t integer(const ValuePtr& v) {
    auto* i = std::get_if<int64_t>(&v->v);
    SIMCLR_CHECK(i, "'{}': malformed pickle (expected an integer)", path_);
    return *i;
  }

  // ('storage', torch.<Type>Storage, key, location, numel)
  ValuePtr persistent_load(const ValuePtr& pid) {
    const auto& t = items(pid);
    SIMCLR_CHECK(t.size() >= 3, "'{}': unexpected persistent id", path_);
    const auto* g = std::get_if<Global>(&t[1]->v);
    const auto* key = std::get_if<std::string>(&t[2]->v);
    SIMCLR_CHECK(g && key, "'{}': unexpected persistent id", path_);
    return make(Storage{*key, storage_dtype(g->name)});
  }

  ValuePtr reduce(const ValuePtr& fn, const ValuePtr& args) {
    const auto* g = std::get_if<Global>(&fn->v);
    SIMCLR_CHECK(g, "'{}': malformed pickle (REDUCE of a non-global)", path_);
    const std::string name = g->module + "." + g->name;
    if (name == "collections.OrderedDict") return make(std::vector<std::pair<ValuePtr, ValuePtr>>{});
    if (name == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks, ...)
      const auto& a = items(args);
      SIMCLR_CHECK(a.size() >= 4, "'{}': malformed tensor record", path_);
      const auto* storage = std::get_if<Storage>(&a[0]->v);
      SIMCLR_CHECK(storage, "'{}': malformed tensor record", path_);
      std::vector<int64_t> size, stride;
      for (const auto& s : items(a[2])) size.push_back(integer(s));
      for (const auto& s : items(a[3])) stride.push_back(integer(s));
      return make(tensor_from(*storage, integer(a[1]), size, stride));
    }
    throw Error(fmt::format("'{}' holds a {} object; only state dicts of tensors are supported (save "
                            "model.state_dict())",
                            path_, name));
  }

  torch::Tensor tensor_from(const Storage& s, int64_t offset, const std::vector<int64_t>& size,
                            const std::vector<int64_t>& stride) {
    auto it = storages_.find(s.key);
    if (it == storages_.end()) {
      const std::string record = "data/" + s.key;
      SIMCLR_CHECK(archive_.hasRecord(record), "'{}': tensor data '{}' is missing", path_, record);
      auto [ptr, bytes] = archive_.getRecord(record);
      const int64_t element = static_cast<int64_t>(c10::elementSize(s.dtype));
      auto flat = torch::empty({static_cast<int64_t>(bytes) / element}, torch::TensorOptions().dtype(s.dtype));
      std::memcpy(flat.data_ptr(), ptr.get(), bytes);
      it = storages_.emplace(s.key, flat).first;
    }
    const auto& flat = it->second;
    int64_t extent = 1;
    for (size_t i = 0; i < size.size(); ++i) extent += (size[i] - 1) * stride[i];
    SIMCLR_CHECK(size.size() == stride.size() && offset >= 0 &&
                     (std::find(size.begin(), size.end(), 0) != size.end() || offset + extent <= flat.numel()),
                 "'{}': a tensor lies outside its storage", path_);
    return flat.as_strided(size, stride, offset).clone();
  }

  std::string path_;
  caffe2::serialize::PyTorchStreamReader archive_;
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::map<uint64_t, ValuePtr> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

}  // namespace

std::map<std::string, torch::Tensor> read_torch_save_state_dict(const std::string& path) {
  ValuePtr root;
  try {
    root = Reader(path).run();
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot read '{}' as a torch.save zip file: {}", path, e.what_without_backtrace()));
  }
  const auto* dict = std::get_if<std::vector<std::pair<ValuePtr, ValuePtr>>>(&root->v);
  SIMCLR_CHECK(dict, "'{}' does not hold a dict; save model.state_dict()", path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : *dict) {
    const auto* name = std::get_if<std::string>(&k->v);
    const auto* tensor = std::get_if<torch::Tensor>(&v->v);
    SIMCLR_CHECK(name && tensor, "'{}': a state dict maps names to tensors; this one holds other entries", path);
    out[*name] = *tensor;
  }
  return out;
}

}  // namespace simclr::io
