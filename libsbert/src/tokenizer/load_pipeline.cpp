// Reading Unigram / byte-level BPE tokenizers: tokenizer.json's model, normalizer and
// pre_tokenizer; sentencepiece.bpe.model; the rebuild of transformers 5's tokenizer classes.
#include "tokenizer/load_pipeline.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace sbert::tok {

using simdjson::dom::element;
using simdjson::dom::object;

namespace {

std::string base64_decode(const JsonReader& r, std::string_view in, std::string_view field) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    if (c == '=') break;
    const int v = value(c);
    if (v < 0) r.error(field, cat("is not base64 (character '", c, "')"));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

void fill_vocab(Tokenizer::Impl& impl, const std::vector<std::string>& tokens) {
  size_t bytes = 0;
  for (const auto& t : tokens) bytes += t.size();
  impl.id_to_token = tokens;
  impl.model_vocab = VocabMap();
  impl.model_vocab.reserve(tokens.size(), bytes);
  for (size_t i = 0; i < tokens.size(); ++i)
    impl.model_vocab.insert(tokens[i], static_cast<int32_t>(i));
  impl.model_vocab_size = static_cast<int32_t>(tokens.size());
}

void read_unigram(const JsonReader& r, object m, Tokenizer::Impl& impl, Pipeline& p) {
  UnigramModel& u = p.unigram;
  const auto vocab = r.array(r.required(m, "vocab", "model.vocab"), "model.vocab");
  if (vocab.size() == 0) r.error("model.vocab", "is empty");
  size_t i = 0;
  for (element item : vocab) {
    const std::string field = cat("model.vocab[", i++, "]");
    const auto pair = r.array(item, field);
    if (pair.size() != 2) r.error(field, "must be [piece, score]");
    u.pieces.emplace_back(r.string(pair.at(0).value(), field));
    double score = 0;
    if (pair.at(1).value().get_double().get(score)) r.error(field, "score must be a number");
    u.scores.push_back(score);
  }
  if (auto v = JsonReader::member(m, "unk_id"); v && !v->is_null())
    u.unk_id = static_cast<int32_t>(
        r.integer(*v, "model.unk_id", 0, static_cast<int64_t>(u.pieces.size()) - 1));
  u.byte_fallback = r.boolean_or(m, "byte_fallback", "model.byte_fallback", false);
  u.build();
  fill_vocab(impl, u.pieces);
  if (u.unk_id >= 0) impl.options.unk_token = u.pieces[static_cast<size_t>(u.unk_id)];
}

std::pair<std::string, std::string> split_merge(const JsonReader& r, std::string_view s,
                                                const std::string& field);
void build_merges(const JsonReader& r, const std::vector<std::pair<std::string, std::string>>& pairs,
                  const std::string& what, BpeModel& b);

void read_bpe(const JsonReader& r, object m, Tokenizer::Impl& impl, Pipeline& p) {
  BpeModel& b = p.bpe;
  if (auto d = JsonReader::member(m, "dropout"); d && !d->is_null()) {
    double v = 0;
    if (d->get_double().get(v) || v != 0.0) r.error("model.dropout", "must be null (no dropout)");
  }
  const object vocab = r.object(r.required(m, "vocab", "model.vocab"), "model.vocab");
  const size_t n = vocab.size();
  if (n == 0) r.error("model.vocab", "is empty");
  std::vector<std::string> tokens(n);
  std::vector<bool> seen(n, false);
  for (auto [key, value] : vocab) {
    const auto id = r.integer(value, cat("model.vocab[\"", key, "\"]"), 0, INT32_MAX);
    if (static_cast<size_t>(id) >= n || seen[static_cast<size_t>(id)])
      r.error("model.vocab", cat("ids must be 0..", n - 1, " once each; '", key, "' has id ", id));
    seen[static_cast<size_t>(id)] = true;
    tokens[static_cast<size_t>(id)] = std::string(key);
  }
  fill_vocab(impl, tokens);
  b.vocab = impl.model_vocab;
  auto str_or_empty = [&](std::string_view key) {
    auto v = JsonReader::member(m, key);
    return (!v || v->is_null()) ? std::string() : std::string(r.string(*v, join_field("model", key)));
  };
  b.unk_token = str_or_empty("unk_token");
  b.prefix = str_or_empty("continuing_subword_prefix");
  b.suffix = str_or_empty("end_of_word_suffix");
  b.fuse_unk = r.boolean_or(m, "fuse_unk", "model.fuse_unk", false);
  b.byte_fallback = r.boolean_or(m, "byte_fallback", "model.byte_fallback", false);
  b.ignore_merges = r.boolean_or(m, "ignore_merges", "model.ignore_merges", false);
  const auto merges = r.array(r.required(m, "merges", "model.merges"), "model.merges");
  std::vector<std::pair<std::string, std::string>> pairs;
  for (element item : merges) {
    const std::string field = cat("model.merges[", pairs.size(), "]");
    if (item.is_string()) {
      pairs.push_back(split_merge(r, r.string(item, field), field));
    } else {
      const auto pair = r.array(item, field);
      if (pair.size() != 2) r.error(field, "must be [left, right]");
      pairs.emplace_back(r.string(pair.at(0).value(), field), r.string(pair.at(1).value(), field));
    }
  }
  build_merges(r, pairs, "model.merges", b);
  if (!b.unk_token.empty()) impl.options.unk_token = b.unk_token;
}

// "left right" (one space) of a merges list.
std::pair<std::string, std::string> split_merge(const JsonReader& r, std::string_view s,
                                                const std::string& field) {
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos)
    r.error(field, cat("'", s, "' is not two tokens separated by one space"));
  return {std::string(s.substr(0, sp)), std::string(s.substr(sp + 1))};
}

