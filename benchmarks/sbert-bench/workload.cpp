#include "workload.h"

#include <functional>
#include <random>
#include <string>

#include "core/check.h"
#include "core/json.h"
#include "eval/beir.h"
#include "io/atomic_file.h"

namespace sbert::bench {

namespace fs = std::filesystem;

int64_t Shape::matmul_params() const {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  return static_cast<int64_t>(cfg.num_layers) * (4 * H * H + 2 * H * I);
}

Shape shape_by_name(const std::string& name) {
  Shape s;
  s.name = name;
  ModelConfig& c = s.cfg;
  c.pooling = Pooling::Mean;
  c.normalize = true;
  if (name == "minilm") {  // all-MiniLM-L6-v2
    c.hidden_size = 384, c.num_layers = 6, c.num_heads = 12, c.intermediate_size = 1536;
  } else if (name == "bert-base") {  // bert-base-uncased, e5-base, bge-base
    c.hidden_size = 768, c.num_layers = 12, c.num_heads = 12, c.intermediate_size = 3072;
  } else if (name == "bert-large") {  // bert-large-uncased, e5-large, bge-large
    c.hidden_size = 1024, c.num_layers = 24, c.num_heads = 16, c.intermediate_size = 4096;
  } else {
    fail("[sbert-bench] unknown shape '", name, "' (minilm, bert-base, bert-large)");
  }
  c.layer_norm_eps = 1e-12f;
  return s;
}

namespace {

using Seq = std::vector<int32_t>;

// Sequences of exactly n tokens: [CLS] random word pieces [SEP].
struct FixedLength {
  int n;
  Seq draw(std::mt19937_64& rng) const {
    std::uniform_int_distribution<int32_t> piece(1000, 29000);
    Seq s{101};
    while (static_cast<int>(s.size()) < n - 1) s.push_back(piece(rng));
    s.push_back(102);
    return s;
  }
};

struct SciFact {
  std::vector<Seq> queries, docs;
};

SciFact load_scifact(const WorkloadOptions& opt, const Tokenizer& tok) {
  const fs::path corpus = opt.scifact_dir / "beir" / "corpus.jsonl";
  const fs::path queries = opt.scifact_dir / "queries.jsonl";
  SBERT_CHECK(fs::exists(corpus), "[sbert-bench] ", corpus.string(),
              ": not found (build it with: python3 tools/scifact/prepare.py)");
  std::vector<std::string> qt, dt;
  for (auto& q : eval::read_beir_queries(queries)) qt.push_back(std::move(q.text));
  for (auto& d : eval::read_beir_corpus(corpus)) {
    dt.push_back(eval::py_strip(d.title + " " + d.text));  // as BEIR / sentence-transformers
  }
  return {tok.encode_batch(qt, opt.max_seq_length, 0), tok.encode_batch(dt, opt.max_seq_length, 0)};
}

}  // namespace

Workload make_workload(const Shape& shape, const WorkloadOptions& opt, const Tokenizer& tok) {
  SBERT_CHECK(opt.mode == "train" || opt.mode == "embed", "[sbert-bench] unknown mode '", opt.mode,
              "' (train, embed)");
  SBERT_CHECK(opt.batch > 0 && opt.negatives >= 0 && opt.embed_batch > 0 && opt.embed_seqs > 0 &&
                  opt.steps > 0 && opt.warmup >= 0,
              "[sbert-bench] sizes must be positive (batch ", opt.batch, ", negatives ",
              opt.negatives, ", embed batch ", opt.embed_batch, ", steps ", opt.steps, ")");
  Workload w{shape, opt, {}, {}};
  std::mt19937_64 rng(opt.seed);
  std::function<Seq()> query, doc;
  SciFact sf;
  if (opt.name.rfind("len", 0) == 0) {
    int n = 0;
    try {
      n = std::stoi(opt.name.substr(3));
    } catch (const std::exception&) {
    }
    SBERT_CHECK(n >= 2 && n <= shape.cfg.max_position_embeddings, "[sbert-bench] workload '",
                opt.name, "': length must be in [2, ", shape.cfg.max_position_embeddings, "]");
    const FixedLength f{n};
    query = doc = [f, &rng] { return f.draw(rng); };
  } else if (opt.name == "scifact") {
    sf = load_scifact(opt, tok);
    query = [&] { return sf.queries[rng() % sf.queries.size()]; };
    doc = [&] { return sf.docs[rng() % sf.docs.size()]; };
  } else {
    fail("[sbert-bench] unknown workload '", opt.name, "' (lenN such as len128, scifact)");
  }
  const int total = opt.warmup + opt.steps;
  for (int s = 0; s < total; ++s) {
    if (opt.mode == "train") {
      TrainBatch b;
      b.num_negatives = opt.negatives;
      for (int i = 0; i < opt.batch; ++i) {
        b.records.push_back(static_cast<uint32_t>(i));
        b.queries.push_back(query());
        b.positives.push_back(doc());
        for (int k = 0; k < opt.negatives; ++k) {
          b.negatives.push_back(doc());
          b.negative_mask.push_back(1);
        }
      }
      w.train.push_back(std::move(b));
    } else {
      std::vector<Seq> pass;
      for (int i = 0; i < opt.embed_seqs; ++i) pass.push_back(doc());
      w.embed.push_back(std::move(pass));
    }
  }
  return w;
}

namespace {
void append_seqs(std::string& out, const std::vector<Seq>& seqs) {
  out += '[';
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (i) out += ',';
    out += '[';
    for (size_t j = 0; j < seqs[i].size(); ++j) {
      if (j) out += ',';
      out += std::to_string(seqs[i][j]);
    }
    out += ']';
  }
  out += ']';
}
}  // namespace

