#include <algorithm>
#include <cmath>
#include <filesystem>

#include "api/model_impl.h"
#include "core/check.h"
#include "core/context.h"
#include "io/convert.h"
#include "io/safetensors.h"
#include "nn/encoder.h"
#include "nn/placed_weights.h"
#include "nn/pooling.h"
#include "ops/ops.h"

namespace sbert {

namespace fs = std::filesystem;

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda" || name == "gpu") return Device::CUDA;
  fail("[device] unknown device '", name, "' (expected cpu or cuda)");
}

const char* to_string(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

Quantize parse_quantize(const std::string& name) {
  if (name == "none" || name == "fp32") return Quantize::None;
  if (name == "int8") return Quantize::Int8;
  fail("[quantize] unknown quantization '", name, "' (expected none or int8)");
}

const char* to_string(Quantize q) { return q == Quantize::Int8 ? "int8" : "none"; }

MatmulPrecision parse_matmul_precision(const std::string& name) {
  if (name == "highest") return MatmulPrecision::Highest;
  if (name == "high") return MatmulPrecision::High;
  fail("[matmul_precision] unknown precision '", name, "' (expected highest or high)");
}

const char* to_string(MatmulPrecision p) { return p == MatmulPrecision::High ? "high" : "highest"; }

bool matmul_precision_available(MatmulPrecision p) {
  return p == MatmulPrecision::Highest || cpu::bf16x3_usable();
}

float Embeddings::dot(int64_t i, int64_t j) const {
  SBERT_CHECK(i >= 0 && i < rows && j >= 0 && j < rows, "[embeddings] rows ", i, ", ", j,
              " out of range (", rows, ")");
  double s = 0.0;
  for (int64_t k = 0; k < dim; ++k)
    s += static_cast<double>(row(i)[k]) * static_cast<double>(row(j)[k]);
  return static_cast<float>(s);
}

float Embeddings::cosine(int64_t i, int64_t j) const {
  const double n = std::sqrt(static_cast<double>(dot(i, i)) * static_cast<double>(dot(j, j)));
  return n > 0 ? static_cast<float>(static_cast<double>(dot(i, j)) / n) : 0.0f;
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const ModelConfig& Model::config() const { return impl_->config; }
const Tokenizer& Model::tokenizer() const { return impl_->tokenizer; }
Quantize Model::quantization() const { return impl_->quantization; }
const fs::path& Model::path() const { return impl_->dir; }

const std::map<std::string, std::string>& Model::prompts() const { return impl_->prompts; }
const std::string& Model::default_prompt_name() const { return impl_->default_prompt_name; }

std::string Model::query_prompt_name() const {
  return impl_->prompts.count("query") ? "query" : "";
}

std::string Model::document_prompt_name() const {
  for (const char* name : {"document", "passage", "corpus"}) {  // encode_document's order
    if (impl_->prompts.count(name)) return name;
  }
  return "";
}

const std::string& Model::prompt(const std::string& name) const {
  const std::string key = name == "document" ? document_prompt_name() : name;
  const auto it = impl_->prompts.find(key);
  if (it != impl_->prompts.end()) return it->second;
  std::string have;
  for (const auto& kv : impl_->prompts) have += (have.empty() ? "" : ", ") + kv.first;
  fail("[model] ", impl_->dir.string(), ": no prompt named '", name, "' (",
       have.empty() ? std::string("the model has no prompts") : "the model has: " + have,
       "; config_sentence_transformers.json \"prompts\")");
}

Model Model::load(const fs::path& path) { return load(path, LoadOptions{}); }

Model Model::load(const fs::path& path, const LoadOptions& options) {
  const fs::path dir = resolve_model_path(path);
  const fs::path weights = dir / "model.safetensors";
  if (!fs::exists(weights)) {
    SBERT_CHECK(!fs::exists(dir / "pytorch_model.bin"), "[model] ", dir.string(),
                ": only pytorch_model.bin is present; libsbert reads model.safetensors "
                "(convert with safetensors.torch.save_file)");
    fail("[model] ", weights.string(), ": file not found");
  }
  // clang-format off
  auto impl = std::make_unique<Impl>(
      Impl{dir, load_model_config(dir), Tokenizer::load(dir), {}, {}, {}, {}, {}, {}, {},
           Quantize::None, nullptr, nullptr, std::make_unique<std::mutex>()});
  // clang-format on
  StConfig st = read_st_config(dir);
  impl->prompts = std::move(st.prompts);
  impl->default_prompt_name = std::move(st.default_prompt_name);
  SBERT_CHECK(impl->tokenizer.vocab_size() <= impl->config.vocab_size, "[model] ", dir.string(),
              ": the tokenizer has ", impl->tokenizer.vocab_size(),
              " tokens but config.json vocab_size is ", impl->config.vocab_size);
  impl->layout = make_bert_layout(impl->config);
  impl->weights.assign(static_cast<size_t>(impl->layout.total), 0.0f);
  const SafetensorsFile file = SafetensorsFile::open(weights);
  const ModelConfig& cfg = impl->config;
  const LoadReport report =
      load_bert_weights(file, impl->layout, impl->weights.data(),
                        [&cfg](const std::string& param) { return is_int8_param(cfg, param); });
  impl->weight_prefix = report.prefix;
  for (const std::string& name : report.unused) {
    const TensorInfo& info = file.info(name);
    const auto bytes = file.bytes(name);
    impl->extras.push_back({name, info.dtype, info.shape, {bytes.begin(), bytes.end()}});
  }
  impl->view = bind_bert(impl->config, impl->layout, impl->weights.data());
  if (!report.int8.empty()) {  // saved int8 weights: used as stored, never requantized
    impl->int8 = std::make_shared<const QuantizedBert>(
        int8_from_stored(impl->config, report.int8, weights.string()));
    impl->quantization = Quantize::Int8;
  }
  if (options.quantize == Quantize::Int8 && !impl->int8) {
    impl->int8 = std::make_shared<const QuantizedBert>(quantize_bert(impl->config, impl->view));
    impl->quantization = Quantize::Int8;
  }
  return Model(std::move(impl));
}

namespace {

void check_truncate_dim(int truncate_dim, const Model& model) {
  SBERT_CHECK(truncate_dim >= 0 && truncate_dim <= model.dim(), "[embed] truncate_dim ",
              truncate_dim, " is out of range: the embeddings of ", model.path().string(), " have ",
              model.dim(), " dimensions (1..", model.dim(), ", or 0 for all)");
}

// sentence-transformers' encode(): the model's output (after Normalize) sliced to its first
// truncate_dim columns, then normalize_embeddings' L2 normalization.
Embeddings truncate_embeddings(Embeddings e, int truncate_dim, bool normalize, const Context& ctx) {
  if (truncate_dim > 0 && truncate_dim < e.dim) {
    const int64_t d = truncate_dim;
    for (int64_t r = 0; r < e.rows; ++r) {  // in place: row r moves left, never over row > r
      std::copy_n(e.data.begin() + r * e.dim, d, e.data.begin() + r * d);
    }
    e.data.resize(static_cast<size_t>(e.rows * d));
    e.data.shrink_to_fit();
    e.dim = d;
  }
  if (normalize && e.rows > 0) {
    // The Normalize module's op: x / max(||x||, 1e-12), as torch.nn.functional.normalize.
    std::vector<float> out(e.data.size()), norm(static_cast<size_t>(e.rows));
    ops::l2norm_forward(
        Context{Device::CPU, ctx.threads},
        {.out = out.data(), .norm = norm.data(), .inp = e.data.data(), .rows = e.rows, .C = e.dim});
    e.data = std::move(out);
  }
  return e;
}

// The most tokens of one int8 encoder pass (embed_ids): 500 SciFact abstracts at batch 32 ran in
// 11.4 s of CPU time whole, 10.0 s in pieces of about 2,000 tokens and 9.9 s of about 1,000.
constexpr int64_t kInt8PassTokens = 2048;

// The int8 weights an embed call runs on (null: fp32).
std::shared_ptr<const QuantizedBert> int8_weights(const Model::Impl& impl, Quantize requested) {
  if (impl.quantization == Quantize::Int8) return impl.int8;
  if (requested != Quantize::Int8) return nullptr;
  const std::lock_guard<std::mutex> lock(*impl.int8_mutex);
  if (!impl.int8) {
    impl.int8 = std::make_shared<const QuantizedBert>(quantize_bert(impl.config, impl.view));
  }
  return impl.int8;
}

// The bf16x3 weights an fp32 embed call runs on (null: fp32 products).
std::shared_ptr<const SplitBert> bf16x3_weights(const Model::Impl& impl, const Context& ctx,
                                                MatmulPrecision requested) {
  if (requested != MatmulPrecision::High || ctx.device != Device::CPU || !cpu::bf16x3_usable()) {
    return nullptr;
  }
  const std::lock_guard<std::mutex> lock(*impl.int8_mutex);
  if (!impl.bf16x3)
    impl.bf16x3 = std::make_shared<const SplitBert>(split_bert(impl.config, impl.view));
  return impl.bf16x3;
}

}  // namespace

Embeddings Model::embed(const std::vector<std::string>& texts, const EmbedOptions& options) const {
  check_truncate_dim(options.truncate_dim, *this);  // before the work
  // A length the position embeddings cannot hold would be cut silently: refuse it instead.
  SBERT_CHECK(options.max_seq_length <= config().max_tokens(), "[embed] max_seq_length ",
              options.max_seq_length, " is over the model's maximum of ", config().max_tokens(),
              " tokens (max_position_embeddings in ", (impl_->dir / "config.json").string(),
              config().first_position() ? " less the first position)" : ")");
  int max_len = options.max_seq_length > 0 ? options.max_seq_length : config().max_seq_length;
  max_len = std::min(max_len, config().max_tokens());
  std::vector<std::vector<int32_t>> ids;
  if (options.prefix.empty()) {
    ids = impl_->tokenizer.encode_batch(texts, max_len, options.threads);
  } else {
    std::vector<std::string> prefixed;
    prefixed.reserve(texts.size());
    for (const auto& t : texts) prefixed.push_back(options.prefix + t);
    ids = impl_->tokenizer.encode_batch(prefixed, max_len, options.threads);
  }
  return embed_ids(ids, options);
}

Embeddings Model::embed_ids(const std::vector<std::vector<int32_t>>& ids,
                            const EmbedOptions& options) const {
  SBERT_CHECK(options.batch_size > 0, "[embed] batch_size must be positive, got ",
              options.batch_size);
  check_truncate_dim(options.truncate_dim, *this);
  Context ctx{options.device, options.threads};
  apply_cpu_threads(ctx);
  const ModelConfig& cfg = config();
  Embeddings result;
  result.rows = static_cast<int64_t>(ids.size());
  result.dim = cfg.hidden_size;
  result.data.resize(static_cast<size_t>(result.rows * result.dim));
  const std::shared_ptr<const QuantizedBert> int8 = int8_weights(*impl_, options.quantize);
  SBERT_CHECK(!int8 || ctx.device == Device::CPU, "[embed] int8 inference runs on the CPU only (",
              impl_->dir.string(), " is int8; use device cpu)");
  // On CUDA the weights are copied per call, so they are the model's current ones (a model
  // under training, say).
  const std::shared_ptr<const SplitBert> bf16x3 =
      int8 ? nullptr : bf16x3_weights(*impl_, ctx, options.matmul_precision);
  const PlacedWeights placed = place_weights(ctx, cfg, impl_->layout, impl_->weights, impl_->view);
  const BertView& view = placed.view;
  EncoderCache cache;
  PoolingCache pool;
  for (int64_t begin = 0; begin < result.rows; begin += options.batch_size) {
    const int64_t end = std::min<int64_t>(result.rows, begin + options.batch_size);
    // int8 runs a batch in pieces of whole sequences of at most kInt8PassTokens tokens: every op
    // works on rows or on single sequences, so the embeddings are the same bits, and a piece's
    // activations stay in the caches between its ops (an int8 op is too fast to hide a trip to
    // memory; fp32's GEMMs are not, and prefer the whole batch).
    const auto length = [&ids](int64_t i) { return std::ssize(ids[static_cast<size_t>(i)]); };
    for (int64_t b = begin; b < end;) {
      int64_t e = end;  // fp32: the whole batch
      if (int8) {
        int64_t tokens = length(b);
        for (e = b + 1; e < end && tokens + length(e) <= kInt8PassTokens; ++e) tokens += length(e);
      }
      const PackedBatch batch = pack_sequences(ids, b, e);
      if (int8) {
        encoder_forward(ctx, cfg, view, *int8, batch, cache);
      } else if (bf16x3) {
        encoder_forward(ctx, cfg, view, *bf16x3, batch, cache);
      } else {
        encoder_forward(ctx, cfg, view, batch, cache);
      }
      pooling_forward(ctx, cfg, cache.output, batch, pool, staged_cu_seqlens(ctx, cache));
      pool.out.read(ctx, result.data.data() + b * result.dim);
      b = e;
    }
    if (options.progress) options.progress({"embed", end, result.rows});
  }
  return truncate_embeddings(std::move(result), options.truncate_dim, options.normalize, ctx);
}

HiddenStates Model::hidden_states(const std::vector<std::vector<int32_t>>& ids, int threads) const {
  const Context ctx{Device::CPU, threads};
  apply_cpu_threads(ctx);
  const ModelConfig& cfg = config();
  const PackedBatch batch = pack_sequences(ids, 0, static_cast<int64_t>(ids.size()));
  HiddenStates hs;
  hs.offsets = batch.cu_seqlens;
  hs.layers.resize(static_cast<size_t>(cfg.num_layers + 1));
  const size_t n = static_cast<size_t>(batch.tokens() * cfg.hidden_size);
  EncoderCache cache;
  encoder_forward(ctx, cfg, impl_->view, batch, cache, [&](int l, const float* h) {
    hs.layers[static_cast<size_t>(l)].assign(h, h + n);
  });
  return hs;
}

}  // namespace sbert
