// Contrastive fine-tuning (NeMo's Megatron-BERT embedding recipe): options, data, the Trainer
// and fit(). docs/api.md has a tutorial; docs/finetune.md explains every option.
//
//   sbert::TrainOptions opt;                      // or TrainOptions::from_nemo_yaml(...)
//   opt.restore_from_path = "models/all-MiniLM-L6-v2";
//   opt.trainer.max_steps = 20;
//   opt.exp_manager.explicit_log_dir = "runs/a";
//   sbert::TrainData data = sbert::TrainData::from_examples({{"query", "positive", {"neg"}}});
//   sbert::FitCallbacks cb;
//   cb.on_step = [](const sbert::StepInfo& s) { std::printf("%lld %f\n", (long long)s.step, s.loss); };
//   sbert::TrainResult r = sbert::fit(opt, data, cb);
//
// Plain structs hold options and results; Trainer, TrainData and ProcessGroup own state behind
// a pointer. The library never prints: what a person should read arrives in on_message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbert/export.h"
#include "sbert/model.h"

namespace sbert {

enum class Accelerator { CPU, GPU, Auto };  // trainer.accelerator: cpu | gpu (= cuda) | auto
// trainer.precision: 32 | bf16-mixed | 16-mixed (fp16 GEMMs, dynamic loss scaling)
enum class Precision { FP32, BF16Mixed, FP16Mixed };
// model.loss: exclusive hard negatives | shared | and sentence-transformers' CoSENTLoss,
// AnglELoss, GISTEmbedLoss, MarginMSELoss, MatryoshkaLoss (docs/training.md)
enum class LossType { NeMo, MNRL, CoSENT, AnglE, GIST, MarginMSE, Matryoshka };
enum class Schedule { CosineAnnealing, WarmupAnnealing, WarmupPolicy };  // ...sched.name
enum class NegativeSelection { First, Random };  // model.data.negative_selection
enum class MonitorMode { Min, Max };             // ...checkpoint_callback_params.mode
enum class Optimizer { FusedAdam, Adam, AdamW };  // model.optim.name (all three are AdamW)
// model.data.format: by the file's extension (.jsonl/.json/.csv/.tsv), or named. "json" reads a
// JSON array or JSON Lines, told apart by the first byte.
enum class DataFormat { Auto, Json, Csv, Tsv };
// model.data.sampler: how batches are drawn from several datasets (sentence-transformers'
// multi-dataset batch samplers): each batch comes from one dataset.
enum class DatasetSampler { Proportional, RoundRobin };

// Which field (JSON key or CSV/TSV header column) holds what. Empty: the default. JSON's defaults
// are NeMo's keys (query, pos_doc, neg_doc, score, margins); a CSV/TSV file's follow
// sentence-transformers' column order: a column named "score" or "label" is the score, columns
// named "margin..." are margins, and the others in order are the anchor, the positive and the
// negatives. Naming the anchor or the positive turns the column-order default off (the other
// columns are then ignored unless named).
struct DataColumns {
  std::string anchor;                  // the query / sentence1
  std::string positive;                // pos_doc / sentence2
  std::vector<std::string> negatives;  // JSON: each a string or an array of strings
  std::string score;                   // scored pairs (cosent, angle)
  std::vector<std::string> margins;    // one margin per negative (marginmse)
  bool operator==(const DataColumns&) const = default;
};

// One dataset of model.data.train_ds / validation_ds: its files read as one list of records.
struct DatasetSpec {
  std::string name;                 // for messages (default: the first path)
  std::vector<std::string> paths;   // its files
  DataFormat format = DataFormat::Auto;
  DataColumns columns;
  double weight = 1.0;              // proportional sampler: batches per round x weight
  bool operator==(const DatasetSpec&) const = default;
};

// Every field is one NeMo key, named in its comment's first word when the path differs.
struct SBERT_API TrainOptions {
  std::string name = "sbert_finetune";
  std::string restore_from_path;  // Hugging Face / sentence-transformers folder to start from

