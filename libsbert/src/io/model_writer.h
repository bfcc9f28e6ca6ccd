// Writing a model folder that Hugging Face transformers and sentence-transformers load as they
// are: model.safetensors (Hugging Face names, the source's extra tensors kept byte for byte)
// plus the source folder's configuration, tokenizer and sentence-transformers module files.
#pragma once

#include <filesystem>

#include "api/model_impl.h"

namespace sbert {

// Writes to "<dir>.tmp.<pid>" and renames it to dir when complete; an existing dir is replaced
// only after the new one is whole. weights: a (layout.total) block, usually impl.weights;
// stored in `dtype` (F32 or BF16, see write_model_weights).
void save_model_folder(const Model::Impl& impl, const float* weights,
                       const std::filesystem::path& dir, DType dtype = DType::F32);

// The same into an existing (temporary) folder, no renaming: for checkpoints.
void write_model_files(const Model::Impl& impl, const float* weights,
                       const std::filesystem::path& dir, DType dtype = DType::F32);

// Only the weights: `path` (usually dir/model.safetensors) gets the layout's parameters under
// their Hugging Face names with impl.weight_prefix, in `dtype` (F32 as is; BF16 rounded to
// nearest even by f32_to_bf16; I8, from impl.weights only: the linear weights int8 with
// "<name>_scale" beside each, as nn/quantize.h saves them, the rest F32), then impl.extras byte
// for byte in their own dtype. Metadata {"format": "pt"} as transformers writes.
// write_model_files() writes them with its dtype.
void write_model_weights(const Model::Impl& impl, const float* weights,
                         const std::filesystem::path& path, DType dtype = DType::F32);

// Renames a completed temporary folder into place (replacing dir if it exists) and fsyncs.
void commit_folder(const std::filesystem::path& tmp, const std::filesystem::path& dir);

}  // namespace sbert
