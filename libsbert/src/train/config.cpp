#include "train/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "core/check.h"
#include "io/atomic_file.h"
#include "train/schedule.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

enum class Kind { Int, Double, Bool, String, StringList, Betas, Precision };

struct Field {
  std::string key;
  Kind kind;
  void* ptr;
};

// Every key sbert-finetune honours, bound to its place in the config.
std::vector<Field> fields(TrainConfig& c) {
  auto& t = c.trainer;
  auto& e = c.exp_manager;
  auto& m = c.model;
  auto& d = m.data;
  auto& o = m.optim;
  return {
      {"name", Kind::String, &c.name},
      {"restore_from_path", Kind::String, &c.restore_from_path},
      {"trainer.devices", Kind::Int, &t.devices},
      {"trainer.num_nodes", Kind::Int, &t.num_nodes},
      {"trainer.accelerator", Kind::String, &t.accelerator},
      {"trainer.precision", Kind::Precision, &t.precision},
      {"trainer.max_steps", Kind::Int, &t.max_steps},
      {"trainer.max_epochs", Kind::Int, &t.max_epochs},
      {"trainer.val_check_interval", Kind::Int, &t.val_check_interval},
      {"trainer.num_sanity_val_steps", Kind::Int, &t.num_sanity_val_steps},
      {"trainer.limit_val_batches", Kind::Int, &t.limit_val_batches},
      {"trainer.log_every_n_steps", Kind::Int, &t.log_every_n_steps},
      {"trainer.gradient_clip_val", Kind::Double, &t.gradient_clip_val},
      {"trainer.threads", Kind::Int, &t.threads},
      {"trainer.dist_timeout_sec", Kind::Int, &t.dist_timeout_sec},
      {"exp_manager.explicit_log_dir", Kind::String, &e.explicit_log_dir},
      {"exp_manager.exp_dir", Kind::String, &e.exp_dir},
      {"exp_manager.name", Kind::String, &e.name},
      {"exp_manager.resume_if_exists", Kind::Bool, &e.resume_if_exists},
      {"exp_manager.resume_ignore_no_checkpoint", Kind::Bool, &e.resume_ignore_no_checkpoint},
      {"exp_manager.create_checkpoint_callback", Kind::Bool, &e.create_checkpoint_callback},
      {"exp_manager.checkpoint_callback_params.monitor", Kind::String, &e.checkpoint.monitor},
      {"exp_manager.checkpoint_callback_params.mode", Kind::String, &e.checkpoint.mode},
      {"exp_manager.checkpoint_callback_params.save_top_k", Kind::Int, &e.checkpoint.save_top_k},
      {"exp_manager.checkpoint_callback_params.every_n_train_steps", Kind::Int,
       &e.checkpoint.every_n_train_steps},
      {"exp_manager.checkpoint_callback_params.save_last", Kind::Bool, &e.checkpoint.save_last},
      {"model.micro_batch_size", Kind::Int, &m.micro_batch_size},
      {"model.global_batch_size", Kind::Int, &m.global_batch_size},
      {"model.encoder_seq_length", Kind::Int, &m.encoder_seq_length},
      {"model.precision", Kind::Precision, &t.precision},
      {"model.softmax_temp", Kind::Double, &m.softmax_temp},
      {"model.global_inbatch_negatives", Kind::Bool, &m.global_inbatch_negatives},
      {"model.loss", Kind::String, &m.loss},
      {"model.mnrl_scale", Kind::Double, &m.mnrl_scale},
      {"model.label_smoothing", Kind::Double, &m.label_smoothing},
      {"model.seed", Kind::Int, &m.seed},
      {"model.hidden_dropout", Kind::Double, &m.hidden_dropout},
      {"model.attention_dropout", Kind::Double, &m.attention_dropout},
      {"model.hard_negatives_to_train", Kind::Int, &d.hard_negatives_to_train},
      {"model.data.data_train", Kind::StringList, &d.data_train},
      {"model.data.data_validation", Kind::StringList, &d.data_validation},
      {"model.data.hard_negatives_to_train", Kind::Int, &d.hard_negatives_to_train},
      {"model.data.negative_selection", Kind::String, &d.negative_selection},
      {"model.data.add_prefix", Kind::Bool, &d.add_prefix},
      {"model.data.query_prefix", Kind::String, &d.query_prefix},
      {"model.data.passage_prefix", Kind::String, &d.passage_prefix},
      {"model.data.query_seq_length", Kind::Int, &d.query_seq_length},
      {"model.data.passage_seq_length", Kind::Int, &d.passage_seq_length},
      {"model.data.shuffle", Kind::Bool, &d.shuffle},
      {"model.data.dedupe_in_batch", Kind::Bool, &d.dedupe_in_batch},
      {"model.data.skip_bad_records", Kind::Bool, &d.skip_bad_records},
      {"model.data.validation_beir.path", Kind::String, &d.validation_beir.path},
      {"model.data.validation_beir.split", Kind::String, &d.validation_beir.split},
      {"model.data.validation_beir.max_queries", Kind::Int, &d.validation_beir.max_queries},
      {"model.data.validation_beir.batch_size", Kind::Int, &d.validation_beir.batch_size},
      {"model.optim.name", Kind::String, &o.name},
      {"model.optim.lr", Kind::Double, &o.lr},
      {"model.optim.weight_decay", Kind::Double, &o.weight_decay},
      {"model.optim.betas", Kind::Betas, &o},
      {"model.optim.eps", Kind::Double, &o.eps},
      {"model.optim.sched.name", Kind::String, &o.sched.name},
      {"model.optim.sched.warmup_steps", Kind::Int, &o.sched.warmup_steps},
      {"model.optim.sched.warmup_ratio", Kind::Double, &o.sched.warmup_ratio},
      {"model.optim.sched.constant_steps", Kind::Int, &o.sched.constant_steps},
      {"model.optim.sched.min_lr", Kind::Double, &o.sched.min_lr},
  };
}

