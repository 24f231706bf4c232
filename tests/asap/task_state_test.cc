#include "asap/task_state.h"

#include "asap/errors.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

using v1::TaskStatus;

constexpr TaskStatus kSubmitted = v1::TASK_STATUS_SUBMITTED;
constexpr TaskStatus kWorking = v1::TASK_STATUS_WORKING;
constexpr TaskStatus kCompleted = v1::TASK_STATUS_COMPLETED;
constexpr TaskStatus kFailed = v1::TASK_STATUS_FAILED;
constexpr TaskStatus kCancelled = v1::TASK_STATUS_CANCELLED;
constexpr TaskStatus kInputRequired = v1::TASK_STATUS_INPUT_REQUIRED;

TEST(TaskStateTest, LegalTransitions) {
  EXPECT_TRUE(CheckTransition(kSubmitted, kWorking).ok());
  EXPECT_TRUE(CheckTransition(kSubmitted, kCancelled).ok());
  EXPECT_TRUE(CheckTransition(kWorking, kCompleted).ok());
  EXPECT_TRUE(CheckTransition(kWorking, kFailed).ok());
  EXPECT_TRUE(CheckTransition(kWorking, kCancelled).ok());
  EXPECT_TRUE(CheckTransition(kWorking, kInputRequired).ok());
  EXPECT_TRUE(CheckTransition(kInputRequired, kWorking).ok());
  EXPECT_TRUE(CheckTransition(kInputRequired, kCancelled).ok());
}

TEST(TaskStateTest, IllegalTransitionIsInvalidState) {
  EXPECT_EQ(ErrorCodeOf(CheckTransition(kSubmitted, kCompleted)),
            ErrorCode::kInvalidState);
  EXPECT_EQ(ErrorCodeOf(CheckTransition(kInputRequired, kCompleted)),
            ErrorCode::kInvalidState);
  EXPECT_EQ(ErrorCodeOf(CheckTransition(kWorking, kSubmitted)),
            ErrorCode::kInvalidState);
}

TEST(TaskStateTest, LeavingATerminalStateIsAlreadyCompleted) {
  for (TaskStatus terminal : {kCompleted, kFailed, kCancelled}) {
    EXPECT_TRUE(IsTerminal(terminal));
    EXPECT_EQ(ErrorCodeOf(CheckTransition(terminal, kWorking)),
              ErrorCode::kTaskAlreadyCompleted);
  }
  EXPECT_FALSE(IsTerminal(kWorking));
}

TEST(TaskStateTest, NamesRoundTrip) {
  for (TaskStatus s : {kSubmitted, kWorking, kCompleted, kFailed, kCancelled,
                       kInputRequired}) {
    EXPECT_EQ(*ParseTaskStatus(TaskStatusName(s)), s);
  }
  EXPECT_EQ(TaskStatusName(kInputRequired), "input_required");
  EXPECT_FALSE(ParseTaskStatus("done").ok());
}

}  // namespace
}  // namespace asap
