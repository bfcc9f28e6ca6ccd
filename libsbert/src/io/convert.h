// sbert-convert's library half: Hugging Face / sentence-transformers folder <-> libsbert
// checkpoint. See docs/convert.md for the format and the round-trip guarantee.
//
// A libsbert checkpoint IS a Hugging Face / sentence-transformers model folder (Model::load reads
// it unchanged, transformers and sentence-transformers too) plus one file, libsbert.json, that
// records how libsbert read the model (config, pooling, normalize, max_seq_length, prompts), the
// weights' precision and their sha256, and where they came from:
//
//   CKPT/model.safetensors      Hugging Face names and prefix of the source, F32 or BF16;
//                               the source's unused tensors (pooler.*, buffers) byte for byte
//   CKPT/config.json, tokenizer files, README.md ...   the source's, byte for byte
//   CKPT/modules.json, 1_Pooling/config.json, 2_Normalize/    the pipeline libsbert runs
//   CKPT/sentence_bert_config.json, config_sentence_transformers.json   source keys kept;
//                               max_seq_length, do_lower_case, prompts set
//   CKPT/libsbert.json          {"format": "libsbert-checkpoint", "version": 1, ...}
//
// An export to Hugging Face writes the same folder without libsbert.json (and without the
// training state of an sbert-finetune checkpoint).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "sbert/convert.h"
#include "sbert/config.h"

namespace sbert {

inline constexpr const char* kCheckpointFormat = "libsbert-checkpoint";
inline constexpr int kCheckpointVersion = 1;
inline constexpr const char* kCheckpointInfoFile = "libsbert.json";


// The contents of libsbert.json.
struct CheckpointInfo {
  int version = kCheckpointVersion;
  DType precision = DType::F32;
  ModelConfig config;                          // as libsbert read the source
  std::map<std::string, std::string> prompts;  // name -> text, e.g. "query" -> "query: "
  std::string source;                          // the folder converted from
  std::string weights_file = "model.safetensors";
  std::string weights_sha256;  // of the whole weights file, lowercase hex
  std::string weight_prefix;   // "", "bert." or "roberta."
};

std::string to_json(const CheckpointInfo& info);

// True when dir/libsbert.json exists (whatever its contents: reading it reports problems).
bool is_libsbert_checkpoint(const std::filesystem::path& dir);

// Reads and checks dir/libsbert.json: format and version, fields, and (verify_weights) the
// sha256 of the weights file. Throws "[convert] <file>: ..." naming what is wrong.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& dir, bool verify_weights);

// Throws when info disagrees with the config that load_model_config() reads from the folder
// (someone edited config.json or the sentence-transformers files after conversion).
void check_checkpoint_config(const std::filesystem::path& dir, const CheckpointInfo& info,
                             const ModelConfig& loaded);

// The model folder a conversion input names: resolve_model_path() (a model folder, a run's log
// folder, checkpoints/latest or best), after checking that it exists.
std::filesystem::path resolve_model_input(const std::filesystem::path& input);



// Both write "<output>.tmp.<pid>" and rename it into place when whole; an existing output is
// replaced only if it is a model folder (or empty), and never when it is the input or holds it.

// A model folder's config_sentence_transformers.json: prompts and default_prompt_name ("" for
// null or absent). Nothing when the file is absent.
struct StConfig {
  std::map<std::string, std::string> prompts;
  std::string default_prompt_name;
};
StConfig read_st_config(const std::filesystem::path& dir);

// Writes dst/config_sentence_transformers.json: src's file (if any) with prompts,
// default_prompt_name (null unless it names one of prompts) and similarity_fn_name set, laid
// out as sentence-transformers writes it (json.dump, indent 2).
void write_st_config(const std::filesystem::path& src, const std::filesystem::path& dst,
                     const std::map<std::string, std::string>& prompts,
                     const std::string& default_prompt_name);

// SHA-256, lowercase hex.
std::string sha256_hex(const void* data, size_t size);
std::string sha256_file(const std::filesystem::path& file);

}  // namespace sbert
