#include "tokenizer/unicode_tables.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <memory>

namespace sbert::tok {
namespace {

struct CodePointRange {
  char32_t first;
  char32_t last;
};

struct CodePointMapping {
  char32_t cp;
  int n;
  char32_t out[3];
};

#include "tokenizer/unicode_overrides.inc"

template <size_t N>
bool in_ranges(const CodePointRange (&table)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(table), std::end(table), c,
                             [](char32_t v, const CodePointRange& r) { return v < r.first; });
  return it != std::begin(table) && c <= std::prev(it)->last;
}

template <size_t N>
const CodePointMapping* find_mapping(const CodePointMapping (&table)[N], char32_t c) {
  auto it = std::lower_bound(std::begin(table), std::end(table), c,
                             [](const CodePointMapping& m, char32_t v) { return m.cp < v; });
  return it != std::end(table) && it->cp == c ? it : nullptr;
}

bool is_white_space(char32_t c) {
  switch (c) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_chinese(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

int utf8proc_nfd(char32_t c, char32_t* out) {
  utf8proc_int32_t buf[8];
  int last_boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 8,
                                               UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > 4) {  // cannot happen for canonical decompositions; keep c unchanged
    out[0] = c;
    return 1;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out[i] = static_cast<char32_t>(buf[i]);
  return static_cast<int>(n);
}

// Flags from utf8proc alone (no overrides).
uint8_t base_flags(char32_t c) {
  if (c >= 0xD800 && c <= 0xDFFF) return 0;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
  const int cat = p->category;
  uint8_t f = 0;
  const bool control =
      (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO) &&
      c != '\t' && c != '\n' && c != '\r';
  if (control || c == 0 || c == 0xFFFD) f |= kDrop;
  if (is_white_space(c)) f |= kWhitespace;
  if (is_ascii_punctuation(c) || (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO))
    f |= kPunctuation;
  if (is_chinese(c)) f |= kChinese;
  if (cat == UTF8PROC_CATEGORY_MN) f |= kNonspacing;
  if (p->combining_class != 0) f |= kCombining;
  char32_t buf[4];
  // Only code points with a decomposition or a lowercase mapping in utf8proc's tables (or a
  // Hangul syllable) can change; the override maps are applied afterwards.
  const bool hangul = c >= 0xAC00 && c <= 0xD7A3;
  if ((p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) || hangul) {
    const int n = utf8proc_nfd(c, buf);
    if (n != 1 || buf[0] != c) f |= kDecomposes;
  }
  if (p->lowercase_seqindex != UINT16_MAX &&
      static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))) != c)
    f |= kLowercases;
  return f;
}

struct FlagTable {
  std::unique_ptr<uint8_t[]> flags{new uint8_t[0x110000]};
  FlagTable() {
    uint8_t* t = flags.get();
    for (char32_t c = 0; c < 0x110000; ++c) t[c] = base_flags(c);
    auto flip = [&](const auto& ranges, uint8_t bit) {
      for (const CodePointRange& r : ranges)
        for (char32_t c = r.first; c <= r.last && c < 0x110000; ++c) t[c] ^= bit;
    };
    flip(kControlFlip, kDrop);
    flip(kPunctuationFlip, kPunctuation);
    flip(kNonspacingMarkFlip, kNonspacing);
    for (const CodePointRange& r : kCombiningClassZero)
      for (char32_t c = r.first; c <= r.last && c < 0x110000; ++c) t[c] &= ~kCombining;
    char32_t buf[4];
    for (const CodePointMapping& m : kNfdOverride) {
      if (m.cp >= 0x110000) continue;
      const int n = decompose(m.cp, buf);
      t[m.cp] = (n != 1 || buf[0] != m.cp) ? (t[m.cp] | kDecomposes) : (t[m.cp] & ~kDecomposes);
    }
    for (const CodePointMapping& m : kLowercaseOverride) {
      if (m.cp >= 0x110000) continue;
      const int n = to_lowercase(m.cp, buf);
      t[m.cp] = (n != 1 || buf[0] != m.cp) ? (t[m.cp] | kLowercases) : (t[m.cp] & ~kLowercases);
    }
  }
};

const uint8_t* flag_table() {
  static const FlagTable table;
  return table.flags.get();
}

}  // namespace

uint8_t char_flags(char32_t c) { return c < 0x110000 ? flag_table()[c] : 0; }

const uint8_t* char_flag_table() { return flag_table(); }

int decompose(char32_t c, char32_t* out) {
  if (const CodePointMapping* m = find_mapping(kNfdOverride, c)) {
    std::copy(m->out, m->out + m->n, out);
    return m->n;
  }
  return utf8proc_nfd(c, out);
}

int to_lowercase(char32_t c, char32_t* out) {
  if (const CodePointMapping* m = find_mapping(kLowercaseOverride, c)) {
    std::copy(m->out, m->out + m->n, out);
    return m->n;
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return 1;
}

int combining_class(char32_t c) {
  if (c >= 0x110000 || in_ranges(kCombiningClassZero, c)) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

bool is_word_char(char32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

}  // namespace sbert::tok
