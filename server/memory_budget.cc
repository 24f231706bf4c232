#include "server/memory_budget.h"

#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap {

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(
    Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void MemoryBudget::Reservation::Release() {
  if (budget_ != nullptr) {
    budget_->in_use_.fetch_sub(bytes_, std::memory_order_relaxed);
  }
  budget_ = nullptr;
  bytes_ = 0;
}

absl::StatusOr<MemoryBudget::Reservation> MemoryBudget::Reserve(size_t bytes) {
  size_t current = in_use_.load(std::memory_order_relaxed);
  while (true) {
    size_t wanted = current + bytes;
    if (quota_ != 0 && (wanted > quota_ || wanted < current)) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return AsapError(ErrorCode::kResourceExhausted,
                       absl::StrCat("the server's memory quota is in use (",
                                    current, " of ", quota_, " bytes held, ",
                                    bytes, " more needed); try again later"));
    }
    if (in_use_.compare_exchange_weak(current, wanted,
                                      std::memory_order_relaxed)) {
      size_t peak = peak_.load(std::memory_order_relaxed);
      while (wanted > peak && !peak_.compare_exchange_weak(
                                  peak, wanted, std::memory_order_relaxed)) {
      }
      return Reservation(this, bytes);
    }
  }
}

}  // namespace asap
