// sbert::Model: a BERT-family sentence encoder loaded from a Hugging Face / sentence-transformers
// folder, with its tokenizer.
//
//   auto model = sbert::Model::load("models/all-MiniLM-L6-v2");
//   sbert::Embeddings e = model.embed({"A man is eating food.", "A man is riding a horse."});
//   float cos = e.dot(0, 1);  // both rows are unit length when the model normalizes
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sbert/config.h"
#include "sbert/dtype.h"
#include "sbert/export.h"
#include "sbert/progress.h"
#include "sbert/tokenizer.h"

namespace sbert {

enum class Device { CPU, CUDA };
SBERT_API Device parse_device(const std::string& name);  // "cpu" | "cuda"; throws otherwise
SBERT_API const char* to_string(Device d);

// Inference precision of the encoder's linear layers (docs/quantization.md).
//   None: fp32 (the model as trained).
//   Int8: per-output-channel symmetric int8 weights, per-row dynamic int8 activations, integer
//         dot products, fp32 scales; attention, LayerNorm, softmax and pooling stay fp32.
//         CPU only, inference only.
enum class Quantize { None, Int8 };
// "none" | "fp32" | "int8"; throws "[quantize] unknown quantization 'x' (expected none or int8)".
SBERT_API Quantize parse_quantize(const std::string& name);
SBERT_API const char* to_string(Quantize q);  // "none" | "int8"

// Precision of the fp32 encoder's matrix products at inference, as PyTorch's
// torch.set_float32_matmul_precision (docs/quantization.md, "fp32 with bf16x3 products"):
//   Highest: fp32 products: the reference's numbers (the default).
//   High:    "bf16x3" on AMX tiles (Intel Sapphire Rapids and later): each fp32 operand is
//            split into two bf16 parts and three of the four part products are summed in fp32,
//            which leaves about 2^-16 of each product's size (fp32: 2^-24). all-MiniLM-L6-v2's
//            embeddings move by a few 1e-6 (at most 3.6e-6 measured). Where the CPU or the
//            process cannot run AMX bf16 (matmul_precision_available), and on CUDA, High runs as
//            Highest.
// Weights and activations stay fp32 either way; int8 inference (Quantize::Int8) ignores it.
enum class MatmulPrecision { Highest, High };
// "highest" | "high"; throws "[matmul_precision] unknown precision 'x' (expected highest or
// high)".
SBERT_API MatmulPrecision parse_matmul_precision(const std::string& name);
SBERT_API const char* to_string(MatmulPrecision p);  // "highest" | "high"
// Whether this CPU and process run p on the CPU as itself (Highest always; High with AMX bf16).
SBERT_API bool matmul_precision_available(MatmulPrecision p);

struct LoadOptions {
  // Int8: quantize the linear weights at load (a model saved with sbert-convert --quantize int8
  // is int8 whatever this says).
  Quantize quantize = Quantize::None;
};

// Row-major (rows, dim) float32 matrix of sentence embeddings, in input order.
struct SBERT_API Embeddings {
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> data;  // (rows, dim)

