// The ASAP task state machine.
//
//   submitted      -> working, cancelled
//   working        -> completed, failed, cancelled, input_required
//   input_required -> working, cancelled
//   completed, failed, cancelled: terminal
//
//   absl::Status s = asap::CheckTransition(v1::TASK_STATUS_WORKING,
//                                          v1::TASK_STATUS_COMPLETED);  // OK
#ifndef ASAP_TASK_STATE_H_
#define ASAP_TASK_STATE_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/v1/payloads.pb.h"

namespace asap {

// The JSON spelling: "submitted", "working", ..., "input_required"; "" for
// TASK_STATUS_UNSPECIFIED.
absl::string_view TaskStatusName(v1::TaskStatus status);

// Parses the JSON spelling. Returns asap:protocol/malformed_envelope for
// anything else.
absl::StatusOr<v1::TaskStatus> ParseTaskStatus(absl::string_view name);

// True for completed, failed and cancelled.
bool IsTerminal(v1::TaskStatus status);

// OK when `from` -> `to` is a legal transition. A transition out of a terminal
// state is asap:task/already_completed; any other illegal one is
// asap:protocol/invalid_state.
absl::Status CheckTransition(v1::TaskStatus from, v1::TaskStatus to);

}  // namespace asap

#endif  // ASAP_TASK_STATE_H_
