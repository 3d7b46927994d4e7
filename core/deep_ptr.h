// DeepPtr<T>: an owning pointer that copies what it points to, so that a struct holding one (a
// backend's State with its source and destination machines) is copyable by default and a snapshot
// is a plain copy.
#pragma once

#include <memory>
#include <utility>

namespace irqdiff {

template <class T>
class DeepPtr {
   public:
    DeepPtr() = default;
    DeepPtr(std::unique_ptr<T> p) : p_(std::move(p)) {}  // NOLINT: implicit, as unique_ptr's moves are
    DeepPtr(const DeepPtr& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
    DeepPtr(DeepPtr&&) noexcept = default;
    DeepPtr& operator=(const DeepPtr& o) {
        DeepPtr copy(o);
        std::swap(p_, copy.p_);
        return *this;
    }
    DeepPtr& operator=(DeepPtr&&) noexcept = default;

    T& operator*() const { return *p_; }
    T* operator->() const { return p_.get(); }
    T* get() const { return p_.get(); }
    std::unique_ptr<T> release() { return std::move(p_); }
    explicit operator bool() const { return p_ != nullptr; }

   private:
    std::unique_ptr<T> p_;
};

}  // namespace irqdiff