// NeMo keys with no meaning for libsbert (model parallelism, apex, Megatron data pipelines,
// architecture fields that come from the checkpoint instead). Accepted and reported.
bool is_ignored_nemo_key(const std::string& key) {
  static const std::vector<std::string> exact = {
      "trainer.logger",
      "trainer.enable_checkpointing",
      "trainer.use_distributed_sampler",
      "trainer.limit_test_batches",
      "trainer.benchmark",
      "trainer.accumulate_grad_batches",
      "exp_manager.create_wandb_logger",
      "exp_manager.checkpoint_callback_params.always_save_nemo",
      "exp_manager.checkpoint_callback_params.filename",
      "exp_manager.checkpoint_callback_params.model_parallel_size",
      "model.mcore_bert",
      "model.tensor_model_parallel_size",
      "model.pipeline_model_parallel_size",
      "model.virtual_pipeline_model_parallel_size",
      "model.max_position_embeddings",
      "model.position_embedding_type",
      "model.num_layers",
      "model.hidden_size",
      "model.ffn_hidden_size",
      "model.num_attention_heads",
      "model.transformer_block_type",
      "model.add_pooler",
      "model.add_lm_head",
      "model.init_method_std",
      "model.kv_channels",
      "model.apply_query_key_layer_scaling",
      "model.normalization",
      "model.layernorm_epsilon",
      "model.make_vocab_size_divisible_by",
      "model.pre_process",
      "model.post_process",
      "model.bert_binary_head",
      "model.megatron_legacy",
      "model.backprop_type",
      "model.native_amp_init_scale",
      "model.native_amp_growth_interval",
      "model.fp32_residual_connection",
      "model.fp16_lm_cross_entropy",
      "model.megatron_amp_O2",
      "model.grad_allreduce_chunk_size_mb",
      "model.grad_div_ar_fusion",
      "model.use_cpu_initialization",
      "model.onnx_safe",
      "model.gradient_as_bucket_view",
      "model.sequence_parallel",
      "model.num_micro_batches_with_partial_activation_checkpoints",
      "model.data.index_mapping_dir",
      "model.data.data_impl",
      "model.data.splits_string",
      "model.data.seq_length",
      "model.data.skip_warmup",
      "model.data.num_workers",
      "model.data.dataloader_type",
      "model.data.reset_position_ids",
      "model.data.reset_attention_mask",
      "model.data.eod_mask_loss",
      "model.data.masked_lm_prob",
      "model.data.short_seq_prob",
  };
  static const std::vector<std::string> prefixes = {
      "exp_manager.wandb_logger_kwargs.", "model.tokenizer.", "model.activations_checkpoint_"};
  if (std::find(exact.begin(), exact.end(), key) != exact.end()) return true;
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return key.rfind(p, 0) == 0; });
}

