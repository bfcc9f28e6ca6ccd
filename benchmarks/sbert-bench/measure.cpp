#include "measure.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include "api/model_impl.h"
#include "core/buffer.h"
#include "core/check.h"
#include "core/context.h"
#include "core/json.h"
#include "cuda/runtime.h"
#include "nn/encoder.h"
#include "nn/placed_weights.h"
#include "nn/pooling.h"
#include "ops/ops.h"
#include "sbert/json.h"
#include "train/adamw.h"
#include "train/grad_cache.h"
#include "train/grad_norm.h"
#include "train/loss.h"

namespace sbert::bench {

namespace {

constexpr double kH100DenseBf16 = 989e12;  // FLOP/s, the MFU reference of the issue

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Peak resident memory: /proc/self/clear_refs "5" resets VmHWM to the current RSS.
void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (f) f << "5";
}
double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      f >> kib;
      return kib / 1024.0;
    }
    std::getline(f, key);
  }
  return -1;
}

std::unique_ptr<Model::Impl> random_model(const ModelConfig& cfg, const Tokenizer& tok,
                                          uint64_t seed) {
  auto m = std::make_unique<Model::Impl>(Model::Impl{"", cfg, tok, {}, {}, {}, {}, {}, {}, {}});
  m->layout = make_bert_layout(cfg);
  m->weights.assign(static_cast<size_t>(m->layout.total), 0.0f);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (const ParamSpec& p : m->layout.specs) {
    float* w = m->weights.data() + p.offset;
    const bool ln = p.name.find("LayerNorm") != std::string::npos;
    const bool bias = p.name.size() > 5 && p.name.ends_with(".bias");
    for (int64_t i = 0; i < p.numel; ++i) w[i] = ln && !bias ? 1.0f : bias ? 0.0f : normal(rng);
  }
  m->view = bind_bert(cfg, m->layout, m->weights.data());
  return m;
}

// FLOPs of a forward + backward over one sequence of n tokens: 6 N + 12 L d n per token.
double train_flops(const Shape& s, int64_t n) {
  const double N = static_cast<double>(s.matmul_params());
  const double Ld = static_cast<double>(s.cfg.num_layers) * s.cfg.hidden_size;
  return static_cast<double>(n) * (6.0 * N + 12.0 * Ld * static_cast<double>(n));
}

double sum_flops(const Shape& s, const std::vector<std::vector<int32_t>>& seqs, double* tokens) {
  double f = 0;
  for (const auto& q : seqs) {
    f += train_flops(s, static_cast<int64_t>(q.size()));
    *tokens += static_cast<double>(q.size());
  }
  return f;
}

}  // namespace

const char* precision_name(Precision p) {
  return p == Precision::BF16Mixed ? "bf16-mixed" : p == Precision::FP16Mixed ? "16-mixed" : "32";
}

