// Writing a model folder that Hugging Face transformers and sentence-transformers load as they
// are: model.safetensors (Hugging Face names, the source's extra tensors kept byte for byte)
// plus the source folder's configuration, tokenizer and sentence-transformers module files.
#pragma once

#include <filesystem>

#include "api/model_impl.h"

namespace sbert {

// Writes to "<dir>.tmp.<pid>" and renames it to dir when complete; an existing dir is replaced
// only after the new one is whole. weights: a (layout.total) block, usually impl.weights.
void save_model_folder(const Model::Impl& impl, const float* weights,
                       const std::filesystem::path& dir);

// The same into an existing (temporary) folder, no renaming: for checkpoints.
void write_model_files(const Model::Impl& impl, const float* weights,
                       const std::filesystem::path& dir);

// Renames a completed temporary folder into place (replacing dir if it exists) and fsyncs.
void commit_folder(const std::filesystem::path& tmp, const std::filesystem::path& dir);

}  // namespace sbert