std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

void set_path(YAML::Node node, const std::vector<std::string>& parts, size_t i,
              const YAML::Node& value, const std::string& key) {
  if (i + 1 == parts.size()) {
    node[parts[i]] = value;
    return;
  }
  if (!node[parts[i]] || node[parts[i]].IsNull()) node[parts[i]] = YAML::Node(YAML::NodeType::Map);
  SBERT_CHECK(node[parts[i]].IsMap(), "[config] override '", key, "': '", parts[i],
              "' is not a section");
  set_path(node[parts[i]], parts, i + 1, value, key);
}

// Leaves of the tree as (dotted key, node); empty maps contribute nothing.
void flatten(const YAML::Node& node, const std::string& prefix,
             std::vector<std::pair<std::string, YAML::Node>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string k = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? k : prefix + "." + k, out);
    }
  } else {
    out.emplace_back(prefix, node);
  }
}

YAML::Node lookup(const YAML::Node& root, const std::string& key) {
  YAML::Node cur = YAML::Clone(root);
  for (const std::string& p : split_dots(key)) {
    if (!cur.IsMap() || !cur[p]) return YAML::Node();
    cur = YAML::Node(cur[p]);  // a fresh handle: rebinding, not assignment through
  }
  return cur;
}

// Resolves "${a.b}" (absolute) and "${.b}" (sibling of the key) as OmegaConf does.
YAML::Node resolve(const YAML::Node& root, const std::string& key, YAML::Node value,
                   const fs::path& source, int depth = 0) {
  static const std::regex ref(R"(^\$\{(\.?)([A-Za-z0-9_.]+)\}$)");
  if (!value.IsScalar()) return value;
  const std::string s = value.Scalar();
  std::smatch m;
  if (!std::regex_match(s, m, ref)) {
    SBERT_CHECK(s.find("${") == std::string::npos, "[config] ", source.string(), ": key '", key,
                "': interpolation '", s, "' is not supported (only ${a.b} and ${.b})");
    return value;
  }
  SBERT_CHECK(depth < 16, "[config] ", source.string(), ": key '", key, "': interpolation loop");
  std::string target = m[2];
  if (m[1] == ".") {
    const size_t dot = key.rfind('.');
    target = (dot == std::string::npos ? "" : key.substr(0, dot + 1)) + target;
  }
  const YAML::Node found = lookup(root, target);
  SBERT_CHECK(found.IsDefined() && !found.IsNull(), "[config] ", source.string(), ": key '", key,
              "' refers to '", target, "', which is not set");
  return resolve(root, target, found, source, depth + 1);
}

[[noreturn]] void type_error(const fs::path& source, const std::string& key, const char* want,
                             const YAML::Node& v) {
  std::string got = v.IsScalar() ? "'" + v.Scalar() + "'" : v.IsSequence() ? "a list" : "a map";
  fail("[config] ", source.string(), ": key '", key, "' must be ", want, ", got ", got);
}

