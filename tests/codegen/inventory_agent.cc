#include "tests/codegen/inventory_agent.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap::testing::inventory {

absl::StatusOr<AddItemsResponse> Inventory::AddItems(
    const HandlerContext& context, const AddItemsRequest& request) {
  AddItemsResponse response;
  absl::MutexLock lock(&mu_);
  last_metadata_.clear();
  for (const auto& [key, value] : context.client_metadata()) {
    last_metadata_[std::string(key)] = std::string(value);
  }
  for (const Item& item : request.items()) {
    if (item.sku().empty()) {
      return AsapError(ErrorCode::kMalformedEnvelope,
                       "input.items: every item needs a sku");
    }
    items_[item.sku()] = item;
    response.set_added(response.added() + 1);
    response.set_total_quantity(response.total_quantity() + item.quantity());
    response.add_skus(item.sku());
  }
  return response;
}

absl::StatusOr<CountResponse> Inventory::Count(
    const HandlerContext&, const CountRequest& request,
    const skills::ProgressEmit& progress) {
  if (request.steps() < 0 || request.steps() > 100) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "input.steps: must be 0-100");
  }
  for (int step = 1; step <= request.steps(); ++step) {
    if (!progress(100.0 * step / request.steps(),
                  absl::StrCat("step ", step))) {
      return AsapError(ErrorCode::kCancelled, "the caller went away");
    }
  }
  CountResponse response;
  absl::MutexLock lock(&mu_);
  response.set_counted(static_cast<int>(items_.size()));
  return response;
}

absl::StatusOr<Item> Inventory::Lookup(const HandlerContext&,
                                       const LookupRequest& request) {
  absl::MutexLock lock(&mu_);
  auto it = items_.find(request.sku());
  if (it == items_.end()) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     absl::StrCat("input.sku: no item \"",
                                  request.sku().substr(0, 64), "\""));
  }
  return it->second;
}

std::string Inventory::last_metadata(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = last_metadata_.find(key);
  return it == last_metadata_.end() ? "" : it->second;
}

}  // namespace asap::testing::inventory
