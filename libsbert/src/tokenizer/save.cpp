// Tokenizer::save: tokenizer.json (Hugging Face tokenizers), vocab.txt, tokenizer_config.json
// and special_tokens_map.json (transformers), each written to a temporary name then renamed.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/check.h"
#include "core/json_write.h"
#include "tokenizer/impl.h"
#include "tokenizer/json_util.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace sbert {

using namespace tok;
namespace fs = std::filesystem;

namespace {

// Local stand-in for io/atomic_file.h's write_file_atomic (same contract): write
// "<path>.tmp.<pid>", fsync, rename over path; the temporary is removed on failure.
void write_file_atomically(const fs::path& path, std::string_view content) {
  const fs::path tmp = fs::path(path.string() + ".tmp." + std::to_string(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SBERT_CHECK(fd >= 0, "[tokenizer] ", tmp.string(), ": cannot create (", std::strerror(errno),
              ")");
  size_t done = 0;
  bool ok = true;
  int err = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      err = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (ok && ::fsync(fd) != 0) ok = false, err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (!ok) {
    std::error_code ec;
    fs::remove(tmp, ec);
    fail("[tokenizer] ", path.string(), ": cannot write (", std::strerror(err), ")");
  }
}

const char* json_bool(bool b) { return b ? "true" : "false"; }

void append_added_token_fields(std::string& out, const AddedToken& t) {
  out += "\"content\": ";
  append_json_string(out, t.content);
  out += cat(", \"single_word\": ", json_bool(t.single_word), ", \"lstrip\": ", json_bool(t.lstrip),
             ", \"rstrip\": ", json_bool(t.rstrip), ", \"normalized\": ", json_bool(t.normalized),
             ", \"special\": ", json_bool(t.special));
}

std::string strip_accents_json(const TokenizerOptions& o) {
  return o.strip_accents < 0 ? "null" : json_bool(o.strip_accents == 1);
}

std::string tokenizer_json(const Tokenizer::Impl& impl) {
  const TokenizerOptions& o = impl.options;
  std::string out;
  out.reserve(impl.id_to_token.size() * 24 + 4096);
  out += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n";
  out += "  \"added_tokens\": [";
  for (size_t i = 0; i < impl.added_tokens.size(); ++i) {
    out += i ? ",\n    {" : "\n    {";
    out += cat("\"id\": ", impl.added_tokens[i].id, ", ");
    append_added_token_fields(out, impl.added_tokens[i]);
    out += "}";
  }
  out += impl.added_tokens.empty() ? "],\n" : "\n  ],\n";
  out += cat(
      "  \"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": ", json_bool(o.clean_text),
      ", \"handle_chinese_chars\": ", json_bool(o.handle_chinese_chars),
      ", \"strip_accents\": ", strip_accents_json(o), ", \"lowercase\": ", json_bool(o.lowercase),
      "},\n");
  out += "  \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},\n";
  std::string cls, sep;
  append_json_string(cls, o.cls_token);
  append_json_string(sep, o.sep_token);
  out += cat("  \"post_processor\": {\n    \"type\": \"TemplateProcessing\",\n",
             "    \"single\": [{\"SpecialToken\": {\"id\": ", cls,
             ", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, ",
             "{\"SpecialToken\": {\"id\": ", sep, ", \"type_id\": 0}}],\n",
             "    \"pair\": [{\"SpecialToken\": {\"id\": ", cls,
             ", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, ",
             "{\"SpecialToken\": {\"id\": ", sep, ", \"type_id\": 0}}, ",
             "{\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}, {\"SpecialToken\": {\"id\": ", sep,
             ", \"type_id\": 1}}],\n    \"special_tokens\": {\n");
  out += cat("      ", cls, ": {\"id\": ", cls, ", \"ids\": [", impl.cls_id, "], \"tokens\": [",
             cls, "]}");
  if (o.sep_token != o.cls_token) {
    out += cat(",\n      ", sep, ": {\"id\": ", sep, ", \"ids\": [", impl.sep_id,
               "], \"tokens\": [", sep, "]}");
  }
  out += "\n    }\n  },\n";
  std::string prefix;
  append_json_string(prefix, o.continuing_subword_prefix);
  out += cat("  \"decoder\": {\"type\": \"WordPiece\", \"prefix\": ", prefix,
             ", \"cleanup\": true},\n");
  out += "  \"model\": {\n    \"type\": \"WordPiece\",\n    \"unk_token\": ";
  append_json_string(out, o.unk_token);
  out += cat(",\n    \"continuing_subword_prefix\": ", prefix,
             ",\n    \"max_input_chars_per_word\": ", o.max_input_chars_per_word,
             ",\n    \"vocab\": {");
  for (int32_t id = 0; id < impl.model_vocab_size; ++id) {
    out += id ? ",\n      " : "\n      ";
    append_json_string(out, impl.id_to_token[static_cast<size_t>(id)]);
    out += cat(": ", id);
  }
  out += "\n    }\n  }\n}\n";
  return out;
}

std::string vocab_txt(const Tokenizer::Impl& impl) {
  std::string out;
  for (int32_t id = 0; id < impl.model_vocab_size; ++id) {
    const std::string& t = impl.id_to_token[static_cast<size_t>(id)];
    // vocab.txt is read line by line with trailing whitespace trimmed: such tokens cannot be
    // written there faithfully (tokenizer.json can hold them).
    bool ok = t.find_first_of("\n\r") == std::string::npos;
    if (ok && !t.empty()) {
      size_t start = t.size() - 1;
      while (start > 0 && is_utf8_continuation(t[start])) --start;
      size_t i = start;
      ok = !(char_flags(next_code_point(t, i)) & kWhitespace);
    }
    SBERT_CHECK(
        ok, "[tokenizer] vocab.txt: token ", id,
        " contains a line break or ends with whitespace; it cannot be written one per line");
    out += t;
    out += '\n';
  }
  return out;
}

// The special tokens that are set, as members of the open object, in transformers' order.
void special_token_members(JsonWriter& j, const TokenizerOptions& o) {
  const std::pair<const char*, const std::string*> tokens[] = {{"cls_token", &o.cls_token},
                                                               {"mask_token", &o.mask_token},
                                                               {"pad_token", &o.pad_token},
                                                               {"sep_token", &o.sep_token},
                                                               {"unk_token", &o.unk_token}};
  for (const auto& [key, value] : tokens) {
    if (!value->empty()) j.member(key, *value);
  }
}

void added_token_members(JsonWriter& j, const AddedToken& t) {
  j.member("content", t.content).member("single_word", t.single_word).member("lstrip", t.lstrip);
  j.member("rstrip", t.rstrip).member("normalized", t.normalized).member("special", t.special);
}

std::string tokenizer_config_json(const Tokenizer::Impl& impl, int model_max_length) {
  const TokenizerOptions& o = impl.options;
  JsonWriter j(2);  // json.dump(indent=2), each added token on one line
  j.begin_object().key("added_tokens_decoder").begin_object();
  for (const AddedToken& t : impl.added_tokens) {
    j.key(std::to_string(t.id)).begin_object(true);
    added_token_members(j, t);
    j.end_object();
  }
  j.end_object().member("clean_up_tokenization_spaces", true).member("do_basic_tokenize", true);
  j.member("do_lower_case", o.lowercase);
  if (model_max_length > 0) j.member("model_max_length", model_max_length);
  j.key("never_split").null().key("strip_accents");
  if (o.strip_accents < 0) {
    j.null();
  } else {
    j.value(o.strip_accents == 1);
  }
  j.member("tokenize_chinese_chars", o.handle_chinese_chars);
  j.member("tokenizer_class", "BertTokenizer");
  special_token_members(j, o);
  return j.end_object().take() + "\n";
}

std::string special_tokens_map_json(const TokenizerOptions& o) {
  JsonWriter j(2);
  j.begin_object();
  special_token_members(j, o);
  return j.end_object().take() + "\n";
}

}  // namespace

void Tokenizer::save(const fs::path& dir, int model_max_length) const {
  SBERT_CHECK(model_max_length >= 0, "[tokenizer] save: model_max_length must be >= 0, got ",
              model_max_length);
  std::error_code ec;
  fs::create_directories(dir, ec);
  SBERT_CHECK(!ec && fs::is_directory(dir), "[tokenizer] ", dir.string(),
              ": cannot create the directory (", ec.message(), ")");
  const Impl& impl = *impl_;
  const int max_len = model_max_length > 0 ? model_max_length : impl.options.model_max_length;
  if (impl.pipeline) {
    // Unigram / BPE: the files it was read from, unchanged, so that transformers rebuilds the
    // same tokenizer (its XLMRobertaTokenizer / RobertaTokenizer classes read more than
    // tokenizer.json). A tokenizer.json read alone gets a tokenizer_config.json that keeps
    // transformers on the file as it is.
    bool has_config = false;
    for (const auto& [name, bytes] : impl.files) has_config |= name == "tokenizer_config.json";
    std::string config;
    if (!has_config) {
      const TokenizerOptions& o = impl.options;
      JsonWriter j(2);
      j.begin_object().member("tokenizer_class", "PreTrainedTokenizerFast");
      if (max_len > 0) j.member("model_max_length", max_len);
      for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"cls_token", &o.cls_token},
                                       {"sep_token", &o.sep_token}, {"pad_token", &o.pad_token},
                                       {"unk_token", &o.unk_token}, {"mask_token", &o.mask_token}}) {
        if (!value->empty()) j.member(key, *value);
      }
      config = j.end_object().take() + "\n";
    }
    for (const auto& [name, bytes] : impl.files) write_file_atomically(dir / name, bytes);
    if (!has_config) write_file_atomically(dir / "tokenizer_config.json", config);
    return;
  }
  // Build everything first, so that a token vocab.txt cannot hold fails before any write.
  const std::string vocab = vocab_txt(impl);
  const std::string json = tokenizer_json(impl);
  const std::string config = tokenizer_config_json(impl, max_len);
  const std::string specials = special_tokens_map_json(impl.options);
  write_file_atomically(dir / "tokenizer.json", json);
  write_file_atomically(dir / "vocab.txt", vocab);
  write_file_atomically(dir / "tokenizer_config.json", config);
  write_file_atomically(dir / "special_tokens_map.json", specials);
}

}  // namespace sbert
