// Gradient all-reduce in buckets, launched as backward finishes each layer's gradients.
//
// The gradient block (one float array, make_bert_layout order: embeddings, then layers 0..N-1)
// is cut into units: the embeddings [0, layer 0), layer l [start l, start l+1), the last layer
// up to the end of the block. Backward completes them from the top: layer N-1 first, the
// embeddings last. Consecutive units are grouped into buckets of at least `bucket_floats`
// (PyTorch DDP's 25 MB by default); a bucket's all-reduce starts as soon as its last unit is
// reported ready, on the communicator's stream (NCCL) or as an MPI_Iallreduce (CPU), while
// backward computes the layers below. finish() starts what was not reported and waits for all.
//
// The result is the SUM of the ranks' gradients, bitwise the same on every rank (the
// reduction is one collective per bucket). One process: nothing is done.
#pragma once

#include <cstdint>
#include <vector>

#include "dist/communicator.h"
#include "nn/bert_params.h"

namespace sbert {

class GradReducer {
 public:
  static constexpr int64_t kDefaultBucketFloats = int64_t{25} << 18;  // 25 MB of floats

  struct Bucket {
    int64_t begin = 0, end = 0;  // float range of the block
    int last_unit = 0;           // the unit whose readiness completes it (-1: the embeddings)
  };

  // grads: the gradient block (layout.total floats, in comm.bulk_device() memory); it must
  // outlive the reducer.
  GradReducer(Communicator& comm, const ModelConfig& cfg, const ParamLayout& layout, float* grads,
              int64_t bucket_floats = kDefaultBucketFloats);

  void begin();                // a new step: nothing launched
  void unit_ready(int layer);  // layer's gradients (N-1 .. 0) are final; -1: the embeddings'
  void finish();               // launch the rest, wait for every bucket

  const std::vector<Bucket>& buckets() const { return buckets_; }
  int64_t launched_early() const { return launched_early_; }  // buckets started by unit_ready

 private:
  void launch(size_t b);

  Communicator& comm_;
  float* grads_;
  std::vector<Bucket> buckets_;  // from the top of the block down (launch order)
  std::vector<Communicator::Request> requests_;
  std::vector<bool> started_;
  int64_t launched_early_ = 0;
  bool active_;
};

}  // namespace sbert
