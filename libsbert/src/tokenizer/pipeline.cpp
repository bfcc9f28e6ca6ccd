// Normalizers, pre-tokenizers and the Unigram / BPE models of Hugging Face tokenizers 0.23.3
// (see pipeline.h). Each function names the Rust code it reproduces.
#include "tokenizer/pipeline.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace sbert::tok {
namespace {

uint32_t read_u32le(const char* p) {
  uint32_t v = 0;
  for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(p[k]);
  return v;
}

bool is_space(char32_t c) { return (char_flags(c) & kWhitespace) != 0; }

// darts-clone unit accessors (spm_precompiled's DoubleArray).
bool unit_has_leaf(uint32_t u) { return ((u >> 8) & 1) != 0; }
uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }
uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

// Grapheme_Cluster_Break=Control for unassigned default-ignorable code points (U+E0000..E0FFF),
// which unicode-segmentation (tokenizers' graphemes) has and utf8proc 2.8 has not.
bool forced_break(char32_t c) {
  return c >= 0xE0000 && c <= 0xE0FFF &&
         utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_CN;
}

size_t utf8_len(unsigned char b0) { return b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4; }

}  // namespace

// The first character's UTF-8 bytes as a number (the key of UnigramModel::first_char).
uint32_t first_char_key(std::string_view s) {
  const size_t n = std::min(utf8_len(static_cast<unsigned char>(s[0])), s.size());
  uint32_t k = 0;
  for (size_t i = 0; i < n; ++i) k = (k << 8) | static_cast<unsigned char>(s[i]);
  return k | static_cast<uint32_t>(n) << 29;  // the length too: 0x41 and 0x0041 differ
}

namespace {

}  // namespace

// ---------------------------------------------------------------------------------------------
// Precompiled

CharsMap::CharsMap(std::string_view blob, std::string_view source) : blob_(blob) {
  SBERT_CHECK(blob.size() >= 4, "[tokenizer] ", source, ": precompiled_charsmap is too short (",
              blob.size(), " bytes)");
  const uint32_t trie_bytes = read_u32le(blob.data());
  SBERT_CHECK(trie_bytes / 4 * 4 + 4 <= blob.size() && trie_bytes >= 4, "[tokenizer] ", source,
              ": precompiled_charsmap's trie size ", trie_bytes, " does not fit its ", blob.size(),
              " bytes");
  units_.resize(trie_bytes / 4);
  for (size_t i = 0; i < units_.size(); ++i) units_[i] = read_u32le(blob.data() + 4 + 4 * i);
  pool_.assign(blob.substr(4 + units_.size() * 4));
  SBERT_CHECK(find_invalid_utf8(pool_) == std::string::npos, "[tokenizer] ", source,
              ": precompiled_charsmap's replacement strings are not valid UTF-8");
}

bool CharsMap::transform(std::string_view s, std::string_view& out) const {
  size_t node = unit_offset(units_[0]);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return false;
    node ^= c;
    if (node >= units_.size()) return false;
    const uint32_t unit = units_[node];
    if (unit_label(unit) != c) return false;
    node ^= unit_offset(unit);
    if (node >= units_.size()) return false;
    if (unit_has_leaf(unit)) {
      const size_t at = unit_value(units_[node]);
      if (at > pool_.size()) return false;
      const size_t end = pool_.find('\0', at);
      out = std::string_view(pool_).substr(at, (end == std::string::npos ? pool_.size() : end) - at);
      return true;
    }
  }
  return false;
}

void CharsMap::normalize(std::string_view in, std::string& out) const {
  out.clear();
  out.reserve(in.size());
  utf8proc_int32_t state = 0;
  size_t g_begin = 0, i = 0;
  char32_t prev = 0;
  auto flush = [&](size_t g_end) {
    const std::string_view g = in.substr(g_begin, g_end - g_begin);
    std::string_view rep;
    if (g.size() < 6 && transform(g, rep)) {
      out.append(rep);
      return;
    }
    for (size_t k = 0; k < g.size();) {
      const size_t n = utf8_len(static_cast<unsigned char>(g[k]));
      const std::string_view part = g.substr(k, n);
      if (transform(part, rep)) {
        out.append(rep);
      } else {
        out.append(part);
      }
      k += n;
    }
  };
  while (i < in.size()) {
    const size_t at = i;
    const char32_t c = next_code_point(in, i);
    if (at > 0 && (forced_break(prev) || forced_break(c) ||
                   utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                                    static_cast<utf8proc_int32_t>(c), &state))) {
      flush(at);
      g_begin = at;
    }
    prev = c;
  }
  if (!in.empty()) flush(in.size());
}

