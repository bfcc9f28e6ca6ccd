// Loading a Tokenizer from tokenizer.json (Hugging Face tokenizers' format) or from vocab.txt
// with tokenizer_config.json / special_tokens_map.json (transformers' BertTokenizer files).
#include <algorithm>
#include <charconv>
#include <climits>
#include <fstream>
#include <sstream>
#include <tuple>

#include "core/check.h"
#include "tokenizer/impl.h"
#include "tokenizer/json_util.h"
#include "tokenizer/load_pipeline.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace sbert {

using namespace tok;
namespace fs = std::filesystem;
using simdjson::dom::element;
using simdjson::dom::object;

namespace {

std::string read_text_file(const fs::path& file) {
  std::error_code ec;
  SBERT_CHECK(fs::is_regular_file(file, ec), "[tokenizer] ", file.string(), ": file not found");
  std::ifstream in(file, std::ios::binary);
  SBERT_CHECK(in, "[tokenizer] ", file.string(), ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  SBERT_CHECK(!in.bad(), "[tokenizer] ", file.string(), ": read error");
  return std::move(s).str();
}

// A special token in tokenizer_config.json / special_tokens_map.json: a string or an
// AddedToken object {"content": ...}.
std::optional<std::string> special_token(const JsonReader& r, object obj, std::string_view key) {
  auto e = JsonReader::member(obj, key);
  if (!e || e->is_null()) return std::nullopt;
  if (e->is_string()) return std::string(r.string(*e, key));
  const object o = r.object(*e, key);
  return std::string(
      r.string(r.required(o, "content", join_field(key, "content")), join_field(key, "content")));
}

AddedToken parse_added_token(const JsonReader& r, object o, std::string_view field) {
  AddedToken t;
  t.content = std::string(r.string(r.required(o, "content", join_field(field, "content")),
                                   join_field(field, "content")));
  t.special = r.boolean_or(o, "special", join_field(field, "special"), false);
  t.single_word = r.boolean_or(o, "single_word", join_field(field, "single_word"), false);
  t.lstrip = r.boolean_or(o, "lstrip", join_field(field, "lstrip"), false);
  t.rstrip = r.boolean_or(o, "rstrip", join_field(field, "rstrip"), false);
  t.normalized = r.boolean_or(o, "normalized", join_field(field, "normalized"), !t.special);
  return t;
}

// What load(dir) takes from tokenizer_config.json and special_tokens_map.json.
struct ConfigFiles {
  std::optional<bool> do_lower_case, tokenize_chinese_chars;
  std::optional<int> strip_accents;  // -1 for null
  std::optional<int> model_max_length;
  std::optional<std::string> unk, sep, pad, cls, mask, bos, eos;
  std::vector<AddedToken> added_tokens_decoder;
  std::string tokenizer_class;
  std::optional<bool> add_prefix_space;
  std::optional<bool> clean_up_tokenization_spaces;
  std::optional<AddedToken> mask_added;  // mask_token given as an AddedToken object
};

ConfigFiles read_config_files(const fs::path& dir) {
  ConfigFiles c;
  std::error_code ec;
  const fs::path config = dir / "tokenizer_config.json";
  if (fs::is_regular_file(config, ec)) {
    simdjson::dom::parser parser;
    simdjson::padded_string storage;
    const JsonReader r("tokenizer", config.string());
    const object root = r.object(parse_json_file(config, parser, storage), "");
    if (auto e = JsonReader::member(root, "do_lower_case"); e && !e->is_null())
      c.do_lower_case = r.boolean(*e, "do_lower_case");
    if (auto e = JsonReader::member(root, "tokenize_chinese_chars"); e && !e->is_null())
      c.tokenize_chinese_chars = r.boolean(*e, "tokenize_chinese_chars");
    if (auto e = JsonReader::member(root, "strip_accents"))
      c.strip_accents = e->is_null() ? -1 : (r.boolean(*e, "strip_accents") ? 1 : 0);
    if (auto e = JsonReader::member(root, "model_max_length"); e && !e->is_null()) {
      double v = 0;
      if (e->get_double().get(v)) r.error("model_max_length", "must be a number");
      // transformers writes 1e30 for "no limit".
      c.model_max_length = v > 0 && v <= INT_MAX ? static_cast<int>(v) : 0;
    }
    c.unk = special_token(r, root, "unk_token");
    c.sep = special_token(r, root, "sep_token");
    c.pad = special_token(r, root, "pad_token");
    c.cls = special_token(r, root, "cls_token");
    c.mask = special_token(r, root, "mask_token");
    if (auto e = JsonReader::member(root, "mask_token"); e && e->is_object()) {
      c.mask_added = parse_added_token(r, r.object(*e, "mask_token"), "mask_token");
      c.mask_added->special = true;
    }
    c.bos = special_token(r, root, "bos_token");
    c.eos = special_token(r, root, "eos_token");
    if (auto e = JsonReader::member(root, "tokenizer_class"); e && !e->is_null())
      c.tokenizer_class = std::string(r.string(*e, "tokenizer_class"));
    if (auto e = JsonReader::member(root, "add_prefix_space"); e && !e->is_null())
      c.add_prefix_space = r.boolean(*e, "add_prefix_space");
    if (auto e = JsonReader::member(root, "clean_up_tokenization_spaces"); e && !e->is_null())
      c.clean_up_tokenization_spaces = r.boolean(*e, "clean_up_tokenization_spaces");
    if (auto e = JsonReader::member(root, "added_tokens_decoder"); e && !e->is_null()) {
      for (auto [key, value] : r.object(*e, "added_tokens_decoder")) {
        const std::string field = join_field("added_tokens_decoder", key);
        AddedToken t = parse_added_token(r, r.object(value, field), field);
        int64_t id = -1;
        const auto [p, errc] = std::from_chars(key.data(), key.data() + key.size(), id);
        if (errc != std::errc() || p != key.data() + key.size() || id < 0 || id > INT32_MAX)
          r.error(field, "key must be a token id");
        t.id = static_cast<int32_t>(id);
        c.added_tokens_decoder.push_back(std::move(t));
      }
    }
  }
  // No tokenizer_class: AutoTokenizer takes the class of config.json's model_type.
  const fs::path model_config = dir / "config.json";
  if (c.tokenizer_class.empty() && fs::is_regular_file(model_config, ec)) {
    simdjson::dom::parser parser;
    simdjson::padded_string storage;
    const JsonReader r("tokenizer", model_config.string());
    const object root = r.object(parse_json_file(model_config, parser, storage), "");
    if (auto e = JsonReader::member(root, "model_type"); e && e->is_string())
      c.tokenizer_class = tokenizer_class_of_model_type(r.string(*e, "model_type"));
  }
  const fs::path map = dir / "special_tokens_map.json";
  if (fs::is_regular_file(map, ec)) {
    simdjson::dom::parser parser;
    simdjson::padded_string storage;
    const JsonReader r("tokenizer", map.string());
    const object root = r.object(parse_json_file(map, parser, storage), "");
    if (auto v = special_token(r, root, "unk_token")) c.unk = v;
    if (auto v = special_token(r, root, "sep_token")) c.sep = v;
    if (auto v = special_token(r, root, "pad_token")) c.pad = v;
    if (auto v = special_token(r, root, "cls_token")) c.cls = v;
    if (auto v = special_token(r, root, "mask_token")) c.mask = v;
    if (auto v = special_token(r, root, "bos_token")) c.bos = v;
    if (auto v = special_token(r, root, "eos_token")) c.eos = v;
  }
  return c;
}

void read_normalizer(const JsonReader& r, element e, TokenizerOptions& o) {
  if (e.is_null()) {  // no normalizer: the text goes to the pre-tokenizer unchanged
    o.clean_text = o.handle_chinese_chars = o.lowercase = false;
    o.strip_accents = 0;
    return;
  }
  const object n = r.object(e, "normalizer");
  const std::string_view type =
      r.string(r.required(n, "type", "normalizer.type"), "normalizer.type");
  if (type != "BertNormalizer")
    r.error("normalizer.type", cat("is '", type, "'; only BertNormalizer is supported"));
  o.clean_text = r.boolean_or(n, "clean_text", "normalizer.clean_text", true);
  o.handle_chinese_chars =
      r.boolean_or(n, "handle_chinese_chars", "normalizer.handle_chinese_chars", true);
  o.lowercase = r.boolean_or(n, "lowercase", "normalizer.lowercase", true);
  auto s = JsonReader::member(n, "strip_accents");
  o.strip_accents = (!s || s->is_null()) ? -1 : (r.boolean(*s, "normalizer.strip_accents") ? 1 : 0);
}

void read_pre_tokenizer(const JsonReader& r, element e) {
  if (e.is_null()) r.error("pre_tokenizer", "is null; only BertPreTokenizer is supported");
  const object p = r.object(e, "pre_tokenizer");
  const std::string_view type =
      r.string(r.required(p, "type", "pre_tokenizer.type"), "pre_tokenizer.type");
  if (type == "BertPreTokenizer") return;
  if (type == "Sequence") {  // accepted when it only repeats BertPreTokenizer (idempotent)
    const auto list = r.array(r.required(p, "pretokenizers", "pre_tokenizer.pretokenizers"),
                              "pre_tokenizer.pretokenizers");
    size_t i = 0;
    for (element item : list) {
      const std::string field = cat("pre_tokenizer.pretokenizers[", i++, "].type");
      const std::string_view t = r.string(r.required(r.object(item, field), "type", field), field);
      if (t != "BertPreTokenizer")
        r.error(field, cat("is '", t, "'; only BertPreTokenizer is supported"));
    }
    if (i > 0) return;
  }
  r.error("pre_tokenizer.type", cat("is '", type, "'; only BertPreTokenizer is supported"));
}

// The ids and tokens of TemplateProcessing's special_tokens entry `name`.
std::pair<int32_t, std::string> template_special(const JsonReader& r, object specials,
                                                 std::string_view name) {
  const std::string field = cat("post_processor.special_tokens.", name);
  const object s = r.object(r.required(specials, name, field), field);
  const auto ids = r.array(r.required(s, "ids", field + ".ids"), field + ".ids");
  if (ids.size() != 1) r.error(field + ".ids", "must hold exactly one id");
  const auto id = static_cast<int32_t>(r.integer(ids.at(0).value(), field + ".ids", 0, INT32_MAX));
  std::string token(name);
  if (auto t = JsonReader::member(s, "tokens")) {
    const auto tokens = r.array(*t, field + ".tokens");
    if (tokens.size() == 1) token = std::string(r.string(tokens.at(0).value(), field + ".tokens"));
  }
  return {id, token};
}

void read_post_processor(const JsonReader& r, element e, Tokenizer::Impl& impl) {
  if (e.is_null())
    r.error("post_processor",
            "is null; a BERT tokenizer needs TemplateProcessing or "
            "BertProcessing to add [CLS] and [SEP]");
  object p = r.object(e, "post_processor");
  std::string_view type =
      r.string(r.required(p, "type", "post_processor.type"), "post_processor.type");
  if (type == "Sequence") {
    // [ByteLevel (offsets only), then the processor that adds the special tokens]
    bool found = false;
    for (element item : r.array(r.required(p, "processors", "post_processor.processors"),
                                "post_processor.processors")) {
      const object q = r.object(item, "post_processor.processors[]");
      const std::string_view t =
          r.string(r.required(q, "type", "post_processor.processors[].type"),
                   "post_processor.processors[].type");
      if (t == "ByteLevel") continue;
      if (found) r.error("post_processor.processors", "holds more than one template");
      found = true;
      p = q;
      type = t;
    }
    if (!found) r.error("post_processor.processors", "has no TemplateProcessing");
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    for (const char* key : {"cls", "sep"}) {
      const std::string field = cat("post_processor.", key);
      const auto pair = r.array(r.required(p, key, field), field);
      if (pair.size() != 2) r.error(field, "must be [token, id]");
      std::string token(r.string(pair.at(0).value(), field));
      const auto id = static_cast<int32_t>(r.integer(pair.at(1).value(), field, 0, INT32_MAX));
      if (key[0] == 'c') {
        impl.cls_id = id;
        impl.options.cls_token = std::move(token);
      } else {
        impl.sep_id = id;
        impl.options.sep_token = std::move(token);
      }
    }
    return;
  }
  if (type != "TemplateProcessing")
    r.error("post_processor.type",
            cat("is '", type,
                "'; only TemplateProcessing, BertProcessing and RobertaProcessing are supported"));
  const auto single =
      r.array(r.required(p, "single", "post_processor.single"), "post_processor.single");
  // Must be exactly: SpecialToken, Sequence A, SpecialToken.
  std::vector<std::pair<std::string, std::string>> pieces;  // (kind, id)
  for (element item : single) {
    const object o = r.object(item, "post_processor.single[]");
    for (auto [kind, body] : o) {
      const object b = r.object(body, cat("post_processor.single[].", kind));
      pieces.emplace_back(std::string(kind),
                          std::string(r.string(r.required(b, "id", "post_processor.single[].id"),
                                               "post_processor.single[].id")));
    }
  }
  if (pieces.size() != 3 || pieces[0].first != "SpecialToken" || pieces[1].first != "Sequence" ||
      pieces[1].second != "A" || pieces[2].first != "SpecialToken")
    r.error("post_processor.single",
            "must be the template '[CLS] $A [SEP]' (one special token, "
            "the sequence A, one special token)");
  const object specials = r.object(r.required(p, "special_tokens", "post_processor.special_tokens"),
                                   "post_processor.special_tokens");
  std::tie(impl.cls_id, impl.options.cls_token) = template_special(r, specials, pieces[0].second);
  std::tie(impl.sep_id, impl.options.sep_token) = template_special(r, specials, pieces[2].second);
}

void read_model(const JsonReader& r, element e, Tokenizer::Impl& impl) {
  const object m = r.object(e, "model");
  if (auto t = JsonReader::member(m, "type")) {
    const std::string_view type = r.string(*t, "model.type");
    if (type == "Unigram" || type == "BPE") {
      read_pipeline_model(r, m, impl);
      return;
    }
    if (type != "WordPiece")
      r.error("model.type", cat("is '", type, "'; only WordPiece, Unigram and BPE are supported"));
  } else if (!JsonReader::member(m, "continuing_subword_prefix")) {
    r.error("model.type", "is missing");
  }
  TokenizerOptions& o = impl.options;
  if (auto v = JsonReader::member(m, "unk_token"))
    o.unk_token = std::string(r.string(*v, "model.unk_token"));
  if (auto v = JsonReader::member(m, "continuing_subword_prefix"))
    o.continuing_subword_prefix = std::string(r.string(*v, "model.continuing_subword_prefix"));
  if (auto v = JsonReader::member(m, "max_input_chars_per_word"))
    o.max_input_chars_per_word =
        static_cast<int>(r.integer(*v, "model.max_input_chars_per_word", 0, INT_MAX));
  const object vocab = r.object(r.required(m, "vocab", "model.vocab"), "model.vocab");
  const size_t n = vocab.size();
  if (n == 0) r.error("model.vocab", "is empty");
  if (n > static_cast<size_t>(INT32_MAX)) r.error("model.vocab", "is too large");
  std::vector<std::string>& tokens = impl.id_to_token;
  tokens.assign(n, std::string());
  std::vector<bool> seen(n, false);
  size_t bytes = 0;
  for (auto [key, value] : vocab) {
    const auto id = r.integer(value, cat("model.vocab[\"", key, "\"]"), 0, INT32_MAX);
    if (static_cast<size_t>(id) >= n)
      r.error("model.vocab",
              cat("ids must be 0..", n - 1, " (", n, " tokens), '", key, "' has id ", id));
    if (seen[static_cast<size_t>(id)])
      r.error("model.vocab", cat("id ", id, " is given to both '", tokens[static_cast<size_t>(id)],
                                 "' and '", key, "'"));
    seen[static_cast<size_t>(id)] = true;
    tokens[static_cast<size_t>(id)] = std::string(key);
    bytes += key.size();
  }
  impl.model_vocab_size = static_cast<int32_t>(n);
  impl.model_vocab.reserve(n, bytes);
  for (size_t i = 0; i < n; ++i) impl.model_vocab.insert(tokens[i], static_cast<int32_t>(i));
}

// tokenizers' WordPiece::read_file: one token per line ("\n" or "\r\n"), trailing whitespace
// trimmed, id = line number; a repeated token keeps its last line.
void read_vocab_txt(const fs::path& file, Tokenizer::Impl& impl) {
  const std::string text = read_text_file(file);
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos) {
    const size_t line = 1 + static_cast<size_t>(std::count(
                                text.begin(), text.begin() + static_cast<ptrdiff_t>(bad), '\n'));
    fail("[tokenizer] ", file.string(), ": line ", line, " is not valid UTF-8");
  }
  std::vector<std::string>& tokens = impl.id_to_token;
  tokens.clear();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const size_t next = end == std::string::npos ? text.size() : end + 1;
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // trim_end: drop trailing White_Space code points.
    size_t keep = line.size();
    while (keep > 0) {
      size_t start = keep - 1;
      while (start > 0 && is_utf8_continuation(line[start])) --start;
      size_t i = start;
      if (!(char_flags(next_code_point(line, i)) & kWhitespace)) break;
      keep = start;
    }
    tokens.emplace_back(line.substr(0, keep));
    pos = next;
  }
  SBERT_CHECK(!tokens.empty(), "[tokenizer] ", file.string(), ": the vocabulary is empty");
  SBERT_CHECK(tokens.size() <= static_cast<size_t>(INT32_MAX), "[tokenizer] ", file.string(),
              ": the vocabulary is too large");
  size_t bytes = 0;
  for (const auto& t : tokens) bytes += t.size();
  impl.model_vocab.reserve(tokens.size(), bytes);
  for (size_t i = 0; i < tokens.size(); ++i)
    impl.model_vocab.insert(tokens[i], static_cast<int32_t>(i));
  impl.model_vocab_size = static_cast<int32_t>(tokens.size());
}

}  // namespace