void assign(const Field& f, const YAML::Node& v, const fs::path& source) {
  const std::string& key = f.key;
  switch (f.kind) {
    case Kind::Int: {
      if (!v.IsScalar()) type_error(source, key, "an integer", v);
      try {
        const std::string s = v.Scalar();
        size_t used = 0;
        const long long x = std::stoll(s, &used);
        if (used != s.size()) type_error(source, key, "an integer", v);
        if (key == "model.seed") {
          *static_cast<uint64_t*>(f.ptr) = static_cast<uint64_t>(x);
        } else if (key == "trainer.devices" || key == "trainer.num_nodes" ||
                   key == "trainer.threads" ||
                   key == "exp_manager.checkpoint_callback_params.save_top_k") {
          *static_cast<int*>(f.ptr) = static_cast<int>(x);
        } else {
          *static_cast<int64_t*>(f.ptr) = x;
        }
      } catch (const std::logic_error&) {
        type_error(source, key, "an integer", v);
      }
      return;
    }
    case Kind::Double: {
      if (!v.IsScalar()) type_error(source, key, "a number", v);
      try {
        const std::string s = v.Scalar();
        size_t used = 0;
        const double x = std::stod(s, &used);
        if (used != s.size() || !std::isfinite(x)) type_error(source, key, "a number", v);
        *static_cast<double*>(f.ptr) = x;
      } catch (const std::logic_error&) {
        type_error(source, key, "a number", v);
      }
      return;
    }
    case Kind::Bool: {
      bool b = false;
      if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) {
        type_error(source, key, "true or false", v);
      }
      *static_cast<bool*>(f.ptr) = b;
      return;
    }
    case Kind::String:
      if (v.IsNull()) {
        static_cast<std::string*>(f.ptr)->clear();
        return;
      }
      if (!v.IsScalar()) type_error(source, key, "a string", v);
      *static_cast<std::string*>(f.ptr) = v.Scalar();
      return;
    case Kind::StringList: {
      auto* list = static_cast<std::vector<std::string>*>(f.ptr);
      list->clear();
      if (v.IsNull()) return;
      if (v.IsScalar()) {
        list->push_back(v.Scalar());
        return;
      }
      if (!v.IsSequence()) type_error(source, key, "a path or a list of paths", v);
      for (const auto& item : v) {
        if (!item.IsScalar()) type_error(source, key, "a path or a list of paths", v);
        list->push_back(item.Scalar());
      }
      return;
    }
    case Kind::Betas: {
      if (!v.IsSequence() || v.size() != 2) type_error(source, key, "a list of two numbers", v);
      auto* optim = static_cast<TrainConfig::Model::Optim*>(f.ptr);
      try {
        optim->beta1 = std::stod(v[0].Scalar());
        optim->beta2 = std::stod(v[1].Scalar());
      } catch (const std::logic_error&) {
        type_error(source, key, "a list of two numbers", v);
      }
      return;
    }
    case Kind::Precision: {
      if (!v.IsScalar()) type_error(source, key, "32 or bf16-mixed", v);
      const std::string s = v.Scalar();
      std::string* out = static_cast<std::string*>(f.ptr);
      if (s == "32" || s == "32-true" || s == "fp32") {
        *out = "32";
      } else if (s == "bf16" || s == "bf16-mixed" || s == "bf16-true") {
        *out = "bf16-mixed";
      } else if (s == "16" || s == "16-mixed" || s == "fp16") {
        fail("[config] ", source.string(), ": key '", key,
             "': fp16 is not supported, use bf16-mixed (or 32)");
      } else {
        type_error(source, key, "32 or bf16-mixed", v);
      }
      return;
    }
  }
}

template <class T>
void require(bool ok, const fs::path& source, const std::string& key, const std::string& what,
             T value) {
  SBERT_CHECK(ok, "[config] ", source.string(), ": key '", key, "' ", what, ", got ", value);
}