// ---------------------------------------------------------------------------------------------
// Normalizers: NormalizedString::replace / strip / prepend on the whole piece.

void Pipeline::normalize(std::string_view text, std::string& out) const {
  std::string cur(text), next;
  for (const NormalizerStep& s : normalizers) {
    next.clear();
    switch (s.kind) {
      case NormalizerStep::kPrecompiled:
        s.charsmap->normalize(cur, next);
        break;
      case NormalizerStep::kReplace:
        if (s.min_repeat > 0) {
          // "<c>{n,}": each run of at least n copies of c becomes content.
          const std::string& c = s.pattern;
          size_t i = 0;
          while (i < cur.size()) {
            size_t run = 0, j = i;
            while (cur.compare(j, c.size(), c) == 0) j += c.size(), ++run;
            if (run >= static_cast<size_t>(s.min_repeat)) {
              next += s.content;
              i = j;
            } else if (run > 0) {
              next.append(cur, i, j - i);
              i = j;
            } else {
              next.push_back(cur[i++]);
            }
          }
        } else {
          size_t i = 0;
          while (true) {
            const size_t hit = cur.find(s.pattern, i);
            if (hit == std::string::npos) break;
            next.append(cur, i, hit - i);
            next += s.content;
            i = hit + s.pattern.size();
          }
          next.append(cur, i, std::string::npos);
        }
        break;
      case NormalizerStep::kStrip: {
        size_t b = 0, e = cur.size();
        if (s.left) {
          while (b < e) {
            size_t k = b;
            if (!is_space(next_code_point(cur, k))) break;
            b = k;
          }
        }
        if (s.right) {
          while (e > b) {
            size_t k = e - 1;
            while (k > b && is_utf8_continuation(cur[k])) --k;
            size_t m = k;
            if (!is_space(next_code_point(cur, m))) break;
            e = k;
          }
        }
        next.assign(cur, b, e - b);
        break;
      }
      case NormalizerStep::kPrepend:
        if (!cur.empty()) next = s.content + cur;
        break;
    }
    cur.swap(next);
  }
  out.swap(cur);
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers

const std::string& byte_level_char(unsigned char b) {
  // bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the others for 256 + n.
  static const auto table = [] {
    std::array<std::string, 256> t;
    int n = 0;
    for (int b2 = 0; b2 < 256; ++b2) {
      const bool keep = (b2 >= 0x21 && b2 <= 0x7E) || (b2 >= 0xA1 && b2 <= 0xAC) || b2 >= 0xAE;
      const char32_t c = keep ? static_cast<char32_t>(b2) : static_cast<char32_t>(256 + n++);
      append_utf8(t[static_cast<size_t>(b2)], c);
    }
    return t;
  }();
  return table[b];
}

namespace {

enum Cls { kL, kN, kS, kO };

Cls classify(char32_t c) {
  if (is_space(c)) return kS;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kL;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kN;
    default:
      return kO;
  }
}

}  // namespace