  struct Trainer {
    int devices = 1;
    int num_nodes = 1;
    Accelerator accelerator = Accelerator::CPU;
    Precision precision = Precision::FP32;
    int64_t max_steps = 1000;          // -1: run max_epochs
    int64_t max_epochs = -1;           // -1: unbounded (max_steps decides)
    int64_t val_check_interval = 100;  // optimizer steps between validations
    // Lightning's float val_check_interval: validate every this fraction of an epoch, in (0, 1]
    // (steps = max(1, round(fraction x batches per epoch))). 0: val_check_interval counts steps.
    double val_check_fraction = 0;
    int64_t num_sanity_val_steps = 2;  // validation batches before training (0: none)
    int64_t limit_val_batches = -1;    // -1: the whole validation set
    int64_t log_every_n_steps = 10;    // how often on_step's `log_due` is true
    double gradient_clip_val = 1.0;    // 0: no clipping
    int threads = 0;                   // CPU threads (0: all cores)
    int64_t dist_timeout_sec = 600;    // a collective waiting longer fails the job
  } trainer;

  struct ExpManager {
    std::string explicit_log_dir;  // where logs and checkpoints go
    std::string exp_dir = "nemo_experiments";
    std::string name;  // default: TrainOptions::name
    bool resume_if_exists = true;
    bool resume_ignore_no_checkpoint = true;
    bool create_checkpoint_callback = true;
    // TensorBoard event files of the logged scalars (loss, lr, validation metrics) in
    // log_dir()/tensorboard, as NeMo's exp_manager writes them.
    bool create_tensorboard_logger = true;
    struct Checkpoint {  // exp_manager.checkpoint_callback_params
      std::string monitor = "val_loss";  // or val_ndcg@10, val_mrr@10, val_map@100, ...
      MonitorMode mode = MonitorMode::Min;
      int save_top_k = 3;
      int64_t every_n_train_steps = 0;  // 0: at every validation
      bool save_last = true;
    } checkpoint;
  } exp_manager;

  struct Model {
    int64_t micro_batch_size = 4;
    int64_t global_batch_size = 8;
    int64_t encoder_seq_length = 512;
    double softmax_temp = 0.02;
    bool global_inbatch_negatives = true;
    LossType loss = LossType::NeMo;
    double mnrl_scale = 20.0;
    double label_smoothing = 0.0;
    uint64_t seed = 1234;
    // 16-mixed's dynamic loss scaling, NeMo's GradScaler (docs/training.md): the initial scale,
    // the finite steps before it doubles, the overflowing steps in a row before it halves.
    double native_amp_init_scale = 4294967296.0;  // 2^32
    int64_t native_amp_growth_interval = 1000;
    int64_t hysteresis = 2;
    double hidden_dropout = -1;     // -1: the model's config.json value
    double attention_dropout = -1;  // -1: the model's config.json value
    // model.attention_backend: ours (libsbert's kernels) | cudnn (cuDNN's fused SDPA: GPU,
    // bf16-mixed, attention dropout 0; docs/kernels.md)
    std::string attention_backend = "ours";
    // The objectives' own keys, named after sentence-transformers' parameters (docs/training.md).
    LossType matryoshka_loss = LossType::MNRL;   // model.loss = matryoshka: the loss it wraps
    std::vector<int64_t> matryoshka_dims;        // e.g. [384, 256, 128, 64]
    std::vector<double> matryoshka_weights;      // empty: 1 for every dim
    int64_t matryoshka_n_dims_per_step = -1;     // -1: every dim at every step
    double cosent_scale = 20.0;
    double angle_scale = 20.0;
    std::string gist_guide_model;                // model folder of the guide (gist)
    double gist_temperature = 0.01;
    std::string gist_margin_strategy = "absolute";  // or "relative"
    double gist_margin = 0.0;
    bool gist_contrast_anchors = true;
    bool gist_contrast_positives = true;

