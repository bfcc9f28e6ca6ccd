#include "dist/grad_reducer.h"

#include <algorithm>
#include <string>

#include "core/check.h"

namespace sbert {

GradReducer::GradReducer(Communicator& comm, const ModelConfig& cfg, const ParamLayout& layout,
                         float* grads, int64_t bucket_floats)
    : comm_(comm), grads_(grads), active_(comm.size() > 1) {
  SBERT_CHECK(bucket_floats > 0, "[dist] gradient bucket size must be positive, got ",
              bucket_floats);
  const int N = cfg.num_layers;
  SBERT_CHECK(N >= 0, "[dist] model has ", N, " layers");
  // start[u + 1] is where unit u begins (u = -1: the embeddings at 0); start[N + 1]: the end.
  std::vector<int64_t> start(static_cast<size_t>(N) + 2, 0);
  start[static_cast<size_t>(N) + 1] = layout.total;
  for (int l = 0; l < N; ++l) {
    const std::string prefix = "encoder.layer." + std::to_string(l) + ".";
    int64_t lo = layout.total;
    for (const ParamSpec& s : layout.specs) {
      if (s.name.rfind(prefix, 0) == 0) lo = std::min(lo, s.offset);
    }
    SBERT_CHECK(lo < layout.total, "[dist] layout has no parameters for layer ", l);
    start[static_cast<size_t>(l) + 1] = lo;
  }
  for (size_t i = 1; i < start.size(); ++i) {
    SBERT_CHECK(start[i - 1] <= start[i], "[dist] layer ", static_cast<int>(i) - 2,
                " does not follow the previous one in the parameter block");
  }
  // From the top: units N-1, N-2, ..., 0, -1 grouped until a bucket holds bucket_floats.
  int64_t end = layout.total;
  for (int u = N - 1; u >= -1; --u) {
    const int64_t begin = start[static_cast<size_t>(u) + 1];
    if (end - begin >= bucket_floats || u == -1) {
      buckets_.push_back({begin, end, u});
      end = begin;
    }
  }
  requests_.assign(buckets_.size(), 0);
  started_.assign(buckets_.size(), false);
}

void GradReducer::begin() {
  SBERT_CHECK(!active_ || std::none_of(requests_.begin(), requests_.end(),
                                       [](Communicator::Request r) { return r != 0; }),
              "[dist] gradient reducer: a new step began before finish()");
  started_.assign(buckets_.size(), false);
  launched_early_ = 0;
}

void GradReducer::launch(size_t b) {
  const Bucket& k = buckets_[b];
  requests_[b] = comm_.start_all_reduce_sum(grads_ + k.begin, k.end - k.begin);
  started_[b] = true;
}

void GradReducer::unit_ready(int layer) {
  if (!active_) return;
  comm_.progress();  // the buckets already started advance while backward goes on
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (buckets_[b].last_unit == layer && !started_[b]) {
      launch(b);
      ++launched_early_;
    }
  }
}

void GradReducer::finish() {
  if (!active_) return;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!started_[b]) launch(b);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const Communicator::Request r = requests_[b];
    requests_[b] = 0;
    comm_.wait(r);
  }
}

}  // namespace sbert
