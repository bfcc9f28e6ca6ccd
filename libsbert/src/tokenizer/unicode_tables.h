// Character properties exactly as Hugging Face tokenizers' (Rust) BertNormalizer and
// BertPreTokenizer see them: utf8proc's tables corrected by unicode_overrides.inc, which
// gen_unicode_overrides.py derives by probing every code point through the Rust library.
#pragma once

#include <cstdint>

namespace sbert::tok {

enum CharFlag : uint8_t {
  kDrop = 1,         // removed by clean_text: U+0000, U+FFFD, or is_control (Cc Cf Co but \t\n\r)
  kWhitespace = 2,   // Rust char::is_whitespace (White_Space); \t \n \r included
  kPunctuation = 4,  // ASCII punctuation or a P* category (is_bert_punc)
  kChinese = 8,      // the CJK ideograph ranges of is_chinese_char
  kNonspacing = 16,  // category Mn (removed by strip_accents after NFD)
  kDecomposes = 32,  // NFD(c) != c
  kLowercases = 64,  // char::to_lowercase(c) != c
  kCombining = 128,  // canonical combining class != 0
};

// The flags of code point c (< 0x110000; surrogates have none). The table is built on first use
// (thread-safe) and costs 1.1 MB.
uint8_t char_flags(char32_t c);
// The whole table (0x110000 entries), for loops that look up many characters.
const uint8_t* char_flag_table();

// Full canonical decomposition of c into out (at most 4 code points); returns the count (1 and
// out[0] == c when c does not decompose).
int decompose(char32_t c, char32_t* out);

// char::to_lowercase(c) into out (at most 3 code points); returns the count.
int to_lowercase(char32_t c, char32_t* out);

// Canonical combining class, as the Rust NFD sees it.
int combining_class(char32_t c);

// Rust regex \w (for single_word added tokens): alphabetic, marks, Nd, Pc, join controls.
bool is_word_char(char32_t c);

}  // namespace sbert::tok