    struct Data {
      std::vector<std::string> data_train;       // NeMo JSON/JSONL, CSV or TSV files (or TrainData)
      std::vector<std::string> data_validation;  // val_loss on these (optional)
      DataFormat format = DataFormat::Auto;      // of data_train and data_validation
      DataColumns columns;                       // of data_train and data_validation
      // Several training datasets (instead of data_train), each batch drawn from one of them.
      std::vector<DatasetSpec> train_ds;
      std::vector<DatasetSpec> validation_ds;  // read as one list (instead of data_validation)
      DatasetSampler sampler = DatasetSampler::Proportional;
      int64_t hard_negatives_to_train = 4;
      NegativeSelection negative_selection = NegativeSelection::First;
      bool add_prefix = true;
      std::string query_prefix = "query: ";
      std::string passage_prefix = "passage: ";
      int64_t query_seq_length = -1;    // -1: encoder_seq_length
      int64_t passage_seq_length = -1;  // -1: encoder_seq_length
      bool shuffle = true;
      bool dedupe_in_batch = true;
      bool skip_bad_records = false;
      // Retrieval metrics (val_ndcg@10, ...) on a BEIR folder at every validation.
      struct ValidationBeir {
        std::string path;            // empty: off
        std::string split = "test";  // qrels/<split>.tsv
        int64_t max_queries = 0;     // 0: every query with a relevant document
        int64_t batch_size = 64;     // texts per forward pass while embedding
      } validation_beir;
      // STS correlations (val_spearman, val_pearson) on scored pairs at every validation, as
      // sentence-transformers' EmbeddingSimilarityEvaluator (cosine).
      struct ValidationSts {
        std::string path;         // TSV: sentence1, sentence2, score (eval::read_sts); empty: off
        int64_t batch_size = 64;  // texts per forward pass while embedding
      } validation_sts;
    } data;

    struct Optim {
      Optimizer name = Optimizer::FusedAdam;
      double lr = 2e-4;
      double weight_decay = 0.01;
      double beta1 = 0.9, beta2 = 0.98;  // model.optim.betas: [beta1, beta2]
      double eps = 1e-8;
      struct Sched {
        Schedule name = Schedule::CosineAnnealing;
        int64_t warmup_steps = 0;
        double warmup_ratio = -1;  // used when >= 0 and warmup_steps is 0
        int64_t constant_steps = 0;
        double min_lr = 0.0;
      } sched;
    } optim;
  } model;

  // Set by from_nemo_yaml: the file read, and what a person should know.
  std::filesystem::path source;
  std::vector<std::string> ignored_keys;  // NeMo keys accepted without effect
  std::vector<std::string> warnings;      // passed to on_message by fit()
  // key -> where its value came from: "conf/x.yaml:12" or "command-line override 'k=v'". A key
  // absent here has its default (or was set in code).
  std::map<std::string, std::string> origins;

  // Throws sbert::Error("[config] key 'model.optim.lr' must be positive, got -1") for the first
  // bad value (and names `source` when set). Works on options built in code; the Trainer
  // calls it too. The model folder and the training data are checked when the Trainer opens them.
  void validate() const;

  int64_t accumulation_steps() const;     // global / (micro x devices x num_nodes)
  std::filesystem::path log_dir() const;  // explicit_log_dir, else exp_dir/name