void validate(TrainConfig& c, const fs::path& src) {
  const auto& t = c.trainer;
  const auto& m = c.model;
  const auto& d = m.data;
  const auto& o = m.optim;
  require(!c.restore_from_path.empty(), src, "restore_from_path",
          "must name the model folder to fine-tune", "nothing");
  require(!d.data_train.empty(), src, "model.data.data_train", "must name the training data",
          "nothing");
  require(t.devices >= 1, src, "trainer.devices", "must be at least 1", t.devices);
  require(t.num_nodes >= 1, src, "trainer.num_nodes", "must be at least 1", t.num_nodes);
  require(t.dist_timeout_sec >= 1, src, "trainer.dist_timeout_sec", "must be at least 1",
          t.dist_timeout_sec);
  const std::set<std::string> accel = {"cpu", "gpu", "cuda", "auto"};
  require(accel.count(t.accelerator) > 0, src, "trainer.accelerator",
          "must be cpu, gpu, cuda or auto", t.accelerator);
  require(t.max_steps > 0 || (t.max_steps == -1 && t.max_epochs > 0), src, "trainer.max_steps",
          "must be positive (or -1 with trainer.max_epochs > 0)", t.max_steps);
  require(t.max_epochs == -1 || t.max_epochs > 0, src, "trainer.max_epochs",
          "must be positive or -1", t.max_epochs);
  require(t.val_check_interval > 0, src, "trainer.val_check_interval", "must be positive",
          t.val_check_interval);
  require(t.num_sanity_val_steps >= 0, src, "trainer.num_sanity_val_steps", "must be >= 0",
          t.num_sanity_val_steps);
  require(t.limit_val_batches == -1 || t.limit_val_batches > 0, src, "trainer.limit_val_batches",
          "must be positive or -1", t.limit_val_batches);
  require(t.log_every_n_steps > 0, src, "trainer.log_every_n_steps", "must be positive",
          t.log_every_n_steps);
  require(t.gradient_clip_val >= 0, src, "trainer.gradient_clip_val", "must be >= 0",
          t.gradient_clip_val);
  require(t.threads >= 0, src, "trainer.threads", "must be >= 0", t.threads);
  const auto& ck = c.exp_manager.checkpoint;
  require(ck.mode == "min" || ck.mode == "max", src, "exp_manager.checkpoint_callback_params.mode",
          "must be min or max", ck.mode);
  require(ck.save_top_k >= -1, src, "exp_manager.checkpoint_callback_params.save_top_k",
          "must be >= -1", ck.save_top_k);
  require(ck.every_n_train_steps >= 0, src,
          "exp_manager.checkpoint_callback_params.every_n_train_steps", "must be >= 0",
          ck.every_n_train_steps);
  require(m.micro_batch_size > 0, src, "model.micro_batch_size", "must be positive",
          m.micro_batch_size);
  require(m.global_batch_size > 0, src, "model.global_batch_size", "must be positive",
          m.global_batch_size);
  SBERT_CHECK(m.micro_batch_size <= m.global_batch_size, "[config] ", src.string(),
              ": key 'model.micro_batch_size' (", m.micro_batch_size,
              ") is larger than model.global_batch_size (", m.global_batch_size, ")");
  const int64_t per_step = m.micro_batch_size * t.devices * t.num_nodes;
  SBERT_CHECK(m.global_batch_size % per_step == 0, "[config] ", src.string(),
              ": key 'model.global_batch_size' (", m.global_batch_size,
              ") must be a multiple of micro_batch_size x devices x num_nodes (", per_step, ")");
  require(m.encoder_seq_length >= 2, src, "model.encoder_seq_length", "must be at least 2",
          m.encoder_seq_length);
  require(m.softmax_temp > 0, src, "model.softmax_temp", "must be positive", m.softmax_temp);
  require(m.loss == "nemo" || m.loss == "mnrl", src, "model.loss", "must be nemo or mnrl", m.loss);
  require(m.mnrl_scale > 0, src, "model.mnrl_scale", "must be positive", m.mnrl_scale);
  require(m.label_smoothing >= 0 && m.label_smoothing < 1, src, "model.label_smoothing",
          "must be in [0, 1)", m.label_smoothing);
  require(m.hidden_dropout < 1, src, "model.hidden_dropout", "must be below 1 (-1: the model's)",
          m.hidden_dropout);
  require(m.attention_dropout < 1, src, "model.attention_dropout",
          "must be below 1 (-1: the model's)", m.attention_dropout);
  require(d.hard_negatives_to_train >= 0, src, "model.data.hard_negatives_to_train", "must be >= 0",
          d.hard_negatives_to_train);
  require(d.negative_selection == "first" || d.negative_selection == "random", src,
          "model.data.negative_selection", "must be first or random", d.negative_selection);
  require(d.query_seq_length == -1 || d.query_seq_length >= 2, src, "model.data.query_seq_length",
          "must be -1 or at least 2", d.query_seq_length);
  require(d.passage_seq_length == -1 || d.passage_seq_length >= 2, src,
          "model.data.passage_seq_length", "must be -1 or at least 2", d.passage_seq_length);
  const auto& vb = d.validation_beir;
  require(vb.max_queries >= 0, src, "model.data.validation_beir.max_queries",
          "must be >= 0 (0: all)", vb.max_queries);
  require(vb.batch_size > 0, src, "model.data.validation_beir.batch_size", "must be positive",
          vb.batch_size);
  require(!vb.split.empty(), src, "model.data.validation_beir.split", "must name a qrels split",
          "nothing");
  {
    const std::set<std::string> beir_metrics = {"val_ndcg@10",  "val_mrr@10",    "val_map@100",
                                                "val_recall@1", "val_recall@10", "val_recall@100"};
    const std::string key = "exp_manager.checkpoint_callback_params.monitor";
    if (beir_metrics.count(ck.monitor) > 0) {
      require(!vb.path.empty(), src, key,
              "names a retrieval metric but model.data.validation_beir.path is not set",
              ck.monitor);
      require(ck.mode == "max", src, "exp_manager.checkpoint_callback_params.mode",
              "must be max when monitoring " + ck.monitor + " (higher is better)", ck.mode);
    } else {
      require(ck.monitor == "val_loss", src, key,
              "must be val_loss, val_ndcg@10, val_mrr@10, val_map@100 or val_recall@1/10/100",
              ck.monitor);
    }
  }
  const std::set<std::string> optims = {"fused_adam", "adam", "adamw"};
  require(optims.count(o.name) > 0, src, "model.optim.name", "must be fused_adam or adamw", o.name);
  require(o.lr > 0, src, "model.optim.lr", "must be positive", o.lr);
  require(o.weight_decay >= 0, src, "model.optim.weight_decay", "must be >= 0", o.weight_decay);
  require(o.beta1 >= 0 && o.beta1 < 1, src, "model.optim.betas", "first value must be in [0, 1)",
          o.beta1);
  require(o.beta2 >= 0 && o.beta2 < 1, src, "model.optim.betas", "second value must be in [0, 1)",
          o.beta2);
  require(o.eps > 0, src, "model.optim.eps", "must be positive", o.eps);
  try {
    parse_schedule_name(o.sched.name);
  } catch (const Error& e) {
    fail("[config] ", src.string(), ": ", e.what());
  }
  require(o.sched.warmup_steps >= 0, src, "model.optim.sched.warmup_steps", "must be >= 0",
          o.sched.warmup_steps);
  require(o.sched.warmup_ratio < 1, src, "model.optim.sched.warmup_ratio", "must be below 1",
          o.sched.warmup_ratio);
  require(o.sched.constant_steps >= 0, src, "model.optim.sched.constant_steps", "must be >= 0",
          o.sched.constant_steps);
  require(o.sched.min_lr >= 0 && o.sched.min_lr <= o.lr, src, "model.optim.sched.min_lr",
          "must be in [0, model.optim.lr]", o.sched.min_lr);
}

}  // namespace

