// sbert::Tokenizer on a small hand-made vocabulary: every expected id list below was worked out
// by hand from the rules of Hugging Face tokenizers' BertNormalizer, BertPreTokenizer and
// WordPiece (and checked against tokenizers 0.23.3 when written).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/tokenizer.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using sbert::Tokenizer;
using sbert::TokenizerOptions;
using Ids = std::vector<int32_t>;

namespace {

using sbert::test::error_of;

// The vocabulary, one token per line; ids are line numbers.
const char* const kVocab[] = {"[PAD]",
                              "[UNK]",
                              "[CLS]",
                              "[SEP]",
                              "[MASK]",  // 0-4
                              "hello",
                              "world",
                              ",",
                              "!",
                              ".",  // 5-9
                              "un",
                              "##aff",
                              "##able",
                              "cafe",
                              "café",  // 10-14
                              "\xE4\xB8\xAD",
                              "\xE5\x9B\xBD",
                              "a",
                              "##a",
                              "Hello",  // 15-19: 中 国
                              "[",
                              "]",
                              "cl",
                              "##s",
                              "i",  // 20-24
                              "b",
                              "##b",
                              "x",
                              "##\xCC\x87",
                              "##ll",  // 25-29: ##U+0307
                              "e",
                              "\xE1\x99\xAD",
                              "##\xE1\x99\xAD",
                              "##o",
                              "he"};  // 30-34: U+166D

enum : int32_t {
  PAD,
  UNK,
  CLS,
  SEP,
  MASK,
  HELLO,
  WORLD,
  COMMA,
  BANG,
  DOT,
  UN,
  AFF,
  ABLE,
  CAFE,
  CAFE_ACCENT,
  ZHONG,
  GUO,
  A,
  A_CONT,
  HELLO_CASED,
  LBRACKET,
  RBRACKET,
  CL,
  S_CONT,
  I,
  B,
  B_CONT,
  X,
  DOT_ABOVE_CONT,
  LL_CONT,
  E,
  CHI,
  CHI_CONT,
  O_CONT,
  HE
};

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("sbert_tok_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

using sbert::test::put;

std::string vocab_text() {
  std::string s;
  for (const char* t : kVocab) s += std::string(t) + "\n";
  return s;
}

Tokenizer vocab_tokenizer(const TokenizerOptions& o = {}) {
  static TempDir dir;
  static const bool written = (put(dir / "vocab.txt", vocab_text()), true);
  (void)written;
  return Tokenizer::from_vocab_file(dir / "vocab.txt", o);
}

std::string vocab_json() {
  std::string s = "{";
  for (size_t i = 0; i < std::size(kVocab); ++i) {
    std::string t = kVocab[i];
    s += (i ? ", \"" : "\"") + t + "\": " + std::to_string(i);
  }
  return s + "}";
}

// A tokenizer.json equivalent to vocab_tokenizer(); `normalizer`, `pre_tokenizer`, `extra`
// replace parts of it.
std::string tokenizer_json(const std::string& normalizer =
                               R"({"type": "BertNormalizer", "clean_text": true,
                                   "handle_chinese_chars": true, "strip_accents": null,
                                   "lowercase": true})",
                           const std::string& pre_tokenizer = R"({"type": "BertPreTokenizer"})",
                           const std::string& added_tokens = "",
                           const std::string& model_type = "WordPiece") {
  std::string added = R"([
      {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 4, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})";
  added += added_tokens + "]";
  return R"({"version": "1.0", "truncation": null, "padding": null, "added_tokens": )" + added +
         R"(, "normalizer": )" + normalizer + R"(, "pre_tokenizer": )" + pre_tokenizer +
         R"(, "post_processor": {"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                          {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
               "pair": [],
               "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                                  "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
             "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
             "model": {"type": ")" +
         model_type + R"(", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                       "max_input_chars_per_word": 100, "vocab": )" +
         vocab_json() + "}}";
}

