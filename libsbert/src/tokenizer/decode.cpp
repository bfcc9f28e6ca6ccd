// Tokenizer::decode: Hugging Face's batch_decode(ids, skip_special_tokens=True) (tokenizers'
// TokenizerImpl::decode with the WordPiece, Metaspace or ByteLevel decoder, then transformers'
// TokenizersBackend._decode cleanup, which it skips for BPE models). gist's guide re-tokenizes the
// decoded text.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "tokenizer/impl.h"

namespace sbert {

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  if (pos == 0) return;
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

// tokenizers' decoders::wordpiece::cleanup, applied to each token (with its leading space).
void wordpiece_cleanup(std::string& t) {
  static constexpr std::string_view kPairs[][2] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& p : kPairs) replace_all(t, p[0], p[1]);
}

// transformers' PreTrainedTokenizerBase.clean_up_tokenization, on the whole text.
void transformers_cleanup(std::string& t) {
  static constexpr std::string_view kPairs[][2] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& p : kPairs) replace_all(t, p[0], p[1]);
}

// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
std::string utf8_lossy(std::string_view s) {
  std::string out;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (b >= 0xC2 && b <= 0xDF)
      need = 1;
    else if (b == 0xE0)
      need = 2, lo = 0xA0;
    else if (b == 0xED)
      need = 2, hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF)
      need = 2;
    else if (b == 0xF0)
      need = 3, lo = 0x90;
    else if (b == 0xF4)
      need = 3, hi = 0x8F;
    else if (b >= 0xF1 && b <= 0xF3)
      need = 3;
    size_t j = i + 1;
    int k = 0;
    for (; k < need && j < n; ++k, ++j) {
      const auto c = static_cast<unsigned char>(s[j]);
      if (c < (k == 0 ? lo : 0x80) || c > (k == 0 ? hi : 0xBF)) break;
    }
    if (need > 0 && k == need)
      out.append(s.substr(i, j - i));
    else
      out += "\xEF\xBF\xBD";
    i = j;
  }
  return out;
}

// tokenizers' ByteLevel decoder: every character back to its byte (a token with a character
// outside the table is kept as its UTF-8 bytes), then a lossy UTF-8 decode of the whole.
std::string byte_level_decode(const std::vector<const std::string*>& tokens) {
  static const auto inverse = [] {
    std::vector<std::pair<std::string, unsigned char>> t;
    for (int b = 0; b < 256; ++b)
      t.emplace_back(tok::byte_level_char(static_cast<unsigned char>(b)),
                     static_cast<unsigned char>(b));
    std::sort(t.begin(), t.end());
    return t;
  }();
  std::string bytes, mapped;
  for (const std::string* t : tokens) {
    mapped.clear();
    bool ok = true;
    for (size_t i = 0; ok && i < t->size();) {
      const auto lead = static_cast<unsigned char>((*t)[i]);
      const size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      const std::string c = t->substr(i, len);
      auto it = std::lower_bound(inverse.begin(), inverse.end(),
                                 std::make_pair(c, static_cast<unsigned char>(0)));
      ok = it != inverse.end() && it->first == c;
      if (ok) mapped += static_cast<char>(it->second);
      i += len;
    }
    bytes += ok ? mapped : *t;
  }
  return utf8_lossy(bytes);
}

// tokenizers' Metaspace decoder: the replacement character becomes a space, except in the
// first token (prepend_scheme always / first), where it is dropped.
std::string metaspace_decode(const std::vector<const std::string*>& tokens,
                             const tok::PreTokenizerStep& m) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = *tokens[i];
    const bool drop = i == 0 && m.prepend != tok::PreTokenizerStep::kNever;
    for (size_t p = 0; p < t.size();) {
      if (t.compare(p, m.replacement.size(), m.replacement) == 0 && !m.replacement.empty()) {
        if (!drop) out += ' ';
        p += m.replacement.size();
      } else {
        out += t[p++];
      }
    }
  }
  return out;
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  const Impl& m = *impl_;
  auto is_special = [&](int32_t id) {
    for (const tok::AddedToken& a : m.added_tokens)
      if (a.special && a.id == id) return true;
    return false;
  };
  if (m.pipeline) {
    // The decoder that goes with the pre-tokenizer (tokenizer.json pairs them so).
    const tok::PreTokenizerStep* step = nullptr;
    for (const tok::PreTokenizerStep& p : m.pipeline->pre_tokenizers)
      if (p.kind != tok::PreTokenizerStep::kWhitespaceSplit) step = &p;
    SBERT_CHECK(step, "[tokenizer] decode: ", m.source,
                " has neither a Metaspace nor a ByteLevel pre-tokenizer; libsbert decodes "
                "WordPiece, Metaspace and ByteLevel token ids only");
    std::vector<const std::string*> tokens;
    for (const int32_t id : ids) {
      const std::string& token = id_to_token(id);
      if (!is_special(id)) tokens.push_back(&token);
    }
    if (step->kind == tok::PreTokenizerStep::kByteLevel) return byte_level_decode(tokens);
    std::string out = metaspace_decode(tokens, *step);
    if (m.clean_up_tokenization_spaces) transformers_cleanup(out);
    return out;
  }
  SBERT_CHECK(m.wordpiece_decoder, "[tokenizer] decode: ", m.source,
              " has no WordPiece decoder; libsbert decodes WordPiece, Metaspace and ByteLevel "
              "token ids only");
  std::string out, piece;
  bool first = true;
  for (const int32_t id : ids) {
    const std::string& token = id_to_token(id);
    if (is_special(id)) continue;
    piece.clear();
    if (first) {
      piece = token;
    } else if (token.compare(0, m.decoder_prefix.size(), m.decoder_prefix) == 0) {
      piece.assign(token, m.decoder_prefix.size(), std::string::npos);
    } else {
      piece = ' ' + token;
    }
    if (m.decoder_cleanup) wordpiece_cleanup(piece);
    out += piece;
    first = false;
  }
  if (m.clean_up_tokenization_spaces) transformers_cleanup(out);
  return out;
}

}  // namespace sbert
