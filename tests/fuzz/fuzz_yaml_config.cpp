// sbert-finetune's YAML configuration (NeMo's keys, interpolations) and dotted command-line
// overrides (train/config.h). A configuration that loads must write YAML that loads again.
// Input: the YAML text, then the overrides one a line, separated by sbert::fuzz::kSeparator.
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "fuzz_support.h"
#include "sbert/error.h"
#include "sbert/train.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = sbert::fuzz::split(data, size, 2);
  std::vector<std::string> overrides;
  if (parts.size() > 1) {
    std::istringstream in{std::string(parts[1])};
    for (std::string line; std::getline(in, line);) overrides.push_back(line);
  }
  sbert::fuzz::run([&] {
    const sbert::TrainOptions o =
        sbert::TrainOptions::from_nemo_yaml_text(std::string(parts[0]), "fuzz.yaml", overrides);
    const std::string yaml = o.to_yaml();
    try {
      (void)sbert::TrainOptions::from_nemo_yaml_text(yaml, "written.yaml");
    } catch (const sbert::Error& e) {
      std::fprintf(stderr, "sbert fuzz: to_yaml() wrote YAML that does not load: %s\n%s\n",
                   e.what(), yaml.c_str());
      std::abort();
    }
  });
  return 0;
}