Ids with_specials(std::initializer_list<int32_t> pieces) {
  Ids out{CLS};
  for (const int32_t id : pieces) out.push_back(id);
  out.push_back(SEP);
  return out;
}

}  // namespace

TEST_CASE("tokenizer splits on whitespace and isolates punctuation", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  CHECK(t.encode("hello world") == with_specials({HELLO, WORLD}));
  CHECK(t.encode("  hello \t\n world\r\n") == with_specials({HELLO, WORLD}));
  CHECK(t.encode("hello,world!") == with_specials({HELLO, COMMA, WORLD, BANG}));
  CHECK(t.encode("hello...") == with_specials({HELLO, DOT, DOT, DOT}));
  CHECK(t.encode("") == Ids{CLS, SEP});
  CHECK(t.encode("   \t ") == Ids{CLS, SEP});
  CHECK(t.tokenize("hello, world!") == std::vector<std::string>{"hello", ",", "world", "!"});
}

TEST_CASE("tokenizer WordPiece: longest match first, ## continuations, [UNK]", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  CHECK(t.encode("unaffable") == with_specials({UN, AFF, ABLE}));
  CHECK(t.tokenize("unaffable") == std::vector<std::string>{"un", "##aff", "##able"});
  CHECK(t.encode("aaa") == with_specials({A, A_CONT, A_CONT}));
  // Any position that cannot be matched makes the whole word [UNK], not just the rest.
  CHECK(t.encode("unaffz") == with_specials({UNK}));
  CHECK(t.encode("zzz hello") == with_specials({UNK, HELLO}));
  CHECK(t.encode("hello") == with_specials({HELLO}));     // whole word in the vocabulary
  CHECK(t.encode("hellohello") == with_specials({UNK}));  // no "##hello"
}

TEST_CASE("tokenizer max_input_chars_per_word counts characters", "[tokenizer]") {
  TokenizerOptions o;
  o.max_input_chars_per_word = 5;
  const Tokenizer t = vocab_tokenizer(o);
  CHECK(t.encode("aaaaa") == with_specials({A, A_CONT, A_CONT, A_CONT, A_CONT}));
  CHECK(t.encode("aaaaaa") == with_specials({UNK}));
  CHECK(t.encode("aaaaaa b") == with_specials({UNK, B}));
  // Default 100: a word of 100 characters is tokenized, 101 is [UNK].
  const Tokenizer d = vocab_tokenizer();
  CHECK(d.encode(std::string(100, 'a')).size() == 102);
  CHECK(d.encode(std::string(101, 'a')) == with_specials({UNK}));
}

TEST_CASE("tokenizer lowercase and strip_accents options", "[tokenizer]") {
  SECTION("uncased: lowercase, accents stripped (strip_accents unset follows lowercase)") {
    const Tokenizer t = vocab_tokenizer();
    CHECK(t.encode("Café HELLO") == with_specials({CAFE, HELLO}));
    CHECK(t.encode("cafe\xCC\x81") == with_specials({CAFE}));  // e + U+0301 (NFD input)
    CHECK(t.normalize("Héllo\tWörld") == "hello world");
  }
  SECTION("lowercase without stripping accents") {
    TokenizerOptions o;
    o.strip_accents = 0;
    const Tokenizer t = vocab_tokenizer(o);
    CHECK(t.encode("Café") == with_specials({CAFE_ACCENT}));
    CHECK(t.normalize("Café") == "café");
  }
  SECTION("cased: nothing lowercased, accents kept") {
    TokenizerOptions o;
    o.lowercase = false;
    const Tokenizer t = vocab_tokenizer(o);
    CHECK(t.encode("Hello hello HELLO") == with_specials({HELLO_CASED, HELLO, UNK}));
    CHECK(t.normalize("Café") == "Café");
  }
  SECTION("cased with strip_accents forced on") {
    TokenizerOptions o;
    o.lowercase = false;
    o.strip_accents = 1;
    CHECK(vocab_tokenizer(o).normalize("Café") == "Cafe");
  }
}

