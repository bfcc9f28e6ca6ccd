// Tokenizer::decode: Hugging Face's batch_decode(ids, skip_special_tokens=True) for WordPiece
// tokenizers (tokenizers' TokenizerImpl::decode with the WordPiece decoder, then transformers'
// TokenizersBackend._decode cleanup). gist's guide re-tokenizes the decoded text.
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
      {" .", "."},       {" ?", "?"},   {" !", "!"},   {" ,", ","},
      {" ' ", "'"},      {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"},
      {" 's", "'s"},     {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& p : kPairs) replace_all(t, p[0], p[1]);
}

// transformers' PreTrainedTokenizerBase.clean_up_tokenization, on the whole text.
void transformers_cleanup(std::string& t) {
  static constexpr std::string_view kPairs[][2] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},   {" ,", ","},   {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& p : kPairs) replace_all(t, p[0], p[1]);
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  const Impl& m = *impl_;
  SBERT_CHECK(!m.pipeline && m.wordpiece_decoder, "[tokenizer] decode: ", m.source,
              " is not a WordPiece tokenizer with a WordPiece decoder; libsbert decodes "
              "WordPiece (BERT) token ids only");
  std::string out, piece;
  bool first = true;
  for (const int32_t id : ids) {
    const std::string& token = id_to_token(id);
    bool special = false;
    for (const tok::AddedToken& a : m.added_tokens) special |= a.special && a.id == id;
    if (special) continue;
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