Result measure(const Workload& w, const Tokenizer& tok, Device device, Precision precision,
               bool cudnn, int threads, const ProgressCallback& progress) {
  Context ctx{device, threads};
  ctx.bf16 = precision == Precision::BF16Mixed;
  ctx.fp16 = precision == Precision::FP16Mixed;
  ctx.cudnn_attention = cudnn;            // model.attention_backend cudnn
  constexpr float kLossScale = 65536.0f;  // 16-mixed: a fixed scale (see measure.h)
  Result r;
  r.threads = apply_cpu_threads(ctx);
  const auto model = random_model(w.shape.cfg, tok, w.opt.seed);
  const ModelConfig& cfg = model->config;
  const bool train = w.opt.mode == "train";
  const size_t total = train ? w.train.size() : w.embed.size();
  // On the GPU: the weights copied to the device once (and trained there: gradients and
  // AdamW's state too, as trainer.accelerator=gpu does), each step or pass timed to the end of
  // its stream.
  const size_t device_before = device == Device::CUDA ? cuda::device_memory_in_use() : 0;
  size_t device_peak = device_before;
  const PlacedWeights placed = place_weights(ctx, cfg, model->layout, model->weights, model->view);
  cuda::Runtime* runtime = placed.runtime.get();
  const BertView& view = placed.view;
  float* weights = placed.data;
  // bf16-mixed: the GEMMs read a bf16 copy of the block, refreshed after each AdamW step as the
  // trainer does (ops.h).
  ops::bind_weight_copy(ctx, weights, model->layout.total);
  ops::refresh_weight_copy(ctx);

  Buffer<float> grads;
  BertView gview{};
  std::unique_ptr<GradCache> gc;
  std::unique_ptr<AdamW> adamw;
  LossConfig loss;  // NeMo: exclusive hard negatives, T = 0.02
  EncoderCache cache;
  PoolingCache pool;
  if (train) {
    grads.resize(ctx, static_cast<size_t>(model->layout.total));
    gview = bind_bert(cfg, model->layout, grads.data());
    gc = std::make_unique<GradCache>(ctx, *model);
    gc->set_weights(view);
    adamw = std::make_unique<AdamW>(model->layout, AdamWConfig{}, ctx);
    if (ctx.fp16) gc->set_loss_scale(kLossScale);
    if (runtime) {  // the trainer's plan: caches sized once for the largest batch
      int64_t rows = 0, k = 0, qlen = 0, plen = 0;
      for (const TrainBatch& b : w.train) {
        rows = std::max<int64_t>(rows, static_cast<int64_t>(b.size()));
        k = std::max<int64_t>(k, b.num_negatives);
        for (const auto& q : b.queries) qlen = std::max<int64_t>(qlen, std::ssize(q));
        for (const auto* part : {&b.positives, &b.negatives}) {
          for (const auto& p : *part) plen = std::max<int64_t>(plen, std::ssize(p));
        }
      }
      gc->reserve(rows, k, qlen, plen);
      gc->reserve_loss(loss, rows, k, rows);
      r.planned_device_mib =
          static_cast<double>(cuda::device_memory_in_use() - device_before) / 1048576.0;
    }
  }

  std::vector<double> times;
  double cpu = 0, samples = 0, seqs = 0, tokens = 0, flops = 0;
  for (size_t s = 0; s < total; ++s) {
    if (s == static_cast<size_t>(w.opt.warmup)) reset_peak_rss();
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    if (train) {
      const TrainBatch& b = w.train[s];
      const DropoutState d{.seed = w.opt.seed, .step = s, .training = true};
      gc->gradients(b, b.size(), loss, d, gview, grads.data(), nullptr);
      if (ctx.fp16) scale_grads(ctx, grads.data(), model->layout.total, 1.0f / kLossScale);
      adamw->step(weights, grads.data(), 1e-5);
      ops::refresh_weight_copy(ctx);
      if (runtime) runtime->synchronize();
    } else {
      const auto& pass = w.embed[s];
      const int64_t n = static_cast<int64_t>(pass.size());
      for (int64_t b0 = 0; b0 < n; b0 += w.opt.embed_batch) {
        const PackedBatch batch =
            pack_sequences(pass, b0, std::min<int64_t>(n, b0 + w.opt.embed_batch));
        encoder_forward(ctx, cfg, view, batch, cache);
        pooling_forward(ctx, cfg, cache.output, batch, pool, staged_cu_seqlens(ctx, cache));
      }
      if (runtime) runtime->synchronize();
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (runtime) device_peak = std::max(device_peak, cuda::device_memory_in_use());
    // Outside the timed region: drawing progress costs nothing that is measured.
    if (progress) {
      progress({train ? "steps (warmup + timed)" : "passes (warmup + timed)",
                static_cast<int64_t>(s + 1), static_cast<int64_t>(total)});
    }
    if (s < static_cast<size_t>(w.opt.warmup)) continue;
    times.push_back(dt);
    cpu += cpu_seconds() - c0;
    if (train) {
      const TrainBatch& b = w.train[s];
      samples += static_cast<double>(b.size());
      seqs += static_cast<double>(b.queries.size() + b.positives.size() + b.negatives.size());
      for (const auto* part : {&b.queries, &b.positives, &b.negatives}) {
        flops += sum_flops(w.shape, *part, &tokens);
      }
    } else {
      samples += static_cast<double>(w.embed[s].size());
      seqs += static_cast<double>(w.embed[s].size());
      flops += sum_flops(w.shape, w.embed[s], &tokens) / 3.0;  // forward only: 2N + 4 L d s
    }
  }
  r.peak_rss_mib = peak_rss_mib();
  if (runtime) r.peak_device_mib = static_cast<double>(device_peak - device_before) / 1048576.0;
  r.steps = static_cast<int>(times.size());
  double sum = 0;
  for (double t : times) sum += t;
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const size_t m = sorted.size();
  r.step_s_median = m % 2 ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]);
  r.step_s_min = sorted.front();
  r.cpu_s_per_step = cpu / static_cast<double>(m);
  r.samples_per_s = samples / sum;
  r.sequences_per_s = seqs / sum;
  r.real_tokens_per_s = tokens / sum;
  r.real_tokens_per_step = tokens / static_cast<double>(m);
  r.flops_per_step = flops / static_cast<double>(m);
  r.tflops_per_s = flops / sum / 1e12;
  if (device == Device::CUDA) r.mfu = flops / sum / kH100DenseBf16;
  return r;
}

std::string to_json(const Workload& w, Device device, Precision precision, bool cudnn,
                    const Result& r) {
  char buf[1536];
  std::snprintf(
      buf, sizeof buf,
      "{\"impl\":\"libsbert\",\"device\":\"%s\",\"precision\":\"%s\",\"attention\":\"%s\","
      "\"threads\":%d,"
      "\"shape\":%s,"
      "\"workload\":%s,\"pad_to\":%d,\"mode\":%s,\"batch\":%d,\"negatives\":%d,\"embed_batch\":%d,"
      "\"steps\":%d,\"step_s_median\":%.6g,\"step_s_min\":%.6g,\"cpu_s_per_step\":%.6g,"
      "\"samples_per_s\":%.6g,\"sequences_per_s\":%.6g,\"real_tokens_per_s\":%.6g,"
      "\"real_tokens_per_step\":%.6g,\"flops_per_step\":%.6g,\"tflops_per_s\":%.6g,"
      "\"mfu\":%s,\"peak_rss_mib\":%.1f,\"peak_device_mib\":%s,\"planned_device_mib\":%s}\n",
      to_string(device), precision_name(precision), cudnn ? "cudnn" : "ours", r.threads,
      json_quote(w.shape.name).c_str(),
      json_quote(w.opt.name).c_str(), w.opt.pad_to, json_quote(w.opt.mode).c_str(), w.opt.batch,
      w.opt.negatives, w.opt.embed_batch, r.steps, r.step_s_median, r.step_s_min, r.cpu_s_per_step,
      r.samples_per_s, r.sequences_per_s, r.real_tokens_per_s, r.real_tokens_per_step,
      r.flops_per_step, r.tflops_per_s, r.mfu < 0 ? "null" : std::to_string(r.mfu).c_str(),
      r.peak_rss_mib,
      r.peak_device_mib < 0 ? "null" : json_number(r.peak_device_mib).c_str(),
      r.planned_device_mib < 0 ? "null" : json_number(r.planned_device_mib).c_str());
  return buf;
}

}  // namespace sbert::bench