void byte_level_split(std::string_view s, std::vector<std::string_view>& out) {
  // Classes of every character, with byte offsets.
  std::vector<size_t> at;
  std::vector<Cls> cls;
  for (size_t i = 0; i < s.size();) {
    at.push_back(i);
    cls.push_back(classify(next_code_point(s, i)));
  }
  const size_t n = cls.size();
  at.push_back(s.size());
  auto run_end = [&](size_t k, Cls c) {
    while (k < n && cls[k] == c) ++k;
    return k;
  };
  size_t k = 0;
  while (k < n) {
    size_t end = k;
    const std::string_view rest = s.substr(at[k]);
    // 's 't 're 've 'm 'll 'd (case-sensitive)
    if (rest[0] == '\'') {
      for (const char* suf : {"s", "t", "re", "ve", "m", "ll", "d"}) {
        const size_t len = std::strlen(suf);
        if (rest.size() > len && rest.compare(1, len, suf) == 0) {
          end = k + 1 + len;  // ASCII: one character per byte
          break;
        }
      }
    }
    if (end == k && rest[0] == ' ' && k + 1 < n && cls[k + 1] != kS) {
      end = run_end(k + 1, cls[k + 1]);  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+"
    } else if (end == k && cls[k] != kS) {
      end = run_end(k, cls[k]);
    } else if (end == k) {
      // "\s+(?!\S)" leaves the last space of a run for the word after it; else "\s+".
      const size_t e = run_end(k, kS);
      end = (e == n || e - k == 1) ? e : e - 1;
    }
    out.push_back(s.substr(at[k], at[end] - at[k]));
    k = end;
  }
}

void Pipeline::pre_tokenize(std::string_view normalized, bool first,
                            std::vector<std::string>& words) const {
  struct Word {
    std::string s;
    bool at_start;
  };
  std::vector<Word> cur{{std::string(normalized), first}}, next;
  std::vector<std::string_view> parts;
  for (const PreTokenizerStep& p : pre_tokenizers) {
    next.clear();
    for (Word& w : cur) {
      switch (p.kind) {
        case PreTokenizerStep::kWhitespaceSplit: {
          size_t i = 0, begin = 0;
          bool in_word = false;
          while (i < w.s.size()) {
            const size_t c_at = i;
            const bool space = is_space(next_code_point(w.s, i));
            if (space && in_word) next.push_back({w.s.substr(begin, c_at - begin), w.at_start && begin == 0});
            if (!space && !in_word) begin = c_at;
            in_word = !space;
          }
          if (in_word) next.push_back({w.s.substr(begin), w.at_start && begin == 0});
          break;
        }
        case PreTokenizerStep::kMetaspace: {
          std::string m;
          for (const char ch : w.s) {
            if (ch == ' ') {
              m += p.replacement;
            } else {
              m.push_back(ch);
            }
          }
          const bool starts = m.compare(0, p.replacement.size(), p.replacement) == 0;
          if (!m.empty() && !starts &&
              (p.prepend == PreTokenizerStep::kAlways ||
               (p.prepend == PreTokenizerStep::kFirst && w.at_start)))
            m = p.replacement + m;
          if (!p.split) {
            if (!m.empty()) next.push_back({std::move(m), w.at_start});
            break;
          }
          // MergedWithNext: every replacement starts a new word.
          size_t begin = 0;
          for (size_t i = 1; i <= m.size(); ++i) {
            if (i == m.size() || m.compare(i, p.replacement.size(), p.replacement) == 0) {
              if (i > begin) next.push_back({m.substr(begin, i - begin), w.at_start && begin == 0});
              begin = i;
            }
          }
          break;
        }
        case PreTokenizerStep::kByteLevel: {
          std::string b = w.s;
          if (p.add_prefix_space && !b.empty() && b[0] != ' ') b = " " + b;
          parts.clear();
          if (p.use_regex) {
            byte_level_split(b, parts);
          } else if (!b.empty()) {
            parts.push_back(b);
          }
          for (const std::string_view part : parts) {
            std::string mapped;
            for (const char ch : part) mapped += byte_level_char(static_cast<unsigned char>(ch));
            next.push_back({std::move(mapped), false});
          }
          break;
        }
      }
    }
    cur.swap(next);
  }
  for (Word& w : cur)
    if (!w.s.empty()) words.push_back(std::move(w.s));
}

// ---------------------------------------------------------------------------------------------
// Unigram (tokenizers' Unigram::encode_optimized + tokenize)

void UnigramModel::build() {
  size_t bytes = 0;
  for (const auto& p : pieces) bytes += p.size();
  index = VocabMap();
  index.reserve(pieces.size(), bytes);
  max_piece_bytes = 0;
  min_score = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < pieces.size(); ++i) {
    index.insert(pieces[i], static_cast<int32_t>(i));
    max_piece_bytes = std::max(max_piece_bytes, pieces[i].size());
    min_score = std::min(min_score, scores[i]);
  }
  rebuild_sorted();
}

