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
#include "cuda/runtime.h"
#include "data/train_batches.h"
#include "data/train_reader.h"
#include "dist/communicator.h"
#include "dist/grad_reducer.h"
#include "eval/beir.h"
#include "eval/retrieval.h"
#include "io/atomic_file.h"
#include "nn/encoder.h"
#include "nn/pooling.h"
#include "sbert/model.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/grad_cache.h"
#include "train/grad_norm.h"
#include "train/loss.h"
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

class Run {
 public:
  Run(const TrainConfig& cfg, const TrainerHooks& hooks, Communicator* comm)
      : cfg_(cfg), hooks_(hooks) {
    if (!comm) own_comm_ = make_single_communicator();
    comm_ = comm ? comm : own_comm_.get();
  }
  TrainResult go();

 private:
  bool lead() const { return comm_->rank() == 0; }  // rank 0 writes logs and checkpoints
  void check_weights_in_sync(int64_t step);
  void setup_device();
  void load_model();
  void open_data();
  double validate(int64_t max_batches);
  std::map<std::string, double> validate_beir();
  Embeddings embed_sharded(const std::vector<std::string>& texts, const EmbedOptions& eo);
  std::map<std::string, double> run_validation(int64_t step);
  fs::path checkpoint(int64_t step, std::optional<double> monitor);

  const TrainConfig& cfg_;
  const TrainerHooks& hooks_;
  std::unique_ptr<Communicator> own_comm_;
  Communicator* comm_ = nullptr;
  std::unique_ptr<GradReducer> reducer_;
  Context ctx_;
  std::unique_ptr<Model> model_;
  std::vector<float> grads_;
  BertView grad_view_{};
  std::shared_ptr<const TrainDataset> train_data_, val_data_;
  std::unique_ptr<eval::BeirData> val_beir_;  // model.data.validation_beir, read once
  std::unique_ptr<TrainBatchBuilder> builder_;
  TrainBatchOptions batch_opt_;
  LossConfig loss_cfg_;
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<LrSchedule> sched_;
  std::unique_ptr<GradCache> gc_;
  TrainerState state_;
  int64_t max_steps_ = 0;
};