// The merge table: rank = position; the merged token must be in the vocabulary.
void build_merges(const JsonReader& r, const std::vector<std::pair<std::string, std::string>>& pairs,
                  const std::string& what, BpeModel& b) {
  int32_t rank = 0;
  for (const auto& [a, c] : pairs) {
    const std::string field = cat(what, "[", rank, "]");
    const int32_t ia = b.vocab.find(a), ic = b.vocab.find(c);
    std::string merged = a;
    merged += (!b.prefix.empty() && c.compare(0, b.prefix.size(), b.prefix) == 0)
                  ? c.substr(b.prefix.size())
                  : c;
    const int32_t im = b.vocab.find(merged);
    if (ia < 0 || ic < 0 || im < 0)
      r.error(field, cat("'", a, " ", c, "' uses a token missing from model.vocab"));
    const uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(ia)) << 32) | static_cast<uint32_t>(ic);
    b.merge_table.push_back({key, {rank, im}});
    ++rank;
  }
  // A repeated pair keeps its last rank (a HashMap collected in order).
  std::stable_sort(b.merge_table.begin(), b.merge_table.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::pair<uint64_t, BpeModel::Merge>> unique;
  for (const auto& e : b.merge_table) {
    if (!unique.empty() && unique.back().first == e.first) {
      unique.back() = e;
    } else {
      unique.push_back(e);
    }
  }
  b.merge_table = std::move(unique);
}