void UnigramModel::rebuild_sorted() {
  sorted.clear();
  sorted.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i)
    sorted.push_back({pieces[i], static_cast<int32_t>(i)});
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Entry& a, const Entry& b) { return a.piece < b.piece; });
  // One entry per piece, with the id that wins in `index` (the last).
  std::vector<Entry> unique;
  unique.reserve(sorted.size());
  for (const Entry& e : sorted) {
    if (!unique.empty() && unique.back().piece == e.piece) {
      unique.back().id = e.id;
    } else {
      unique.push_back(e);
    }
  }
  sorted = std::move(unique);
  first_char.clear();
  for (uint32_t i = 0; i < sorted.size(); ++i) {
    const std::string_view p = sorted[i].piece;
    if (p.empty()) continue;
    const uint32_t key = first_char_key(p);
    if (first_char.empty() || first_char.back().first != key) {
      first_char.push_back({key, {i, i + 1}});
    } else {
      first_char.back().second.second = i + 1;
    }
  }
  // Keys grow with the byte order of the pieces (UTF-8 bytes as a big-endian number), except
  // across lengths; sort them for binary search.
  std::sort(first_char.begin(), first_char.end());
}

void Pipeline::unigram_word(std::string_view s, std::vector<int32_t>& ids) const {
  const UnigramModel& m = unigram;
  constexpr double kUnkPenalty = 10.0;
  const double unk_score = m.min_score - kUnkPenalty;
  struct Node {
    int32_t id = -1;
    double score = 0;
    size_t starts_at = SIZE_MAX;
  };
  const size_t size = s.size();
  if (size == 0) return;
  std::vector<Node> best(size + 1);
  size_t start = 0;
  while (start < size) {
    const double here = best[start].score;
    bool has_single = false;
    const size_t mblen = utf8_len(static_cast<unsigned char>(s[start]));
    const size_t limit = std::min(size - start, m.max_piece_bytes);
    // Every vocabulary piece that is a prefix of s[start..], shortest first (the trie order).
    auto lo = m.sorted.begin(), hi = m.sorted.begin();
    {
      const uint32_t k = first_char_key(s.substr(start, mblen));
      auto fc = std::lower_bound(m.first_char.begin(), m.first_char.end(), k,
                                 [](const auto& e, uint32_t v) { return e.first < v; });
      if (fc != m.first_char.end() && fc->first == k) {
        lo = m.sorted.begin() + fc->second.first;
        hi = m.sorted.begin() + fc->second.second;
      }
    }
    size_t shared = mblen;  // every piece in [lo, hi) starts with s[start, start + shared)
    for (size_t len = mblen; len <= limit;) {
      if (len > shared) {
        // Narrow to the pieces that also hold s[start + shared, start + len) next.
        const std::string_view tail = s.substr(start + shared, len - shared);
        lo = std::lower_bound(lo, hi, tail, [&](const UnigramModel::Entry& e, std::string_view t) {
          return e.piece.substr(shared) < t;
        });
        hi = std::partition_point(lo, hi, [&](const UnigramModel::Entry& e) {
          return e.piece.substr(shared).compare(0, tail.size(), tail) <= 0;
        });
        shared = len;
      }
      if (lo == hi) break;  // no piece starts with s[start, start + len)
      const bool exact = lo->piece.size() == len;
      const int32_t id = exact ? lo->id : -1;
      if (id >= 0) {
        Node& t = best[start + len];
        const double cand = m.scores[static_cast<size_t>(id)] + here;
        if (t.starts_at == SIZE_MAX || cand > t.score) {
          t.score = cand;
          t.starts_at = start;
          t.id = id;
        }
        if (len == mblen) has_single = true;
      }
      if (hi - lo == (exact ? 1 : 0) || start + len >= size) break;
      len += utf8_len(static_cast<unsigned char>(s[start + len]));
    }
    if (!has_single) {
      SBERT_CHECK(m.unk_id >= 0, "[tokenizer] Unigram: no piece for '",
                  s.substr(start, mblen), "' and no unk_id");
      Node& t = best[start + mblen];
      const double cand = unk_score + here;
      if (t.starts_at == SIZE_MAX || cand > t.score) {
        t.score = cand;
        t.starts_at = start;
        t.id = m.unk_id;
      }
    }
    start += mblen;
  }
  // Back-track; with fuse_unk, consecutive unknown pieces become one string.
  std::vector<std::pair<size_t, size_t>> spans;  // [begin, end), reversed
  size_t end = size;
  size_t unk_end = SIZE_MAX;
  while (end > 0) {
    const Node& node = best[end];
    const size_t b = node.starts_at;
    if (m.fuse_unk && m.unk_id >= 0 && node.id == m.unk_id) {
      if (unk_end == SIZE_MAX) unk_end = end;
    } else {
      if (unk_end != SIZE_MAX) spans.emplace_back(end, unk_end), unk_end = SIZE_MAX;
      spans.emplace_back(b, end);
    }
    end = b;
  }
  if (unk_end != SIZE_MAX) spans.emplace_back(0, unk_end);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    const std::string_view piece = s.substr(it->first, it->second - it->first);
    const int32_t id = m.index.find(piece);
    if (id >= 0) {
      ids.push_back(id);
      continue;
    }
    if (m.byte_fallback) {
      std::vector<int32_t> bytes;
      for (const char ch : piece) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(ch));
        const int32_t b = m.index.find(name);
        if (b < 0) break;
        bytes.push_back(b);
      }
      if (bytes.size() == piece.size()) {
        ids.insert(ids.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    ids.push_back(m.unk_id);
  }
}

