// Scores and margins through the batch builder and slicing; several datasets in one run
// (proportional and round-robin sampling): determinism, counts, and exact resume.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "data/batch_sampler.h"
#include "sbert/error.h"
#include "support/fixtures.h"

using namespace sbert;
using namespace std::string_literals;
using Catch::Matchers::Contains;
using sbert::test::TempDir;

namespace {

std::shared_ptr<const TrainDataset> open_text(const TempDir& dir, const std::string& name,
                                              const std::string& content) {
  const auto p = dir / name;
  std::ofstream(p, std::ios::binary) << content;
  return std::make_shared<const TrainDataset>(TrainDataset::open(p));
}

// `count` records "<tag>q<i>" / "<tag>p<i>", score i, negatives "<tag>n<i>_<k>" with margins
// 100 i + k.
std::shared_ptr<const TrainDataset> labelled(const TempDir& dir, const std::string& tag,
                                             int count, int negs) {
  std::string s;
  for (int i = 0; i < count; ++i) {
    const std::string id = tag + std::to_string(i);
    s += "{\"query\": \"" + tag + "q" + std::to_string(i) + "\", \"pos_doc\": \"" + tag + "p" +
         std::to_string(i) + "\", \"score\": " + std::to_string(i) + ", \"neg_doc\": [";
    std::string m;
    for (int k = 0; k < negs; ++k) {
      s += (k ? ", \"" : "\"") + tag + "n" + std::to_string(i) + "_" + std::to_string(k) + "\"";
      m += (k ? ", " : "") + std::to_string(100 * i + k);
    }
    s += "], \"margins\": [" + m + "]}\n";
  }
  return open_text(dir, tag + ".jsonl", s);
}

TrainBatchBuilder::TokenizeBatchFn fake_tokenizer() {
  return [](const std::vector<std::string>& texts, int max_len) {
    std::vector<std::vector<int32_t>> out;
    for (const std::string& t : texts) {
      std::vector<int32_t> ids;
      for (char c : t) {
        if (ids.size() == static_cast<size_t>(max_len)) break;
        ids.push_back(static_cast<unsigned char>(c));
      }
      out.push_back(ids);
    }
    return out;
  };
}

std::string text(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += static_cast<char>(id);
  return s;
}

TrainBatchOptions opts(size_t batch, int k) {
  TrainBatchOptions o;
  o.global_batch_size = batch;
  o.hard_negatives_to_train = k;
  o.query_prefix = o.passage_prefix = "";
  return o;
}

bool same(const TrainBatch& a, const TrainBatch& b) {
  return a.epoch == b.epoch && a.index_in_epoch == b.index_in_epoch && a.dataset == b.dataset &&
         a.records == b.records && a.queries == b.queries && a.positives == b.positives &&
         a.negatives == b.negatives && a.negative_mask == b.negative_mask &&
         a.scores == b.scores && a.margins == b.margins;
}

// The number in a text "<tag>q12" -> 12.
int num(const std::vector<int32_t>& ids) {
  const std::string s = text(ids);
  return std::stoi(s.substr(s.find_first_of("0123456789")));
}

}  // namespace

TEST_CASE("scores and margins follow rows and selected negatives", "[train-data][sampler]") {
  TempDir dir;
  for (auto [sel, k, negs] : {std::tuple{NegativeSelection::First, 2, 3},
                              std::tuple{NegativeSelection::Random, 2, 4},
                              std::tuple{NegativeSelection::First, 4, 2}}) {
    const std::string tag(size_t(1), char('d' + 3 * k + negs));  // letters only: num() reads digits
    auto data = labelled(dir, tag, 8, negs);
    TrainBatchOptions o = opts(4, k);
    o.negative_selection = sel;
    TrainBatchBuilder b(data, o, fake_tokenizer());
    for (int step = 0; step < 4; ++step) {
      const TrainBatch batch = b.next();
      REQUIRE(batch.scores.size() == 4);
      REQUIRE(batch.margins.size() == 4 * size_t(k));
      for (size_t r = 0; r < 4; ++r) {
        const int i = num(batch.queries[r]);
        CHECK(batch.scores[r] == i);
        for (size_t s = 0; s < size_t(k); ++s) {
          // "<tag>n<i>_<j>": the margin of negative j is 100 i + j.
          const std::string neg = text(batch.negatives[r * size_t(k) + s]);
          const int j = std::stoi(neg.substr(neg.rfind('_') + 1));
          CHECK(batch.margins[r * size_t(k) + s] == 100 * i + j);
        }
      }
    }
  }
  // Pairs: no negatives, masked slots, margins absent; scores present.
  auto pairs = open_text(dir, "pairs.jsonl",
                         "{\"query\": \"a\", \"pos_doc\": \"b\", \"score\": 1}\n"
                         "{\"query\": \"c\", \"pos_doc\": \"d\", \"score\": 0}\n");
  TrainBatchBuilder pb(pairs, opts(2, 1), fake_tokenizer());
  const TrainBatch pbatch = pb.next();
  CHECK(pbatch.negative_mask == std::vector<uint8_t>{0, 0});
  CHECK(pbatch.margins.empty());
  CHECK(pbatch.scores.size() == 2);
  // Some records without a score: no scores at all.
  auto mixed = open_text(dir, "mixed.jsonl",
                         "{\"query\": \"a\", \"pos_doc\": \"b\", \"score\": 1}\n"
                         "{\"query\": \"c\", \"pos_doc\": \"d\"}\n");
  TrainBatchBuilder mb(mixed, opts(2, 0), fake_tokenizer());
  CHECK(mb.next().scores.empty());
}