void Run::setup_device() {
  const std::string& a = cfg_.trainer.accelerator;
  ctx_.threads = cfg_.trainer.threads;
  if (a == "gpu" || a == "cuda") {
    ctx_.device = Device::CUDA;
  } else if (a == "auto") {
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
  SBERT_CHECK(ctx_.device == Device::CPU || cfg_.trainer.precision == "32" ||
                  cfg_.trainer.precision == "bf16-mixed",
              "[config] unsupported precision ", cfg_.trainer.precision);
  SBERT_CHECK(ctx_.device == Device::CUDA || cfg_.trainer.precision == "32", "[config] ",
              cfg_.source.string(), ": key 'trainer.precision' is ", cfg_.trainer.precision,
              " but bf16-mixed needs a GPU (trainer.accelerator=gpu); use 32 on the CPU");
  SBERT_CHECK(W == 1 || comm_->bulk_device() == ctx_.device, "[dist] the ", comm_->backend(),
              " backend exchanges ", comm_->bulk_device() == Device::CUDA ? "GPU" : "CPU",
              " buffers but this run trains on the ", ctx_.device == Device::CUDA ? "GPU" : "CPU");
  apply_cpu_threads(ctx_);
}

void Run::check_weights_in_sync(int64_t step) {
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

void Run::load_model() {
  model_ = std::make_unique<Model>(Model::load(cfg_.restore_from_path));
  Model::Impl& m = model_->impl();
  if (cfg_.model.hidden_dropout >= 0)
    m.config.hidden_dropout = static_cast<float>(cfg_.model.hidden_dropout);
  if (cfg_.model.attention_dropout >= 0) {
    m.config.attention_dropout = static_cast<float>(cfg_.model.attention_dropout);
  }
  grads_.assign(static_cast<size_t>(m.layout.total), 0.0f);
  grad_view_ = bind_bert(m.config, m.layout, grads_.data());
  DataParallel dp;
  dp.comm = comm_;
  dp.global_negatives = cfg_.model.global_inbatch_negatives;
  dp.loss_blocks = hooks_.loss_blocks;
  gc_ = std::make_unique<GradCache>(ctx_, m, dp);
  reducer_ = std::make_unique<GradReducer>(*comm_, m.config, m.layout, grads_.data());
}

void Run::open_data() {
  const auto& d = cfg_.model.data;
  TrainReaderOptions ropt;
  ropt.skip_bad_records = d.skip_bad_records;
  auto open = [&](const std::vector<std::string>& files) {
    const std::vector<fs::path> paths(files.begin(), files.end());
    auto ds = std::make_shared<const TrainDataset>(TrainDataset::open(paths, ropt));
    if (ds->stats().skipped > 0) {
      std::fprintf(stderr, "sbert-finetune: skipped %zu bad records (first: %s)\n",
                   ds->stats().skipped, ds->stats().first_skipped.c_str());
    }
    return ds;
  };
  train_data_ = open(d.data_train);
  if (!d.data_validation.empty()) val_data_ = open(d.data_validation);
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
  const ModelConfig& mc = model_->config();
  const int64_t cap = std::min<int64_t>(cfg_.model.encoder_seq_length, mc.max_position_embeddings);
  auto len = [&](int64_t v) { return static_cast<int>(v > 0 ? std::min(v, cap) : cap); };
  batch_opt_.hard_negatives_to_train = static_cast<int>(d.hard_negatives_to_train);
  batch_opt_.negative_selection = parse_negative_selection(d.negative_selection);
  batch_opt_.query_prefix = d.add_prefix ? d.query_prefix : "";
  batch_opt_.passage_prefix = d.add_prefix ? d.passage_prefix : "";
  batch_opt_.query_max_length = len(d.query_seq_length);
  batch_opt_.passage_max_length = len(d.passage_seq_length);
  batch_opt_.global_batch_size = static_cast<size_t>(cfg_.model.global_batch_size);
  batch_opt_.shuffle = d.shuffle;
  batch_opt_.seed = cfg_.model.seed;
  batch_opt_.dedupe_in_batch = d.dedupe_in_batch;
  const Tokenizer& tok = model_->tokenizer();
  const int threads = cfg_.trainer.threads;
  builder_ = std::make_unique<TrainBatchBuilder>(
      train_data_, batch_opt_,
      TrainBatchBuilder::TokenizeBatchFn(
          [&tok, threads](const std::vector<std::string>& texts, int max_len) {
            return tok.encode_batch(texts, max_len, threads);
          }));
}

double Run::validate(int64_t max_batches) {
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
  for (int64_t i = 0; i < n; ++i) {
    total += gc_->loss_only(vb.next_shard(comm_->rank(), comm_->size()),
                            static_cast<size_t>(cfg_.model.micro_batch_size), loss_cfg_)
                 .loss;
  }
  return n > 0 ? total / static_cast<double>(n) : std::nan("");
}

// Retrieval metrics of the current weights (sbert-eval's definitions), named val_<metric>.
std::map<std::string, double> Run::validate_beir() {
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

// Data parallel: this rank embeds its contiguous share of texts, the shares are all-gathered,
// and every rank gets all rows in order (the same matrix, so the same metrics everywhere) for
// 1/N of the embedding work. A text's embedding does not depend on its batch companions
// (packed sequences, per-row GEMM results), so the rows equal one process's.
Embeddings Run::embed_sharded(const std::vector<std::string>& texts, const EmbedOptions& eo) {
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

// Every configured validation; prints one line.
std::map<std::string, double> Run::run_validation(int64_t step) {
  std::map<std::string, double> v = validate_beir();
  if (val_data_) v["val_loss"] = validate(cfg_.trainer.limit_val_batches);
  std::string line = cat("step ", step, ":");
  char buf[64];
  for (const auto& [k, x] : v) {
    std::snprintf(buf, sizeof buf, " %s %.6f", k.c_str(), x);
    line += buf;
  }
  if (lead()) std::fprintf(stderr, "%s\n", line.c_str());
  return v;
}

fs::path Run::checkpoint(int64_t step, std::optional<double> monitor) {
  check_weights_in_sync(step);
  state_.step = step;
  state_.data_position = builder_->position().to_json();
  state_.monitor = monitor;
  CheckpointData d;
  d.model = &model_->impl();
  d.weights = model_->impl().weights.data();
  d.exp_avg = adamw_->exp_avg();
  d.exp_avg_sq = adamw_->exp_avg_sq();
  d.adam_step = adamw_->step_count();
  d.state = state_;
  d.config_yaml = to_yaml(cfg_);
  if (hooks_.before_checkpoint_commit)
    d.before_commit = [&] { hooks_.before_checkpoint_commit(step); };
  const fs::path root = cfg_.log_dir() / "checkpoints";
  if (!lead()) return {};
  const fs::path dir = save_checkpoint(root, d);
  prune_checkpoints(root, cfg_.exp_manager.checkpoint.save_top_k, cfg_.exp_manager.checkpoint.mode);
  return dir;
}

TrainResult Run::go() {
  setup_device();
  load_model();
  open_data();
  const Model::Impl& mi = model_->impl();

  loss_cfg_.mode =
      cfg_.model.loss == "mnrl" ? LossMode::SharedNegatives : LossMode::ExclusiveHardNegatives;
  loss_cfg_.softmax_temp = cfg_.model.softmax_temp;
  loss_cfg_.scale = cfg_.model.mnrl_scale;
  loss_cfg_.label_smoothing = cfg_.model.label_smoothing;
  sbert::validate(loss_cfg_);

  AdamWConfig acfg;
  acfg.beta1 = cfg_.model.optim.beta1;
  acfg.beta2 = cfg_.model.optim.beta2;
  acfg.eps = cfg_.model.optim.eps;
  acfg.weight_decay = cfg_.model.optim.weight_decay;
  adamw_ = std::make_unique<AdamW>(mi.layout, acfg);

  max_steps_ = cfg_.trainer.max_steps;
  if (max_steps_ <= 0) {
    max_steps_ = cfg_.trainer.max_epochs * static_cast<int64_t>(builder_->max_batches_per_epoch());
  }
  const ScheduleConfig scfg = schedule_config(cfg_, max_steps_);
  sched_ = std::make_unique<LrSchedule>(scfg);

  const fs::path log_dir = cfg_.log_dir();
  const fs::path ckpt_root = log_dir / "checkpoints";
  // Rank 0 owns the log directory; the others read the checkpoint it names (a shared
  // filesystem across machines).
  std::optional<fs::path> latest;
  if (lead()) {
    fs::create_directories(log_dir);
    remove_stale_temporaries(ckpt_root);
    latest = find_latest_checkpoint(ckpt_root);
  }
  if (comm_->size() > 1) {
    const std::string name = comm_->host_broadcast_string(latest ? latest->string() : "", 0);
    if (!name.empty()) latest = fs::path(name);
  }
  state_.seed = cfg_.model.seed;
  state_.layout_total = mi.layout.total;
  state_.monitor_name = cfg_.exp_manager.checkpoint.monitor;

  TrainResult result;
  result.log_dir = log_dir;
  if (latest) {
    SBERT_CHECK(cfg_.exp_manager.resume_if_exists, "[train] ", log_dir.string(),
                " already holds checkpoints (", latest->filename().string(),
                "); set exp_manager.resume_if_exists=true to continue that run, or choose "
                "another exp_manager.explicit_log_dir");
    LoadedOptimizer opt;
    state_ = load_checkpoint(*latest, model_->impl(), opt);
    SBERT_CHECK(state_.seed == cfg_.model.seed, "[train] ", latest->string(),
                ": the checkpoint was trained with model.seed ", state_.seed, ", the config says ",
                cfg_.model.seed);
    adamw_->set_state(opt.exp_avg.data(), opt.exp_avg_sq.data(), opt.step);
    builder_->restore(DataPosition::from_json(state_.data_position));
    result.resumed_from = state_.step;
    if (lead()) {
      std::fprintf(stderr, "sbert-finetune: resuming from %s (step %lld)\n", latest->c_str(),
                   static_cast<long long>(state_.step));
    }
  } else if (cfg_.exp_manager.resume_if_exists && !cfg_.exp_manager.resume_ignore_no_checkpoint) {
    fail("[train] ", ckpt_root.string(),
         ": no checkpoint to resume from (exp_manager.resume_ignore_no_checkpoint is false)");
  }
  std::optional<MetricsLog> log;
  if (lead()) {
    write_file_atomic(log_dir / "config.yaml", to_yaml(cfg_));
    for (const auto& w : cfg_.warnings)
      std::fprintf(stderr, "sbert-finetune: warning: %s\n", w.c_str());
    if (cfg_.trainer.max_steps <= 0) {  // the step count came from the data: warn now
      const std::string sw = schedule_warnings(scfg);
      if (!sw.empty()) std::fprintf(stderr, "sbert-finetune: warning: %s\n", sw.c_str());
    }
    if (comm_->size() > 1) {
      std::fprintf(stderr,
                   "sbert-finetune: %d ranks (%s), %lld rows of each global batch per rank\n",
                   comm_->size(), comm_->backend(),
                   static_cast<long long>(cfg_.model.global_batch_size / comm_->size()));
    }
    log.emplace(log_dir, latest ? state_.step : -1);
  }
  if (!latest && cfg_.trainer.num_sanity_val_steps > 0) {
    if (val_beir_) {
      // The base model's full validation (val_loss too, when configured), logged at step 0:
      // the curves start where the model did. It stands in for the sanity check.
      const auto v0 = run_validation(0);
      if (log) log->log_validation(0, v0);
    } else if (val_data_) {
      const double v = validate(cfg_.trainer.num_sanity_val_steps);
      if (lead()) std::fprintf(stderr, "sbert-finetune: sanity validation: val_loss %.6f\n", v);
    }
  }

  auto t0 = std::chrono::steady_clock::now();
  const int64_t first_step = state_.step;
  double samples = 0, tokens = 0;
  LossStats stats;
  const auto& ck = cfg_.exp_manager.checkpoint;
  bool saved_last = false;
  const int64_t W = comm_->size();
  while (state_.step < max_steps_) {
    const DataPosition before = builder_->position();
    TrainBatch batch = builder_->next_shard(comm_->rank(), comm_->size());
    if (cfg_.trainer.max_epochs > 0 &&
        static_cast<int64_t>(batch.epoch) >= cfg_.trainer.max_epochs) {
      // The epoch limit: put the batch back, so that the last checkpoint's data position is
      // the end of the last epoch and a resume with a higher limit trains on this batch.
      builder_->restore(before);
      break;
    }
    const int64_t step = state_.step;  // 0-based index of this optimizer step
    int64_t step_tokens = 0;
    reducer_->begin();
    stats = gc_->gradients(batch, static_cast<size_t>(cfg_.model.micro_batch_size), loss_cfg_,
                           DropoutState{cfg_.model.seed, static_cast<uint64_t>(step), true, 0},
                           grad_view_, grads_.data(), &step_tokens,
                           [this](int layer) { reducer_->unit_ready(layer); });
    reducer_->finish();  // grads_ now holds the sum over ranks: the global gradient
    double step_tokens_all = static_cast<double>(step_tokens);
    if (W > 1) comm_->host_all_reduce_sum(&step_tokens_all, 1);
    tokens += step_tokens_all;
    double norm;
    if (cfg_.trainer.gradient_clip_val > 0) {
      norm = clip_grad_norm(ctx_, grads_.data(), mi.layout.total, cfg_.trainer.gradient_clip_val);
    } else {
      norm = std::sqrt(grad_sum_squares(ctx_, grads_.data(), mi.layout.total));
    }
    const double lr = sched_->lr_at(step);
    adamw_->step(model_->impl().weights.data(), grads_.data(), lr);
    state_.step = step + 1;
    state_.epoch = static_cast<int64_t>(batch.epoch);
    state_.consumed_samples += static_cast<int64_t>(batch.size()) * W;
    samples += static_cast<double>(batch.size() * static_cast<size_t>(W));

    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    StepMetrics m;
    m.step = state_.step;
    m.epoch = state_.epoch;
    m.loss = stats.loss;
    m.lr = lr;
    m.grad_norm = norm;
    m.accuracy = stats.accuracy;
    m.elapsed_sec = elapsed;
    m.samples_per_sec = elapsed > 0 ? samples / elapsed : 0;
    m.tokens_per_sec = elapsed > 0 ? tokens / elapsed : 0;
    if (log) {
      log->log_step(m);
      log->progress(m, max_steps_, cfg_.trainer.log_every_n_steps, first_step);
    }
    result.last_loss = stats.loss;

    std::optional<double> monitor;
    const bool validate_now =
        (val_data_ || val_beir_) && state_.step % cfg_.trainer.val_check_interval == 0;
    if (validate_now) {
      if (log) log->end_progress();
      const auto tv = std::chrono::steady_clock::now();
      // Every rank validates (retrieval: each embeds its share, see embed_sharded); rank 0
      // reports.
      const auto v = run_validation(state_.step);
      t0 += std::chrono::steady_clock::now() - tv;  // throughput counts training time only
      if (log) log->log_validation(state_.step, v);
      const auto it = v.find(ck.monitor);
      if (it != v.end()) monitor = it->second;
    }
    const bool due =
        cfg_.exp_manager.create_checkpoint_callback &&
        (ck.every_n_train_steps > 0 ? state_.step % ck.every_n_train_steps == 0
                                    : state_.step % cfg_.trainer.val_check_interval == 0);
    saved_last = false;
    if (due) {
      result.last_checkpoint = checkpoint(state_.step, monitor);
      saved_last = true;
    }
    if (hooks_.after_step) hooks_.after_step(state_.step, stats.loss);
  }
  if (log) log->end_progress();
  if (cfg_.exp_manager.create_checkpoint_callback && ck.save_last && !saved_last &&
      state_.step > first_step) {
    result.last_checkpoint = checkpoint(state_.step, std::nullopt);
  } else if (result.last_checkpoint.empty() && lead()) {
    if (auto l = find_latest_checkpoint(ckpt_root)) result.last_checkpoint = *l;
  }
  result.steps = state_.step;
  if (lead()) result.plot = write_training_plot(log_dir);
  return result;
}

}  // namespace

TrainResult train(const TrainConfig& cfg, const TrainerHooks& hooks, Communicator* comm) {
  Run run(cfg, hooks, comm);
  return run.go();
}

}  // namespace sbert
