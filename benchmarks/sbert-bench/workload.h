// sbert-bench workloads: a model shape and the exact token ids of every timed step, shared with
// the PyTorch side (benchmarks/pytorch/bench_torch.py) through a JSON file so that both run the
// very same sequences.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/train_batches.h"
#include "sbert/config.h"
#include "sbert/tokenizer.h"

namespace sbert::bench {

struct Shape {
  std::string name;  // minilm | bert-base | bert-large
  ModelConfig cfg;
  // Non-embedding matmul parameters (weights of the QKV, output and FFN projections).
  int64_t matmul_params() const;
};
// Throws sbert::Error for an unknown name.
Shape shape_by_name(const std::string& name);

struct WorkloadOptions {
  std::string name = "len128";  // lenN (every sequence N tokens) | scifact
  std::string mode = "train";   // train | embed
  int batch = 8;                // train: queries per step (each with a positive + K negatives)
  int negatives = 1;            // train: K hard negatives per query
  int embed_batch = 32;         // embed: sequences per forward pass
  int embed_seqs = 128;         // embed: sequences per timed pass
  int steps = 3;                // timed steps (train) or passes (embed)
  int warmup = 1;               // untimed steps first (buffers are allocated there)
  int max_seq_length = 256;     // scifact: truncation of queries and documents
  int pad_to = 0;               // PyTorch side only: pad every batch to this length (0: longest)
  uint64_t seed = 1;
  std::filesystem::path scifact_dir = "data/scifact";  // holds queries.jsonl, beir/corpus.jsonl
};

struct Workload {
  Shape shape;
  WorkloadOptions opt;
  std::vector<TrainBatch> train;                         // (warmup + steps) when mode == train
  std::vector<std::vector<std::vector<int32_t>>> embed;  // (warmup + steps) passes of sequences
};

// Builds the sequences: random ids for lenN, tokenized SciFact claims (queries) and abstracts
// (title + text: positives, negatives, embedded documents) sampled with the seed.
Workload make_workload(const Shape& shape, const WorkloadOptions& opt, const Tokenizer& tok);

// The workload as JSON for bench_torch.py (shape, mode, sizes, every step's ids). Atomic.
void write_workload(const std::filesystem::path& path, const Workload& w);

}  // namespace sbert::bench
