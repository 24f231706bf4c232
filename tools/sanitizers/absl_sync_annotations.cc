// ThreadSanitizer annotations for Debian's (uninstrumented) Abseil
// synchronization library and absl::Status, linked into every binary of the
// tsan config.
//
// TSan sees synchronization only in code it instrumented and in the libc
// functions it intercepts. Debian's libabsl_synchronization is not
// instrumented, and Abseil's own TSan annotations are compiled in only when
// Abseil itself is built with TSan, so to TSan an absl::Mutex does nothing and
// every variable it guards looks raced. No suppression can fix that without
// hiding real races in asap's code, which is where such reports point.
//
// The definitions below take the place of Abseil's out-of-line entry points:
// a definition in the executable comes first in the dynamic linker's symbol
// lookup, for calls from asap's code and also for the calls that libabsl,
// libgpr and libgrpc make through their PLT. Each one tells TSan what the call
// does, with the annotations Abseil's TSan build uses (mutex.cc), and forwards
// to Abseil's own function (dlsym with RTLD_NEXT). Entry points that only
// forward to another one (LockWhenWithTimeout to LockWhenWithDeadline,
// Await to AwaitCommon, CondVar::Wait to WaitCommon, ...) are left alone, so
// no call is annotated twice.
//
// Condition functions run inside the annotated region, where TSan ignores
// memory accesses: a race inside a Condition is not reported.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/status/internal/status_internal.h"
#include "absl/status/status.h"
#include "absl/synchronization/internal/kernel_timeout.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#if !ABSL_OPTION_USE_INLINE_NAMESPACE
#error "the mangled names below assume Abseil's inline namespace"
#endif

namespace asap_tsan {
namespace {

#define ASAP_TSAN_STRINGIFY_INNER(x) #x
#define ASAP_TSAN_STRINGIFY(x) ASAP_TSAN_STRINGIFY_INNER(x)

// Abseil's own definition of the member function whose mangled name is
// `prefix` ("_ZN" or "_ZNK") + "4absl" + the inline namespace + `rest`.
template <typename Fn>
Fn Real(const char* prefix, const char* rest) {
  const std::string ns = ASAP_TSAN_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name =
      std::string(prefix) + "4absl" + std::to_string(ns.size()) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    // Abseil changed its entry points: this file needs the new names.
    std::fprintf(stderr,
                 "tools/sanitizers/absl_sync_annotations.cc: %s not found\n",
                 name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// The writer bit of absl::Mutex's state word (kMuWriter in mutex.cc): the
// waits below release and retake the mutex in the mode it is held in.
constexpr intptr_t kMuWriter = 0x0008L;

unsigned ModeFlags(intptr_t state) {
  return (state & kMuWriter) != 0 ? 0 : __tsan_mutex_read_lock;
}

}  // namespace
}  // namespace asap_tsan

namespace absl {
ABSL_NAMESPACE_BEGIN

using asap_tsan::Real;

Mutex::~Mutex() {
  static const auto real = Real<void (*)(Mutex*)>("_ZN", "5MutexD1Ev");
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
  real(this);
}

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("_ZN", "5Mutex4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLock() {
  static const auto real =
      Real<void (*)(Mutex*)>("_ZN", "5Mutex10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("_ZN", "5Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  bool locked = real(this);
  __tsan_mutex_post_lock(
      this, locked ? __tsan_mutex_try_lock : __tsan_mutex_try_lock_failed, 0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const auto real =
      Real<bool (*)(Mutex*)>("_ZN", "5Mutex13ReaderTryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_read_lock);
  bool locked = real(this);
  __tsan_mutex_post_lock(
      this,
      locked ? __tsan_mutex_try_read_lock : __tsan_mutex_try_read_lock_failed,
      0);
  return locked;
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("_ZN", "5Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  static const auto real =
      Real<void (*)(Mutex*)>("_ZN", "5Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      "_ZN", "5Mutex8LockWhenERKNS0_9ConditionE");
  __tsan_mutex_pre_lock(this, 0);
  real(this, cond);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      "_ZN", "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this, cond);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_ZN", "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_mutex_pre_lock(this, 0);
  bool result = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, 0, 0);
  return result;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond,
                                       absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_ZN", "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  bool result = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
  return result;
}

// Await, AwaitWithTimeout and AwaitWithDeadline come here once the condition
// is false: the mutex is released while waiting and held again on return.
bool Mutex::AwaitCommon(const Condition& cond,
                        synchronization_internal::KernelTimeout t) {
  static const auto real = Real<bool (*)(
      Mutex*, const Condition&, synchronization_internal::KernelTimeout)>(
      "_ZN",
      "5Mutex11AwaitCommonERKNS0_9ConditionENS0_24synchronization_"
      "internal13KernelTimeoutE");
  unsigned mode = asap_tsan::ModeFlags(mu_.load(std::memory_order_relaxed));
  __tsan_mutex_pre_unlock(this, mode);
  bool result = real(this, cond, t);
  __tsan_mutex_post_unlock(this, mode);
  __tsan_mutex_pre_lock(this, mode);
  __tsan_mutex_post_lock(this, mode, 0);
  return result;
}

// Every CondVar wait comes here: `mutex` is released while waiting and held
// again on return.
bool CondVar::WaitCommon(Mutex* mutex,
                         synchronization_internal::KernelTimeout t) {
  static const auto real =
      Real<bool (*)(CondVar*, Mutex*, synchronization_internal::KernelTimeout)>(
          "_ZN",
          "7CondVar10WaitCommonEPNS0_5MutexENS0_24synchronization_"
          "internal13KernelTimeoutE");
  unsigned mode =
      asap_tsan::ModeFlags(mutex->mu_.load(std::memory_order_relaxed));
  __tsan_mutex_pre_unlock(mutex, mode);
  bool result = real(this, mutex, t);
  __tsan_mutex_post_unlock(mutex, mode);
  __tsan_mutex_pre_lock(mutex, mode);
  __tsan_mutex_post_lock(mutex, mode, 0);
  return result;
}

// HasBeenNotified() is inline: an acquire load of notified_yet_ in asap's
// (instrumented) code, which must see the release that Notify() does.
void Notification::Notify() {
  static const auto real =
      Real<void (*)(Notification*)>("_ZN", "12Notification6NotifyEv");
  __tsan_release(&notified_yet_);
  real(this);
}

// A waiter that finds the notification already given takes no lock.
void Notification::WaitForNotification() const {
  static const auto real = Real<void (*)(const Notification*)>(
      "_ZNK", "12Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
}

bool Notification::WaitForNotificationWithTimeout(
    absl::Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      "_ZNK", "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  bool notified = real(this, timeout);
  if (notified) {
    __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  }
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Time)>(
      "_ZNK", "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  bool notified = real(this, deadline);
  if (notified) {
    __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  }
  return notified;
}

// absl::Status shares its heap representation through a reference count:
// copies take a reference inline (instrumented), but the release is this
// out-of-line function, whose atomic TSan cannot see and whose final
// `delete` is a tail call that looks as if asap's code made it. So it is
// replaced outright by Abseil's own algorithm (status.cc), compiled here with
// TSan, instead of being forwarded.
void Status::UnrefNonInlined(uintptr_t rep) {
  status_internal::StatusRep* r = RepToPointer(rep);
  // The last reference may skip the decrement: no other thread can hold one.
  if (r->ref.load(std::memory_order_acquire) == 1 ||
      r->ref.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    delete r;
  }
}

ABSL_NAMESPACE_END
}  // namespace absl
