// Model::save: the model folder writer (io/model_writer) behind the public API.
#include "core/check.h"
#include "io/model_writer.h"
#include "sbert/model.h"

namespace sbert {

namespace fs = std::filesystem;

void Model::save(const fs::path& dir, const SaveOptions& options) const {
  SBERT_CHECK(options.precision == DType::F32 || options.precision == DType::BF16,
              "[save] ", dir.string(), ": precision must be F32 or BF16");
  SBERT_CHECK(!dir.empty(), "[save] no folder given");
  save_model_folder(*impl_, impl_->weights.data(), dir, options.precision);
}

}  // namespace sbert
