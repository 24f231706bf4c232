#include "asap/task_state.h"

#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap {

using v1::TaskStatus;

absl::string_view TaskStatusName(TaskStatus status) {
  switch (status) {
    case v1::TASK_STATUS_SUBMITTED:
      return "submitted";
    case v1::TASK_STATUS_WORKING:
      return "working";
    case v1::TASK_STATUS_COMPLETED:
      return "completed";
    case v1::TASK_STATUS_FAILED:
      return "failed";
    case v1::TASK_STATUS_CANCELLED:
      return "cancelled";
    case v1::TASK_STATUS_INPUT_REQUIRED:
      return "input_required";
    default:
      return "";
  }
}

absl::StatusOr<TaskStatus> ParseTaskStatus(absl::string_view name) {
  for (TaskStatus status :
       {v1::TASK_STATUS_SUBMITTED, v1::TASK_STATUS_WORKING,
        v1::TASK_STATUS_COMPLETED, v1::TASK_STATUS_FAILED,
        v1::TASK_STATUS_CANCELLED, v1::TASK_STATUS_INPUT_REQUIRED}) {
    if (TaskStatusName(status) == name) return status;
  }
  return AsapError(
      ErrorCode::kMalformedEnvelope,
      absl::StrCat("'", name.substr(0, 64), "' is not a task status"));
}

bool IsTerminal(TaskStatus status) {
  return status == v1::TASK_STATUS_COMPLETED ||
         status == v1::TASK_STATUS_FAILED ||
         status == v1::TASK_STATUS_CANCELLED;
}

absl::Status CheckTransition(TaskStatus from, TaskStatus to) {
  bool legal = false;
  switch (from) {
    case v1::TASK_STATUS_SUBMITTED:
      legal = to == v1::TASK_STATUS_WORKING || to == v1::TASK_STATUS_CANCELLED;
      break;
    case v1::TASK_STATUS_WORKING:
      legal = to == v1::TASK_STATUS_COMPLETED || to == v1::TASK_STATUS_FAILED ||
              to == v1::TASK_STATUS_CANCELLED ||
              to == v1::TASK_STATUS_INPUT_REQUIRED;
      break;
    case v1::TASK_STATUS_INPUT_REQUIRED:
      legal = to == v1::TASK_STATUS_WORKING || to == v1::TASK_STATUS_CANCELLED;
      break;
    default:
      break;
  }
  if (legal) return absl::OkStatus();
  std::string detail =
      absl::StrCat("task cannot go from '", TaskStatusName(from), "' to '",
                   TaskStatusName(to), "'");
  if (IsTerminal(from)) {
    return AsapError(ErrorCode::kTaskAlreadyCompleted, detail);
  }
  return AsapError(ErrorCode::kInvalidState, detail);
}

}  // namespace asap