TEST_CASE("tokenizer lowercases with Rust's full mapping", "[tokenizer]") {
  // U+0130 (I with dot above) lowercases to two characters, i + U+0307, in Rust (utf8proc's
  // simple mapping gives i). With accents stripped the dot goes first (NFD, then Mn removed).
  TokenizerOptions o;
  o.strip_accents = 0;
  const Tokenizer keep = vocab_tokenizer(o);
  CHECK(keep.normalize("\xC4\xB0") == "i\xCC\x87");
  CHECK(keep.encode("\xC4\xB0") == with_specials({I, DOT_ABOVE_CONT}));
  const Tokenizer strip = vocab_tokenizer();
  CHECK(strip.normalize("\xC4\xB0") == "i");
  CHECK(strip.encode("\xC4\xB0") == with_specials({I}));
  // Final sigma is not context-sensitive per character: every capital sigma becomes σ.
  CHECK(keep.normalize("\xCE\xA3\xCE\xA3") == "\xCF\x83\xCF\x83");
}

TEST_CASE("tokenizer puts spaces around CJK ideographs", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  CHECK(t.encode("\xE4\xB8\xAD\xE5\x9B\xBD") == with_specials({ZHONG, GUO}));  // 中国
  CHECK(t.normalize("a\xE4\xB8\xAD") == "a \xE4\xB8\xAD ");
  CHECK(t.encode("a\xE4\xB8\xAD"
                 "b") == with_specials({A, ZHONG, B}));
  TokenizerOptions o;
  o.handle_chinese_chars = false;
  // One word 中国: "中" then "##国", which the vocabulary lacks: [UNK].
  CHECK(vocab_tokenizer(o).encode("\xE4\xB8\xAD\xE5\x9B\xBD") == with_specials({UNK}));
}

TEST_CASE("tokenizer clean_text drops control and format characters", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  // U+200B zero width space and U+00AD soft hyphen are Cf, \x01 and \x7f are Cc: dropped.
  CHECK(t.encode("hel\xE2\x80\x8Blo") == with_specials({HELLO}));
  CHECK(t.encode("he\x01l\x7flo\xC2\xAD") == with_specials({HELLO}));
  CHECK(t.encode("hello\xEF\xBF\xBDworld") == with_specials({UNK}));  // U+FFFD dropped: one word
  CHECK(t.normalize(std::string("a\0b", 3)) == "ab");
  // \x0b, \x0c and U+0085 are Cc, so dropped, although they are whitespace.
  CHECK(t.normalize("a\x0b"
                    "b\x0c"
                    "c\xC2\x85"
                    "d") == "abcd");
  // Unicode spaces become ' ': U+00A0, U+2003, U+3000, U+2028.
  CHECK(t.encode("hello\xC2\xA0world\xE2\x80\x83hello\xE3\x80\x80world\xE2\x80\xA8"
                 "a") == with_specials({HELLO, WORLD, HELLO, WORLD, A}));
  // Private use (Co) dropped; an unassigned code point (Cn, U+0378) is kept.
  CHECK(t.normalize("a\xEE\x80\x80"
                    "b") == "ab");
  CHECK(t.normalize("a\xCD\xB8"
                    "b") ==
        "a\xCD\xB8"
        "b");
  TokenizerOptions o;
  o.clean_text = false;
  const Tokenizer raw = vocab_tokenizer(o);
  CHECK(raw.normalize("a\x01"
                      "b") ==
        "a\x01"
        "b");
}