void write_workload(const fs::path& path, const Workload& w) {
  const ModelConfig& c = w.shape.cfg;
  std::string o = "{\"shape\":{\"name\":" + json_quote(w.shape.name);
  o += ",\"vocab_size\":" + std::to_string(c.vocab_size);
  o += ",\"hidden_size\":" + std::to_string(c.hidden_size);
  o += ",\"num_layers\":" + std::to_string(c.num_layers);
  o += ",\"num_heads\":" + std::to_string(c.num_heads);
  o += ",\"intermediate_size\":" + std::to_string(c.intermediate_size);
  o += ",\"max_position_embeddings\":" + std::to_string(c.max_position_embeddings);
  o += ",\"hidden_dropout\":" + std::to_string(c.hidden_dropout);
  o += ",\"attention_dropout\":" + std::to_string(c.attention_dropout);
  o += "},\"workload\":" + json_quote(w.opt.name) + ",\"mode\":" + json_quote(w.opt.mode);
  o += ",\"softmax_temp\":0.02,\"warmup\":" + std::to_string(w.opt.warmup);
  o += ",\"pad_to\":" + std::to_string(w.opt.pad_to);
  o += ",\"embed_batch_size\":" + std::to_string(w.opt.embed_batch);
  if (w.opt.mode == "train") {
    o += ",\"steps\":[";
    for (size_t s = 0; s < w.train.size(); ++s) {
      const TrainBatch& b = w.train[s];
      o += s ? ",{\"queries\":" : "{\"queries\":";
      append_seqs(o, b.queries);
      o += ",\"positives\":";
      append_seqs(o, b.positives);
      o += ",\"negatives\":";
      append_seqs(o, b.negatives);
      o += '}';
    }
  } else {
    o += ",\"embed_passes\":[";
    for (size_t s = 0; s < w.embed.size(); ++s) {
      if (s) o += ',';
      append_seqs(o, w.embed[s]);
    }
  }
  o += "]}\n";
  write_file_atomic(path, o);
}

}  // namespace sbert::bench
