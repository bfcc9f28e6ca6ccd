// Reading the Unigram / BPE pipeline (pipeline.h) from tokenizer.json and sentencepiece.bpe.model,
// and the rebuild transformers 5 does for XLMRobertaTokenizer / RobertaTokenizer folders.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "tokenizer/impl.h"
#include "tokenizer/json_util.h"

namespace sbert::tok {

// model.type Unigram or BPE: fills impl.pipeline's model, impl.id_to_token, model_vocab.
void read_pipeline_model(const JsonReader& r, simdjson::dom::object model, Tokenizer::Impl& impl);
// normalizer / pre_tokenizer of a Unigram or BPE tokenizer.json into *impl.pipeline.
void read_pipeline_normalizer(const JsonReader& r, simdjson::dom::element e, Pipeline& p);
void read_pipeline_pre_tokenizer(const JsonReader& r, simdjson::dom::element e, Pipeline& p);

// What transformers' tokenizer classes take from tokenizer_config.json.
struct ClassConfig {
  std::string tokenizer_class;            // "" when absent
  std::optional<bool> add_prefix_space;
  std::string bos = "<s>", eos = "</s>";  // XLM-R's template
  std::string cls = "<s>", sep = "</s>";  // RoBERTa's template
  std::string pad = "<pad>", unk = "<unk>", mask = "<mask>";
  // tokenizer_config.json's mask_token when given as an AddedToken ({"lstrip": true, ...}).
  std::optional<AddedToken> mask_added;
};

// AutoTokenizer's class for a config.json model_type, among those rebuilt below ("" otherwise).
std::string tokenizer_class_of_model_type(std::string_view model_type);

// transformers 5's XLMRobertaTokenizer / RobertaTokenizer keep only the vocabulary (and merges,
// the Precompiled charsmap) of tokenizer.json and rebuild the rest (see docs/tokenizer.md).
// Returns false when the class is none of these (the file is then used as it is).
bool apply_transformers_class(Tokenizer::Impl& impl, const ClassConfig& c);

// A folder with vocab.json and merges.txt and no tokenizer.json, as RobertaTokenizer loads it.
void load_vocab_merges(const std::filesystem::path& vocab_json,
                       const std::filesystem::path& merges_txt, const ClassConfig& c,
                       Tokenizer::Impl& impl);

// A folder with sentencepiece.bpe.model and no tokenizer.json, as XLMRobertaTokenizer loads it.
void load_spm_model(const std::filesystem::path& file, const ClassConfig& c,
                    Tokenizer::Impl& impl);

}  // namespace sbert::tok