void read_one_normalizer(const JsonReader& r, object n, const std::string& field, Pipeline& p) {
  const std::string_view type = r.string(r.required(n, "type", field + ".type"), field + ".type");
  NormalizerStep s{};
  if (type == "Sequence") {
    size_t i = 0;
    for (element item : r.array(r.required(n, "normalizers", field + ".normalizers"),
                                field + ".normalizers")) {
      const std::string f = cat(field, ".normalizers[", i++, "]");
      read_one_normalizer(r, r.object(item, f), f, p);
    }
    return;
  }
  if (type == "Precompiled") {
    s.kind = NormalizerStep::kPrecompiled;
    const std::string f = field + ".precompiled_charsmap";
    auto e = JsonReader::member(n, "precompiled_charsmap");
    if (!e || e->is_null()) return;  // tokenizers: an empty charsmap normalizes nothing
    const std::string blob = base64_decode(r, r.string(*e, f), f);
    if (blob.empty()) return;
    s.charsmap = std::make_shared<CharsMap>(blob, cat(r.file(), ": ", f));
  } else if (type == "Replace") {
    s.kind = NormalizerStep::kReplace;
    s.content = std::string(r.string(r.required(n, "content", field + ".content"),
                                     field + ".content"));
    const object pat = r.object(r.required(n, "pattern", field + ".pattern"), field + ".pattern");
    if (auto v = JsonReader::member(pat, "String")) {
      s.pattern = std::string(r.string(*v, field + ".pattern.String"));
      if (s.pattern.empty()) r.error(field + ".pattern.String", "is empty");
    } else if (auto v2 = JsonReader::member(pat, "Regex")) {
      // Only "<one character>{n,}" (XLM-R's " {2,}"): no regex engine here.
      const std::string_view re = r.string(*v2, field + ".pattern.Regex");
      const size_t brace = re.find('{');
      bool ok = brace != std::string_view::npos && brace > 0 && re.back() == '}' &&
                re[re.size() - 2] == ',';
      if (ok) {
        const std::string_view ch = re.substr(0, brace);
        size_t k = 0;
        next_code_point(ch, k);
        const std::string_view num = re.substr(brace + 1, re.size() - brace - 3);
        ok = k == ch.size() && std::string_view("\\.^$|?*+()[]{}").find(ch[0]) ==
                                   std::string_view::npos &&
             !num.empty() && std::all_of(num.begin(), num.end(), [](char c) {
               return c >= '0' && c <= '9';
             }) && num.size() < 6;
        if (ok) {
          s.pattern = std::string(ch);
          s.min_repeat = std::stoi(std::string(num));
          ok = s.min_repeat >= 1;
        }
      }
      if (!ok)
        r.error(field + ".pattern.Regex",
                cat("is '", re, "'; only the form '<character>{n,}' (as ' {2,}') is supported"));
    } else {
      r.error(field + ".pattern", "must hold String or Regex");
    }
  } else if (type == "Strip") {
    s.kind = NormalizerStep::kStrip;
    s.left = r.boolean_or(n, "strip_left", field + ".strip_left", true);
    s.right = r.boolean_or(n, "strip_right", field + ".strip_right", true);
  } else if (type == "Prepend") {
    s.kind = NormalizerStep::kPrepend;
    s.content =
        std::string(r.string(r.required(n, "prepend", field + ".prepend"), field + ".prepend"));
  } else {
    r.error(field + ".type", cat("is '", type,
                                 "'; for Unigram and BPE models only Precompiled, Replace, Strip, "
                                 "Prepend and Sequence are supported"));
  }
  p.normalizers.push_back(std::move(s));
}

