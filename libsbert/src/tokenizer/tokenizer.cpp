// sbert::Tokenizer: the encoding pipeline of Hugging Face tokenizers' BERT tokenizer.
//
//   text --(AddedVocabulary: split on added tokens with normalized = false)--> segments
//   segment --BertNormalizer--> normalized --(split on normalized added tokens)-->
//   --BertPreTokenizer (whitespace removed, punctuation isolated)--> words --WordPiece--> ids
//   ids --TemplateProcessing--> [CLS] ids [SEP], truncated to max_length.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>

#include "core/check.h"
#include "tokenizer/impl.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace sbert {
namespace tok {
namespace {

bool is_ascii(std::string_view s) {
  size_t i = 0;
  uint64_t acc = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    acc |= w;
  }
  for (; i < s.size(); ++i) acc |= static_cast<unsigned char>(s[i]);
  return (acc & 0x8080808080808080ULL) == 0;
}

void check_utf8(std::string_view text) {
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos) fail("[tokenizer] text is not valid UTF-8 at byte ", bad);
}

// Rust regex \s* at the end of s: the byte offset where the trailing whitespace begins.
size_t trailing_space_begin(std::string_view s) {
  size_t i = 0, begin = 0;
  bool in_space = false;
  while (i < s.size()) {
    const size_t at = i;
    const char32_t c = next_code_point(s, i);
    const bool space = (char_flags(c) & kWhitespace) != 0;
    if (space && !in_space) begin = at;
    in_space = space;
  }
  return in_space ? begin : s.size();
}

// Rust regex ^\s*: the byte length of the leading whitespace of s.
size_t leading_space_end(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t next = i;
    const char32_t c = next_code_point(s, next);
    if (!(char_flags(c) & kWhitespace)) break;
    i = next;
  }
  return i;
}

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = s.size() - 1;
  while (i > 0 && is_utf8_continuation(s[i])) --i;
  return is_word_char(next_code_point(s, i));
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  return is_word_char(next_code_point(s, i));
}

}  // namespace

Scratch& thread_scratch() {
  thread_local Scratch s;
  return s;
}