// ---------------------------------------------------------------------------------------------
// BPE (tokenizers' BPE::merge_word + Word::merge_all, without dropout)

const BpeModel::Merge* BpeModel::find_merge(int32_t a, int32_t b) const {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) |
                       static_cast<uint32_t>(b);
  auto it = std::lower_bound(merge_table.begin(), merge_table.end(), key,
                             [](const auto& e, uint64_t k) { return e.first < k; });
  return it != merge_table.end() && it->first == key ? &it->second : nullptr;
}

void Pipeline::bpe_word(std::string_view w, std::vector<int32_t>& ids) const {
  const BpeModel& m = bpe;
  if (m.ignore_merges) {
    if (const int32_t id = m.vocab.find(w); id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  std::vector<int32_t> sym;
  const int32_t unk = m.unk_token.empty() ? -1 : m.vocab.find(m.unk_token);
  bool last_unk = false;
  std::string key;
  for (size_t i = 0; i < w.size();) {
    const size_t n = utf8_len(static_cast<unsigned char>(w[i]));
    key.clear();
    if (i > 0) key += m.prefix;
    key.append(w.substr(i, n));
    if (i + n == w.size()) key += m.suffix;
    const int32_t id = m.vocab.find(key);
    if (id >= 0) {
      sym.push_back(id);
      last_unk = false;
    } else {
      bool done = false;
      if (m.byte_fallback) {
        std::vector<int32_t> bytes;
        for (size_t k = i; k < i + n; ++k) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(w[k]));
          const int32_t b = m.vocab.find(name);
          if (b < 0) break;
          bytes.push_back(b);
        }
        if (bytes.size() == n) {
          sym.insert(sym.end(), bytes.begin(), bytes.end());
          done = true;
          last_unk = false;
        }
      }
      if (!done && unk >= 0) {
        if (!(m.fuse_unk && last_unk)) sym.push_back(unk);
        last_unk = true;
      }
    }
    i += n;
  }
  // Lowest rank first, leftmost among equal ranks (the heap order of Word::merge_all).
  while (sym.size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    size_t best_at = 0;
    int32_t best_id = -1;
    for (size_t k = 0; k + 1 < sym.size(); ++k) {
      const BpeModel::Merge* mg = m.find_merge(sym[k], sym[k + 1]);
      if (mg && mg->rank < best_rank) best_rank = mg->rank, best_at = k, best_id = mg->id;
    }
    if (best_id < 0) break;
    sym[best_at] = best_id;
    sym.erase(sym.begin() + static_cast<ptrdiff_t>(best_at) + 1);
  }
  ids.insert(ids.end(), sym.begin(), sym.end());
}

