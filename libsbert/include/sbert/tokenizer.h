// sbert::Tokenizer: BERT WordPiece, reproducing Hugging Face tokenizers' BertNormalizer,
// BertPreTokenizer, WordPiece model and the "[CLS] text [SEP]" template exactly.
//
//   auto tok = sbert::Tokenizer::load("models/all-MiniLM-L6-v2");
//   std::vector<int32_t> ids = tok.encode("Hello world", 256);  // [CLS] hello world [SEP]
//
// Copies share the immutable vocabulary; every const method is safe to call from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sbert/export.h"

namespace sbert {

struct TokenizerOptions {
  // BertNormalizer
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  int strip_accents = -1;  // -1: follow `lowercase` (HF's None), 0: no, 1: yes
  // WordPiece
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  int max_input_chars_per_word = 100;
  // Template "[CLS] $A [SEP]"
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  // Not used for encoding; kept for save() (tokenizer_config.json, special_tokens_map.json).
  std::string mask_token = "[MASK]";
  int model_max_length = 0;  // tokenizer_config.json's model_max_length; 0 when unknown
};

class SBERT_API Tokenizer {
 public:
  // dir/tokenizer.json when present, else dir/vocab.txt (+ dir/tokenizer_config.json).
  static Tokenizer load(const std::filesystem::path& dir);
  static Tokenizer from_tokenizer_json(const std::filesystem::path& file);
  static Tokenizer from_vocab_file(const std::filesystem::path& vocab_txt,
                                   const TokenizerOptions& options);

  // "[CLS] pieces [SEP]". max_length > 0 truncates the pieces so that the result, specials
  // included, has at most max_length ids (as HF's truncation=True, max_length=...).
  // Throws sbert::Error if text is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text, int max_length = 0) const;

  // encode() for every text, on `threads` threads (0: all cores); result in input order.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                 int max_length = 0, int threads = 0) const;

  // Hugging Face's batch_decode(ids, skip_special_tokens=True) of one sequence: special tokens
  // ([CLS], [SEP], [PAD], [UNK], ...) dropped, then the tokenizer's decoder (WordPiece: "##"
  // pieces joined, the others after a space, its cleanup; Metaspace; ByteLevel), then
  // transformers' clean_up_tokenization when tokenizer_config.json sets
  // clean_up_tokenization_spaces (not for BPE). Throws sbert::Error for an out-of-range id or a
  // tokenizer.json whose decoder is none of these.
  std::string decode(const std::vector<int32_t>& ids) const;

  // The word pieces of text without special tokens, as strings ("hello", "##world").
  std::vector<std::string> tokenize(std::string_view text) const;

  // Normalized text (BertNormalizer only), exposed for tests and debugging.
  std::string normalize(std::string_view text) const;

  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  const std::string& id_to_token(int32_t id) const;   // throws on an out-of-range id
  int32_t vocab_size() const;
  int32_t cls_id() const;
  int32_t sep_id() const;
  int32_t pad_id() const;
  int32_t unk_id() const;
  const TokenizerOptions& options() const;

  // Writes tokenizer.json, vocab.txt, tokenizer_config.json and special_tokens_map.json into
  // dir, so that Hugging Face loads the same tokenizer (for export).
  void save(const std::filesystem::path& dir, int model_max_length) const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace sbert
