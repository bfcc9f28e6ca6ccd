#include "train/ignored_keys.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "sbert/train.h"

namespace sbert {

namespace {

constexpr std::string_view kParallel =
    "model parallelism: libsbert trains data-parallel only (docs/distributed.md)";
constexpr std::string_view kArchitecture = "the architecture comes from the model's config.json";
constexpr std::string_view kMegatronData =
    "Megatron pretraining data pipeline: the JSON/JSONL data is read directly";
constexpr std::string_view kMegatronImpl =
    "a Megatron/apex implementation detail with no counterpart here";

struct Ignored {
  std::string_view key;  // exact key, or a prefix when it ends in '.' or '_'
  std::string_view why;
};

// Keys that are prefixes end in '.' or '_' (activations_checkpoint_*).
constexpr std::array kIgnored = {
    Ignored{"trainer.logger", "loggers are exp_manager.create_tensorboard_logger and metrics.jsonl"},
    Ignored{"trainer.enable_checkpointing", "checkpoints follow exp_manager.create_checkpoint_callback"},
    Ignored{"trainer.use_distributed_sampler", "each rank takes its share of every global batch"},
    Ignored{"trainer.limit_test_batches", "there is no test loop (use sbert-eval)"},
    Ignored{"trainer.benchmark", "cuDNN autotuning: libsbert does not use cuDNN"},
    Ignored{"trainer.accumulate_grad_batches",
            "accumulation follows from model.global_batch_size / model.micro_batch_size (GradCache)"},
    Ignored{"exp_manager.create_wandb_logger",
            "Weights & Biases needs a network; the scalars go to metrics.jsonl and TensorBoard"},
    Ignored{"exp_manager.wandb_logger_kwargs.",
            "Weights & Biases needs a network; the scalars go to metrics.jsonl and TensorBoard"},
    Ignored{"exp_manager.checkpoint_callback_params.always_save_nemo",
            "checkpoints are Hugging Face folders, not .nemo archives"},
    Ignored{"exp_manager.checkpoint_callback_params.filename",
            "checkpoints are named step-<N> (with latest pointing at the newest)"},
    Ignored{"exp_manager.checkpoint_callback_params.model_parallel_size", kParallel},
    Ignored{"model.mcore_bert", kMegatronImpl},
    Ignored{"model.tensor_model_parallel_size", kParallel},
    Ignored{"model.pipeline_model_parallel_size", kParallel},
    Ignored{"model.virtual_pipeline_model_parallel_size", kParallel},
    Ignored{"model.sequence_parallel", kParallel},
    Ignored{"model.max_position_embeddings", kArchitecture},
    Ignored{"model.position_embedding_type", kArchitecture},
    Ignored{"model.num_layers", kArchitecture},
    Ignored{"model.hidden_size", kArchitecture},
    Ignored{"model.ffn_hidden_size", kArchitecture},
    Ignored{"model.num_attention_heads", kArchitecture},
    Ignored{"model.transformer_block_type", kArchitecture},
    Ignored{"model.add_pooler", kArchitecture},
    Ignored{"model.add_lm_head", kArchitecture},
    Ignored{"model.init_method_std", "weights come from restore_from_path, never initialized"},
    Ignored{"model.kv_channels", kArchitecture},
    Ignored{"model.apply_query_key_layer_scaling", kMegatronImpl},
    Ignored{"model.normalization", kArchitecture},
    Ignored{"model.layernorm_epsilon", kArchitecture},
    Ignored{"model.make_vocab_size_divisible_by", kArchitecture},
    Ignored{"model.pre_process", kMegatronImpl},
    Ignored{"model.post_process", kMegatronImpl},
    Ignored{"model.bert_binary_head", kArchitecture},
    Ignored{"model.megatron_legacy", kMegatronImpl},
    Ignored{"model.backprop_type", kMegatronImpl},
    Ignored{"model.fp32_residual_connection", kMegatronImpl},
    Ignored{"model.fp16_lm_cross_entropy", "there is no LM head"},
    Ignored{"model.megatron_amp_O2", kMegatronImpl},
    Ignored{"model.grad_allreduce_chunk_size_mb", kMegatronImpl},
    Ignored{"model.grad_div_ar_fusion", kMegatronImpl},
    Ignored{"model.use_cpu_initialization", "weights come from restore_from_path"},
    Ignored{"model.onnx_safe", kMegatronImpl},
    Ignored{"model.gradient_as_bucket_view", kMegatronImpl},
    Ignored{"model.num_micro_batches_with_partial_activation_checkpoints", kMegatronImpl},
    Ignored{"model.activations_checkpoint_",
            "GradCache already bounds activation memory by model.micro_batch_size"},
    Ignored{"model.tokenizer.", "the tokenizer comes from the model folder (tokenizer.json)"},
    Ignored{"model.data.index_mapping_dir", kMegatronData},
    Ignored{"model.data.data_impl", kMegatronData},
    Ignored{"model.data.splits_string", kMegatronData},
    Ignored{"model.data.seq_length", "lengths are model.encoder_seq_length and the *_seq_length keys"},
    Ignored{"model.data.skip_warmup", kMegatronData},
    Ignored{"model.data.num_workers", "data is read and tokenized on the training threads"},
    Ignored{"model.data.dataloader_type", kMegatronData},
    Ignored{"model.data.reset_position_ids", kMegatronData},
    Ignored{"model.data.reset_attention_mask", kMegatronData},
    Ignored{"model.data.eod_mask_loss", kMegatronData},
    Ignored{"model.data.masked_lm_prob", "masked-LM pretraining; fine-tuning is contrastive"},
    Ignored{"model.data.short_seq_prob", "masked-LM pretraining; fine-tuning is contrastive"},
};

const Ignored* find(const std::string& key) {
  for (const Ignored& i : kIgnored) {
    const bool prefix = i.key.back() == '.' || i.key.back() == '_';
    if (prefix ? key.starts_with(i.key) : key == i.key) return &i;
  }
  return nullptr;
}

}  // namespace

bool is_ignored_nemo_key(const std::string& key) { return find(key) != nullptr; }

std::string ignored_nemo_key_reason(const std::string& key) {
  const Ignored* i = find(key);
  return i ? std::string(i->why) : std::string();
}

std::string TrainOptions::ignored_key_reason(const std::string& key) {
  return ignored_nemo_key_reason(key);
}

}  // namespace sbert