void Pipeline::encode(std::string_view text, bool first, std::vector<int32_t>& ids) const {
  std::string normalized;
  normalize(text, normalized);
  encode_normalized(normalized, first, ids);
}

void Pipeline::encode_normalized(std::string_view normalized, bool first,
                                 std::vector<int32_t>& ids) const {
  std::vector<std::string> words;
  pre_tokenize(normalized, first, words);
  for (const std::string& w : words) {
    if (model == kUnigram) {
      unigram_word(w, ids);
    } else {
      bpe_word(w, ids);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// sentencepiece ModelProto (protobuf wire format; only the fields transformers reads)

namespace {

struct Wire {
  std::string_view d;
  size_t i = 0;
  std::string_view source;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      SBERT_CHECK(i < d.size(), "[tokenizer] ", source, ": truncated protobuf");
      const auto b = static_cast<unsigned char>(d[i++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("[tokenizer] ", source, ": bad protobuf varint");
  }
  std::string_view bytes(size_t n) {
    SBERT_CHECK(n <= d.size() - i, "[tokenizer] ", source, ": truncated protobuf");
    const std::string_view v = d.substr(i, n);
    i += n;
    return v;
  }
  // Reads a field; calls f(field, wire_type, varint_value, bytes).
  template <typename F>
  void each(F f) {
    while (i < d.size()) {
      const uint64_t tag = varint();
      const int type = static_cast<int>(tag & 7);
      const auto field = static_cast<int>(tag >> 3);
      switch (type) {
        case 0:
          f(field, type, varint(), std::string_view());
          break;
        case 1:
          f(field, type, 0, bytes(8));
          break;
        case 2: {
          const uint64_t n = varint();
          f(field, type, 0, bytes(static_cast<size_t>(n)));
          break;
        }
        case 5:
          f(field, type, 0, bytes(4));
          break;
        default:
          fail("[tokenizer] ", source, ": unsupported protobuf wire type ", type);
      }
    }
  }
};

}  // namespace

SpmModel read_spm_model(const std::string& data, std::string_view source) {
  SpmModel m;
  Wire top{data, 0, source};
  top.each([&](int field, int type, uint64_t, std::string_view b) {
    if (field == 1 && type == 2) {
      SpmModel::Piece p;
      Wire w{b, 0, source};
      w.each([&](int f2, int t2, uint64_t v, std::string_view b2) {
        if (f2 == 1 && t2 == 2) p.piece.assign(b2);
        if (f2 == 2 && t2 == 5) {
          const uint32_t u = read_u32le(b2.data());
          std::memcpy(&p.score, &u, 4);
        }
        if (f2 == 3 && t2 == 0) p.type = static_cast<int>(v);
      });
      m.pieces.push_back(std::move(p));
    } else if (field == 2 && type == 2) {
      Wire w{b, 0, source};
      w.each([&](int f2, int t2, uint64_t v, std::string_view) {
        if (f2 == 3 && t2 == 0) m.model_type = static_cast<int>(v);
        if (f2 == 35 && t2 == 0) m.byte_fallback = v != 0;
        if (f2 == 40 && t2 == 0) m.unk_id = static_cast<int>(static_cast<int32_t>(v));
      });
    } else if (field == 3 && type == 2) {
      Wire w{b, 0, source};
      w.each([&](int f2, int t2, uint64_t, std::string_view b2) {
        if (f2 == 2 && t2 == 2) m.precompiled_charsmap.assign(b2);
      });
    }
  });
  SBERT_CHECK(m.pieces.size() >= 3, "[tokenizer] ", source, ": ", m.pieces.size(),
              " pieces; a SentencePiece model has at least <unk>, <s> and </s>");
  for (const auto& p : m.pieces)
    SBERT_CHECK(find_invalid_utf8(p.piece) == std::string::npos, "[tokenizer] ", source,
                ": a piece is not valid UTF-8");
  return m;
}

}  // namespace sbert::tok
