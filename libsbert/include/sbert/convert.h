// Hugging Face / sentence-transformers folder <-> libsbert checkpoint (sbert-convert; docs/convert.md).
// A libsbert checkpoint is the model folder plus libsbert.json (config, precision, sha256).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sbert/config.h"
#include "sbert/dtype.h"
#include "sbert/export.h"
#include "sbert/progress.h"

namespace sbert {

// "32", "fp32", "f32", "float32" -> F32; "bf16", "bfloat16" -> BF16; "int8" -> I8; anything
// else throws "[convert] unknown precision 'x' (expected 32, bf16 or int8)".
SBERT_API DType parse_precision(const std::string& name);
SBERT_API const char* precision_name(DType precision);  // "fp32" | "bf16" | "int8"

struct ConvertOptions {
  // Of the written model.safetensors. I8 (sbert-convert --quantize int8, checkpoints only): the
  // encoder's linear weights per-output-channel int8 with F32 scales (docs/quantization.md),
  // the rest F32; Model::load runs such a model int8, the trainer refuses it.
  DType precision = DType::F32;
  // Prompts to set; unset ones keep the input's (libsbert.json, config_sentence_transformers.json,
  // or for an sbert-finetune checkpoint its config.yaml's model.data query/passage_prefix when
  // add_prefix is true).
  std::optional<std::string> query_prompt, passage_prompt;
  // Stage "convert": done/total in steps of 5, reported from 1 (input loaded and checked: bad
  // input fails before any report) through copy files, write weights, checksum, commit.
  ProgressCallback progress;
};

struct ConvertReport {
  std::filesystem::path input;  // the resolved model folder
  std::filesystem::path output;
  DType precision = DType::F32;
  int64_t tensors = 0;     // written, extras included
  int64_t parameters = 0;  // encoder parameters (layout.total)
  std::string sha256;      // of the written model.safetensors
  std::map<std::string, std::string> prompts;
  ModelConfig config;
};

// HF / sentence-transformers folder (or an sbert-finetune checkpoint, or a libsbert checkpoint)
// -> libsbert checkpoint at output.
SBERT_API ConvertReport convert_to_checkpoint(const std::filesystem::path& input,
                                    const std::filesystem::path& output,
                                    const ConvertOptions& options = {});

// libsbert checkpoint (or an sbert-finetune checkpoint, or any model folder libsbert loads) ->
// Hugging Face / sentence-transformers folder at output. A libsbert checkpoint's weights are
// checked against its sha256 first.
SBERT_API ConvertReport export_to_hf(const std::filesystem::path& input, const std::filesystem::path& output,
                           const ConvertOptions& options = {});

// What is wrong with an sbert-finetune checkpoint folder (checkpoints/step-N), one line per
// problem naming the file, e.g. "model.safetensors: checksum mismatch (the file is damaged:
// ...)", "optimizer.safetensors: missing", "trainer_state.json: garbled ..."; empty when it is
// intact. Every file is checked against the folder's checksums.xxh128 (XXH3-128, the format of
// xxh128sum -c); a checkpoint written before libsbert kept checksums (trainer state version 1)
// is checked for its files' presence only. Never throws for a damaged folder.
SBERT_API std::vector<std::string> verify_checkpoint(const std::filesystem::path& dir);

}  // namespace sbert
