// Tokenizer::Impl: the immutable state shared by copies of a Tokenizer, and the pieces of the
// pipeline (added-token splitting, BertNormalizer, BertPreTokenizer + WordPiece).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "sbert/tokenizer.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/vocab.h"

namespace sbert {

namespace tok {

// An entry of tokenizer.json's "added_tokens" (or of transformers' added_tokens_decoder).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = true;
};

// A piece of text between or on added tokens: [begin, end) bytes, id >= 0 for an added token.
struct Split {
  size_t begin;
  size_t end;
  int32_t id;
};

// Finds added tokens in a text as tokenizers' AddedVocabulary does: an Aho-Corasick
// leftmost-longest scan, then the single_word / lstrip / rstrip rules.
class AddedTokenMatcher {
 public:
  void build(std::vector<AddedToken> tokens);  // tokens' content is the pattern
  bool empty() const { return patterns_.empty(); }
  // Appends the splits covering text to out (nothing for an empty text).
  void split(std::string_view text, std::vector<Split>& out) const;

 private:
  std::vector<AddedToken> patterns_;  // longest first
  bool first_byte_[256] = {};
};

// Buffers reused by every call on a thread, so that encoding allocates nothing per character.
struct Scratch {
  std::u32string chars;  // normalizer stage buffer
  std::string normalized;
  std::string word;  // continuing-subword prefix + word, for WordPiece lookups
  std::vector<Split> splits;
  std::vector<Split> normalized_splits;

  // Gives back memory after a very long text, so idle threads do not keep it.
  void trim() {
    constexpr size_t kKeep = size_t{1} << 20;
    if (chars.capacity() > kKeep) std::u32string().swap(chars);
    if (normalized.capacity() > kKeep) std::string().swap(normalized);
    if (word.capacity() > kKeep) std::string().swap(word);
  }
};

// This thread's scratch buffers (one thread_local; look it up once per call, not per word).
Scratch& thread_scratch();

}  // namespace tok

struct SBERT_LOCAL Tokenizer::Impl {
  TokenizerOptions options;
  tok::VocabMap model_vocab;                  // the WordPiece vocabulary
  int32_t model_vocab_size = 0;               // its ids are 0 .. model_vocab_size - 1
  std::vector<std::string> id_to_token;       // model vocabulary, then added tokens beyond it
  std::vector<tok::AddedToken> added_tokens;  // in id order
  tok::VocabMap added_vocab;                  // content -> id of added_tokens
  tok::AddedTokenMatcher raw_matcher;         // added tokens with normalized = false
  tok::AddedTokenMatcher normalized_matcher;  // added tokens with normalized = true
  int32_t unk_id = -1;
  int32_t cls_id = -1;
  int32_t sep_id = -1;
  int32_t pad_id = 0;
  std::string source;  // the file it was loaded from, for messages
  // decode(): tokenizer.json's WordPiece decoder (prefix, cleanup; false when the decoder is
  // another kind or null) and tokenizer_config.json's clean_up_tokenization_spaces.
  bool wordpiece_decoder = true;
  std::string decoder_prefix = "##";
  bool decoder_cleanup = true;
  bool clean_up_tokenization_spaces = false;
  // Unigram / byte-level BPE (null for WordPiece, which keeps its own fast path below).
  std::shared_ptr<const tok::Pipeline> pipeline;
  // The tokenizer files as read (name, bytes), written back unchanged by save() for a pipeline
  // tokenizer, so that transformers loads exactly what it loaded before.
  std::vector<std::pair<std::string, std::string>> files;

  // Builds id_to_token, the added-token tables and the special ids; throws naming `source`.
  void finish();

  // BertNormalizer over text (valid UTF-8) into out (which must not be sc.chars).
  void normalize_into(std::string_view text, std::string& out, tok::Scratch& sc) const;
  // The whole pipeline without the template: appends the ids of text (valid UTF-8). Stops
  // early, at a word boundary, once ids holds `limit` entries (the caller truncates).
  void encode_pieces(std::string_view text, std::vector<int32_t>& ids, size_t limit,
                     tok::Scratch& sc) const;
  // BertPreTokenizer + WordPiece over normalized text.
  void pretokenize_and_wordpiece(std::string_view normalized, std::vector<int32_t>& ids,
                                 size_t limit, tok::Scratch& sc) const;
  void wordpiece(std::string_view word, size_t n_chars, std::vector<int32_t>& ids,
                 tok::Scratch& sc) const;
};

}  // namespace sbert
