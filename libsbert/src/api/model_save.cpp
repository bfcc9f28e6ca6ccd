// Model::save: the model folder writer (io/model_writer) behind the public API.
#include <unistd.h>

#include "core/check.h"
#include "io/model_writer.h"
#include "sbert/model.h"

namespace sbert {

namespace fs = std::filesystem;

void Model::save(const fs::path& dir, const SaveOptions& options) const {
  SBERT_CHECK(options.precision == DType::F32 || options.precision == DType::BF16,
              "[save] ", dir.string(), ": precision must be F32 or BF16");
  SBERT_CHECK(!dir.empty(), "[save] no folder given");
  const fs::path tmp = dir.string() + ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    write_model_files(*impl_, impl_->weights.data(), tmp);
    if (options.precision == DType::BF16) {
      write_model_weights(*impl_, impl_->weights.data(), tmp / "model.safetensors", DType::BF16);
    }
    commit_folder(tmp, dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace sbert