  // The adapter sbert-finetune uses: reads config_dir/config_name(.yaml) with NeMo's key names,
  // applies "dotted.key=value" overrides (Hydra's syntax), validates. Errors name the file and
  // line or the override, and suggest the closest key for an unknown one.
  static TrainOptions from_nemo_yaml(const std::filesystem::path& config_dir,
                                     const std::string& config_name,
                                     const std::vector<std::string>& overrides = {});
  // The same on YAML text; `source` names it in messages.
  static TrainOptions from_nemo_yaml_text(const std::string& yaml,
                                          const std::filesystem::path& source,
                                          const std::vector<std::string>& overrides = {});
  // Every key with its value, as YAML that from_nemo_yaml_text reads back.
  std::string to_yaml() const;
  // One line per key: "model.optim.lr (double, default 0.0002): peak learning rate".
  static std::string keys_help();
  // Every key as nested YAML with its default, each preceded by a comment with its type and
  // meaning: conf/reference.yaml is this text (a test keeps them equal).
  static std::string reference_yaml();
  // Every key, one line each, with its value and where it came from:
  // "model.optim.lr: 5e-05  # conf/demo.yaml:44" (default, file:line or command-line override).
  std::string describe() const;
  // The validation interval in steps for an epoch of `batches_per_epoch` optimizer steps.
  int64_t val_check_steps(int64_t batches_per_epoch) const;
  // Why a key in ignored_keys has no effect here, e.g. for exp_manager.create_wandb_logger
  // "Weights & Biases needs a network; the scalars go to metrics.jsonl and TensorBoard".
  static std::string ignored_key_reason(const std::string& key);
};

// One training example: a query, its positive passage and hard negatives (NeMo's record).
// The same struct carries the other data shapes: pairs (no neg_docs), triplets (one neg_doc),
// scored pairs (query = sentence1, pos_doc = sentence2, score) and distillation triplets or
// n-tuples (margins).
struct TrainExample {
  std::string query;
  std::string pos_doc;
  std::vector<std::string> neg_docs;  // may be empty
  // Scored pairs (cosent, angle): the pair's similarity label as given in the data.
  std::optional<double> score = std::nullopt;
  // Distillation (marginmse): one per neg_doc, teacher(query, pos_doc) - teacher(query,
  // neg_docs[k]) (sentence-transformers' MarginMSELoss label); empty when the data has none.
  std::vector<double> margins = {};
};

// How TrainData::open reads its files (docs/data.md).
struct TrainDataOptions {
  DataFormat format = DataFormat::Auto;
  DataColumns columns;
  bool skip_bad_records = false;
};

// Training or validation data: NeMo JSON/JSONL, CSV or TSV files (streamed, every record checked
// when opened, errors name file:record) or examples held in memory.
class SBERT_API TrainData {
 public:
  static TrainData open(const std::vector<std::filesystem::path>& files,
                        bool skip_bad_records = false);
  static TrainData open(const std::vector<std::filesystem::path>& files,
                        const TrainDataOptions& options);
  static TrainData from_examples(std::vector<TrainExample> examples);

  size_t size() const;
  size_t skipped() const;  // bad records skipped (open with skip_bad_records)
  bool all_have_scores() const;   // every record has a score (scored pairs)
  bool all_have_margins() const;  // every record has margins (distillation)
  std::string name() const;
  TrainExample example(size_t i) const;

  struct Impl;  // internal
  explicit TrainData(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }
  ~TrainData();
  TrainData(const TrainData&);  // cheap: copies share the data
  TrainData& operator=(const TrainData&);

 private:
  std::shared_ptr<const Impl> impl_;
};

// The processes of a data-parallel job (mpirun, srun: docs/distributed.md).
class SBERT_API ProcessGroup {
 public:
  // From the launcher's environment (OMPI_*, PMI_*, SLURM_*); one process when launched alone.
  // gpu: exchange GPU buffers (NCCL). Throws when the launch asks for a backend not built in.
  static ProcessGroup from_environment(int64_t timeout_sec = 600, bool gpu = false);
  int rank() const;
  int size() const;
  const char* backend() const;  // "single", "mpi", "nccl"
  // Ends every process of the job now with exit code `code` (after one rank failed).
  [[noreturn]] void abort(int code);

  struct Impl;  // internal
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  Impl& impl() { return *impl_; }
  ~ProcessGroup();
  ProcessGroup(ProcessGroup&&) noexcept;
  ProcessGroup& operator=(ProcessGroup&&) noexcept;