ScheduleConfig schedule_config(const TrainConfig& cfg, int64_t max_steps) {
  const auto& sc = cfg.model.optim.sched;
  ScheduleConfig s;
  s.name = sc.name;
  s.lr = cfg.model.optim.lr;
  s.max_steps = max_steps;
  s.min_lr = sc.min_lr;
  if (sc.warmup_ratio >= 0 && sc.warmup_steps == 0) {
    s.warmup_ratio = sc.warmup_ratio;
  } else {
    s.warmup_steps = sc.warmup_steps;
  }
  s.constant_steps = sc.constant_steps;
  return s;
}

int64_t TrainConfig::accumulation_steps() const {
  return model.global_batch_size / (model.micro_batch_size * trainer.devices * trainer.num_nodes);
}

fs::path TrainConfig::log_dir() const {
  if (!exp_manager.explicit_log_dir.empty()) return exp_manager.explicit_log_dir;
  return fs::path(exp_manager.exp_dir) / (exp_manager.name.empty() ? name : exp_manager.name);
}

TrainConfig parse_train_config(const std::string& yaml_text, const fs::path& source,
                               const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail("[config] ", source.string(), ": not valid YAML (line ", e.mark.line + 1, ": ", e.msg,
         ")");
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  SBERT_CHECK(root.IsMap(), "[config] ", source.string(), ": expected a mapping at the top");
  for (const std::string& ov : overrides) {
    const size_t eq = ov.find('=');
    SBERT_CHECK(eq != std::string::npos && eq > 0, "[config] override '", ov,
                "' must look like key.path=value");
    std::string key = ov.substr(0, eq);
    if (key[0] == '+' || key[0] == '~') key = key.substr(1);  // Hydra's add marker
    YAML::Node value;
    try {
      value = YAML::Load(ov.substr(eq + 1));
    } catch (const YAML::Exception&) {
      value = YAML::Node(ov.substr(eq + 1));
    }
    set_path(root, split_dots(key), 0, value, key);
  }

  TrainConfig cfg;
  cfg.source = source;
  const std::vector<Field> table = fields(cfg);
  std::vector<std::pair<std::string, YAML::Node>> leaves;
  flatten(root, "", leaves);
  std::map<std::string, std::string> seen_hn;  // both hard_negatives_to_train keys must agree
  for (const auto& [key, node] : leaves) {
    auto it =
        std::find_if(table.begin(), table.end(), [&](const Field& f) { return f.key == key; });
    if (it == table.end()) {
      SBERT_CHECK(is_ignored_nemo_key(key), "[config] ", source.string(), ": unknown key '", key,
                  "'");
      cfg.ignored_keys.push_back(key);
      continue;
    }
    const YAML::Node value = resolve(root, key, node, source);
    if (it->kind != Kind::StringList && it->kind != Kind::String && value.IsNull()) continue;
    assign(*it, value, source);
    if (key.find("hard_negatives_to_train") != std::string::npos) {
      seen_hn[key] = value.Scalar();
    }
  }
  if (seen_hn.size() == 2) {
    SBERT_CHECK(seen_hn.begin()->second == seen_hn.rbegin()->second, "[config] ", source.string(),
                ": keys 'model.hard_negatives_to_train' and 'model.data.hard_negatives_to_train'"
                " disagree (",
                seen_hn["model.hard_negatives_to_train"], " vs ",
                seen_hn["model.data.hard_negatives_to_train"], ")");
  }
  validate(cfg, source);
  if (cfg.trainer.max_steps > 0) {  // else the step count depends on the data: the trainer checks
    try {
      const std::string w = schedule_warnings(schedule_config(cfg, cfg.trainer.max_steps));
      if (!w.empty()) cfg.warnings.push_back(w);
    } catch (const Error& e) {
      fail("[config] ", source.string(), ": ", e.what());
    }
  }
  return cfg;
}