void read_one_pre_tokenizer(const JsonReader& r, object o, const std::string& field,
                            Pipeline& p) {
  const std::string_view type = r.string(r.required(o, "type", field + ".type"), field + ".type");
  PreTokenizerStep s{};
  if (type == "Sequence") {
    size_t i = 0;
    for (element item : r.array(r.required(o, "pretokenizers", field + ".pretokenizers"),
                                field + ".pretokenizers")) {
      const std::string f = cat(field, ".pretokenizers[", i++, "]");
      read_one_pre_tokenizer(r, r.object(item, f), f, p);
    }
    return;
  }
  if (type == "WhitespaceSplit") {
    s.kind = PreTokenizerStep::kWhitespaceSplit;
  } else if (type == "Metaspace") {
    s.kind = PreTokenizerStep::kMetaspace;
    if (auto v = JsonReader::member(o, "replacement"))
      s.replacement = std::string(r.string(*v, field + ".replacement"));
    size_t k = 0;
    if (!s.replacement.empty()) next_code_point(s.replacement, k);
    if (s.replacement.empty() || k != s.replacement.size())
      r.error(field + ".replacement", "must be one character");
    // tokenizers reads prepend_scheme, or derives it from the older add_prefix_space.
    if (auto v = JsonReader::member(o, "prepend_scheme"); v && !v->is_null()) {
      const std::string_view ps = r.string(*v, field + ".prepend_scheme");
      if (ps == "always") {
        s.prepend = PreTokenizerStep::kAlways;
      } else if (ps == "first") {
        s.prepend = PreTokenizerStep::kFirst;
      } else if (ps == "never") {
        s.prepend = PreTokenizerStep::kNever;
      } else {
        r.error(field + ".prepend_scheme", cat("is '", ps, "'; must be always, first or never"));
      }
    } else {
      s.prepend = r.boolean_or(o, "add_prefix_space", field + ".add_prefix_space", true)
                      ? PreTokenizerStep::kAlways
                      : PreTokenizerStep::kNever;
    }
    s.split = r.boolean_or(o, "split", field + ".split", true);
  } else if (type == "ByteLevel") {
    s.kind = PreTokenizerStep::kByteLevel;
    s.add_prefix_space = r.boolean_or(o, "add_prefix_space", field + ".add_prefix_space", true);
    s.use_regex = r.boolean_or(o, "use_regex", field + ".use_regex", true);
  } else {
    r.error(field + ".type", cat("is '", type,
                                 "'; for Unigram and BPE models only Metaspace, WhitespaceSplit, "
                                 "ByteLevel and Sequence are supported"));
  }
  p.pre_tokenizers.push_back(std::move(s));
}

int32_t id_of(const Tokenizer::Impl& impl, const std::string& token) {
  for (const AddedToken& t : impl.added_tokens)
    if (t.content == token) return t.id;
  return impl.model_vocab.find(token);
}

std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  SBERT_CHECK(in, "[tokenizer] ", file.string(), ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  SBERT_CHECK(!in.bad(), "[tokenizer] ", file.string(), ": read error");
  return std::move(s).str();
}

}  // namespace

void read_pipeline_model(const JsonReader& r, object m, Tokenizer::Impl& impl) {
  auto p = std::make_shared<Pipeline>();
  const std::string_view type = r.string(r.required(m, "type", "model.type"), "model.type");
  if (type == "Unigram") {
    p->model = Pipeline::kUnigram;
    read_unigram(r, m, impl, *p);
  } else {
    p->model = Pipeline::kBpe;
    read_bpe(r, m, impl, *p);
  }
  impl.pipeline = std::move(p);
}

void read_pipeline_normalizer(const JsonReader& r, element e, Pipeline& p) {
  if (e.is_null()) return;
  read_one_normalizer(r, r.object(e, "normalizer"), "normalizer", p);
}

void read_pipeline_pre_tokenizer(const JsonReader& r, element e, Pipeline& p) {
  if (e.is_null()) return;
  read_one_pre_tokenizer(r, r.object(e, "pre_tokenizer"), "pre_tokenizer", p);
}

std::string tokenizer_class_of_model_type(std::string_view t) {
  // transformers 5.25 models/auto/tokenization_auto.py
  for (const char* x : {"xlm-roberta", "xmod", "gte", "jina_embeddings_v3", "metaclip_2", "trocr"})
    if (t == x) return "XLMRobertaTokenizer";
  for (const char* x : {"roberta", "roberta-prelayernorm", "bart", "bridgetower", "clap",
                        "data2vec-text", "ibert", "lilt", "longformer", "mega", "mra"})
    if (t == x) return "RobertaTokenizer";
  return "";
}