TEST_CASE("slices and micro-batches carry scores and margins", "[train-data][sampler]") {
  TempDir dir;
  auto data = labelled(dir, "s", 8, 2);
  TrainBatchBuilder b(data, opts(8, 2), fake_tokenizer());
  const TrainBatch g = b.next();
  std::vector<double> scores, margins;
  for (int r = 0; r < 4; ++r) {
    const TrainBatch s = slice_for_rank(g, r, 4);
    REQUIRE(s.scores.size() == 2);
    REQUIRE(s.margins.size() == 4);
    for (const TrainBatch& m : split_micro_batches(s, 1)) {
      REQUIRE(m.scores.size() == 1);
      CHECK(m.scores[0] == num(m.queries[0]));
      scores.insert(scores.end(), m.scores.begin(), m.scores.end());
      margins.insert(margins.end(), m.margins.begin(), m.margins.end());
    }
  }
  CHECK(scores == g.scores);
  CHECK(margins == g.margins);
  // next_shard gives the same rows' labels as slicing the global batch.
  TrainBatchBuilder b2(data, opts(8, 2), fake_tokenizer());
  const TrainBatch sh = b2.next_shard(1, 2);
  CHECK(sh.scores == slice_for_rank(g, 1, 2).scores);
  CHECK(sh.margins == slice_for_rank(g, 1, 2).margins);
}

TEST_CASE("proportional sampling: each dataset's batches once a round, seeded order",
          "[train-data][sampler]") {
  TempDir dir;
  // 12, 4 and 8 records, batches of 4: 3, 1 and 2 batches a round.
  std::vector<SampledDataset> sets = {{labelled(dir, "a", 12, 1), 1.0},
                                      {labelled(dir, "b", 4, 1), 1.0},
                                      {labelled(dir, "c", 8, 1), 1.0}};
  TrainBatchOptions o = opts(4, 1);
  o.dedupe_in_batch = false;
  MultiBatchBuilder m(sets, DatasetSampler::Proportional, o, fake_tokenizer());
  REQUIRE(m.max_batches_per_epoch() == 6);
  std::map<std::pair<uint64_t, size_t>, int> per_round;
  std::vector<uint32_t> order0;
  for (int i = 0; i < 18; ++i) {
    const TrainBatch b = m.next();
    CHECK(b.epoch == uint64_t(i / 6));
    CHECK(b.index_in_epoch == uint64_t(i % 6));
    ++per_round[{b.epoch, b.dataset}];
    if (b.epoch == 0) order0.push_back(uint32_t(b.dataset));
    // Every row of a batch comes from its dataset.
    const char tag = "abc"[b.dataset];
    for (const auto& q : b.queries) CHECK(text(q)[0] == tag);
  }
  for (uint64_t r = 0; r < 3; ++r) {
    CHECK(per_round[{r, 0}] == 3);
    CHECK(per_round[{r, 1}] == 1);
    CHECK(per_round[{r, 2}] == 2);
  }
  CHECK(order0 == m.schedule(0));
  // Deterministic from the seed; another seed, another order (somewhere in 20 rounds).
  MultiBatchBuilder m2(sets, DatasetSampler::Proportional, o, fake_tokenizer());
  CHECK(m2.schedule(5) == m.schedule(5));
  TrainBatchOptions o3 = o;
  o3.seed = 99;
  MultiBatchBuilder m3(sets, DatasetSampler::Proportional, o3, fake_tokenizer());
  bool differs = false;
  for (uint64_t r = 0; r < 20; ++r) differs = differs || m3.schedule(r) != m.schedule(r);
  CHECK(differs);

  // Weights scale a dataset's batches per round (at least 1).
  std::vector<SampledDataset> w = {{sets[0].data, 1.0 / 3}, {sets[1].data, 2.0}};
  MultiBatchBuilder mw(w, DatasetSampler::Proportional, o, fake_tokenizer());
  CHECK(mw.max_batches_per_epoch() == 3);
  const auto s = mw.schedule(0);
  CHECK(std::count(s.begin(), s.end(), 0u) == 1);
  CHECK(std::count(s.begin(), s.end(), 1u) == 2);
}

