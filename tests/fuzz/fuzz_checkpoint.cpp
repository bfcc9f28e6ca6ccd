// A checkpoint's trainer state (train/checkpoint.h) with the data position it carries
// (data/train_batches.h), its checksum manifest and the `latest` pointer, read as resuming
// reads them (find_resumable_checkpoint verifies, then the state is parsed).
// Input: trainer_state.json, checksums.xxh128, latest, separated by sbert::fuzz::kSeparator.
#include "data/train_batches.h"
#include "fuzz_support.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string step = "r/checkpoints/step-00000001/";
  sbert::fuzz::write_parts(data, size,
                           {step + "trainer_state.json", step + "checksums.xxh128",
                            "r/checkpoints/latest"});
  const auto root = sbert::fuzz::scratch() / "r/checkpoints";
  const std::vector<std::string_view> parts = sbert::fuzz::split(data, size, 3);
  sbert::fuzz::run([&] {
    const sbert::TrainerState s =
        sbert::trainer_state_from_json(std::string(parts[0]), root / "trainer_state.json");
    (void)sbert::to_json(s);
    (void)sbert::DataPosition::from_json(s.data_position);
  });
  sbert::fuzz::run([&] {
    const sbert::ResumePoint p = sbert::find_resumable_checkpoint(root);
    if (p.dir) (void)sbert::try_read_state(*p.dir);
  });
  sbert::fuzz::run([&] { (void)sbert::find_latest_checkpoint(root); });
  return 0;
}
