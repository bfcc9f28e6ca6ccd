#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "api/model_impl.h"
#include "core/check.h"
#include "core/context.h"
#include "core/rng.h"
#include "cuda/mixed.h"
#include "cuda/runtime.h"
#include "data/batch_sampler.h"
#include "data/train_batches.h"
#include "data/train_reader.h"
#include "dist/communicator.h"
#include "dist/grad_reducer.h"
#include "eval/beir.h"
#include "eval/retrieval.h"
#include "eval/sts.h"
#include "io/atomic_file.h"
#include "nn/encoder.h"
#include "nn/pooling.h"
#include "ops/ops.h"
#include "sbert/model.h"
#include "train/adamw.h"
#include "train/api_impl.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/grad_cache.h"
#include "train/grad_norm.h"
#include "train/loss.h"
#include "train/loss_scale.h"
#include "train/objective_setup.h"
#include "train/metrics_log.h"
#include "train/plot.h"
#include "train/schedule.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

// FNV-1a over 64-bit words: a fingerprint of the weights, compared across ranks at every
// checkpoint (the all-reduce must leave every rank with the same model).
uint64_t fingerprint(const float* data, int64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* w = reinterpret_cast<const uint32_t*>(data);
  for (int64_t i = 0; i < n; ++i) {
    h ^= w[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

struct SBERT_LOCAL Trainer::Impl {
  Impl(const TrainOptions& cfg, std::optional<TrainData> train, std::optional<TrainData> val,
       Communicator* comm, int loss_blocks = 1);
  ~Impl();

  bool lead() const { return comm_->rank() == 0; }  // rank 0 writes logs and checkpoints
  void message(MessageLevel level, std::string text);
  void check_weights_in_sync(int64_t step);
  void setup_device();
  void load_model();
  void open_data(std::optional<TrainData> train, std::optional<TrainData> val);
  void setup_optimizer();
  void plan_device_memory();
  void find_checkpoint();
  bool resume();
  void open_log();
  std::optional<StepInfo> step();
  double validate_loss(int64_t max_batches);
  std::map<std::string, double> validate_beir();
  std::map<std::string, double> validate_sts();
  std::map<std::string, double> validate(int64_t max_batches, bool record);
  Embeddings embed_sharded(const std::vector<std::string>& texts, const EmbedOptions& eo);
  fs::path checkpoint(std::optional<double> monitor);
  void set_model_prompts();

  const TrainOptions cfg_;
  int loss_blocks_ = 1;  // tests: see TrainerHooks::loss_blocks
  std::function<void(MessageLevel, const std::string&)> on_message_;
  std::vector<std::pair<MessageLevel, std::string>> pending_;  // before a handler was set
  std::function<void(int64_t)> before_commit_;
  std::unique_ptr<Communicator> own_comm_;
  Communicator* comm_ = nullptr;
  std::unique_ptr<GradReducer> reducer_;
  std::unique_ptr<cuda::Runtime> runtime_;  // training on the GPU: its stream and cuBLASLt
  Context ctx_;
  std::unique_ptr<Model> model_;
  // The training state on ctx_'s device. On the CPU the weights are the model's own block and
  // grads_ a host block; on the GPU both are device blocks, and the model's host weights are
  // refreshed from weights_ (sync_host_weights) only when something on the host reads them:
  // validation by embedding, checkpoints, the rank check, model().
  Buffer<float> weights_, grads_;
  Buffer<double> norm_;  // the step's gradient norm (GPU: read after AdamW is queued)
  // Device memory in use once the Runtime exists, and what the run placed and planned on top
  // of it before its first step (plan_device_memory).
  size_t device_base_ = 0, device_planned_ = 0;
  BertView weight_view_{}, grad_view_{};
  bool host_weights_stale_ = false;
  float* weights() {
    return ctx_.device == Device::CPU ? model_->impl().weights.data() : weights_.data();
  }
  void sync_host_weights();
  void upload_weights();
  std::shared_ptr<const TrainDataset> train_data_, val_data_;  // train_data_: the first dataset
  std::vector<SampledDataset> train_sets_;  // model.data.train_ds (or data_train alone)
  std::unique_ptr<eval::BeirData> val_beir_;  // model.data.validation_beir, read once
  std::unique_ptr<MultiBatchBuilder> builder_;
  TrainBatchOptions batch_opt_;
  ObjectiveConfig loss_cfg_;     // model.loss and its keys (train/objective.h)
  std::unique_ptr<Model> guide_;  // gist's guide model (model.gist_guide_model)
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<LrSchedule> sched_;
  std::optional<LossScaler> scaler_;  // 16-mixed only
  std::unique_ptr<GradCache> gc_;
  std::unique_ptr<eval::StsData> val_sts_;  // model.data.validation_sts, read once
  TrainerState state_;
  int64_t max_steps_ = 0;
  int64_t last_step_ = 0;  // max_steps_, or the end of trainer.max_epochs when that comes first
  fs::path log_dir_, ckpt_root_;
  std::optional<fs::path> latest_;  // the newest checkpoint when the Trainer was made
  bool resumed_ = false;
  std::optional<MetricsLog> log_;  // rank 0, opened at the first step, validation or save
  bool log_opened_ = false;
  // Throughput of this session (validation time excluded).
  std::chrono::steady_clock::time_point t0_;
  bool clock_started_ = false;
  int64_t first_step_ = 0;
  double samples_ = 0, tokens_ = 0;
};

void Trainer::Impl::setup_device() {
  const Accelerator a = cfg_.trainer.accelerator;
  ctx_.threads = cfg_.trainer.threads;
  if (a == Accelerator::GPU) {
    ctx_.device = Device::CUDA;
  } else if (a == Accelerator::Auto) {
    ctx_.device = cuda::device_count() > 0 ? Device::CUDA : Device::CPU;
  }
  const int W = comm_->size();
  const int want = cfg_.trainer.devices * cfg_.trainer.num_nodes;
  SBERT_CHECK(want == W, "[config] ", cfg_.source.string(),
              ": trainer.devices x trainer.num_nodes is ", cfg_.trainer.devices, " x ",
              cfg_.trainer.num_nodes, " = ", want, " but this job has ", W,
              W == 1 ? " process" : " processes", " (", comm_->backend(),
              "): launch one process per device, e.g. mpirun -np ", want,
              " sbert-finetune ... (docs/distributed.md)");
  SBERT_CHECK(W == 1 || comm_->local_size() == cfg_.trainer.devices, "[config] ",
              cfg_.source.string(), ": trainer.devices is ", cfg_.trainer.devices,
              " per machine but rank ", comm_->rank(), "'s machine runs ", comm_->local_size(),
              " processes of the job");
  SBERT_CHECK(ctx_.device == Device::CUDA || cfg_.trainer.precision == Precision::FP32,
              "[config] ", cfg_.source.string(), ": key 'trainer.precision' is ",
              cfg_.trainer.precision == Precision::BF16Mixed ? "bf16-mixed" : "16-mixed",
              ", which needs a GPU (trainer.accelerator=gpu); use 32 on the CPU");
  // bf16-mixed: the GEMMs and attention on bf16 tensor cores; 16-mixed: the GEMMs on fp16 ones,
  // with dynamic loss scaling (train/loss_scale.h). Master weights, AdamW, the loss and every
  // kept tensor fp32 (ops/dispatch.cpp, cuda/mixed.h).
  ctx_.bf16 = cfg_.trainer.precision == Precision::BF16Mixed;
  ctx_.fp16 = cfg_.trainer.precision == Precision::FP16Mixed;
  if (cfg_.model.attention_backend == "cudnn") {
    SBERT_CHECK(ctx_.bf16, "[config] ", cfg_.source.string(),
                ": key 'model.attention_backend' is cudnn, which needs trainer.precision "
                "bf16-mixed on a GPU (cuDNN's fused attention has no fp32 path)");
    SBERT_CHECK(cuda::cudnn_attention_built(), "[config] ", cfg_.source.string(),
                ": key 'model.attention_backend' is cudnn but this build has no cuDNN (CPU and "
                "emulator builds never do); use ours");
    ctx_.cudnn_attention = true;
  }
  if (ctx_.fp16) {
    scaler_.emplace(LossScaleConfig{cfg_.model.native_amp_init_scale,
                                    cfg_.model.native_amp_growth_interval, cfg_.model.hysteresis});
  }
  SBERT_CHECK(W == 1 || comm_->bulk_device() == ctx_.device, "[dist] the ", comm_->backend(),
              " backend exchanges ", comm_->bulk_device() == Device::CUDA ? "GPU" : "CPU",
              " buffers but this run trains on the ", ctx_.device == Device::CUDA ? "GPU" : "CPU",
              ctx_.device == Device::CUDA
                  ? " (several GPU ranks need the nccl backend: trainer.accelerator=gpu, not "
                    "auto, in sbert-finetune; ProcessGroup::from_environment(timeout, true))"
                  : "");
  if (ctx_.device == Device::CUDA) {
    // One GPU per process: the local rank's (the NCCL communicator picked the same one). The
    // gradient buckets are all-reduced by NCCL after the kernels queued on this Runtime's
    // stream, so the communicator learns that stream (it was made before the Runtime).
    const int n = cuda::device_count();
    runtime_ = std::make_unique<cuda::Runtime>(n > 0 ? comm_->local_rank() % n : 0);
    ctx_.cuda = runtime_.get();
    comm_->set_cuda_stream(runtime_->stream());
    device_base_ = cuda::device_memory_in_use();
  }
  apply_cpu_threads(ctx_);
}

void Trainer::Impl::sync_host_weights() {
  if (!host_weights_stale_) return;
  weights_.read(ctx_, model_->impl().weights.data());
  host_weights_stale_ = false;
}

void Trainer::Impl::upload_weights() {
  if (ctx_.device == Device::CPU) return;
  weights_.write(ctx_, model_->impl().weights.data());
  host_weights_stale_ = false;
  ops::refresh_weight_copy(ctx_);  // bf16-mixed: the GEMMs' bf16 copy follows the new weights
}

void Trainer::Impl::check_weights_in_sync(int64_t step) {
  sync_host_weights();
  if (comm_->size() == 1) return;
  const Model::Impl& m = model_->impl();
  const uint64_t mine = fingerprint(m.weights.data(), m.layout.total);
  std::vector<uint64_t> all(static_cast<size_t>(comm_->size()));
  comm_->host_all_gather(&mine, sizeof mine, all.data());
  for (size_t r = 1; r < all.size(); ++r) {
    SBERT_CHECK(all[r] == all[0], "[dist] after step ", step, " the weights of rank ", r,
                " differ from rank 0's: the ranks no longer train the same model");
  }
}

void Trainer::Impl::load_model() {
  std::string note;  // a run's log folder or checkpoints/best: say which checkpoint
  const fs::path source = resolve_model_path(cfg_.restore_from_path, &note);
  if (!note.empty()) message(MessageLevel::Info, "restore_from_path " + note);
  if (const auto problems = verify_if_checkpoint(source); !problems.empty()) {
    fail("[train] restore_from_path ", source.string(), " is damaged: ", problems.front(),
         problems.size() > 1 ? cat(" (and ", problems.size() - 1, " more)") : std::string());
  }
  model_ = std::make_unique<Model>(Model::load(source));
  SBERT_CHECK(model_->quantization() != Quantize::Int8, "[train] restore_from_path ",
              source.string(),
              " holds int8 weights (sbert-convert --quantize int8), which are for inference "
              "only: fine-tune the fp32 model it was made from");
  Model::Impl& m = model_->impl();
  if (cfg_.model.hidden_dropout >= 0)
    m.config.hidden_dropout = static_cast<float>(cfg_.model.hidden_dropout);
  if (cfg_.model.attention_dropout >= 0) {
    m.config.attention_dropout = static_cast<float>(cfg_.model.attention_dropout);
  }
  SBERT_CHECK(!ctx_.cudnn_attention || m.config.attention_dropout == 0.0f, "[config] ",
              cfg_.source.string(), ": key 'model.attention_backend' is cudnn, which cannot "
              "apply libsbert's attention dropout masks, but the attention dropout is ",
              m.config.attention_dropout, " (set model.attention_dropout: 0)");
  const auto total = static_cast<size_t>(m.layout.total);
  grads_.resize(ctx_, total);
  fill_zero(ctx_, grads_.data(), total * sizeof(float));
  grad_view_ = bind_bert(m.config, m.layout, grads_.data());
  weight_view_ = m.view;
  if (ctx_.device == Device::CUDA) {
    weights_.resize(ctx_, total);
    weight_view_ = bind_bert(m.config, m.layout, weights_.data());
    ops::bind_weight_copy(ctx_, weights_.data(), m.layout.total);
    upload_weights();
  }
  DataParallel dp;
  dp.comm = comm_;
  dp.global_negatives = cfg_.model.global_inbatch_negatives;
  dp.loss_blocks = loss_blocks_;
  gc_ = std::make_unique<GradCache>(ctx_, m, dp);
  gc_->set_weights(weight_view_);
  reducer_ = std::make_unique<GradReducer>(*comm_, m.config, m.layout, grads_.data());
}

double Trainer::Impl::validate_loss(int64_t max_batches) {
  if (!val_data_) return std::nan("");
  TrainBatchOptions vopt = batch_opt_;
  vopt.shuffle = false;
  // A multiple of the rank count, each rank taking its share as in training.
  const auto W = static_cast<size_t>(comm_->size());
  vopt.global_batch_size =
      std::min<size_t>(batch_opt_.global_batch_size, val_data_->size()) / W * W;
  SBERT_CHECK(vopt.global_batch_size > 0, "[train] ", val_data_->name(), ": ", val_data_->size(),
              " validation records cannot be shared by ", W, " ranks");
  const Tokenizer& tok = model_->tokenizer();
  const int threads = cfg_.trainer.threads;
  TrainBatchBuilder vb(val_data_, vopt,
                       TrainBatchBuilder::TokenizeBatchFn(
                           [&tok, threads](const std::vector<std::string>& texts, int max_len) {
                             return tok.encode_batch(texts, max_len, threads);
                           }));
  int64_t n = static_cast<int64_t>(vb.max_batches_per_epoch());
  if (max_batches > 0) n = std::min(n, max_batches);
  double total = 0;
  ObjectiveConfig all_dims = loss_cfg_;  // validation: every Matryoshka dim
  all_dims.matryoshka_active.clear();
  for (int64_t i = 0; i < n; ++i) {
    const TrainBatch b = vb.next_shard(comm_->rank(), comm_->size());
    check_batch_suits(all_dims, b, val_data_->name());
    total += gc_->loss_only(b, static_cast<size_t>(cfg_.model.micro_batch_size), all_dims).loss;
  }
  return n > 0 ? total / static_cast<double>(n) : std::nan("");
}

// Retrieval metrics of the current weights (sbert-eval's definitions), named val_<metric>.
std::map<std::string, double> Trainer::Impl::validate_beir() {
  if (!val_beir_) return {};
  const auto& vb = cfg_.model.data.validation_beir;
  eval::RetrievalOptions o;
  o.embed.batch_size = static_cast<int>(vb.batch_size);
  o.embed.max_seq_length = batch_opt_.passage_max_length;
  o.embed.device = ctx_.device;
  o.embed.threads = cfg_.trainer.threads;
  o.query_prefix = batch_opt_.query_prefix;
  o.passage_prefix = batch_opt_.passage_prefix;
  if (comm_->size() > 1) {
    o.embedder = [this](const std::vector<std::string>& texts, const EmbedOptions& eo) {
      return embed_sharded(texts, eo);
    };
  }
  const eval::RetrievalMetrics r = eval::evaluate_retrieval(*model_, *val_beir_, o);
  std::map<std::string, double> out;
  for (const char* name : {"ndcg@10", "mrr@10", "map@100", "recall@1", "recall@10", "recall@100"})
    out[cat("val_", name)] = r.get(name);
  return out;
}

// STS correlations of the current weights (sbert-eval --sts's definitions): val_spearman and
// val_pearson. No prefixes (the pairs are symmetric), the model's max_seq_length, as
// sentence-transformers' EmbeddingSimilarityEvaluator encodes them.
std::map<std::string, double> Trainer::Impl::validate_sts() {
  if (!val_sts_) return {};
  EmbedOptions eo;
  eo.batch_size = static_cast<int>(cfg_.model.data.validation_sts.batch_size);
  eo.device = ctx_.device;
  eo.threads = cfg_.trainer.threads;
  const auto embed = [&](const std::vector<std::string>& texts) {
    return comm_->size() > 1 ? embed_sharded(texts, eo) : model_->embed(texts, eo);
  };
  const Embeddings a = embed(val_sts_->sentences1);
  const Embeddings b = embed(val_sts_->sentences2);
  const eval::StsMetrics m = eval::score_sts(eval::pair_cosines(a, b, a.dim), *val_sts_);
  return {{"val_spearman", m.spearman}, {"val_pearson", m.pearson}};
}

// Data parallel: this rank embeds its contiguous share of texts, the shares are all-gathered,
// and every rank gets all rows in order (the same matrix, so the same metrics everywhere) for
// 1/N of the embedding work. A text's embedding does not depend on its batch companions
// (packed sequences, per-row GEMM results), so the rows equal one process's.
Embeddings Trainer::Impl::embed_sharded(const std::vector<std::string>& texts, const EmbedOptions& eo) {
  const int64_t n = static_cast<int64_t>(texts.size()), W = comm_->size();
  const int64_t per = (n + W - 1) / W;
  const int64_t lo = std::min(n, comm_->rank() * per), hi = std::min(n, lo + per);
  const Embeddings mine =
      model_->embed(std::vector<std::string>(texts.begin() + lo, texts.begin() + hi), eo);
  Embeddings all;
  all.rows = n;
  all.dim = model_->dim();
  if (n == 0) return all;
  std::vector<float> send(static_cast<size_t>(per * all.dim), 0.0f);
  std::copy(mine.data.begin(), mine.data.end(), send.begin());
  std::vector<float> recv(static_cast<size_t>(W * per * all.dim));
  comm_->host_all_gather(send.data(), send.size() * sizeof(float), recv.data());
  recv.resize(static_cast<size_t>(n * all.dim));
  all.data = std::move(recv);
  return all;
}

Trainer::Impl::Impl(const TrainOptions& cfg, std::optional<TrainData> train,
                     std::optional<TrainData> val, Communicator* comm, int loss_blocks)
    : cfg_(cfg), loss_blocks_(loss_blocks) {
  cfg_.validate();
  const std::string where = cfg_.source.empty() ? "" : cfg_.source.string() + ": ";
  SBERT_CHECK(!cfg_.restore_from_path.empty(), "[config] ", where,
              "key 'restore_from_path' must name the model folder to fine-tune");
  SBERT_CHECK(train || !cfg_.model.data.data_train.empty() || !cfg_.model.data.train_ds.empty(),
              "[config] ", where,
              "no training data: set model.data.data_train (or train_ds) or pass a TrainData");
  if (!comm) own_comm_ = make_single_communicator();
  comm_ = comm ? comm : own_comm_.get();
  setup_device();
  load_model();
  open_data(std::move(train), std::move(val));
  setup_optimizer();
  plan_device_memory();
  find_checkpoint();
}

// The communicator may outlive this Trainer (a caller's ProcessGroup): it must not keep
// ordering its collectives after a stream that is about to be destroyed.
Trainer::Impl::~Impl() {
  if (runtime_ && comm_) comm_->set_cuda_stream(nullptr);
}

void Trainer::Impl::message(MessageLevel level, std::string text) {
  if (!lead()) return;
  if (on_message_) {
    on_message_(level, text);
  } else {
    pending_.emplace_back(level, std::move(text));
  }
}

void Trainer::Impl::open_data(std::optional<TrainData> train, std::optional<TrainData> val) {
  const auto& d = cfg_.model.data;
  auto open = [&](const std::vector<std::string>& files, DataFormat format,
                  const DataColumns& columns) {
    TrainReaderOptions ropt;
    ropt.skip_bad_records = d.skip_bad_records;
    ropt.format = format;
    ropt.columns = columns;
    const std::vector<fs::path> paths(files.begin(), files.end());
    return TrainDataset::open(paths, ropt);
  };
  if (train) {
    train_sets_.push_back({train->impl().dataset, 1.0});
  } else if (!d.train_ds.empty()) {
    for (const DatasetSpec& s : d.train_ds) {
      train_sets_.push_back(
          {std::make_shared<const TrainDataset>(open(s.paths, s.format, s.columns)), s.weight});
    }
  } else {
    train_sets_.push_back(
        {std::make_shared<const TrainDataset>(open(d.data_train, d.format, d.columns)), 1.0});
  }
  train_data_ = train_sets_[0].data;
  if (val) {
    val_data_ = val->impl().dataset;
  } else if (!d.validation_ds.empty()) {
    std::vector<TrainDataset> parts;
    for (const DatasetSpec& s : d.validation_ds) parts.push_back(open(s.paths, s.format, s.columns));
    val_data_ = std::make_shared<const TrainDataset>(TrainDataset::concat(std::move(parts)));
  } else if (!d.data_validation.empty()) {
    val_data_ = std::make_shared<const TrainDataset>(
        open(d.data_validation, d.format, d.columns));
  }
  std::vector<std::shared_ptr<const TrainDataset>> all;
  for (const SampledDataset& t : train_sets_) all.push_back(t.data);
  all.push_back(val_data_);
  for (const auto& ds : all) {
    if (ds && ds->stats().skipped > 0) {
      message(MessageLevel::Warning, cat("skipped ", ds->stats().skipped,
                                         " bad records (first: ", ds->stats().first_skipped,
                                         ")"));
    }
  }
  if (!d.validation_beir.path.empty()) {
    // read_beir refuses a split without a query that has a relevant document.
    eval::BeirData b = eval::read_beir(d.validation_beir.path, d.validation_beir.split);
    const auto keep = static_cast<size_t>(d.validation_beir.max_queries);
    if (keep > 0 && keep < b.query_ids.size()) {  // the first N, in queries.jsonl order
      b.query_ids.resize(keep);
      b.query_texts.resize(keep);
      b.relevance.resize(keep);
    }
    val_beir_ = std::make_unique<eval::BeirData>(std::move(b));
  }
  if (!d.validation_sts.path.empty()) {
    val_sts_ = std::make_unique<eval::StsData>(eval::read_sts(d.validation_sts.path));
  }
  const ModelConfig& mc = model_->config();
  const int64_t cap = std::min<int64_t>(cfg_.model.encoder_seq_length, mc.max_tokens());
  auto len = [&](int64_t v) { return static_cast<int>(v > 0 ? std::min(v, cap) : cap); };
  batch_opt_.hard_negatives_to_train = static_cast<int>(d.hard_negatives_to_train);
  const LossType base =
      cfg_.model.loss == LossType::Matryoshka ? cfg_.model.matryoshka_loss : cfg_.model.loss;
  if (base == LossType::CoSENT || base == LossType::AnglE) {
    batch_opt_.hard_negatives_to_train = 0;  // scored pairs: the loss reads no negatives
  }
  batch_opt_.negative_selection = d.negative_selection;
  batch_opt_.query_prefix = d.add_prefix ? d.query_prefix : "";
  batch_opt_.passage_prefix = d.add_prefix ? d.passage_prefix : "";
  set_model_prompts();
  batch_opt_.query_max_length = len(d.query_seq_length);
  batch_opt_.passage_max_length = len(d.passage_seq_length);
  batch_opt_.global_batch_size = static_cast<size_t>(cfg_.model.global_batch_size);
  batch_opt_.shuffle = d.shuffle;
  batch_opt_.seed = cfg_.model.seed;
  batch_opt_.dedupe_in_batch = d.dedupe_in_batch;
  const Tokenizer& tok = model_->tokenizer();
  const int threads = cfg_.trainer.threads;
  builder_ = std::make_unique<MultiBatchBuilder>(
      train_sets_, d.sampler, batch_opt_,
      TrainBatchBuilder::TokenizeBatchFn(
          [&tok, threads](const std::vector<std::string>& texts, int max_len) {
            return tok.encode_batch(texts, max_len, threads);
          }));
  if (train_sets_.size() > 1) {
    std::string text = cat(train_sets_.size(), " training datasets, a batch from one at a time (",
                           dataset_sampler_name(d.sampler), ", ",
                           builder_->max_batches_per_epoch(), " batches a round):");
    for (size_t i = 0; i < train_sets_.size(); ++i) {
      const bool named = i < d.train_ds.size() && !d.train_ds[i].name.empty();
      text += cat(i ? "; " : " ", named ? d.train_ds[i].name : train_sets_[i].data->name(), " (",
                  train_sets_[i].data->size(), " records, ",
                  builder_->dataset(i).max_batches_per_epoch(), " batches an epoch)");
    }
    message(MessageLevel::Info, text);
  }
}

// The prefixes the model is trained with become its sentence-transformers prompts, which every
// checkpoint and save writes (config_sentence_transformers.json) and every tool applies: the
// model is then used as it was trained. The source's query/document prompts are replaced (also
// by none, when training adds no prefix); its other prompts are kept.
void Trainer::Impl::set_model_prompts() {
  Model::Impl& m = model_->impl();
  for (const char* name : {"query", "document", "passage", "corpus"}) m.prompts.erase(name);
  if (!batch_opt_.query_prefix.empty()) m.prompts["query"] = batch_opt_.query_prefix;
  if (!batch_opt_.passage_prefix.empty()) m.prompts["document"] = batch_opt_.passage_prefix;
  if (!m.prompts.count(m.default_prompt_name)) m.default_prompt_name.clear();
}

void Trainer::Impl::setup_optimizer() {
  const Model::Impl& mi = model_->impl();
  loss_cfg_ = objective_from_options(cfg_, mi.config.hidden_size);
  for (const SampledDataset& t : train_sets_) {
    check_data_suits(loss_cfg_, *t.data, batch_opt_.hard_negatives_to_train);
  }
  if (val_data_) check_data_suits(loss_cfg_, *val_data_, batch_opt_.hard_negatives_to_train);
  if (loss_cfg_.needs_guide()) {
    const int max_tokens = std::max(batch_opt_.query_max_length, batch_opt_.passage_max_length);
    guide_ = load_guide_model(cfg_, *model_, max_tokens);
    GuideRetokenize retok;
    if (guide_must_retokenize(*model_, *guide_, max_tokens)) {
      retok = {&model_->tokenizer(), &guide_->tokenizer(), guide_->impl().config.max_seq_length};
    }
    gc_->set_guide(&guide_->impl(), retok);
  }

  AdamWConfig acfg;
  acfg.beta1 = cfg_.model.optim.beta1;
  acfg.beta2 = cfg_.model.optim.beta2;
  acfg.eps = cfg_.model.optim.eps;
  acfg.weight_decay = cfg_.model.optim.weight_decay;
  adamw_ = std::make_unique<AdamW>(mi.layout, acfg, ctx_);

  max_steps_ = cfg_.trainer.max_steps;
  if (max_steps_ <= 0) {
    max_steps_ = cfg_.trainer.max_epochs * static_cast<int64_t>(builder_->max_batches_per_epoch());
  }
  // The schedule spans max_steps (as in NeMo) even when max_epochs ends the run sooner.
  last_step_ = max_steps_;
  if (cfg_.trainer.max_epochs > 0) {
    last_step_ = std::min(last_step_, cfg_.trainer.max_epochs *
                                          static_cast<int64_t>(builder_->max_batches_per_epoch()));
  }
  const ScheduleConfig scfg = schedule_config(cfg_, max_steps_);
  sched_ = std::make_unique<LrSchedule>(scfg);
  if (cfg_.trainer.max_steps <= 0) {  // the step count came from the data: warn now
    const std::string sw = schedule_warnings(scfg);
    if (!sw.empty()) message(MessageLevel::Warning, sw);
  }
  state_.seed = cfg_.model.seed;
  state_.layout_total = mi.layout.total;
  state_.monitor_name = cfg_.exp_manager.checkpoint.monitor;
}

// A GPU run's memory is planned once, here, not discovered by its steps: the weights, gradients
// and AdamW's moments are placed already; the step's caches are sized for the largest
// micro-batch the data can make (micro_batch_size rows, each a query, a positive and the hard
// negatives, at their maximum lengths), so no step calls cudaMalloc.
void Trainer::Impl::plan_device_memory() {
  if (ctx_.device != Device::CUDA) return;
  const int64_t rank_rows = cfg_.model.global_batch_size / comm_->size();
  const int64_t micro = cfg_.model.micro_batch_size;
  const int64_t rows = micro > 0 ? std::min(micro, rank_rows) : rank_rows;
  const int64_t k = batch_opt_.hard_negatives_to_train, ql = batch_opt_.query_max_length,
                pl = batch_opt_.passage_max_length;
  norm_.resize(ctx_, 1);
  reserve_clip_grad_norm(ctx_, model_->impl().layout.total);
  // The device loss's global-batch blocks and scratch (nemo / mnrl in one process): needed at any
  // length, so placed whatever the activations' bound below.
  gc_->reserve_loss(loss_cfg_, rank_rows, k, rows);
  // The bound is what padding to the maximum lengths costs every step (NeMo's datasets pad so);
  // where it does not fit, the buffers grow with the batches instead, as they do on the CPU.
  const size_t need = gc_->reserve_bytes(rows, k, ql, pl), free = cuda::device_memory_free();
  if (need > free / 10 * 9) {
    message(MessageLevel::Warning,
            cat("device memory not planned: a micro-batch of ", rows, " rows at the maximum "
                "lengths (", ql, " and ", pl, " tokens, ", k, " hard negatives) would need ",
                need >> 20, " MiB of activations, ", free >> 20, " MiB are free; the buffers "
                "grow with the batches instead (a lower model.micro_batch_size or maximum "
                "length plans it)"));
  } else {
    gc_->reserve(rows, k, ql, pl);
  }
  device_planned_ = cuda::device_memory_in_use() - device_base_;
}

// Rank 0 owns the log directory; the others read the checkpoint it names (a shared filesystem
// across machines).
void Trainer::Impl::find_checkpoint() {
  log_dir_ = cfg_.log_dir();
  ckpt_root_ = log_dir_ / "checkpoints";
  if (lead()) {
    fs::create_directories(log_dir_);
    remove_stale_temporaries(ckpt_root_);
    ResumePoint rp = find_resumable_checkpoint(ckpt_root_);  // verified: checksums
    latest_ = rp.dir;
    for (const std::string& note : rp.notes) message(MessageLevel::Warning, note);
  }
  if (comm_->size() > 1) {
    const std::string name = comm_->host_broadcast_string(latest_ ? latest_->string() : "", 0);
    if (!name.empty()) latest_ = fs::path(name);
    message(MessageLevel::Info,
            cat(comm_->size(), " ranks (", comm_->backend(), "), ",
                cfg_.model.global_batch_size / comm_->size(),
                " rows of each global batch per rank"));
  }
}

bool Trainer::Impl::resume() {
  SBERT_CHECK(!log_opened_, "[train] resume() must come before the first step");
  if (!latest_ || resumed_) return resumed_;
  LoadedOptimizer opt;
  state_ = load_checkpoint(*latest_, model_->impl(), opt);
  upload_weights();
  SBERT_CHECK(state_.seed == cfg_.model.seed, "[train] ", latest_->string(),
              ": the checkpoint was trained with model.seed ", state_.seed, ", the config says ",
              cfg_.model.seed);
  adamw_->set_state(opt.exp_avg.data(), opt.exp_avg_sq.data(), opt.step);
  // The scaler continues where the checkpoint left it (a checkpoint of another precision has
  // none: the scaler starts afresh from model.native_amp_init_scale).
  if (scaler_ && state_.loss_scale) scaler_->set_state(*state_.loss_scale);
  builder_->restore(DataPosition::from_json(state_.data_position));
  resumed_ = true;
  message(MessageLevel::Info,
          cat("resuming from ", latest_->string(), " (step ", state_.step, ")"));
  return true;
}

// Opened lazily: a resume first cuts metrics.jsonl back to the checkpoint's step.
void Trainer::Impl::open_log() {
  if (log_opened_) return;
  log_opened_ = true;
  first_step_ = state_.step;
  if (!lead()) return;
  write_file_atomic(log_dir_ / "config.yaml", to_yaml(cfg_));
  log_.emplace(log_dir_, resumed_ ? state_.step : -1, cfg_.exp_manager.create_tensorboard_logger);
}

std::optional<StepInfo> Trainer::Impl::step() {
  // The run's end: `while (auto s = trainer.step())` must stop at max_steps as fit does.
  if (state_.step >= max_steps_) return std::nullopt;
  if (!clock_started_) {
    t0_ = std::chrono::steady_clock::now();
    clock_started_ = true;
  }
  const Model::Impl& mi = model_->impl();
  const int64_t W = comm_->size();
  const DataPosition before = builder_->position();
  TrainBatch batch = builder_->next_shard(comm_->rank(), comm_->size());
  if (cfg_.trainer.max_epochs > 0 && static_cast<int64_t>(batch.epoch) >= cfg_.trainer.max_epochs) {
    // The epoch limit: put the batch back, so that the last checkpoint's data position is the
    // end of the last epoch and a resume with a higher limit trains on this batch.
    builder_->restore(before);
    return std::nullopt;
  }
  // After the epoch check: a finished run asked for one more step leaves its logs and
  // config.yaml as they were.
  open_log();
  const int64_t step = state_.step;  // 0-based index of this optimizer step
  int64_t step_tokens = 0;
  check_batch_suits(loss_cfg_, batch, train_sets_.at(batch.dataset).data->name());
  draw_matryoshka_dims(loss_cfg_, cfg_.model.seed, static_cast<uint64_t>(step));
  reducer_->begin();
  const float loss_scale = scaler_ ? scaler_->scale() : 0.0f;
  if (scaler_) gc_->set_loss_scale(loss_scale);
  const LossStats stats =
      gc_->gradients(batch, static_cast<size_t>(cfg_.model.micro_batch_size), loss_cfg_,
                     DropoutState{cfg_.model.seed, static_cast<uint64_t>(step), true, 0},
                     grad_view_, grads_.data(), &step_tokens,
                     [this](int layer) { reducer_->unit_ready(layer); });
  reducer_->finish();  // grads_ now holds the sum over ranks: the global gradient
  double step_tokens_all = static_cast<double>(step_tokens);
  if (W > 1) comm_->host_all_reduce_sum(&step_tokens_all, 1);
  tokens_ += step_tokens_all;
  double norm;
  // Steps skipped by 16-mixed did not advance the schedule (NeMo rewinds it).
  const double lr = sched_->lr_at(step - state_.skipped_steps);
  // Clipping (max_norm 0: the norm only) and AdamW queued back to back; on a GPU the norm is
  // read once both are on the stream.
  norm_.resize(ctx_, 1);
  const double max_norm = std::max(cfg_.trainer.gradient_clip_val, 0.0);
  if (!scaler_) {
    clip_grad_norm_queued(ctx_, grads_.data(), mi.layout.total, max_norm, norm_.data());
    adamw_->step(weights(), grads_.data(), lr);
    ops::refresh_weight_copy(ctx_);  // bf16-mixed: one cast of the stepped block for the GEMMs
    norm_.read(ctx_, &norm);
  } else {
    // 16-mixed: unscale, then clip; the global norm (one double read back, computed on the
    // device) says whether any gradient overflowed: then AdamW and the schedule skip the step.
    const float inv = scaler_->inv_scale();
    SBERT_CHECK(std::isfinite(inv), "[train] 16-mixed: the loss scale fell to ", loss_scale,
                " after overflows at every step; the gradients are not finite even unscaled");
    scale_grads(ctx_, grads_.data(), mi.layout.total, inv);
    clip_grad_norm_queued(ctx_, grads_.data(), mi.layout.total, max_norm, norm_.data());
    norm_.read(ctx_, &norm);
    if (scaler_->update(std::isfinite(norm))) {
      adamw_->step(weights(), grads_.data(), lr);
    } else {
      ++state_.skipped_steps;
    }
    state_.loss_scale = scaler_->state();
  }
  host_weights_stale_ = ctx_.device != Device::CPU;
  state_.step = step + 1;
  state_.epoch = static_cast<int64_t>(batch.epoch);
  state_.consumed_samples += static_cast<int64_t>(batch.size()) * W;
  samples_ += static_cast<double>(batch.size() * static_cast<size_t>(W));

  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  StepMetrics m;
  m.step = state_.step;
  m.epoch = state_.epoch;
  m.loss = stats.loss;
  m.lr = lr;
  m.grad_norm = norm;
  m.accuracy = stats.accuracy;
  m.elapsed_sec = elapsed;
  m.samples_per_sec = elapsed > 0 ? samples_ / elapsed : 0;
  m.tokens_per_sec = elapsed > 0 ? tokens_ / elapsed : 0;
  m.loss_scale = static_cast<double>(loss_scale);
  if (log_) log_->log_step(m);

  StepInfo info;
  info.step = m.step;
  info.max_steps = max_steps_;
  info.last_step = last_step_;
  info.first_step = first_step_;
  info.epoch = m.epoch;
  info.loss = m.loss;
  info.lr = m.lr;
  info.grad_norm = m.grad_norm;
  info.accuracy = m.accuracy;
  info.samples_per_sec = m.samples_per_sec;
  info.tokens_per_sec = m.tokens_per_sec;
  info.elapsed_sec = m.elapsed_sec;
  info.loss_scale = m.loss_scale;
  info.log_due =
      m.step % cfg_.trainer.log_every_n_steps == 0 || m.step == last_step_ || m.step == 1;
  return info;
}

// Every configured validation: retrieval metrics and/or val_loss. Every rank validates
// (retrieval: each embeds its share, see embed_sharded); rank 0 logs.
std::map<std::string, double> Trainer::Impl::validate(int64_t max_batches, bool record) {
  open_log();
  const auto tv = std::chrono::steady_clock::now();
  if (val_beir_ || val_sts_) sync_host_weights();  // Model::embed reads the model's weights
  std::map<std::string, double> v = validate_beir();
  v.merge(validate_sts());
  if (val_data_) v["val_loss"] = validate_loss(max_batches);
  if (clock_started_) t0_ += std::chrono::steady_clock::now() - tv;  // throughput: training only
  if (record && log_ && !v.empty()) log_->log_validation(state_.step, v);
  return v;
}

fs::path Trainer::Impl::checkpoint(std::optional<double> monitor) {
  open_log();
  const int64_t step = state_.step;
  check_weights_in_sync(step);
  state_.data_position = builder_->position().to_json();
  state_.monitor = monitor;
  CheckpointData d;
  d.model = &model_->impl();
  d.weights = model_->impl().weights.data();  // current: check_weights_in_sync synced them
  std::vector<float> m, v;
  if (ctx_.device == Device::CPU) {
    d.exp_avg = adamw_->exp_avg();
    d.exp_avg_sq = adamw_->exp_avg_sq();
  } else {
    m.resize(static_cast<size_t>(adamw_->size()));
    v.resize(m.size());
    adamw_->read_state(m.data(), v.data());
    d.exp_avg = m.data();
    d.exp_avg_sq = v.data();
  }
  d.adam_step = adamw_->step_count();
  d.state = state_;
  d.config_yaml = to_yaml(cfg_);
  if (before_commit_) d.before_commit = [&] { before_commit_(step); };
  if (!lead()) return {};
  const fs::path dir = sbert::save_checkpoint(ckpt_root_, d);
  const char* mode = cfg_.exp_manager.checkpoint.mode == MonitorMode::Max ? "max" : "min";
  prune_checkpoints(ckpt_root_, cfg_.exp_manager.checkpoint.save_top_k, mode);
  update_best_checkpoint(ckpt_root_, mode);
  return dir;
}

// ---- Trainer: the public face of Impl ----

Trainer::Trainer(const TrainOptions& options, std::optional<TrainData> train,
                 std::optional<TrainData> validation, ProcessGroup* group)
    : impl_(std::make_unique<Impl>(options, std::move(train), std::move(validation),
                                   group ? group->impl().comm : nullptr)) {}
Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

bool Trainer::resume() { return impl_->resume(); }
std::optional<StepInfo> Trainer::step() { return impl_->step(); }
std::map<std::string, double> Trainer::validate(int64_t max_batches, bool record) {
  return impl_->validate(max_batches, record);
}
fs::path Trainer::save_checkpoint(std::optional<double> monitor) {
  return impl_->checkpoint(monitor);
}
std::optional<fs::path> Trainer::latest_checkpoint() const { return impl_->latest_; }
std::optional<fs::path> Trainer::best_checkpoint() const {
  return find_best_checkpoint(impl_->ckpt_root_);
}
int64_t Trainer::steps_done() const { return impl_->state_.step; }
int64_t Trainer::max_steps() const { return impl_->max_steps_; }
int64_t Trainer::steps_per_epoch() const {
  return static_cast<int64_t>(impl_->builder_->max_batches_per_epoch());
}
RunPlan Trainer::plan() const {
  const Impl& m = *impl_;
  RunPlan p;
  for (const SampledDataset& t : m.train_sets_) {
    p.train_examples += static_cast<int64_t>(t.data->size());
    p.train_skipped += static_cast<int64_t>(t.data->stats().skipped);
  }
  p.validation_examples = m.val_data_ ? static_cast<int64_t>(m.val_data_->size()) : 0;
  if (m.val_beir_) {
    p.validation_beir_queries = static_cast<int64_t>(m.val_beir_->query_ids.size());
    p.validation_beir_docs = static_cast<int64_t>(m.val_beir_->corpus_ids.size());
  }
  if (m.val_sts_) p.validation_sts_pairs = static_cast<int64_t>(m.val_sts_->scores.size());
  p.batches_per_epoch = static_cast<int64_t>(m.builder_->max_batches_per_epoch());
  p.accumulation_steps = m.cfg_.accumulation_steps();
  p.world_size = m.comm_->size();
  p.first_step = m.state_.step;
  p.max_steps = m.max_steps_;
  p.last_step = m.last_step_;
  p.warmup_steps = m.sched_->warmup_steps();
  p.constant_steps = m.sched_->constant_steps();
  p.device = to_string(m.ctx_.device);
  p.threads = cpu_thread_count(m.ctx_.threads);
  p.device_memory_bytes = static_cast<int64_t>(m.device_planned_);
  p.log_dir = m.log_dir_;
  if (m.cfg_.exp_manager.create_tensorboard_logger) p.tensorboard_dir = m.log_dir_ / "tensorboard";
  return p;
}
bool Trainer::has_validation() const {
  return impl_->val_data_ || impl_->val_beir_ || impl_->val_sts_;
}
fs::path Trainer::log_dir() const { return impl_->log_dir_; }
fs::path Trainer::write_plot() const {
  return impl_->lead() ? write_training_plot(impl_->log_dir_) : fs::path();
}
const Model& Trainer::model() const {
  impl_->sync_host_weights();
  return *impl_->model_;
}
const TrainOptions& Trainer::options() const { return impl_->cfg_; }
void Trainer::set_message_handler(std::function<void(MessageLevel, const std::string&)> handler) {
  impl_->on_message_ = std::move(handler);
  if (!impl_->on_message_) return;
  for (auto& [level, text] : impl_->pending_) impl_->on_message_(level, text);
  impl_->pending_.clear();
}
void Trainer::set_before_checkpoint_commit(std::function<void(int64_t)> hook) {
  impl_->before_commit_ = std::move(hook);
}

Trainer make_trainer(const TrainOptions& options, Communicator* comm, int loss_blocks) {
  return Trainer(
      std::make_unique<Trainer::Impl>(options, std::nullopt, std::nullopt, comm, loss_blocks));
}

}  // namespace sbert