TEST_CASE("tokenizer follows Rust's older Unicode tables where utf8proc differs", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  // U+166D CANADIAN SYLLABICS CHI SIGN: So since Unicode 12, Po in the Rust tables, so it is
  // isolated as punctuation.
  CHECK(t.encode("a\xE1\x99\xAD"
                 "a") == with_specials({A, CHI, A}));
  // U+0890 ARABIC POUND MARK ABOVE (Cf, Unicode 14): unassigned for Rust, so kept.
  CHECK(t.normalize("a\xE0\xA2\x90"
                    "b") ==
        "a\xE0\xA2\x90"
        "b");
  // U+1734 HANUNOO SIGN PAMUDPOD: Mn in the Rust tables (Mc in Unicode 15), so stripped.
  CHECK(t.normalize("a\xE1\x9C\xB4") == "a");
  // U+11938 DIVES AKURU VOWEL SIGN O: no decomposition in the Rust tables (Unicode 13 added
  // one), so it stays whole.
  CHECK(t.normalize("\xF0\x91\xA4\xB8") == "\xF0\x91\xA4\xB8");
}

TEST_CASE("tokenizer matches special tokens written in the text", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  CHECK(t.encode("hello [SEP] world[MASK]") == with_specials({HELLO, SEP, WORLD, MASK}));
  CHECK(t.encode("a[CLS]b") == with_specials({A, CLS, B}));
  CHECK(t.encode("[UNK][PAD]") == with_specials({UNK, PAD}));
  // Special tokens are matched before normalization, so lowercase forms are plain text.
  CHECK(t.encode("[cls]") == with_specials({LBRACKET, CL, S_CONT, RBRACKET}));
  CHECK(t.encode("[CLS") == with_specials({LBRACKET, CL, S_CONT}));
  const Tokenizer j = [] {
    TempDir dir;
    put(dir / "tokenizer.json", tokenizer_json());
    return Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  }();
  CHECK(j.encode("hello [SEP] world[MASK]") == with_specials({HELLO, SEP, WORLD, MASK}));
}

TEST_CASE("tokenizer added tokens: normalized, lstrip, rstrip, single_word", "[tokenizer]") {
  TempDir dir;
  // "x" matched on the normalized text (so "X" too); "b" with lstrip/rstrip taking the spaces
  // around it; "e" only as a whole word.
  put(dir / "tokenizer.json", tokenizer_json(R"({"type": "BertNormalizer", "clean_text": true,
                          "handle_chinese_chars": true, "strip_accents": null,
                          "lowercase": true})",
                                             R"({"type": "BertPreTokenizer"})",
                                             R"(,
      {"id": 27, "content": "x", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
      {"id": 25, "content": "b", "single_word": false, "lstrip": true, "rstrip": true, "normalized": false, "special": false},
      {"id": 30, "content": "e", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false})"));
  const Tokenizer t = Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  CHECK(t.encode("aXa") == with_specials({A, X, A}));
  CHECK(t.encode("a  b  a") == with_specials({A, B, A}));
  CHECK(t.encode("e he") == with_specials({E, HE}));
  CHECK(t.encode("hello e") == with_specials({HELLO, E}));
  CHECK(t.token_to_id("x") == X);
}

TEST_CASE("tokenizer truncation keeps the first max_length - 2 pieces", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  const std::string text = "hello world hello unaffable";
  CHECK(t.encode(text) == with_specials({HELLO, WORLD, HELLO, UN, AFF, ABLE}));
  CHECK(t.encode(text, 0) == with_specials({HELLO, WORLD, HELLO, UN, AFF, ABLE}));
  CHECK(t.encode(text, 5) == with_specials({HELLO, WORLD, HELLO}));
  CHECK(t.encode(text, 6) == with_specials({HELLO, WORLD, HELLO, UN}));  // inside a word
  CHECK(t.encode(text, 8) == with_specials({HELLO, WORLD, HELLO, UN, AFF, ABLE}));
  CHECK(t.encode(text, 100) == with_specials({HELLO, WORLD, HELLO, UN, AFF, ABLE}));
  CHECK(t.encode(text, 2) == Ids{CLS, SEP});
  CHECK_THROWS_WITH(t.encode(text, 1), Catch::Contains("max_length"));
  CHECK_THROWS_WITH(t.encode(text, -3), Catch::Contains("max_length"));
}

