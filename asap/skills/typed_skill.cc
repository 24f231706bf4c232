#include "asap/skills/typed_skill.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asap/errors.h"
#include "asap/ids.h"

namespace asap::skills {
namespace {

constexpr size_t kMaxListedSkills = 20;

}  // namespace

SkillRouter::SkillRouter(SkillRouterOptions options)
    : options_(std::move(options)), table_(std::make_shared<Table>()) {
  options_.schema.field_names = options_.codec.field_names;
}

absl::Status SkillRouter::NullSkill(absl::string_view id) {
  return absl::InvalidArgumentError(
      absl::StrCat("skill \"", id, "\" has no function"));
}

absl::Status SkillRouter::AddEntry(absl::string_view id,
                                   absl::string_view description,
                                   const google::protobuf::Descriptor& input,
                                   const google::protobuf::Descriptor& output,
                                   bool streaming, Run run) {
  if (id.empty()) return absl::InvalidArgumentError("a skill needs an id");
  if (table_->by_id.contains(id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("skill \"", id, "\" is already added"));
  }
  auto table = std::make_shared<Table>(*table_);
  table->by_id[id] = table->entries.size();
  table->entries.push_back(Entry{std::string(id), std::string(description),
                                 &input, &output, streaming, std::move(run)});
  table_ = std::move(table);
  return absl::OkStatus();
}

std::vector<std::string> SkillRouter::skill_ids() const {
  std::vector<std::string> ids;
  for (const Entry& entry : table_->entries) ids.push_back(entry.id);
  return ids;
}

absl::StatusOr<v1::Envelope> SkillRouter::Handle(const v1::Envelope& request,
                                                 const HandlerContext& context,
                                                 const StreamEmit* emit) const {
  return HandleWith(*table_, request, context, emit);
}

absl::StatusOr<v1::Envelope> SkillRouter::HandleWith(
    const Table& table, const v1::Envelope& request,
    const HandlerContext& context, const StreamEmit* emit) {
  const auto& payload = request.payload().fields();
  auto skill_id = payload.find("skill_id");
  if (skill_id == payload.end() || !skill_id->second.has_string_value()) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "a task.request needs a string skill_id");
  }
  auto found = table.by_id.find(skill_id->second.string_value());
  if (found == table.by_id.end()) {
    std::vector<absl::string_view> known;
    for (const Entry& entry : table.entries) {
      if (known.size() == kMaxListedSkills) break;
      known.push_back(entry.id);
    }
    return AsapError(
        ErrorCode::kHandlerNotFound,
        absl::StrCat("no skill \"",
                     skill_id->second.string_value().substr(0, 128),
                     "\"; this agent has: ", absl::StrJoin(known, ", "),
                     table.entries.size() > known.size() ? ", ..." : ""));
  }
  const Entry& entry = table.entries[found->second];

  static const google::protobuf::Struct* const kEmpty =
      new google::protobuf::Struct();
  auto input = payload.find("input");
  const google::protobuf::Struct& input_object =
      input != payload.end() && input->second.has_struct_value()
          ? input->second.struct_value()
          : *kEmpty;
  if (input != payload.end() && !input->second.has_struct_value() &&
      !input->second.has_null_value()) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "input: expected an object");
  }

  std::string task_id = NewUlid();
  ProgressEmit progress;
  if (entry.streaming) {
    progress = [&request, &task_id, emit](double percent,
                                          absl::string_view message) {
      if (emit == nullptr || !*emit) return true;
      v1::Envelope update;
      update.set_payload_type(request.payload_type() == "TaskRequest"
                                  ? "TaskUpdate"
                                  : "task.update");
      auto& fields = *update.mutable_payload()->mutable_fields();
      fields["task_id"].set_string_value(task_id);
      fields["update_type"].set_string_value("progress");
      fields["status"].set_string_value("working");
      auto& details =
          *fields["progress"].mutable_struct_value()->mutable_fields();
      details["percent"].set_number_value(percent);
      details["message"].set_string_value(std::string(message));
      return (*emit)(std::move(update));
    };
  }

  v1::Envelope response;
  response.set_payload_type(request.payload_type() == "TaskRequest"
                                ? "TaskResponse"
                                : "task.response");
  auto& fields = *response.mutable_payload()->mutable_fields();
  absl::Status status = entry.run(context, input_object, progress,
                                  fields["result"].mutable_struct_value());
  if (!status.ok()) return status;
  fields["task_id"].set_string_value(std::move(task_id));
  fields["status"].set_string_value("completed");
  return response;
}

absl::Status SkillRouter::RegisterWith(HandlerRegistry* registry) const {
  std::shared_ptr<const Table> table = table_;
  bool streaming = false;
  for (const Entry& entry : table->entries) streaming |= entry.streaming;
  for (const char* payload_type : {"task.request", "TaskRequest"}) {
    absl::Status status;
    if (streaming) {
      status = registry->RegisterStreaming(
          payload_type,
          [table](const v1::Envelope& request, const HandlerContext& context,
                  const StreamEmit& emit) {
            return HandleWith(*table, request, context, &emit);
          });
    } else if (options_.non_blocking) {
      status = registry->RegisterNonBlocking(
          payload_type,
          [table](const v1::Envelope& request, const v1::Manifest& manifest) {
            HandlerContext context(&manifest);
            return HandleWith(*table, request, context, nullptr);
          });
    } else {
      status = registry->Register(
          payload_type, ContextHandler([table](const v1::Envelope& request,
                                               const HandlerContext& context) {
            return HandleWith(*table, request, context, nullptr);
          }));
    }
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Skill>> SkillRouter::Skills() const {
  std::vector<v1::Skill> skills;
  for (const Entry& entry : table_->entries) {
    v1::Skill skill;
    skill.set_id(entry.id);
    skill.set_description(entry.description);
    absl::StatusOr<google::protobuf::Struct> input =
        JsonSchemaStructFor(*entry.input, options_.schema);
    if (!input.ok()) return input.status();
    absl::StatusOr<google::protobuf::Struct> output =
        JsonSchemaStructFor(*entry.output, options_.schema);
    if (!output.ok()) return output.status();
    *skill.mutable_input_schema() = *std::move(input);
    *skill.mutable_output_schema() = *std::move(output);
    skills.push_back(std::move(skill));
  }
  return skills;
}

absl::Status SkillRouter::AddSkillsTo(v1::Manifest* manifest) const {
  absl::StatusOr<std::vector<v1::Skill>> skills = Skills();
  if (!skills.ok()) return skills.status();
  v1::Capability* capabilities = manifest->mutable_capabilities();
  for (v1::Skill& skill : *skills) {
    v1::Skill* slot = nullptr;
    for (v1::Skill& existing : *capabilities->mutable_skills()) {
      if (existing.id() == skill.id()) slot = &existing;
    }
    if (slot == nullptr) slot = capabilities->add_skills();
    *slot = std::move(skill);
  }
  for (const Entry& entry : table_->entries) {
    if (entry.streaming) capabilities->set_streaming(true);
  }
  return absl::OkStatus();
}

}  // namespace asap::skills