  const float* row(int64_t i) const { return data.data() + i * dim; }
  float dot(int64_t i, int64_t j) const;
  float cosine(int64_t i, int64_t j) const;
};

struct EmbedOptions {
  int batch_size = 32;          // texts per forward pass
  int max_seq_length = 0;       // 0: the model's max_seq_length
  std::string prefix;           // prepended to every text ("query: ", "passage: ")
  Device device = Device::CPU;  // CUDA: GPU 0 of a CUDA build (fp32; weights copied per call)
  int threads = 0;              // 0: all cores
  // sentence-transformers' truncate_dim (Matryoshka): keep the first truncate_dim dimensions of
  // every embedding, cut AFTER the model's modules, its Normalize included, so the rows of a
  // normalizing model are no longer unit length. 0: all; otherwise 1..dim (else an error).
  int truncate_dim = 0;
  // sentence-transformers' normalize_embeddings: L2-normalize every row, after the truncation.
  bool normalize = false;
  // After each batch: stage "embed", done/total in texts.
  ProgressCallback progress;
  // None: as the model was loaded (Model::quantization()). Int8: int8 inference, the weights
  // quantized at the first int8 call when the model was loaded fp32 (then kept).
  Quantize quantize = Quantize::None;
  // High: bf16x3 products for the fp32 linear layers (see MatmulPrecision), the split weights
  // made at the first High call (then kept).
  MatmulPrecision matmul_precision = MatmulPrecision::Highest;
};

// Per-layer outputs for parity tests: hidden_states[l] is (tokens, hidden) for the packed
// token stream, l = 0 the embeddings output, l = i the output of layer i.
struct HiddenStates {
  std::vector<int64_t> offsets;  // (n + 1): sequence i is tokens [offsets[i], offsets[i+1])
  std::vector<std::vector<float>> layers;  // (num_layers + 1) x (tokens * hidden)
};

struct SaveOptions {
  DType precision = DType::F32;  // F32 or BF16 (rounded to nearest even)
};

// The model folder `path` names (docs/finetune.md, "Pointing at a checkpoint"):
//   a model folder (model.safetensors, or pytorch_model.bin for Model::load to explain) as is;
//   a file naming a sibling checkpoint, as sbert-finetune's checkpoints/latest and
//   checkpoints/best do -> that checkpoint;
//   a run's log folder (or its checkpoints/ folder) -> its best checkpoint when the run
//   monitored a metric (checkpoints/best), else its newest.
// note (optional) gets one line saying which checkpoint a log folder or name resolved to ("" for
// a plain model folder). Throws "[model] runs/r1: no checkpoints/ folder and no
// model.safetensors" (naming what was tried) otherwise.
SBERT_API std::filesystem::path resolve_model_path(const std::filesystem::path& path,
                                                   std::string* note = nullptr);

class SBERT_API Model {
 public:
  // Any path resolve_model_path() accepts.
  static Model load(const std::filesystem::path& dir);
  static Model load(const std::filesystem::path& dir, const LoadOptions& options);

  // Writes a Hugging Face / sentence-transformers folder (model.safetensors, config.json, the
  // tokenizer and sentence-transformers files) that transformers, sentence-transformers and
  // Model::load read. Written beside dir and renamed into place: never half a folder.
  void save(const std::filesystem::path& dir, const SaveOptions& options = {}) const;

  Embeddings embed(const std::vector<std::string>& texts, const EmbedOptions& options = {}) const;
  // Embeddings of already tokenized sequences ([CLS] ... [SEP] ids).
  Embeddings embed_ids(const std::vector<std::vector<int32_t>>& ids,
                       const EmbedOptions& options = {}) const;
  HiddenStates hidden_states(const std::vector<std::vector<int32_t>>& ids, int threads = 0) const;

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  // Int8 when loaded with LoadOptions::quantize = Int8 or from saved int8 weights.
  Quantize quantization() const;
  // The folder loaded (after resolve_model_path).
  const std::filesystem::path& path() const;

  // sentence-transformers prompts (config_sentence_transformers.json "prompts"): name -> text
  // prepended to the input, e.g. "query" -> "query: ". sbert-finetune writes the prefixes it
  // trained with as "query" and "document". Empty for a model without prompts.
  const std::map<std::string, std::string>& prompts() const;
  // "default_prompt_name": the prompt sentence-transformers' encode() applies when none is
  // named; "" when null.
  const std::string& default_prompt_name() const;
  // The prompt sentence-transformers' encode_query() / encode_document() apply: "query"; the
  // first of "document", "passage", "corpus". "" when the model has none.
  std::string query_prompt_name() const;
  std::string document_prompt_name() const;
  // The text of prompt `name`: "document" falls back as document_prompt_name() does. Throws
  // "[model] DIR: no prompt named 'x' (the model has: query, document)".
  const std::string& prompt(const std::string& name) const;
  int dim() const { return config().hidden_size; }

  struct Impl;
  const Impl& impl() const { return *impl_; }
  Impl& impl() { return *impl_; }  // internal: the trainer updates the weights in place

  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbert
