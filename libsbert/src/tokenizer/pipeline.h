// The tokenizer pipeline for models other than WordPiece: SentencePiece Unigram (XLM-R) and
// byte-level BPE (RoBERTa), as Hugging Face tokenizers runs them on each piece of text between
// added tokens:
//   normalizers (Precompiled, Replace, Strip, Prepend, Sequence)
//   -> pre-tokenizers (WhitespaceSplit, Metaspace, ByteLevel, Sequence) -> words
//   -> model (Unigram Viterbi, or BPE merges by rank) -> ids.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace sbert::tok {

// sentencepiece's precompiled_charsmap: a darts-clone double-array trie over UTF-8 bytes whose
// values are offsets of NUL-terminated replacements in a string pool.
class CharsMap {
 public:
  // blob: [u32 trie bytes][trie units][replacement pool]. Throws naming `source`.
  CharsMap(std::string_view blob, std::string_view source);
  // tokenizers' Precompiled::normalize: per extended grapheme cluster, the replacement of the
  // cluster's shortest matching prefix when the cluster is under 6 bytes, else per character.
  void normalize(std::string_view in, std::string& out) const;
  const std::string& blob() const { return blob_; }

 private:
  // The replacement of the SHORTEST key that is a prefix of s (spm_precompiled's
  // common_prefix_search()[0]); false when none.
  bool transform(std::string_view s, std::string_view& out) const;
  std::vector<uint32_t> units_;
  std::string pool_;
  std::string blob_;
};

struct NormalizerStep {
  enum Kind { kPrecompiled, kReplace, kStrip, kPrepend } kind;
  std::shared_ptr<const CharsMap> charsmap;  // kPrecompiled
  std::string pattern, content;              // kReplace: literal pattern, or ...
  int min_repeat = 0;  // ... > 0: the regex "<pattern>{min_repeat,}" (pattern one character)
  bool left = false, right = false;  // kStrip
};

struct PreTokenizerStep {
  enum Kind { kWhitespaceSplit, kMetaspace, kByteLevel } kind;
  std::string replacement = "\xE2\x96\x81";  // Metaspace: U+2581
  enum Prepend { kAlways, kFirst, kNever } prepend = kAlways;
  bool split = true;             // Metaspace
  bool add_prefix_space = false;  // ByteLevel
  bool use_regex = true;          // ByteLevel
};

struct UnigramModel {
  std::vector<std::string> pieces;  // by id
  std::vector<double> scores;
  VocabMap index;
  // The distinct pieces in byte order, each with the id a lookup gives (the last one of a
  // repeated piece): the pieces that start with a growing prefix are a shrinking range, so the
  // Viterbi scan of a position stops where no piece goes on (as a trie walk would).
  struct Entry {
    std::string_view piece;  // into `pieces`
    int32_t id;
  };
  std::vector<Entry> sorted;
  // [begin, end) of the pieces that start with each first character (its UTF-8 bytes as key).
  std::vector<std::pair<uint32_t, std::pair<uint32_t, uint32_t>>> first_char;
  size_t max_piece_bytes = 0;
  int32_t unk_id = -1;  // -1: none
  double min_score = 0;
  bool byte_fallback = false;
  bool fuse_unk = true;
  void build();  // index, sorted, max_piece_bytes, min_score
  UnigramModel() = default;
  // `sorted` points into `pieces`: a copy points into its own.
  UnigramModel(const UnigramModel& o)
      : pieces(o.pieces), scores(o.scores), index(o.index), sorted(o.sorted),
        first_char(o.first_char),
        max_piece_bytes(o.max_piece_bytes), unk_id(o.unk_id), min_score(o.min_score),
        byte_fallback(o.byte_fallback), fuse_unk(o.fuse_unk) {
    for (Entry& e : sorted) e.piece = pieces[static_cast<size_t>(e.id)];
  }
  UnigramModel& operator=(const UnigramModel&) = delete;
  void rebuild_sorted();
};

struct BpeModel {
  VocabMap vocab;  // token -> id (the id_to_token table lives in Tokenizer::Impl)
  // (left id, right id) -> (rank, merged id)
  struct Merge {
    int32_t rank, id;
  };
  std::vector<std::pair<uint64_t, Merge>> merge_table;  // sorted by key
  std::string unk_token;  // empty: none
  std::string prefix, suffix;  // continuing_subword_prefix, end_of_word_suffix
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
  const Merge* find_merge(int32_t a, int32_t b) const;
};

struct Pipeline {
  std::vector<NormalizerStep> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizers;
  enum ModelKind { kUnigram, kBpe } model = kUnigram;
  UnigramModel unigram;
  BpeModel bpe;

  void normalize(std::string_view text, std::string& out) const;
  // Appends the ids of one piece of text (between added tokens); `first` when the piece starts
  // at offset 0 of the original text (Metaspace's prepend_scheme "first").
  void encode(std::string_view text, bool first, std::vector<int32_t>& ids) const;
  // encode() of text already normalized.
  void encode_normalized(std::string_view normalized, bool first, std::vector<int32_t>& ids) const;

 private:
  void pre_tokenize(std::string_view normalized, bool first, std::vector<std::string>& words) const;
  void unigram_word(std::string_view word, std::vector<int32_t>& ids) const;
  void bpe_word(std::string_view word, std::vector<int32_t>& ids) const;
};

uint32_t first_char_key(std::string_view s);

// Byte-level helpers (GPT-2): the printable character standing for each byte.
const std::string& byte_level_char(unsigned char b);
// GPT-2's split regex "'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+":
// the byte lengths of consecutive matches covering s.
void byte_level_split(std::string_view s, std::vector<std::string_view>& out);

// sentencepiece.bpe.model (a ModelProto) as transformers' XLMRobertaTokenizer reads it.
struct SpmModel {
  struct Piece {
    std::string piece;
    float score = 0;
    int type = 1;  // 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte
  };
  std::vector<Piece> pieces;
  std::string precompiled_charsmap;
  int unk_id = 0;
  bool byte_fallback = false;
  int model_type = 1;  // 1 unigram, 2 bpe
};
SpmModel read_spm_model(const std::string& bytes, std::string_view source);

}  // namespace sbert::tok
