// CSV (RFC 4180) and TSV training tables with a header line (data/train_table.h), opened and
// every record read back, strict and with skip_bad_records.
// Input: train.csv, then train.tsv, separated by sbert::fuzz::kSeparator.
#include "data/train_reader.h"
#include "fuzz_support.h"

namespace {

void read_all(const std::filesystem::path& path, bool skip_bad) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  sbert::TrainReaderOptions opt;
  opt.skip_bad_records = skip_bad;
  sbert::fuzz::run([&] {
    const sbert::TrainDataset d = sbert::TrainDataset::open(path, opt);
    for (size_t i = 0; i < d.size(); ++i) (void)d.record(i);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sbert::fuzz::write_parts(data, size, {"train.csv", "train.tsv"});
  for (const char* name : {"train.csv", "train.tsv"}) {
    read_all(sbert::fuzz::scratch() / name, false);
    read_all(sbert::fuzz::scratch() / name, true);
  }
  return 0;
}
