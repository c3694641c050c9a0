// View<T>: read-only access to the elements of a stored array in place.
//
// rayk::GetView returns one for an ObjectRef<std::vector<T>> (T trivially
// copyable) or an ObjectRef<rayk::Buffer> (T = uint8_t). The view points into
// the object's own bytes, in shared memory where the store keeps them, and
// holds the object pinned: the elements stay valid and unchanged for as long
// as any copy of the view lives, even after every ObjectRef to the object is
// gone. Copying a view copies a handle, not the elements.
//
// A view is a value: copies may be used from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <utility>

namespace rayk {

template <class T>
class View {
 public:
  View() = default;
  // `elements` stay valid while `owner` lives. For rayk's own use.
  View(std::shared_ptr<const void> owner, std::span<const T> elements)
      : owner_(std::move(owner)), elements_(elements) {}

  const T* data() const { return elements_.data(); }
  size_t size() const { return elements_.size(); }
  bool empty() const { return elements_.empty(); }
  const T& operator[](size_t i) const { return elements_[i]; }
  const T* begin() const { return elements_.data(); }
  const T* end() const { return elements_.data() + elements_.size(); }
  std::span<const T> span() const { return elements_; }
  operator std::span<const T>() const { return elements_; }  // NOLINT: a view is a span

 private:
  std::shared_ptr<const void> owner_;
  std::span<const T> elements_;
};

}  // namespace rayk