TEST_CASE("tokenizer rejects invalid UTF-8 with the byte offset", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  CHECK(error_of([&] {
          t.encode(
              "ab\xff"
              "cd");
        }) == "[tokenizer] text is not valid UTF-8 at byte 2");
  CHECK(error_of([&] { t.encode("\xC0\x80"); }) ==
        "[tokenizer] text is not valid UTF-8 at byte 0");  // overlong NUL
  CHECK(error_of([&] { t.encode("abc\xED\xA0\x80"); }) ==
        "[tokenizer] text is not valid UTF-8 at byte 3");  // surrogate
  CHECK(error_of([&] { t.encode("hello \xE4\xB8"); }) ==
        "[tokenizer] text is not valid UTF-8 at byte 6");  // truncated
  CHECK(error_of([&] { t.encode("\xF4\x90\x80\x80"); }) ==
        "[tokenizer] text is not valid UTF-8 at byte 0");  // above U+10FFFF
  CHECK_THROWS_AS(t.tokenize("\x80"), sbert::Error);
  CHECK_THROWS_AS(t.normalize("\x80"), sbert::Error);
  CHECK_NOTHROW(t.encode("\xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"));  // U+1F600, U+10FFFF
}

TEST_CASE("tokenizer encode_batch keeps input order on several threads", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  std::vector<std::string> texts;
  for (int i = 0; i < 500; ++i)
    texts.push_back(std::string(static_cast<size_t>(i % 7), 'a') + " hello" +
                    (i % 3 ? " unaffable" : ""));
  for (const int threads : {0, 1, 3}) {
    const auto batch = t.encode_batch(texts, 6, threads);
    REQUIRE(batch.size() == texts.size());
    for (size_t i = 0; i < texts.size(); ++i) CHECK(batch[i] == t.encode(texts[i], 6));
  }
  CHECK(t.encode_batch({}).empty());
  texts[321] = "bad \xff";
  CHECK_THROWS_WITH(t.encode_batch(texts, 0, 2),
                    Catch::Contains("at byte 4") && Catch::Contains("text 321"));
}

TEST_CASE("tokenizer vocabulary access", "[tokenizer]") {
  const Tokenizer t = vocab_tokenizer();
  CHECK(t.vocab_size() == static_cast<int32_t>(std::size(kVocab)));
  CHECK(t.cls_id() == CLS);
  CHECK(t.sep_id() == SEP);
  CHECK(t.pad_id() == PAD);
  CHECK(t.unk_id() == UNK);
  CHECK(t.token_to_id("##aff") == AFF);
  CHECK(t.token_to_id("nope") == -1);
  CHECK(t.id_to_token(ABLE) == "##able");
  CHECK_THROWS_AS(t.id_to_token(-1), sbert::Error);
  CHECK_THROWS_AS(t.id_to_token(t.vocab_size()), sbert::Error);
  const Tokenizer copy = t;  // copies share the vocabulary
  CHECK(copy.encode("unaffable") == t.encode("unaffable"));
}

TEST_CASE("tokenizer vocab.txt: line endings, trailing spaces, repeated tokens", "[tokenizer]") {
  TempDir dir;
  // CRLF and trailing whitespace are trimmed (tokenizers' WordPiece::read_file); a repeated
  // token keeps its last line (vocab_size() still counts lines: ids are line numbers).
  put(dir / "vocab.txt", "[PAD]\r\n[UNK]\r\n[CLS]  \r\n[SEP]\t\n[MASK]\nhello\nworld \nhello\n##s");
  const Tokenizer t = Tokenizer::from_vocab_file(dir / "vocab.txt", {});
  CHECK(t.vocab_size() == 9);
  CHECK(t.encode("hello worlds") == Ids{2, 7, 6, 8, 3});
  CHECK(t.id_to_token(6) == "world");
}