 private:
  std::unique_ptr<Impl> impl_;
};

// What one optimizer step did.
struct StepInfo {
  int64_t step = 0;  // optimizer steps taken so far (this one included)
  int64_t max_steps = 0;   // the schedule's length (trainer.max_steps, or from max_epochs)
  int64_t last_step = 0;   // where the run will end: max_steps, or sooner by trainer.max_epochs
  int64_t first_step = 0;  // the step this session started from (resumed runs: > 0)
  int64_t epoch = 0;
  double loss = 0, lr = 0, grad_norm = 0, accuracy = 0;
  double samples_per_sec = 0, tokens_per_sec = 0, elapsed_sec = 0;
  // 16-mixed: the loss scale this step's backward used (0 otherwise); a step whose gradient
  // overflowed has a non-finite grad_norm and changed no weight.
  double loss_scale = 0;
  bool log_due = false;  // every trainer.log_every_n_steps steps, the first and the last
};

enum class MessageLevel { Info, Warning };

// What a run is about to do, known once the data is open and a checkpoint resumed: for a
// start-up summary (FitCallbacks::on_start, Trainer::plan()).
struct RunPlan {
  int64_t train_examples = 0;       // records of the training data
  int64_t train_skipped = 0;        // bad records skipped (model.data.skip_bad_records)
  int64_t validation_examples = 0;  // records of model.data.data_validation (0: none)
  int64_t validation_beir_queries = 0, validation_beir_docs = 0;  // validation_beir (0: off)
  int64_t validation_sts_pairs = 0;                               // validation_sts (0: off)
  int64_t batches_per_epoch = 0;    // global batches in one pass over the training data
  int64_t accumulation_steps = 1;   // GradCache micro-batches per rank per global batch
  int world_size = 1;               // processes of the job
  int64_t first_step = 0;           // resumed from (0: fresh start)
  int64_t max_steps = 0;            // the schedule's length
  int64_t last_step = 0;            // where the run will end (max_steps or the epoch limit)
  int64_t warmup_steps = 0, constant_steps = 0;  // resolved from steps or ratios
  const char* device = "cpu";
  int threads = 0;  // CPU threads in use (resolved when trainer.threads is 0)
  // On a GPU: the device memory the run placed and planned before its first step (weights,
  // gradients, AdamW's moments and the activations of the largest micro-batch); the steps
  // allocate nothing beyond it. 0 on the CPU.
  int64_t device_memory_bytes = 0;
  std::filesystem::path log_dir;
  std::filesystem::path tensorboard_dir;  // empty: exp_manager.create_tensorboard_logger off
};

struct FitCallbacks {
  // Once, after resuming and before the sanity validation and the first step.
  std::function<void(const RunPlan&)> on_start;
  std::function<void(const StepInfo&)> on_step;
  // Every validation (val_loss, val_ndcg@10, ...); step 0 is the base model's.
  std::function<void(int64_t step, const std::map<std::string, double>& metrics)> on_validation;
  std::function<void(int64_t step, const std::filesystem::path& checkpoint)> on_checkpoint;
  // Resuming, skipped records, config warnings, ...: one line each, no trailing newline.
  std::function<void(MessageLevel level, const std::string& text)> on_message;
  // Asked after every step (and its checkpoint); true: stop there, write a checkpoint and
  // return with stopped = true. E.g. a flag set by a SIGINT handler.
  std::function<bool()> should_stop;
  // Between writing a checkpoint's files and renaming its folder into place (crash tests).
  std::function<void(int64_t step)> before_checkpoint_commit;
};

struct TrainResult {
  int64_t steps = 0;         // optimizer steps taken in total (resumed ones included)
  int64_t resumed_from = 0;  // step of the checkpoint resumed from (0: fresh start)
  double last_loss = 0;
  bool stopped = false;  // should_stop ended the run early
  bool already_done = false;  // resumed at its last step: nothing trained, nothing rewritten
  std::filesystem::path log_dir;
  std::filesystem::path last_checkpoint;
  // checkpoints/best: the best by exp_manager.checkpoint_callback_params.monitor; empty when
  // no checkpoint has a monitored value (no validation ran).
  std::filesystem::path best_checkpoint;
  std::filesystem::path plot;  // loss, lr and validation curves (SVG) beside metrics.jsonl
};

// The training loop's parts. Rank 0 of a ProcessGroup writes the logs and checkpoints.
class SBERT_API Trainer {
 public:
  // Loads options.restore_from_path; train/validation: the data to use, or empty to open
  // options.model.data.data_train / data_validation. group: null for one process.
  Trainer(const TrainOptions& options, std::optional<TrainData> train = std::nullopt,
          std::optional<TrainData> validation = std::nullopt, ProcessGroup* group = nullptr);
  ~Trainer();
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;

