// The inventory test agent: the generated InventoryAgent::Service with
// AddItems, Count and Lookup implemented (Clear is left to the generated
// default, handler_not_found).
#ifndef ASAP_TESTS_CODEGEN_INVENTORY_AGENT_H_
#define ASAP_TESTS_CODEGEN_INVENTORY_AGENT_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "tests/codegen/inventory.asap.h"

namespace asap::testing::inventory {

class Inventory final : public InventoryAgent::Service {
 public:
  absl::StatusOr<AddItemsResponse> AddItems(
      const HandlerContext& context, const AddItemsRequest& request) override;
  absl::StatusOr<CountResponse> Count(
      const HandlerContext& context, const CountRequest& request,
      const skills::ProgressEmit& progress) override;
  absl::StatusOr<Item> Lookup(const HandlerContext& context,
                              const LookupRequest& request) override;

  // The value of metadata `key` on the last AddItems call ("" if none).
  std::string last_metadata(const std::string& key) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Item> items_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> last_metadata_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace asap::testing::inventory

#endif  // ASAP_TESTS_CODEGEN_INVENTORY_AGENT_H_