TEST_CASE("tokenizer load() reads tokenizer_config.json next to vocab.txt", "[tokenizer]") {
  TempDir dir;
  put(dir / "vocab.txt", vocab_text());
  // transformers writes this huge integer for "no limit"; it must not break the parser.
  put(dir / "tokenizer_config.json",
      R"({"do_lower_case": false, "strip_accents": null, "tokenize_chinese_chars": true,
            "model_max_length": 1000000000000000019884624838656,
            "cls_token": "[CLS]", "sep_token": {"content": "[SEP]", "lstrip": false},
            "unk_token": "[UNK]", "pad_token": "[PAD]", "mask_token": "[MASK]"})");
  const Tokenizer t = Tokenizer::load(dir.path());
  CHECK_FALSE(t.options().lowercase);
  CHECK(t.options().model_max_length == 0);
  CHECK(t.encode("Hello hello") == with_specials({HELLO_CASED, HELLO}));
  put(dir / "tokenizer_config.json", R"({"model_max_length": 384})");
  CHECK(Tokenizer::load(dir.path()).options().model_max_length == 384);
}

TEST_CASE("tokenizer.json and vocab.txt give the same tokenizer", "[tokenizer]") {
  TempDir dir;
  put(dir / "tokenizer.json", tokenizer_json());
  put(dir / "vocab.txt", "this file is ignored when tokenizer.json exists\n");
  const Tokenizer j = Tokenizer::load(dir.path());
  const Tokenizer v = vocab_tokenizer();
  for (const char* text : {"hello, world!", "Unaffable Café",
                           "a\xE4\xB8\xAD"
                           "b [SEP] aaa zz",
                           "\xC4\xB0 he\x01llo"}) {
    CHECK(j.encode(text) == v.encode(text));
  }
  CHECK(j.vocab_size() == v.vocab_size());
  // BertProcessing and a Sequence of BertPreTokenizer are accepted too.
  std::string s = tokenizer_json("null", R"({"type": "Sequence", "pretokenizers":
                                           [{"type": "BertPreTokenizer"}]})");
  const size_t at = s.find("\"post_processor\"");
  const size_t end = s.find("\"decoder\"");
  s.replace(
      at, end - at,
      R"("post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}, )");
  put(dir / "tokenizer.json", s);
  const Tokenizer b = Tokenizer::load(dir.path());
  CHECK(b.encode("hello Hello") == with_specials({HELLO, HELLO_CASED}));  // null normalizer
  CHECK(b.options().lowercase == false);
}