  // Restores the newest checkpoint under log_dir()/checkpoints (weights, AdamW, data position,
  // step); false when there is none. Call before the first step.
  bool resume();
  // One optimizer step on the next global batch; nullopt (and no step) once max_steps() steps
  // are done or trainer.max_epochs is reached, so `while (auto s = trainer.step())` is a run.
  std::optional<StepInfo> step();
  // val_loss on the validation data and/or retrieval metrics on model.data.validation_beir;
  // max_batches > 0 limits the val_loss batches. Logged to metrics.jsonl.
  // record: false for a check not written to metrics.jsonl (fit's sanity val_loss).
  std::map<std::string, double> validate(int64_t max_batches = 0, bool record = true);
  // Writes log_dir()/checkpoints/step-N (atomically), keeps save_top_k by `monitor`, points
  // checkpoints/latest at it and checkpoints/best at the best monitored one.
  std::filesystem::path save_checkpoint(std::optional<double> monitor = std::nullopt);

  // The newest complete checkpoint under log_dir()/checkpoints when the Trainer was made.
  std::optional<std::filesystem::path> latest_checkpoint() const;
  // The checkpoint log_dir()/checkpoints/best names now (the best monitored value so far).
  std::optional<std::filesystem::path> best_checkpoint() const;
  int64_t steps_done() const;
  int64_t max_steps() const;
  int64_t steps_per_epoch() const;  // optimizer steps in one pass over the training data
  RunPlan plan() const;
  bool has_validation() const;
  std::filesystem::path log_dir() const;
  std::filesystem::path write_plot() const;  // the SVG of metrics.jsonl (rank 0)
  const Model& model() const;  // the weights being trained (save with Model::save)
  const TrainOptions& options() const;
  // Messages (resuming, skipped records) go here; default: dropped.
  void set_message_handler(std::function<void(MessageLevel, const std::string&)> handler);
  void set_before_checkpoint_commit(std::function<void(int64_t step)> hook);

  struct Impl;  // internal
  explicit Trainer(std::unique_ptr<Impl> impl);
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// The whole run on Trainer: resume if a checkpoint exists, the sanity validation, steps,
// validation every trainer.val_check_interval, checkpoints as exp_manager says, the last one,
// the plot. Throws sbert::Error on bad options or data.
SBERT_API TrainResult fit(const TrainOptions& options, const FitCallbacks& callbacks = {},
                          ProcessGroup* group = nullptr);
SBERT_API TrainResult fit(const TrainOptions& options, const TrainData& train,
                          const FitCallbacks& callbacks = {}, ProcessGroup* group = nullptr);

// sbert-plot: the loss, learning-rate and validation curves of log_dir/metrics.jsonl as SVG.
// Reads log_dir/metrics.jsonl and writes the SVG atomically to output (default
// log_dir/metrics.svg); returns the path written. For the trainer's end of run.
SBERT_API std::filesystem::path write_training_plot(const std::filesystem::path& log_dir,
                                          const std::filesystem::path& output = {});

}  // namespace sbert
