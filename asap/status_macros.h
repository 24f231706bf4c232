// ASAP_RETURN_IF_ERROR and ASAP_ASSIGN_OR_RETURN: early returns for
// absl::Status.
//
// Debian's Abseil 20220623 has no status_macros.h, so asap carries these two.
//
//   absl::StatusOr<Envelope> Parse(absl::string_view json) {
//     ASAP_ASSIGN_OR_RETURN(Envelope envelope, EnvelopeFromJson(json));
//     ASAP_RETURN_IF_ERROR(ValidateEnvelope(envelope, options));
//     return envelope;
//   }
#ifndef ASAP_STATUS_MACROS_H_
#define ASAP_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns `expr` from the current function when it is not OK.
#define ASAP_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status asap_status_ = (expr);        \
    if (!asap_status_.ok()) return asap_status_; \
  } while (0)

#define ASAP_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define ASAP_STATUS_MACROS_CONCAT_(a, b) ASAP_STATUS_MACROS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK,
// otherwise moves the value into `lhs` (a declaration or an assignable
// expression).
#define ASAP_ASSIGN_OR_RETURN(lhs, rexpr) \
  ASAP_ASSIGN_OR_RETURN_IMPL_(            \
      ASAP_STATUS_MACROS_CONCAT_(asap_statusor_, __LINE__), lhs, rexpr)

#define ASAP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // ASAP_STATUS_MACROS_H_
