// TrainConfig: sbert-finetune's configuration, read from YAML with NeMo's key names
// (examples/nlp/information_retrieval/conf/megatron_bert_embedding_config.yaml) plus dotted
// command-line overrides ("model.optim.lr=1e-5").
//
// Every key of the file is checked: a key we honour is parsed and validated; a NeMo key that has
// no meaning here (model parallelism, apex, activation checkpointing, ...) is accepted and listed
// in `ignored_keys`; anything else is an error naming the key. `${a.b}` and `${.b}`
// interpolations are resolved for honoured keys, as OmegaConf does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sbert {

struct TrainConfig {
  std::string name = "sbert_finetune";
  std::string restore_from_path;  // Hugging Face / sentence-transformers folder to start from

  struct Trainer {
    int devices = 1;
    int num_nodes = 1;
    std::string accelerator = "cpu";   // cpu | gpu | cuda | auto
    std::string precision = "32";      // 32 | bf16-mixed
    int64_t max_steps = 1000;          // -1: run max_epochs
    int64_t max_epochs = -1;           // -1: unbounded (max_steps decides)
    int64_t val_check_interval = 100;  // optimizer steps between validations
    int64_t num_sanity_val_steps = 2;  // validation batches before training (0: none)
    int64_t limit_val_batches = -1;    // -1: the whole validation set
    int64_t log_every_n_steps = 10;
    double gradient_clip_val = 1.0;  // 0: no clipping
    int threads = 0;                 // CPU threads (0: all cores)
    int64_t dist_timeout_sec = 600;  // a collective waiting longer fails the job (multi-process)
  } trainer;

  struct ExpManager {
    std::string explicit_log_dir;  // where logs and checkpoints go
    std::string exp_dir = "nemo_experiments";
    std::string name;  // default: TrainConfig::name
    bool resume_if_exists = true;
    bool resume_ignore_no_checkpoint = true;
    bool create_checkpoint_callback = true;
    struct Checkpoint {
      std::string monitor = "val_loss";
      std::string mode = "min";  // min | max
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
    std::string loss = "nemo";  // nemo (exclusive hard negatives) | mnrl (shared)
    double mnrl_scale = 20.0;
    double label_smoothing = 0.0;
    uint64_t seed = 1234;
    // Dropout probabilities; -1 (or null): the model's config.json values.
    double hidden_dropout = -1;
    double attention_dropout = -1;

    struct Data {
      std::vector<std::string> data_train;
      std::vector<std::string> data_validation;
      int64_t hard_negatives_to_train = 4;
      std::string negative_selection = "first";  // first | random
      bool add_prefix = true;
      std::string query_prefix = "query: ";
      std::string passage_prefix = "passage: ";
      int64_t query_seq_length = -1;    // -1: encoder_seq_length
      int64_t passage_seq_length = -1;  // -1: encoder_seq_length
      bool shuffle = true;
      bool dedupe_in_batch = true;
      bool skip_bad_records = false;
      // Retrieval metrics on a BEIR folder at every validation (sbert-eval's definitions):
      // logged as val_ndcg@10, val_mrr@10, val_map@100, val_recall@1/10/100; any of them can be
      // exp_manager.checkpoint_callback_params.monitor (mode max).
      struct ValidationBeir {
        std::string path;            // empty: off
        std::string split = "test";  // qrels/<split>.tsv
        int64_t max_queries = 0;     // 0: every query with a relevant document
        int64_t batch_size = 64;     // texts per forward pass while embedding
      } validation_beir;
    } data;

    struct Optim {
      std::string name = "fused_adam";  // fused_adam | adam | adamw: all mean AdamW here
      double lr = 2e-4;
      double weight_decay = 0.01;
      double beta1 = 0.9, beta2 = 0.98;
      double eps = 1e-8;
      struct Sched {
        std::string name = "CosineAnnealing";  // CosineAnnealing | WarmupAnnealing | WarmupPolicy
        int64_t warmup_steps = 0;
        double warmup_ratio = -1;  // used when >= 0 and warmup_steps is 0
        int64_t constant_steps = 0;
        double min_lr = 0.0;
      } sched;
    } optim;
  } model;

  std::filesystem::path source;           // the YAML file read
  std::vector<std::string> ignored_keys;  // NeMo keys accepted without effect
  std::vector<std::string> warnings;      // things a person should know (printed by the app)

  // Derived
  int64_t accumulation_steps() const;     // global / (micro * devices * num_nodes)
  std::filesystem::path log_dir() const;  // explicit_log_dir, else exp_dir/name
};

// Reads config_dir/config_name(.yaml), applies "dotted.key=value" overrides and validates.
// Throws sbert::Error("[config] <file>: key 'model.optim.lr' ...") naming the key.
TrainConfig load_train_config(const std::filesystem::path& config_dir,
                              const std::string& config_name,
                              const std::vector<std::string>& overrides = {});
TrainConfig parse_train_config(const std::string& yaml_text, const std::filesystem::path& source,
                               const std::vector<std::string>& overrides = {});

struct ScheduleConfig;
// The learning-rate schedule of a run of max_steps optimizer steps.
ScheduleConfig schedule_config(const TrainConfig& cfg, int64_t max_steps);

// The resolved configuration as YAML (every honoured key with its value), for the log directory.
std::string to_yaml(const TrainConfig& cfg);

}  // namespace sbert