TEST_CASE("tokenizer save writes files that load back identically", "[tokenizer]") {
  TempDir dir;
  TokenizerOptions o;
  o.strip_accents = 0;
  const Tokenizer t = vocab_tokenizer(o);
  t.save(dir / "out", 256);
  for (const char* f :
       {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"})
    CHECK(fs::is_regular_file(dir / "out" / f));
  int leftovers = 0;
  for (const auto& e : fs::directory_iterator(dir / "out"))
    leftovers += e.path().string().find(".tmp.") != std::string::npos;
  CHECK(leftovers == 0);
  const Tokenizer from_json = Tokenizer::load(dir / "out");
  CHECK(from_json.options().model_max_length == 256);
  CHECK(from_json.options().strip_accents == 0);
  fs::remove(dir / "out" / "tokenizer.json");
  const Tokenizer from_vocab = Tokenizer::load(dir / "out");  // vocab.txt + tokenizer_config
  for (const char* text : {"hello, world!", "Unaffable Café", "\xC4\xB0 [MASK]x"}) {
    CHECK(from_json.encode(text) == t.encode(text));
    CHECK(from_vocab.encode(text) == t.encode(text));
  }
  CHECK(from_vocab.options().strip_accents == 0);
}

TEST_CASE("tokenizer errors name the missing file", "[tokenizer]") {
  TempDir dir;
  const std::string d = dir.path().string();
  CHECK(error_of([&] { Tokenizer::load(dir.path()); }) ==
        "[tokenizer] " + d + ": none of tokenizer.json, vocab.txt, sentencepiece.bpe.model, "
                      "vocab.json + merges.txt found");
  CHECK(error_of([&] { Tokenizer::load(dir / "nope"); }) ==
        "[tokenizer] " + (dir / "nope").string() + ": not a directory");
  CHECK(error_of([&] { Tokenizer::from_vocab_file(dir / "vocab.txt", {}); }) ==
        "[tokenizer] " + (dir / "vocab.txt").string() + ": file not found");
  CHECK(error_of([&] { Tokenizer::from_tokenizer_json(dir / "tokenizer.json"); }) ==
        "[tokenizer] " + (dir / "tokenizer.json").string() + ": file not found");
  put(dir / "vocab.txt", "[PAD]\nhello\n");
  CHECK(error_of([&] { Tokenizer::from_vocab_file(dir / "vocab.txt", {}); }) ==
        "[tokenizer] " + (dir / "vocab.txt").string() +
            ": unk_token '[UNK]' is not in the vocabulary");
}

TEST_CASE("tokenizer errors name the file and field of a bad tokenizer.json", "[tokenizer]") {
  TempDir dir;
  const fs::path f = dir / "tokenizer.json";
  const std::string name = f.string();
  auto load_error = [&](const std::string& json) {
    put(f, json);
    return error_of([&] { Tokenizer::from_tokenizer_json(f); });
  };
  CHECK_THAT(load_error("{\"model\": "),
             Catch::StartsWith("[tokenizer] " + name + ": not valid JSON"));
  CHECK(load_error("[1, 2]") == "[tokenizer] " + name + ": the document must be an object, got [1,2] (an array)");
  CHECK(load_error(tokenizer_json(R"({"type": "BertNormalizer", "lowercase": "yes"})")) ==
        "[tokenizer] " + name +
            ": field 'normalizer.lowercase' must be true or false, got \"yes\" (a string)");
  CHECK(load_error(tokenizer_json(R"({"type": "NFKC"})")) ==
        "[tokenizer] " + name + ": normalizer.type is 'NFKC'; only BertNormalizer is supported");
  CHECK(load_error(tokenizer_json("null", R"({"type": "Whitespace"})")) ==
        "[tokenizer] " + name +
            ": pre_tokenizer.type is 'Whitespace'; only BertPreTokenizer is supported");
  CHECK(load_error(tokenizer_json("null", R"({"type": "BertPreTokenizer"})", "", "WordLevel")) ==
        "[tokenizer] " + name +
            ": model.type is 'WordLevel'; only WordPiece, Unigram and BPE are supported");
  CHECK(load_error(tokenizer_json("null", R"({"type": "BertPreTokenizer"})", "", "BPE")) ==
        "[tokenizer] " + name + ": model.merges is missing");
  std::string no_vocab = tokenizer_json();
  no_vocab.replace(no_vocab.find("\"vocab\""), 7, "\"vocabulary\"");
  CHECK(load_error(no_vocab) == "[tokenizer] " + name + ": model.vocab is missing");
  std::string bad_id = tokenizer_json();
  bad_id.replace(bad_id.find("\"hello\": 5"), 10, "\"hello\": -5");
  CHECK_THAT(load_error(bad_id),
             Catch::StartsWith("[tokenizer] " + name + ": model.vocab[\"hello\"] must be in"));
  std::string no_post = tokenizer_json();
  const size_t at = no_post.find("\"post_processor\"");
  no_post.replace(at, no_post.find("\"decoder\"") - at, "\"post_processor\": null, ");
  CHECK_THAT(load_error(no_post),
             Catch::StartsWith("[tokenizer] " + name + ": post_processor is null"));
}
