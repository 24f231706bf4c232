#include "asap/payload.h"

#include "asap/errors.h"
#include "asap/v1/payloads.pb.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

TEST(PayloadTest, TypedRoundTrip) {
  v1::TaskRequest task;
  task.set_conversation_id("c1");
  task.set_skill_id("echo");
  (*task.mutable_input()->mutable_fields())["q"].set_string_value("hi");
  v1::Envelope envelope;
  SetPayload(task, &envelope);
  EXPECT_EQ(envelope.payload().fields().at("skill_id").string_value(), "echo");
  absl::StatusOr<v1::TaskRequest> back = PayloadAs<v1::TaskRequest>(envelope);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->input().fields().at("q").string_value(), "hi");
}

TEST(PayloadTest, UnknownFieldIsMalformed) {
  v1::Envelope envelope;
  (*envelope.mutable_payload()->mutable_fields())["nope"].set_bool_value(true);
  EXPECT_EQ(ErrorCodeOf(PayloadAs<v1::TaskCancel>(envelope).status()),
            ErrorCode::kMalformedEnvelope);
}

}  // namespace
}  // namespace asap