bool apply_transformers_class(Tokenizer::Impl& impl, const ClassConfig& c) {
  if (!impl.pipeline) return false;
  const std::string& k = c.tokenizer_class;
  const bool xlmr = k == "XLMRobertaTokenizer" || k == "XLMRobertaTokenizerFast";
  const bool roberta = k == "RobertaTokenizer" || k == "RobertaTokenizerFast";
  if (!xlmr && !roberta) return false;
  auto p = std::make_shared<Pipeline>(*impl.pipeline);
  p->normalizers.clear();
  p->pre_tokenizers.clear();
  std::string cls = c.cls, sep = c.sep;
  if (xlmr) {
    SBERT_CHECK(p->model == Pipeline::kUnigram, "[tokenizer] ", impl.source,
                ": tokenizer_class XLMRobertaTokenizer needs a Unigram model");
    // XLMRobertaTokenizer.__init__: Precompiled (the first one in the file) only,
    // WhitespaceSplit + Metaspace, Unigram(unk_id=3, byte_fallback=False), <s> $A </s>.
    for (const NormalizerStep& s : impl.pipeline->normalizers) {
      if (s.kind == NormalizerStep::kPrecompiled) {
        p->normalizers.push_back(s);
        break;
      }
    }
    PreTokenizerStep ws{};
    ws.kind = PreTokenizerStep::kWhitespaceSplit;
    PreTokenizerStep meta{};
    meta.kind = PreTokenizerStep::kMetaspace;
    meta.prepend = c.add_prefix_space.value_or(true) ? PreTokenizerStep::kAlways
                                                     : PreTokenizerStep::kNever;
    p->pre_tokenizers = {ws, meta};
    SBERT_CHECK(p->unigram.pieces.size() > 3, "[tokenizer] ", impl.source,
                ": an XLM-R vocabulary needs more than 4 pieces");
    p->unigram.unk_id = 3;
    p->unigram.byte_fallback = false;
    impl.options.unk_token = p->unigram.pieces[3];
    cls = c.bos;
    sep = c.eos;
  } else {
    SBERT_CHECK(p->model == Pipeline::kBpe, "[tokenizer] ", impl.source,
                ": tokenizer_class RobertaTokenizer needs a BPE model");
    // RobertaTokenizer.__init__: no normalizer, ByteLevel(add_prefix_space), plain BPE,
    // RobertaProcessing(sep, cls).
    PreTokenizerStep bl{};
    bl.kind = PreTokenizerStep::kByteLevel;
    bl.add_prefix_space = c.add_prefix_space.value_or(false);
    p->pre_tokenizers = {bl};
    p->bpe.unk_token.clear();
    p->bpe.prefix.clear();
    p->bpe.suffix.clear();
    p->bpe.fuse_unk = false;
    p->bpe.byte_fallback = false;
    p->bpe.ignore_merges = false;
  }
  impl.pipeline = std::move(p);
  impl.options.cls_token = cls;
  impl.options.sep_token = sep;
  impl.cls_id = id_of(impl, cls);
  impl.sep_id = id_of(impl, sep);
  return true;
}

