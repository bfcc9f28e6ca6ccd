// Progress of a long library operation (embedding many texts, retrieval evaluation, mining,
// conversion). The library never prints: an operation whose options hold a ProgressCallback
// calls it at a coarse granularity (once per batch or per stage step), and the caller draws it.
//
//   sbert::EmbedOptions o;
//   o.progress = [](const sbert::Progress& p) { std::fprintf(stderr, "%s %lld/%lld\n", p.stage, ...); };
#pragma once

#include <cstdint>
#include <functional>

namespace sbert {

struct Progress {
  const char* stage = "";  // a fixed name: "embed", "embed corpus", "search", "write", ...
  int64_t done = 0;        // units of the stage finished (texts, queries, tensors, records)
  int64_t total = 0;       // units of the stage in all; done == total ends the stage
};

// Called on the calling thread, between batches; keep it cheap (no locking inside the library).
using ProgressCallback = std::function<void(const Progress&)>;

}  // namespace sbert
