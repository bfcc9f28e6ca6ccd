#include "tokenizer/json_util.h"

#include <system_error>

#include "core/check.h"

namespace sbert::tok {

simdjson::dom::element parse_json_file(const std::filesystem::path& file,
                                       simdjson::dom::parser& parser,
                                       simdjson::padded_string& storage) {
  std::error_code ec;
  SBERT_CHECK(std::filesystem::is_regular_file(file, ec), "[tokenizer] ", file.string(),
              ": file not found");
  simdjson::padded_string raw;
  simdjson::error_code err = simdjson::padded_string::load(file.string()).get(raw);
  SBERT_CHECK(!err, "[tokenizer] ", file.string(), ": cannot read (", simdjson::error_message(err),
              ")");
  simdjson::dom::element root;
  err = parse_json(std::string_view(raw), parser, storage, root);
  SBERT_CHECK(!err, "[tokenizer] ", file.string(), ": not valid JSON (",
              simdjson::error_message(err), ")");
  return root;
}

}  // namespace sbert::tok
