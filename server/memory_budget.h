// MemoryBudget: the server's accounting of memory held by calls in flight.
//
// Every request reserves what it will hold (its bytes, decompressed and
// parsed, and its response) before the server allocates it; a reservation
// that would pass the quota fails at once, and the call gets
// asap:transport/resource_exhausted (RESOURCE_EXHAUSTED) instead of the
// process growing. Reservations are released when the call's memory is freed.
//
//   asap::MemoryBudget budget(512 << 20);
//   absl::StatusOr<asap::MemoryBudget::Reservation> held =
//       budget.Reserve(estimate);
//   if (!held.ok()) return held.status();
#ifndef ASAP_SERVER_MEMORY_BUDGET_H_
#define ASAP_SERVER_MEMORY_BUDGET_H_

#include <atomic>
#include <cstddef>

#include "absl/status/statusor.h"

namespace asap {

class MemoryBudget {
 public:
  // Bytes held by one call; released when destroyed. Movable.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept { *this = std::move(other); }
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation() { Release(); }

    size_t bytes() const { return bytes_; }
    // Gives the bytes back now.
    void Release();

   private:
    friend class MemoryBudget;
    Reservation(MemoryBudget* budget, size_t bytes)
        : budget_(budget), bytes_(bytes) {}
    MemoryBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  // `quota_bytes` = 0 means no limit (reservations are still counted).
  explicit MemoryBudget(size_t quota_bytes) : quota_(quota_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Reserves `bytes`, or returns asap:transport/resource_exhausted when the
  // reservations held would pass the quota. Thread-safe, lock-free.
  absl::StatusOr<Reservation> Reserve(size_t bytes);

  size_t quota() const { return quota_; }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  // Highest in_use() seen, and reservations refused.
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const size_t quota_;
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace asap

#endif  // ASAP_SERVER_MEMORY_BUDGET_H_