void Tokenizer::Impl::finish() {
  const TokenizerOptions& o = options;
  unk_id = model_vocab.find(o.unk_token);
  SBERT_CHECK(unk_id >= 0 || pipeline, "[tokenizer] ", source, ": unk_token '", o.unk_token,
              "' is not in the vocabulary");
  // Added tokens: the model's id when the content is in the vocabulary (as tokenizers does),
  // otherwise the id given in the file, beyond the model vocabulary.
  std::sort(added_tokens.begin(), added_tokens.end(),
            [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  size_t total = static_cast<size_t>(model_vocab_size);
  for (AddedToken& t : added_tokens) {
    SBERT_CHECK(!t.content.empty(), "[tokenizer] ", source, ": added token ", t.id,
                " has empty content");
    const int32_t in_model = model_vocab.find(t.content);
    if (in_model >= 0) {
      t.id = in_model;
    } else {
      SBERT_CHECK(t.id >= model_vocab_size, "[tokenizer] ", source, ": added token '", t.content,
                  "' has id ", t.id, ", which is the vocabulary's '",
                  t.id >= 0 ? id_to_token[static_cast<size_t>(t.id)] : std::string("?"), "'");
      total = std::max(total, static_cast<size_t>(t.id) + 1);
    }
  }
  id_to_token.resize(total);
  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& t : added_tokens) {
    if (t.id >= model_vocab_size) {
      const std::string& old = id_to_token[static_cast<size_t>(t.id)];
      SBERT_CHECK(old.empty() || old == t.content, "[tokenizer] ", source, ": added tokens '", old,
                  "' and '", t.content, "' share id ", t.id);
      id_to_token[static_cast<size_t>(t.id)] = t.content;
    }
    added_vocab.insert(t.content, t.id);
    if (t.normalized) {
      AddedToken n = t;
      normalize_into(t.content, n.content, thread_scratch());
      normalized.push_back(std::move(n));
    } else {
      raw.push_back(t);
    }
  }
  raw_matcher.build(std::move(raw));
  normalized_matcher.build(std::move(normalized));
  auto lookup = [&](const std::string& token) {
    const int32_t id = added_vocab.find(token);
    return id >= 0 ? id : model_vocab.find(token);
  };
  if (cls_id < 0) cls_id = lookup(o.cls_token);
  if (sep_id < 0) sep_id = lookup(o.sep_token);
  SBERT_CHECK(cls_id >= 0, "[tokenizer] ", source, ": cls_token '", o.cls_token,
              "' is not in the vocabulary");
  SBERT_CHECK(sep_id >= 0, "[tokenizer] ", source, ": sep_token '", o.sep_token,
              "' is not in the vocabulary");
  SBERT_CHECK(static_cast<size_t>(cls_id) < total && static_cast<size_t>(sep_id) < total,
              "[tokenizer] ", source, ": the [CLS]/[SEP] ids ", cls_id, "/", sep_id,
              " are outside the vocabulary of ", total, " tokens");
  const int32_t pad = lookup(o.pad_token);
  pad_id = pad >= 0 ? pad : 0;
  SBERT_CHECK(o.max_input_chars_per_word >= 0, "[tokenizer] ", source,
              ": max_input_chars_per_word must be >= 0");
}

Tokenizer Tokenizer::from_tokenizer_json(const fs::path& file) {
  auto impl = std::make_shared<Impl>();
  impl->source = file.string();
  simdjson::dom::parser parser;
  simdjson::padded_string storage;
  const JsonReader r("tokenizer", file.string());
  const object root = r.object(parse_json_file(file, parser, storage), "");

  read_model(r, r.required(root, "model", "model"), *impl);
  auto norm = JsonReader::member(root, "normalizer");
  if (!norm) r.error("normalizer", "is missing");
  if (impl->pipeline) {
    auto p = std::make_shared<Pipeline>(*impl->pipeline);
    read_pipeline_normalizer(r, *norm, *p);
    read_pipeline_pre_tokenizer(r, r.required(root, "pre_tokenizer", "pre_tokenizer"), *p);
    impl->pipeline = std::move(p);
    impl->options.clean_text = impl->options.handle_chinese_chars = false;
    impl->options.lowercase = false;
    impl->options.strip_accents = 0;
    impl->options.continuing_subword_prefix.clear();
    impl->files.emplace_back("tokenizer.json", read_text_file(file));
  } else {
    read_normalizer(r, *norm, impl->options);
    read_pre_tokenizer(r, r.required(root, "pre_tokenizer", "pre_tokenizer"));
  }
  read_post_processor(r, r.required(root, "post_processor", "post_processor"), *impl);
  impl->wordpiece_decoder = false;
  if (auto dec = JsonReader::member(root, "decoder"); dec && dec->is_object()) {
    const object d = r.object(*dec, "decoder");
    if (auto t = JsonReader::member(d, "type"); t && r.string(*t, "decoder.type") == "WordPiece") {
      impl->wordpiece_decoder = true;
      if (auto x = JsonReader::member(d, "prefix"))
        impl->decoder_prefix = std::string(r.string(*x, "decoder.prefix"));
      if (auto x = JsonReader::member(d, "cleanup"))
        impl->decoder_cleanup = r.boolean(*x, "decoder.cleanup");
    }
  }
  if (auto pad = JsonReader::member(root, "padding"); pad && !pad->is_null()) {
    const object p = r.object(*pad, "padding");
    if (auto t = JsonReader::member(p, "pad_token"))
      impl->options.pad_token = std::string(r.string(*t, "padding.pad_token"));
  }
  if (impl->pipeline) {
    // XLM-R / RoBERTa spell their specials <pad>, <mask>: defaults when the files name none.
    TokenizerOptions& o = impl->options;
    if (o.pad_token == TokenizerOptions().pad_token && impl->model_vocab.find("<pad>") >= 0)
      o.pad_token = "<pad>";
    if (o.mask_token == TokenizerOptions().mask_token && impl->model_vocab.find("<mask>") >= 0)
      o.mask_token = "<mask>";
  }
  if (auto added = JsonReader::member(root, "added_tokens"); added && !added->is_null()) {
    size_t i = 0;
    for (element item : r.array(*added, "added_tokens")) {
      const std::string field = cat("added_tokens[", i++, "]");
      const object o = r.object(item, field);
      AddedToken t = parse_added_token(r, o, field);
      t.id = static_cast<int32_t>(
          r.integer(r.required(o, "id", field + ".id"), field + ".id", 0, INT32_MAX));
      impl->added_tokens.push_back(std::move(t));
    }
  }
  impl->finish();
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_vocab_file(const fs::path& vocab_txt, const TokenizerOptions& options) {
  auto impl = std::make_shared<Impl>();
  impl->source = vocab_txt.string();
  impl->options = options;
  SBERT_CHECK(options.strip_accents >= -1 && options.strip_accents <= 1, "[tokenizer] ",
              vocab_txt.string(), ": strip_accents must be -1, 0 or 1, got ",
              options.strip_accents);
  read_vocab_txt(vocab_txt, *impl);
  // transformers' BertTokenizer adds its special tokens as special, non-normalized added tokens.
  int32_t next_id = impl->model_vocab_size;
  for (const std::string* s : {&options.pad_token, &options.unk_token, &options.cls_token,
                               &options.sep_token, &options.mask_token}) {
    if (s->empty()) continue;
    AddedToken t;
    t.content = *s;
    t.special = true;
    t.normalized = false;
    t.id = impl->model_vocab.find(*s);
    if (t.id < 0) {
      // Not in the vocabulary: tokenizers gives it the next id. [UNK], [CLS] and [SEP] must
      // exist (checked by finish()); a missing [PAD] or [MASK] is only left out.
      if (s == &options.pad_token || s == &options.mask_token) continue;
      t.id = next_id++;
    }
    if (impl->added_vocab.find(t.content) >= 0) continue;
    impl->added_vocab.insert(t.content, t.id);
    impl->added_tokens.push_back(std::move(t));
  }
  impl->added_vocab = VocabMap();  // rebuilt by finish()
  impl->finish();
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load(const fs::path& dir) {
  std::error_code ec;
  SBERT_CHECK(fs::is_directory(dir, ec), "[tokenizer] ", dir.string(), ": not a directory");
  const ConfigFiles c = read_config_files(dir);
  const fs::path json = dir / "tokenizer.json";
  ClassConfig cc;
  cc.tokenizer_class = c.tokenizer_class;
  cc.add_prefix_space = c.add_prefix_space;
  if (c.bos) cc.bos = *c.bos;
  if (c.eos) cc.eos = *c.eos;
  if (c.cls) cc.cls = *c.cls;
  if (c.sep) cc.sep = *c.sep;
  if (c.pad) cc.pad = *c.pad;
  if (c.unk) cc.unk = *c.unk;
  if (c.mask) cc.mask = *c.mask;
  cc.mask_added = c.mask_added;
  // The files save() writes back for a Unigram / BPE tokenizer.
  auto keep_files = [&](Impl& impl) {
    for (const char* name : {"tokenizer_config.json", "special_tokens_map.json",
                             "sentencepiece.bpe.model", "vocab.json", "merges.txt"}) {
      const fs::path f = dir / name;
      const bool have = std::any_of(impl.files.begin(), impl.files.end(),
                                    [&](const auto& x) { return x.first == name; });
      if (!have && fs::is_regular_file(f, ec)) impl.files.emplace_back(name, read_text_file(f));
    }
  };
  const fs::path spm = dir / "sentencepiece.bpe.model";
  const fs::path vocab_json = dir / "vocab.json", merges = dir / "merges.txt";
  const bool bpe_files = fs::is_regular_file(vocab_json, ec) && fs::is_regular_file(merges, ec);
  if (!fs::is_regular_file(json, ec) && (fs::is_regular_file(spm, ec) || bpe_files)) {
    auto impl = std::make_shared<Impl>();
    impl->options.clean_text = impl->options.handle_chinese_chars = false;
    impl->options.lowercase = false;
    impl->options.strip_accents = 0;
    impl->options.continuing_subword_prefix.clear();
    if (fs::is_regular_file(spm, ec)) {
      impl->source = spm.string();
      load_spm_model(spm, cc, *impl);
    } else {
      impl->source = vocab_json.string();
      load_vocab_merges(vocab_json, merges, cc, *impl);
    }
    if (c.model_max_length) impl->options.model_max_length = *c.model_max_length;
    impl->clean_up_tokenization_spaces = c.clean_up_tokenization_spaces.value_or(false);
    keep_files(*impl);
    impl->finish();
    return Tokenizer(std::move(impl));
  }
  if (fs::is_regular_file(json, ec)) {
    Tokenizer t = from_tokenizer_json(json);
    auto impl = std::make_shared<Impl>(*t.impl_);
    if (impl->pipeline) {
      if (apply_transformers_class(*impl, cc)) {
        SBERT_CHECK(impl->cls_id >= 0 && impl->sep_id >= 0, "[tokenizer] ", dir.string(),
                    ": the template tokens '", impl->options.cls_token, "' and '",
                    impl->options.sep_token, "' are not in the vocabulary");
      }
      keep_files(*impl);
      impl->clean_up_tokenization_spaces = c.clean_up_tokenization_spaces.value_or(false);
      if (c.model_max_length) impl->options.model_max_length = *c.model_max_length;
      if (c.mask) impl->options.mask_token = *c.mask;
      if (c.pad) impl->options.pad_token = *c.pad;
      // transformers adds tokenizer_config.json's added_tokens_decoder over tokenizer.json's
      // added tokens: its flags (normalized, lstrip, ...) are the ones that count.
      for (const AddedToken& a : c.added_tokens_decoder) {
        auto same = std::find_if(impl->added_tokens.begin(), impl->added_tokens.end(),
                                 [&](const AddedToken& b) { return b.content == a.content; });
        if (same != impl->added_tokens.end()) {
          *same = AddedToken{same->id, a.content,    a.single_word, a.lstrip,
                             a.rstrip, a.normalized, a.special};
        } else {
          impl->added_tokens.push_back(a);
        }
      }
      impl->added_vocab = VocabMap();
      impl->source = (dir / "tokenizer_config.json").string();
      impl->finish();
      return Tokenizer(std::move(impl));
    }
    if (c.model_max_length) impl->options.model_max_length = *c.model_max_length;
    if (c.mask) impl->options.mask_token = *c.mask;
    impl->clean_up_tokenization_spaces = c.clean_up_tokenization_spaces.value_or(false);
    if (c.pad && impl->options.pad_token == TokenizerOptions().pad_token) {
      impl->options.pad_token = *c.pad;
      const int32_t pad = t.token_to_id(*c.pad);
      impl->pad_id = pad >= 0 ? pad : 0;
    }
    return Tokenizer(std::move(impl));
  }
  const fs::path vocab = dir / "vocab.txt";
  SBERT_CHECK(fs::is_regular_file(vocab, ec), "[tokenizer] ", dir.string(),
              ": none of tokenizer.json, vocab.txt, sentencepiece.bpe.model, "
              "vocab.json + merges.txt found");
  TokenizerOptions o;
  if (c.do_lower_case) o.lowercase = *c.do_lower_case;
  if (c.tokenize_chinese_chars) o.handle_chinese_chars = *c.tokenize_chinese_chars;
  if (c.strip_accents) o.strip_accents = *c.strip_accents;
  if (c.model_max_length) o.model_max_length = *c.model_max_length;
  if (c.unk) o.unk_token = *c.unk;
  if (c.sep) o.sep_token = *c.sep;
  if (c.pad) o.pad_token = *c.pad;
  if (c.cls) o.cls_token = *c.cls;
  if (c.mask) o.mask_token = *c.mask;
  Tokenizer t = from_vocab_file(vocab, o);
  auto impl = std::make_shared<Impl>(*t.impl_);
  impl->clean_up_tokenization_spaces = c.clean_up_tokenization_spaces.value_or(false);
  if (c.added_tokens_decoder.empty()) return Tokenizer(std::move(impl));
  // Extra added tokens from tokenizer_config.json: rebuild with them.
  impl->id_to_token.resize(static_cast<size_t>(impl->model_vocab_size));
  impl->added_vocab = VocabMap();
  impl->cls_id = impl->sep_id = -1;
  for (const AddedToken& a : c.added_tokens_decoder) {
    const bool known = std::any_of(impl->added_tokens.begin(), impl->added_tokens.end(),
                                   [&](const AddedToken& b) { return b.content == a.content; });
    if (known) {
      for (AddedToken& b : impl->added_tokens)
        if (b.content == a.content)
          b = AddedToken{b.id,     a.content,    a.single_word, a.lstrip,
                         a.rstrip, a.normalized, a.special};
    } else {
      impl->added_tokens.push_back(a);
    }
  }
  impl->source = (dir / "tokenizer_config.json").string();
  impl->finish();
  return Tokenizer(std::move(impl));
}

}  // namespace sbert