TrainConfig load_train_config(const fs::path& config_dir, const std::string& config_name,
                              const std::vector<std::string>& overrides) {
  fs::path file = config_dir / config_name;
  if (file.extension() != ".yaml" && file.extension() != ".yml") file += ".yaml";
  return parse_train_config(read_file(file), file, overrides);
}

std::string to_yaml(const TrainConfig& cfg) {
  TrainConfig copy = cfg;
  YAML::Node root(YAML::NodeType::Map);
  for (const Field& f : fields(copy)) {
    if (f.key == "model.precision" || f.key == "model.hard_negatives_to_train") continue;
    YAML::Node v;
    switch (f.kind) {
      case Kind::Int:
        if (f.key == "model.seed") {
          v = *static_cast<uint64_t*>(f.ptr);
        } else if (f.key == "trainer.devices" || f.key == "trainer.num_nodes" ||
                   f.key == "trainer.threads" ||
                   f.key == "exp_manager.checkpoint_callback_params.save_top_k") {
          v = *static_cast<int*>(f.ptr);
        } else {
          v = *static_cast<int64_t*>(f.ptr);
        }
        break;
      case Kind::Double:
        v = *static_cast<double*>(f.ptr);
        break;
      case Kind::Bool:
        v = *static_cast<bool*>(f.ptr);
        break;
      case Kind::String:
      case Kind::Precision:
        v = *static_cast<std::string*>(f.ptr);
        break;
      case Kind::StringList:
        v = YAML::Node(YAML::NodeType::Sequence);
        for (const auto& s : *static_cast<std::vector<std::string>*>(f.ptr)) v.push_back(s);
        break;
      case Kind::Betas: {
        v = YAML::Node(YAML::NodeType::Sequence);
        const auto* optim = static_cast<const TrainConfig::Model::Optim*>(f.ptr);
        v.push_back(optim->beta1);
        v.push_back(optim->beta2);
        break;
      }
    }
    set_path(root, split_dots(f.key), 0, v, f.key);
  }
  YAML::Emitter out;
  out.SetDoublePrecision(17);
  out << root;
  std::string text = std::string("# resolved by sbert-finetune from ") + cfg.source.string() + "\n";
  if (!cfg.ignored_keys.empty()) {
    text += "# NeMo keys accepted without effect:";
    for (const auto& k : cfg.ignored_keys) text += " " + k;
    text += "\n";
  }
  return text + out.c_str() + "\n";
}

}  // namespace sbert