TEST_CASE("round-robin sampling takes the datasets in turn", "[train-data][sampler]") {
  TempDir dir;
  std::vector<SampledDataset> sets = {{labelled(dir, "a", 12, 0), 1.0},
                                      {labelled(dir, "b", 8, 0), 1.0}};
  MultiBatchBuilder m(sets, DatasetSampler::RoundRobin, opts(4, 0), fake_tokenizer());
  CHECK(m.max_batches_per_epoch() == 4);  // the smallest has 2 batches: 2 x 2 datasets
  std::vector<size_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(m.next().dataset);
  CHECK(got == std::vector<size_t>{0, 1, 0, 1, 0, 1, 0, 1});
  std::vector<SampledDataset> weighted = {{sets[0].data, 2.0}, {sets[1].data, 1.0}};
  CHECK_THROWS_WITH(
      MultiBatchBuilder(weighted, DatasetSampler::RoundRobin, opts(4, 0), fake_tokenizer()),
      Contains("needs the proportional sampler"));
  std::vector<SampledDataset> tiny = {{sets[0].data, 1.0}, {labelled(dir, "t", 2, 0), 1.0}};
  CHECK_THROWS_WITH(
      MultiBatchBuilder(tiny, DatasetSampler::Proportional, opts(4, 0), fake_tokenizer()),
      Contains("t.jsonl: 2 records, fewer than global_batch_size 4"));
}

TEST_CASE("several datasets: a saved position resumes with identical batches",
          "[train-data][sampler]") {
  TempDir dir;
  for (DatasetSampler sampler : {DatasetSampler::Proportional, DatasetSampler::RoundRobin}) {
    std::vector<SampledDataset> sets = {{labelled(dir, "a", 10, 3), 1.0},
                                        {labelled(dir, "b", 7, 2), 1.0}};
    TrainBatchOptions o = opts(3, 2);
    o.negative_selection = NegativeSelection::Random;
    MultiBatchBuilder full(sets, sampler, o, fake_tokenizer());
    std::vector<TrainBatch> want;
    std::vector<std::string> positions;
    for (int i = 0; i < 15; ++i) {  // several rounds
      positions.push_back(full.position().to_json());
      want.push_back(full.next());
    }
    for (int cut : {0, 1, 4, 5, 9, 14}) {
      MultiBatchBuilder resumed(sets, sampler, o, fake_tokenizer());
      resumed.restore(DataPosition::from_json(positions[size_t(cut)]));
      for (int i = cut; i < 15; ++i) {
        const TrainBatch b = resumed.next();
        CHECK(same(b, want[size_t(i)]));
      }
    }
    const DataPosition p = DataPosition::from_json(positions[7]);
    CHECK(p.datasets.size() == 2);
    CHECK(p.sampler == dataset_sampler_name(sampler));
    CHECK(DataPosition::from_json(p.to_json()).to_json() == p.to_json());
  }
  // A position of another run is refused with what differs.
  std::vector<SampledDataset> two = {{labelled(dir, "x", 6, 0), 1.0},
                                     {labelled(dir, "y", 6, 0), 1.0}};
  MultiBatchBuilder prop(two, DatasetSampler::Proportional, opts(3, 0), fake_tokenizer());
  MultiBatchBuilder rr(two, DatasetSampler::RoundRobin, opts(3, 0), fake_tokenizer());
  CHECK_THROWS_WITH(rr.restore(prop.position()), Contains("saved with sampler proportional"));
  MultiBatchBuilder one({two[0]}, DatasetSampler::Proportional, opts(3, 0), fake_tokenizer());
  CHECK_THROWS_WITH(one.restore(prop.position()), Contains("saved with 2 datasets but this run has 1"));
  CHECK_THROWS_WITH(prop.restore(one.position()), Contains("saved with 1 datasets but this run has 2"));
}

TEST_CASE("one dataset: the multi-dataset builder is the single stream", "[train-data][sampler]") {
  TempDir dir;
  auto data = labelled(dir, "o", 9, 2);
  TrainBatchBuilder single(data, opts(3, 1), fake_tokenizer());
  MultiBatchBuilder multi({{data, 1.0}}, DatasetSampler::Proportional, opts(3, 1),
                          fake_tokenizer());
  CHECK(multi.position().to_json() == single.position().to_json());
  CHECK(multi.position().to_json().find("\"version\":1") != std::string::npos);
  for (int i = 0; i < 7; ++i) CHECK(same(multi.next(), single.next()));
  CHECK(multi.position().to_json() == single.position().to_json());
}
