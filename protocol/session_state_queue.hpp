#pragma once

#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <utility>

namespace castor::mqtt {

/// A std::deque that allocates nothing until the first element arrives.
/// libstdc++'s std::deque allocates its map and a 512-byte node even when
/// default-constructed, which is paid by every idle connection and session.
/// `release_if_empty()` gives the storage back once the queue drained.
template <class T>
class lazy_deque {
public:
  using container = std::deque<T>;
  using iterator = typename container::iterator;
  using const_iterator = typename container::const_iterator;

  /// Returns whether the queue holds no element.
  bool empty() const noexcept {
    return !q_ || q_->empty();
  }

  /// Returns the number of elements.
  size_t size() const noexcept {
    return q_ ? q_->size() : 0;
  }

  /// Returns whether storage is currently allocated.
  bool allocated() const noexcept {
    return q_ != nullptr;
  }

  T& front() {
    return q_->front();
  }

  const T& front() const {
    return q_->front();
  }

  T& back() {
    return q_->back();
  }

  T& operator[](size_t i) {
    return (*q_)[i];
  }

  const T& operator[](size_t i) const {
    return (*q_)[i];
  }

  void pop_front() {
    q_->pop_front();
  }

  void pop_back() {
    q_->pop_back();
  }

  template <class... Ts>
  T& emplace_back(Ts&&... xs) {
    return get().emplace_back(std::forward<Ts>(xs)...);
  }

  void push_back(T x) {
    get().push_back(std::move(x));
  }

  iterator begin() {
    return q_ ? q_->begin() : iterator{};
  }

  iterator end() {
    return q_ ? q_->end() : iterator{};
  }

  const_iterator begin() const {
    return q_ ? q_->cbegin() : const_iterator{};
  }

  const_iterator end() const {
    return q_ ? q_->cend() : const_iterator{};
  }

  iterator erase(iterator i) {
    return q_->erase(i);
  }

  iterator erase(iterator first, iterator last) {
    if (!q_)
      return iterator{};
    return q_->erase(first, last);
  }

  /// Removes every element and releases the storage.
  void clear() noexcept {
    q_.reset();
  }

  /// Releases the storage when no element is left.
  void release_if_empty() noexcept {
    if (q_ && q_->empty())
      q_.reset();
  }

private:
  container& get() {
    if (!q_)
      q_ = std::make_unique<container>();
    return *q_;
  }

  std::unique_ptr<container> q_;
};

} // namespace castor::mqtt
