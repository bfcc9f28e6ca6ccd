// NeMo training data: one JSON array of records or JSON Lines (data/train_reader.h), opened
// (every record validated) then every record read back, strict and with skip_bad_records.
#include "data/train_reader.h"
#include "fuzz_support.h"

namespace {

void read_all(const std::filesystem::path& path, bool skip_bad) {
  sbert::TrainReaderOptions opt;
  opt.skip_bad_records = skip_bad;
  sbert::fuzz::run([&] {
    const sbert::TrainDataset d = sbert::TrainDataset::open(path, opt);
    for (size_t i = 0; i < d.size(); ++i) {
      (void)d.record(i);
      (void)d.where(i);
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path =
      sbert::fuzz::write_file("train.jsonl", {reinterpret_cast<const char*>(data), size});
  read_all(path, false);
  read_all(path, true);
  return 0;
}