void load_vocab_merges(const std::filesystem::path& vocab_json,
                       const std::filesystem::path& merges_txt, const ClassConfig& c,
                       Tokenizer::Impl& impl) {
  simdjson::dom::parser parser;
  simdjson::padded_string storage;
  const JsonReader r("tokenizer", vocab_json.string());
  const object vocab = r.object(parse_json_file(vocab_json, parser, storage), "");
  const size_t n = vocab.size();
  if (n == 0) r.error("", "the document is empty");
  std::vector<std::string> tokens(n);
  std::vector<bool> seen(n, false);
  for (auto [key, value] : vocab) {
    const auto id = r.integer(value, cat("[\"", key, "\"]"), 0, INT32_MAX);
    if (static_cast<size_t>(id) >= n || seen[static_cast<size_t>(id)])
      r.error("", cat("the document ids must be 0..", n - 1, " once each; '", key, "' has id ", id));
    seen[static_cast<size_t>(id)] = true;
    tokens[static_cast<size_t>(id)] = std::string(key);
  }
  auto p = std::make_shared<Pipeline>();
  p->model = Pipeline::kBpe;
  fill_vocab(impl, tokens);
  p->bpe.vocab = impl.model_vocab;
  // merges.txt: an optional "#version" first line, then "left right" per line.
  const std::string text = read_bytes(merges_txt);
  const JsonReader mr("tokenizer", merges_txt.string());
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    pairs.push_back(split_merge(mr, line, cat("line ", line_no)));
  }
  build_merges(mr, pairs, "merges", p->bpe);
  impl.pipeline = p;
  // RobertaTokenizer's special tokens, added as transformers adds them.
  for (const std::string* s : {&c.bos, &c.pad, &c.eos, &c.unk, &c.mask}) {
    AddedToken t;
    t.content = *s;
    t.id = impl.model_vocab.find(*s);
    t.special = true;
    t.normalized = false;
    if (s == &c.mask && c.mask_added) t = AddedToken{t.id, t.content, c.mask_added->single_word,
                                                     c.mask_added->lstrip, c.mask_added->rstrip,
                                                     c.mask_added->normalized, true};
    if (t.id >= 0) impl.added_tokens.push_back(std::move(t));
  }
  impl.options.pad_token = c.pad;
  impl.options.mask_token = c.mask;
  impl.files.emplace_back("vocab.json", read_bytes(vocab_json));
  impl.files.emplace_back("merges.txt", text);
  ClassConfig rc = c;
  rc.tokenizer_class = "RobertaTokenizer";
  apply_transformers_class(impl, rc);
}

void load_spm_model(const std::filesystem::path& file, const ClassConfig& c,
                    Tokenizer::Impl& impl) {
  const std::string bytes = read_bytes(file);
  const SpmModel spm = read_spm_model(bytes, file.string());
  SBERT_CHECK(spm.model_type == 1, "[tokenizer] ", file.string(), ": model_type is ",
              spm.model_type, "; only Unigram (1) SentencePiece models are supported");
  auto p = std::make_shared<Pipeline>();
  p->model = Pipeline::kUnigram;
  // XLMRobertaConverter.convert_from_spm: fairseq's four specials, the pieces after the first
  // three (<unk>, <s>, </s>), then <mask>; every id is the piece's id + 1.
  UnigramModel& u = p->unigram;
  for (const char* s : {"<s>", "<pad>", "</s>", "<unk>"}) {
    u.pieces.emplace_back(s);
    u.scores.push_back(0.0);
  }
  for (size_t i = 3; i < spm.pieces.size(); ++i) {
    u.pieces.push_back(spm.pieces[i].piece);
    u.scores.push_back(static_cast<double>(spm.pieces[i].score));
  }
  u.pieces.emplace_back("<mask>");
  u.scores.push_back(0.0);
  u.unk_id = 3;
  u.build();
  fill_vocab(impl, u.pieces);
  if (!spm.precompiled_charsmap.empty()) {
    NormalizerStep s{};
    s.kind = NormalizerStep::kPrecompiled;
    s.charsmap = std::make_shared<CharsMap>(spm.precompiled_charsmap,
                                            file.string() + ": precompiled_charsmap");
    p->normalizers.push_back(std::move(s));
  }
  impl.pipeline = p;
  for (const char* s : {"<s>", "<pad>", "</s>", "<unk>", "<mask>"}) {
    AddedToken t;
    t.content = s;
    t.id = impl.model_vocab.find(s);
    t.special = true;
    t.normalized = false;
    if (t.content == "<mask>" && c.mask_added)
      t = AddedToken{t.id,         t.content, c.mask_added->single_word, c.mask_added->lstrip,
                     c.mask_added->rstrip, c.mask_added->normalized, true};
    impl.added_tokens.push_back(std::move(t));
  }
  impl.options.pad_token = "<pad>";
  impl.options.mask_token = "<mask>";
  impl.files.emplace_back(file.filename().string(), bytes);
  ClassConfig xc = c;
  xc.tokenizer_class = "XLMRobertaTokenizer";
  apply_transformers_class(impl, xc);
}

}  // namespace sbert::tok
