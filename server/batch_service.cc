#include "server/batch_service.h"

#include "asap/errors.h"

namespace asap {

grpc::Status ServeBatch(
    const EnvelopeDispatcher& dispatcher, grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::BatchResultFrame, v1::BatchFrame>* stream) {
  v1::BatchFrame frame;
  uint64_t index = 0;
  while (stream->Read(&frame)) {
    v1::BatchResultFrame results;
    for (const v1::Envelope& envelope : frame.envelopes()) {
      v1::BatchResult* result = results.add_results();
      result->set_index(index++);
      absl::StatusOr<v1::Envelope> response = dispatcher.Dispatch(envelope);
      if (response.ok()) {
        *result->mutable_response() = *std::move(response);
      } else {
        v1::BatchError* error = result->mutable_error();
        error->set_asap_code(
            std::string(ErrorCodeName(*ErrorCodeOf(response.status()))));
        error->set_grpc_code(static_cast<int>(response.status().code()));
        error->set_message(std::string(response.status().message()));
      }
    }
    if (!stream->Write(results)) break;
  }
  return grpc::Status::OK;
}

}  // namespace asap
