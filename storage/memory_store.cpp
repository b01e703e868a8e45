#include <map>

#include "storage/store.hpp"

namespace castor::storage {

store::~store() = default;

namespace {

class memory_store final : public store {
public:
  std::string write(const std::vector<change>& changes, bool) override {
    for (auto& c : changes) {
      if (c.erase())
        data_.erase(c.key);
      else
        data_[c.key] = c.value;
    }
    return {};
  }

  std::string sync() override {
    return {};
  }

  std::optional<std::string> get(std::string_view key) override {
    auto i = data_.find(key);
    if (i == data_.end())
      return std::nullopt;
    return i->second;
  }

  void scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& f)
      override {
    for (auto i = data_.lower_bound(prefix); i != data_.end(); ++i) {
      if (i->first.compare(0, prefix.size(), prefix) != 0)
        break;
      if (!f(i->first, i->second))
        break;
    }
  }

  std::string checkpoint(const std::string&) override {
    return "a store in memory has no checkpoints";
  }

  uint64_t size_bytes() override {
    uint64_t n = 0;
    for (auto& [k, v] : data_)
      n += k.size() + v.size();
    return n;
  }

private:
  std::map<std::string, std::string, std::less<>> data_;
};

} // namespace

std::unique_ptr<store> make_memory_store() {
  return std::make_unique<memory_store>();
}

} // namespace castor::storage
