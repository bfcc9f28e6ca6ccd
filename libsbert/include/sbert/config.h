// ModelConfig: the shape and behaviour of a BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa)
// plus its sentence-embedding head.
// Read from a Hugging Face config.json (and a sentence-transformers folder when there is one)
// by sbert::load_model_config(); plain data, copyable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "sbert/export.h"

namespace sbert {

enum class Pooling { Mean, CLS };

SBERT_API const char* to_string(Pooling p);

struct ModelConfig {
  // Encoder (Hugging Face config.json names in comments).
  std::string model_type = "bert";    // model_type: bert, roberta or xlm-roberta
  int vocab_size = 30522;             // vocab_size
  int hidden_size = 768;              // hidden_size
  int num_layers = 12;                // num_hidden_layers
  int num_heads = 12;                 // num_attention_heads
  int intermediate_size = 3072;       // intermediate_size
  int max_position_embeddings = 512;  // max_position_embeddings
  int type_vocab_size = 2;            // type_vocab_size
  int pad_token_id = 0;               // pad_token_id
  float layer_norm_eps = 1e-12f;      // layer_norm_eps
  float hidden_dropout = 0.1f;        // hidden_dropout_prob
  float attention_dropout = 0.1f;     // attention_probs_dropout_prob
  std::string hidden_act = "gelu";    // hidden_act (exact erf GELU)

  // Sentence-embedding head (sentence-transformers modules.json, 1_Pooling/config.json,
  // sentence_bert_config.json). Without those files: mean pooling, no normalization, 512.
  Pooling pooling = Pooling::Mean;
  bool normalize = false;    // a 2_Normalize module is present
  int max_seq_length = 512;  // sentence_bert_config.json max_seq_length

  int head_dim() const { return hidden_size / num_heads; }
  // RoBERTa and XLM-RoBERTa number positions from pad_token_id + 1 (transformers'
  // create_position_ids_from_input_ids; a pad token takes position pad_token_id), BERT from 0.
  bool roberta_positions() const { return model_type == "roberta" || model_type == "xlm-roberta"; }
  int first_position() const { return roberta_positions() ? pad_token_id + 1 : 0; }
  // The longest sequence the position table holds: 512 for BERT's 512 and XLM-R's 514.
  int max_tokens() const { return max_position_embeddings - first_position(); }
};

// Reads dir/config.json and, when present, the sentence-transformers files beside it.
// Throws sbert::Error naming the file and field for anything unsupported.
SBERT_API ModelConfig load_model_config(const std::filesystem::path& dir);

}  // namespace sbert