void AddedTokenMatcher::build(std::vector<AddedToken> tokens) {
  std::erase_if(tokens, [](const AddedToken& t) { return t.content.empty(); });
  std::stable_sort(tokens.begin(), tokens.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });
  patterns_ = std::move(tokens);
  std::fill(std::begin(first_byte_), std::end(first_byte_), false);
  for (const AddedToken& t : patterns_)
    first_byte_[static_cast<unsigned char>(t.content[0])] = true;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Split>& out) const {
  size_t start_offset = 0;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    const AddedToken* hit = nullptr;
    for (const AddedToken& t : patterns_) {  // longest first: leftmost-longest
      if (text.compare(i, t.content.size(), t.content) == 0) {
        hit = &t;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t start = i;
    size_t stop = i + hit->content.size();
    i = stop;  // the scan goes on after the match, whatever the rules below decide
    if (hit->single_word) {
      const bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
      const bool stop_space = stop == n || !starts_with_word(text.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (hit->lstrip) start = std::max(trailing_space_begin(text.substr(0, start)), start_offset);
    if (hit->rstrip) stop += leading_space_end(text.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, hit->id});
    start_offset = stop;
  }
  if (start_offset < n) out.push_back({start_offset, n, -1});
}

}  // namespace tok

using namespace tok;

void Tokenizer::Impl::normalize_into(std::string_view text, std::string& out, Scratch& sc) const {
  if (pipeline) {
    pipeline->normalize(text, out);
    return;
  }
  out.clear();
  const TokenizerOptions& o = options;
  const bool clean = o.clean_text;
  const bool chinese = o.handle_chinese_chars;
  const bool lower = o.lowercase;
  const bool strip = o.strip_accents == 1 || (o.strip_accents < 0 && o.lowercase);
  if (!clean && !chinese && !lower && !strip) {
    out.assign(text);
    return;
  }
  out.reserve(text.size() + text.size() / 4);
  if (is_ascii(text)) {
    // ASCII: nothing decomposes, no mark, no CJK; clean_text and lowercase are byte maps.
    for (const char ch : text) {
      auto b = static_cast<unsigned char>(ch);
      if (clean && (b < 0x20 || b == 0x7F)) {
        if (b != '\t' && b != '\n' && b != '\r') continue;
        b = ' ';
      }
      if (lower && b >= 'A' && b <= 'Z') b = static_cast<unsigned char>(b + 32);
      out.push_back(static_cast<char>(b));
    }
    return;
  }
  const uint8_t* flags = char_flag_table();

  if (!strip) {
    // One pass: clean_text, handle_chinese_chars, lowercase are all per character.
    size_t i = 0;
    while (i < text.size()) {
      char32_t c = next_code_point(text, i);
      uint8_t f = flags[c];
      if (clean) {
        if (f & kDrop) continue;
        if (f & kWhitespace) c = U' ', f = flags[U' '];
      }
      const bool spaced = chinese && (f & kChinese);
      if (spaced) out.push_back(' ');
      if (lower && (f & kLowercases)) {
        char32_t buf[3];
        const int n = to_lowercase(c, buf);
        for (int k = 0; k < n; ++k) append_utf8(out, buf[k]);
      } else {
        append_utf8(out, c);
      }
      if (spaced) out.push_back(' ');
    }
    return;
  }

  // strip_accents: NFD (decomposition, then canonical ordering of each run of combining
  // characters), then removal of Mn, then lowercase. Stage 1 decomposes into `chars`.
  std::u32string& chars = sc.chars;
  chars.clear();
  bool reorder = false;
  auto push_nfd = [&](char32_t c, uint8_t f) {
    if (f & kDecomposes) {
      char32_t buf[4];
      const int n = decompose(c, buf);
      for (int k = 0; k < n; ++k) {
        chars.push_back(buf[k]);
        reorder |= (flags[buf[k]] & kCombining) != 0;
      }
    } else {
      chars.push_back(c);
      reorder |= (f & kCombining) != 0;
    }
  };
  size_t i = 0;
  while (i < text.size()) {
    char32_t c = next_code_point(text, i);
    uint8_t f = flags[c];
    if (clean) {
      if (f & kDrop) continue;
      if (f & kWhitespace) c = U' ', f = flags[U' '];
    }
    if (chinese && (f & kChinese)) {
      chars.push_back(' ');
      push_nfd(c, f);
      chars.push_back(' ');
    } else {
      push_nfd(c, f);
    }
  }
  if (reorder) {
    // Stable insertion sort by combining class inside each run of non-zero classes.
    const size_t n = chars.size();
    for (size_t a = 0; a < n;) {
      if (!(flags[chars[a]] & kCombining)) {
        ++a;
        continue;
      }
      size_t b = a;
      while (b < n && (flags[chars[b]] & kCombining)) ++b;
      for (size_t k = a + 1; k < b; ++k) {
        const char32_t x = chars[k];
        const int cx = combining_class(x);
        size_t j = k;
        while (j > a && combining_class(chars[j - 1]) > cx) {
          chars[j] = chars[j - 1];
          --j;
        }
        chars[j] = x;
      }
      a = b;
    }
  }
  for (const char32_t c : chars) {
    const uint8_t f = flags[c];
    if (f & kNonspacing) continue;
    if (lower && (f & kLowercases)) {
      char32_t buf[3];
      const int n = to_lowercase(c, buf);
      for (int k = 0; k < n; ++k) append_utf8(out, buf[k]);
    } else {
      append_utf8(out, c);
    }
  }
}

void Tokenizer::Impl::wordpiece(std::string_view word, size_t n_chars, std::vector<int32_t>& ids,
                                Scratch& sc) const {
  if (n_chars > static_cast<size_t>(options.max_input_chars_per_word)) {
    ids.push_back(unk_id);
    return;
  }
  if (const int32_t id = model_vocab.find(word); id >= 0) {
    ids.push_back(id);
    return;
  }
  // buf = prefix + word. Word byte k sits at buf[P + k]; the key of a piece starting at byte
  // s > 0 is buf[s, P + end) once the prefix has been copied over buf[s, s + P), bytes that
  // belong to pieces already taken.
  const std::string& prefix = options.continuing_subword_prefix;
  const size_t P = prefix.size();
  const size_t W = word.size();
  const size_t max_key = model_vocab.max_key_bytes();
  std::string& buf = sc.word;
  buf.assign(prefix);
  buf.append(word);
  const size_t first = ids.size();
  size_t start = 0;
  while (start < W) {
    size_t key_begin = P;
    if (start > 0) {
      std::memcpy(buf.data() + start, prefix.data(), P);
      key_begin = start;
    }
    // No key longer than the longest vocabulary entry can match.
    const size_t max_piece = start == 0 ? max_key : (max_key > P ? max_key - P : 0);
    size_t end = W;
    if (end - start > max_piece) {
      end = start + max_piece;
      while (end > start && is_utf8_continuation(word[end])) --end;
    }
    int32_t id = -1;
    while (end > start) {
      id = model_vocab.find(std::string_view(buf.data() + key_begin, P + end - key_begin));
      if (id >= 0) break;
      --end;
      while (end > start && is_utf8_continuation(word[end])) --end;
    }
    if (id < 0) {
      ids.resize(first);
      ids.push_back(unk_id);
      return;
    }
    ids.push_back(id);
    start = end;
  }
}

void Tokenizer::Impl::pretokenize_and_wordpiece(std::string_view s, std::vector<int32_t>& ids,
                                                size_t limit, Scratch& sc) const {
  const uint8_t* flags = char_flag_table();
  size_t word_begin = 0, n_chars = 0;
  size_t i = 0;
  while (i < s.size()) {
    const size_t at = i;
    const char32_t c = next_code_point(s, i);
    const uint8_t f = flags[c];
    if (f & (kWhitespace | kPunctuation)) {
      if (n_chars > 0) wordpiece(s.substr(word_begin, at - word_begin), n_chars, ids, sc);
      n_chars = 0;
      if (f & kPunctuation) wordpiece(s.substr(at, i - at), 1, ids, sc);
      if (ids.size() >= limit) return;  // truncated anyway: the rest cannot change the prefix
    } else {
      if (n_chars == 0) word_begin = at;
      ++n_chars;
    }
  }
  if (n_chars > 0) wordpiece(s.substr(word_begin), n_chars, ids, sc);
}

void Tokenizer::Impl::encode_pieces(std::string_view text, std::vector<int32_t>& ids, size_t limit,
                                    Scratch& sc) const {
  std::vector<Split>& splits = sc.splits;
  splits.clear();
  if (raw_matcher.empty()) {
    if (!text.empty()) splits.push_back({0, text.size(), -1});
  } else {
    raw_matcher.split(text, splits);
  }
  // normalize_into uses sc.chars only; sc.normalized and the split lists stay ours.
  for (const Split& sp : splits) {
    if (ids.size() >= limit) return;
    if (sp.id >= 0) {
      ids.push_back(sp.id);
      continue;
    }
    if (pipeline && normalized_matcher.empty()) {
      pipeline->encode(text.substr(sp.begin, sp.end - sp.begin), sp.begin == 0, ids);
      continue;
    }
    normalize_into(text.substr(sp.begin, sp.end - sp.begin), sc.normalized, sc);
    if (normalized_matcher.empty()) {
      pretokenize_and_wordpiece(sc.normalized, ids, limit, sc);
      continue;
    }
    std::vector<Split>& inner = sc.normalized_splits;
    inner.clear();
    normalized_matcher.split(sc.normalized, inner);
    for (const Split& s2 : inner) {
      if (ids.size() >= limit) return;
      if (s2.id >= 0) {
        ids.push_back(s2.id);
      } else if (pipeline) {
        pipeline->encode_normalized(
            std::string_view(sc.normalized).substr(s2.begin, s2.end - s2.begin),
            sp.begin == 0 && s2.begin == 0, ids);
      } else {
        pretokenize_and_wordpiece(
            std::string_view(sc.normalized).substr(s2.begin, s2.end - s2.begin), ids, limit, sc);
      }
    }
  }
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

std::vector<int32_t> Tokenizer::encode(std::string_view text, int max_length) const {
  SBERT_CHECK(max_length == 0 || max_length >= 2, "[tokenizer] max_length must be 0 (no limit) ",
              "or at least 2 (room for [CLS] and [SEP]), got ", max_length);
  check_utf8(text);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  ids.push_back(impl_->cls_id);
  const size_t limit = max_length > 0 ? static_cast<size_t>(max_length) - 1 : SIZE_MAX;
  Scratch& sc = thread_scratch();
  impl_->encode_pieces(text, ids, limit, sc);
  sc.trim();
  if (max_length > 0 && ids.size() + 1 > static_cast<size_t>(max_length)) {
    ids.resize(static_cast<size_t>(max_length) - 1);
  }
  ids.push_back(impl_->sep_id);
  return ids;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          int max_length, int threads) const {
  SBERT_CHECK(max_length == 0 || max_length >= 2, "[tokenizer] max_length must be 0 (no limit) ",
              "or at least 2 (room for [CLS] and [SEP]), got ", max_length);
  SBERT_CHECK(threads >= 0, "[tokenizer] threads must be >= 0, got ", threads);
  const auto n = static_cast<int64_t>(texts.size());
  std::vector<std::vector<int32_t>> out(texts.size());
  int nt = threads > 0 ? threads : omp_get_max_threads();
  // A thread per ~32 KB of text at most: starting and joining threads costs more than
  // tokenizing a small batch (tens of microseconds, much more on a busy machine).
  size_t bytes = 0;
  for (const std::string& t : texts) bytes += t.size();
  nt = static_cast<int>(std::min<int64_t>(nt, static_cast<int64_t>(1 + bytes / 32768)));
  nt = static_cast<int>(std::min<int64_t>(nt, std::max<int64_t>(n, 1)));
  std::exception_ptr error;
  int64_t error_index = std::numeric_limits<int64_t>::max();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    try {
      out[static_cast<size_t>(i)] = encode(texts[static_cast<size_t>(i)], max_length);
    } catch (...) {
#pragma omp critical(sbert_tokenizer_error)
      {
        if (i < error_index) {  // report the first bad text, whatever the thread order
          error_index = i;
          error = std::current_exception();
        }
      }
    }
  }
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      fail(e.what(), " (text ", error_index, " of the batch)");
    }
  }
  return out;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  check_utf8(text);
  std::vector<int32_t> ids;
  Scratch& sc = thread_scratch();
  impl_->encode_pieces(text, ids, SIZE_MAX, sc);
  sc.trim();
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (const int32_t id : ids) pieces.push_back(impl_->id_to_token[static_cast<size_t>(id)]);
  return pieces;
}

std::string Tokenizer::normalize(std::string_view text) const {
  check_utf8(text);
  std::string out;
  Scratch& sc = thread_scratch();
  impl_->normalize_into(text, out, sc);
  sc.trim();
  return out;
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  const int32_t id = impl_->added_vocab.find(token);
  return id >= 0 ? id : impl_->model_vocab.find(token);
}

const std::string& Tokenizer::id_to_token(int32_t id) const {
  SBERT_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->id_to_token.size(),
              "[tokenizer] token id ", id, " is out of range [0, ", impl_->id_to_token.size(), ")");
  return impl_->id_to_token[static_cast<size_t>(id)];
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_to_token.size()); }
int32_t Tokenizer::cls_id() const { return impl_->cls_id; }
int32_t Tokenizer::sep_id() const { return impl_->sep_id; }
int32_t Tokenizer::pad_id() const { return impl_->pad_id; }
int32_t Tokenizer::unk_id() const { return impl_->unk_id; }
const TokenizerOptions& Tokenizer::options() const { return impl_->options; }

}  // namespace sbert
