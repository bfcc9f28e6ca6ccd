// The training batch builder: negatives and mask, prefixes, lengths, token cache, order,
// dedupe, drop_last, resume, rank slicing. The tokenizer is a fake: one id per byte.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "data/train_batches.h"
#include "support/fixtures.h"

using namespace sbert;
using namespace std::string_literals;
using Catch::Matchers::Contains;
using sbert::test::TempDir;

namespace {

std::filesystem::path write_file(const TempDir& dir, const std::string& name,
                                 const std::string& content) {
  const auto p = dir / name;
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

// A JSON string literal for s (quotes, backslashes and control characters escaped).
std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

struct Rec {
  std::string q, p;
  std::vector<std::string> n;
};

std::shared_ptr<const TrainDataset> dataset(const TempDir& dir, const std::vector<Rec>& recs) {
  std::string s;
  for (const Rec& r : recs) {
    s += "{\"query\": "s + json_str(r.q) + ", \"pos_doc\": "s + json_str(r.p) + ", \"neg_doc\": [";
    for (size_t i = 0; i < r.n.size(); ++i) {
      if (i) s += ", ";
      s += json_str(r.n[i]);
    }
    s += "]}\n";
  }
  static int files = 0;  // a new file each time: datasets read their file lazily
  const std::string name = "d" + std::to_string(files++) + ".jsonl";
  return std::make_shared<const TrainDataset>(TrainDataset::open(write_file(dir, name, s)));
}

// Records "q<i>" / "p<i>" / "n<i>_<k>" with `negs` negatives each.
std::vector<Rec> plain_records(int count, int negs) {
  std::vector<Rec> recs;
  for (int i = 0; i < count; ++i) {
    Rec r{"q"s + std::to_string(i), "p"s + std::to_string(i), {}};
    for (int k = 0; k < negs; ++k)
      r.n.push_back("n"s + std::to_string(i) + "_"s + std::to_string(k));
    recs.push_back(r);
  }
  return recs;
}

// One id per byte, truncated to max_len; remembers every call.
struct FakeTokenizer {
  std::vector<std::pair<std::string, int>> calls;
  TrainBatchBuilder::TokenizeFn fn() {
    return [this](const std::string& text, int max_len) {
      calls.emplace_back(text, max_len);
      std::vector<int32_t> ids;
      for (char c : text) {
        if (ids.size() == static_cast<size_t>(max_len)) break;
        ids.push_back(static_cast<unsigned char>(c));
      }
      return ids;
    };
  }
};

std::string text(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += static_cast<char>(id);
  return s;
}

TrainBatchOptions opts(size_t batch, int k) {
  TrainBatchOptions o;
  o.global_batch_size = batch;
  o.hard_negatives_to_train = k;
  return o;
}

std::vector<TrainBatch> take(TrainBatchBuilder& b, int n) {
  std::vector<TrainBatch> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next());
  return out;
}

bool same(const TrainBatch& a, const TrainBatch& b) {
  return a.epoch == b.epoch && a.index_in_epoch == b.index_in_epoch &&
         a.num_negatives == b.num_negatives && a.records == b.records && a.queries == b.queries &&
         a.positives == b.positives && a.negatives == b.negatives &&
         a.negative_mask == b.negative_mask;
}

}  // namespace

TEST_CASE("hard negatives: first, random, filled with replacement", "[train-data]") {
  TempDir dir;
  FakeTokenizer tok;
  auto data =
      dataset(dir, {{"q0", "p0", {"a", "b", "c", "d", "e", "f"}}, {"q1", "p1", {"x", "y"}}});
  TrainBatchOptions o = opts(2, 3);
  o.shuffle = false;
  o.passage_prefix = "";
  TrainBatchBuilder first(data, o, tok.fn());
  const TrainBatch b = first.next();
  REQUIRE(b.size() == 2);
  REQUIRE(b.num_negatives == 3);
  REQUIRE(b.negatives.size() == 6);
  CHECK(text(b.negatives[0]) == "a");
  CHECK(text(b.negatives[1]) == "b");
  CHECK(text(b.negatives[2]) == "c");
  // Fewer than K: both, in order, then one drawn from them.
  CHECK(text(b.negatives[3]) == "x");
  CHECK(text(b.negatives[4]) == "y");
  const std::string fill = text(b.negatives[5]);
  CHECK((fill == "x" || fill == "y"));
  CHECK(b.negative_mask == std::vector<uint8_t>(6, 1));

  // The fill is drawn again each epoch, deterministically: over 64 epochs both show up,
  // and a second builder with the same seed draws the same.
  TrainBatchBuilder again(data, o, tok.fn());
  CHECK(same(again.next(), b));
  std::set<std::string> fills;
  for (int e = 1; e < 64; ++e) {
    const TrainBatch x = first.next(), y = again.next();
    CHECK(x.epoch == uint64_t(e));
    CHECK(same(x, y));
    fills.insert(text(x.negatives[5]));
  }
  CHECK(fills == std::set<std::string>{"x", "y"});

  // "random": K distinct negatives of the record, seeded.
  o.negative_selection = NegativeSelection::Random;
  TrainBatchBuilder r1(data, o, tok.fn()), r2(data, o, tok.fn());
  o.seed = 99;
  TrainBatchBuilder r3(data, o, tok.fn());
  bool differs_by_seed = false, differs_by_epoch = false;
  std::vector<std::string> epoch0;
  for (int e = 0; e < 20; ++e) {
    const TrainBatch x = r1.next(), y = r2.next(), z = r3.next();
    CHECK(same(x, y));
    std::vector<std::string> picked;
    for (int k = 0; k < 3; ++k) picked.push_back(text(x.negatives[size_t(k)]));
    std::set<std::string> distinct(picked.begin(), picked.end());
    CHECK(distinct.size() == 3);
    for (const std::string& s : picked) CHECK(std::string("abcdef").find(s) != std::string::npos);
    if (e == 0) epoch0 = picked;
    differs_by_epoch = differs_by_epoch || picked != epoch0;
    differs_by_seed = differs_by_seed || x.negatives != z.negatives;
  }
  CHECK(differs_by_seed);
  CHECK(differs_by_epoch);
  CHECK(parse_negative_selection("random") == NegativeSelection::Random);
  CHECK_THROWS_WITH(parse_negative_selection("hardest"),
                    Contains("must be 'first' or 'random', got 'hardest'"));
}

TEST_CASE("records without negatives get masked slots", "[train-data]") {
  TempDir dir;
  FakeTokenizer tok;
  auto data = dataset(dir, {{"q0", "p0", {"n0"}}, {"q1", "p1", {}}, {"q2", "p2", {"a", "b"}}});
  TrainBatchOptions o = opts(3, 2);
  o.shuffle = false;
  TrainBatchBuilder b(data, o, tok.fn());
  const TrainBatch x = b.next();
  CHECK(x.negative_mask == std::vector<uint8_t>{1, 1, 0, 0, 1, 1});
  CHECK(text(x.negatives[0]) == "passage: n0");
  CHECK(text(x.negatives[1]) == "passage: n0");  // filled with replacement from one
  CHECK(x.negatives[2].empty());
  CHECK(x.negatives[3].empty());
  CHECK(text(x.negatives[5]) == "passage: b");
  CHECK(b.stats().masked_slots == 2);

  // K = 0: no negative slots at all.
  TrainBatchBuilder none(data, opts(3, 0), tok.fn());
  const TrainBatch y = none.next();
  CHECK(y.num_negatives == 0);
  CHECK(y.negatives.empty());
  CHECK(y.negative_mask.empty());
  CHECK(y.queries.size() == 3);
}

TEST_CASE("prefixes, stripping and max lengths reach the tokenizer", "[train-data]") {
  TempDir dir;
  auto data = dataset(dir, {{"  what?\n", " answer ", {"\tother "}}});
  {
    FakeTokenizer tok;
    TrainBatchOptions o = opts(1, 1);
    o.query_max_length = 7;
    o.passage_max_length = 300;
    TrainBatchBuilder b(data, o, tok.fn());
    const TrainBatch x = b.next();
    CHECK(text(x.queries[0]) == "query: ");  // truncated to 7 by the (fake) tokenizer
    CHECK(text(x.positives[0]) == "passage: answer");
    CHECK(text(x.negatives[0]) == "passage: other");
    REQUIRE(tok.calls.size() == 3);
    CHECK(tok.calls[0] == std::make_pair(std::string("query: what?"), 7));
    CHECK(tok.calls[1] == std::make_pair(std::string("passage: answer"), 300));
    CHECK(tok.calls[2] == std::make_pair(std::string("passage: other"), 300));
  }
  {
    FakeTokenizer tok;
    TrainBatchOptions o = opts(1, 1);
    o.query_prefix = "";
    o.passage_prefix = "Represent: ";
    o.strip_whitespace = false;
    TrainBatchBuilder b(data, o, tok.fn());
    const TrainBatch x = b.next();
    CHECK(text(x.queries[0]) == "  what?\n");
    CHECK(text(x.positives[0]) == "Represent:  answer ");
  }
  {
    TrainBatchOptions o = opts(1, 1);
    o.query_max_length = 4;
    TrainBatchBuilder b(data, o,
                        [](const std::string&, int) { return std::vector<int32_t>(5, 1); });
    CHECK_THROWS_WITH(b.next(), Contains("the tokenizer returned 5 ids for max_len 4"));
  }
}

TEST_CASE("each unique text is tokenized once across epochs", "[train-data]") {
  TempDir dir;
  FakeTokenizer tok;
  auto recs = plain_records(12, 2);
  recs[5].n = {"n0_0", "shared"};  // texts shared between records are tokenized once too
  recs[7].n = {"shared"};
  TrainBatchOptions o = opts(4, 2);
  o.dedupe_in_batch = false;
  TrainBatchBuilder b(dataset(dir, recs), o, tok.fn());
  take(b, 3);
  // 12 queries + 12 positives + 24 negative slots less 3 repeats (record 5's "n0_0", both of
  // record 7's "shared").
  CHECK(tok.calls.size() == 45);
  take(b, 9);  // three more epochs
  CHECK(tok.calls.size() == 45);
  CHECK(b.stats().tokenized_texts == 45);
  std::set<std::string> unique;
  for (const auto& c : tok.calls) unique.insert(c.first);
  CHECK(unique.size() == 45);

  // A batch callback (Tokenizer::encode_batch) gets the missing texts of a batch in at most
  // two calls, queries then passages, and the batches are the same.
  FakeTokenizer one;
  std::vector<std::pair<size_t, int>> calls;  // (texts, max_len)
  auto single = one.fn();
  TrainBatchBuilder::TokenizeBatchFn batch_fn = [&](const std::vector<std::string>& texts,
                                                    int max_len) {
    calls.emplace_back(texts.size(), max_len);
    std::vector<std::vector<int32_t>> out;
    for (const std::string& t : texts) out.push_back(single(t, max_len));
    return out;
  };
  o.query_max_length = 100;
  o.passage_max_length = 200;
  TrainBatchBuilder with_batch(dataset(dir, recs), o, batch_fn);
  TrainBatchBuilder with_single(dataset(dir, recs), o, tok.fn());
  for (int i = 0; i < 6; ++i) CHECK(same(with_batch.next(), with_single.next()));
  REQUIRE(calls.size() == 6);  // 3 batches x (queries, passages), then all cached
  size_t texts = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    CHECK(calls[i].second == (i % 2 == 0 ? 100 : 200));
    texts += calls[i].first;
  }
  CHECK(texts == 45);
  CHECK(calls[0].first == 4);
  TrainBatchBuilder::TokenizeBatchFn short_fn = [](const std::vector<std::string>&, int) {
    return std::vector<std::vector<int32_t>>(1);
  };
  // cache_tokens = false: every batch tokenizes its texts again, with the same batches.
  FakeTokenizer again;
  TrainBatchOptions no_cache = o;
  no_cache.cache_tokens = false;
  TrainBatchBuilder uncached(dataset(dir, recs), no_cache, again.fn());
  TrainBatchBuilder cached(dataset(dir, recs), o, tok.fn());
  for (int i = 0; i < 6; ++i) CHECK(same(uncached.next(), cached.next()));
  CHECK(again.calls.size() > 45);
  CHECK(uncached.stats().cached_tokens < cached.stats().cached_tokens);

  TrainBatchBuilder broken(dataset(dir, recs), o, short_fn);
  CHECK_THROWS_WITH(broken.next(), Contains("the tokenizer returned 1 id lists for 4 texts"));
}

TEST_CASE("epoch order: seeded shuffles, file order, drop_last", "[train-data]") {
  TempDir dir;
  FakeTokenizer tok;
  auto data = dataset(dir, plain_records(10, 1));
  auto order = [](const std::vector<TrainBatch>& bs) {
    std::vector<uint32_t> r;
    for (const TrainBatch& b : bs) r.insert(r.end(), b.records.begin(), b.records.end());
    return r;
  };

  TrainBatchOptions o = opts(5, 1);
  TrainBatchBuilder a(data, o, tok.fn()), b(data, o, tok.fn());
  const auto ea0 = take(a, 2), ea1 = take(a, 2);
  const auto eb0 = take(b, 2);
  CHECK(order(ea0) == order(eb0));  // same seed, same order
  CHECK(order(ea0) != order(ea1));  // a new order each epoch
  CHECK(ea1[0].epoch == 1);
  CHECK(ea1[1].index_in_epoch == 1);
  for (const auto& e : {ea0, ea1}) {  // each epoch is a permutation
    auto r = order(e);
    std::sort(r.begin(), r.end());
    CHECK(r == std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  }
  o.seed = 7;
  TrainBatchBuilder c(data, o, tok.fn());
  CHECK(order(take(c, 2)) != order(ea0));

  // File order, every epoch; 10 records in batches of 4: the last 2 are dropped each epoch.
  o = opts(4, 1);
  o.shuffle = false;
  TrainBatchBuilder f(data, o, tok.fn());
  CHECK(f.max_batches_per_epoch() == 2);
  const auto fb = take(f, 4);
  CHECK(order(fb) == std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(fb[2].epoch == 1);
  CHECK(fb[2].index_in_epoch == 0);
  CHECK(f.stats().dropped == 2);
  CHECK(text(fb[1].queries[0]) == "query: q4");

  CHECK_THROWS_WITH(TrainBatchBuilder(data, opts(11, 1), tok.fn()),
                    Contains("10 records, fewer than global_batch_size 11"));
  CHECK_THROWS_WITH(TrainBatchBuilder(data, opts(2, -1), tok.fn()),
                    Contains("hard_negatives_to_train must be >= 0, got -1"));
}

TEST_CASE("dedupe keeps duplicate texts out of one batch and loses no record", "[train-data]") {
  TempDir dir;
  FakeTokenizer tok;
  // 48 records; queries repeat in groups of three (q0 q0 q0 q1 ...), every 5th record shares
  // a positive with the one before, and every 7th lists the next record's positive as a
  // negative.
  std::vector<Rec> recs;
  for (int i = 0; i < 48; ++i) {
    Rec r{"q"s + std::to_string(i / 3), "p"s + std::to_string(i), {"n"s + std::to_string(i)}};
    if (i % 5 == 4) r.p = "p"s + std::to_string(i - 1);
    if (i % 7 == 6) r.n.push_back("p"s + std::to_string(i + 1));
    recs.push_back(r);
  }
  auto data = dataset(dir, recs);

  auto check_batch = [&](const TrainBatch& b) {
    std::set<std::string> qs, ps;
    for (size_t i = 0; i < b.size(); ++i) {
      const Rec& r = recs[b.records[i]];
      CHECK(qs.insert(r.q).second);
      CHECK(ps.insert(r.p).second);
    }
    for (size_t i = 0; i < b.size(); ++i) {
      for (size_t k = 0; k < size_t(b.num_negatives); ++k) {
        if (!b.negative_mask[i * size_t(b.num_negatives) + k]) continue;
        const std::string neg = text(b.negatives[i * size_t(b.num_negatives) + k]);
        CHECK(ps.count(neg.substr(std::string("passage: ").size())) == 0);
      }
    }
  };

  for (const bool shuffle : {false, true}) {
    TrainBatchOptions o = opts(8, 2);
    o.shuffle = shuffle;
    TrainBatchBuilder b(data, o, tok.fn());
    std::vector<TrainBatch> bs;
    std::vector<uint64_t> dropped;  // stats().dropped after each batch
    for (int i = 0; i < 30; ++i) {
      bs.push_back(b.next());
      dropped.push_back(b.stats().dropped);
      check_batch(bs.back());
    }
    REQUIRE(bs.back().epoch >= 3);
    CHECK(b.stats().deferrals > 0);
    // Every finished epoch: no record twice, and the records seen plus those dropped at its
    // end are all of them.
    for (uint64_t e = 0; e < bs.back().epoch; ++e) {
      std::vector<uint32_t> seen;
      size_t last = 0, next_first = 0;
      for (size_t i = 0; i < bs.size(); ++i) {
        if (bs[i].epoch == e) {
          seen.insert(seen.end(), bs[i].records.begin(), bs[i].records.end());
          last = i;
        }
        if (bs[i].epoch == e + 1 && next_first == 0) next_first = i;
      }
      const uint64_t dropped_at_end = dropped[next_first] - dropped[last];
      std::sort(seen.begin(), seen.end());
      CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
      CHECK(seen.size() + dropped_at_end == recs.size());
      CHECK(seen.size() >= 32);
    }
  }

  // Without dedupe the same data does put duplicates together.
  TrainBatchOptions o = opts(8, 2);
  o.shuffle = false;
  o.dedupe_in_batch = false;
  TrainBatchBuilder nd(data, o, tok.fn());
  const TrainBatch x = nd.next();
  CHECK(recs[x.records[0]].q == recs[x.records[1]].q);

  // Data that cannot make a single deduplicated batch is refused, not looped on.
  TempDir dir2;
  auto same_query = dataset(dir2, {{"q", "a", {}}, {"q", "b", {}}, {"q", "c", {}}});
  TrainBatchBuilder stuck(same_query, opts(2, 0), tok.fn());
  CHECK_THROWS_WITH(stuck.next(), Contains("epoch 0 makes no full batch of 2 rows"));
}

TEST_CASE("a restored data position continues with identical batches", "[train-data]") {
  TempDir dir;
  // Duplicates (for deferrals), records short of negatives (fill), some without any (mask).
  std::vector<Rec> recs = plain_records(30, 3);
  for (int i = 0; i < 30; i += 4) recs[size_t(i)].q = "shared query";
  for (int i = 1; i < 30; i += 6) recs[size_t(i)].n = {"only"};
  for (int i = 2; i < 30; i += 9) recs[size_t(i)].n.clear();
  auto data = dataset(dir, recs);
  TrainBatchOptions o = opts(8, 4);
  o.negative_selection = NegativeSelection::Random;
  o.seed = 42;

  FakeTokenizer tok;
  TrainBatchBuilder straight(data, o, tok.fn());
  const auto all = take(straight, 10);  // 3 batches an epoch at most: crosses several epochs
  CHECK(all.back().epoch >= 3);

  bool saw_deferred = false;
  for (int stop = 0; stop <= 10; ++stop) {
    FakeTokenizer t1, t2;
    TrainBatchBuilder first(data, o, t1.fn());
    const auto head = take(first, stop);
    const std::string saved = first.position().to_json();
    saw_deferred = saw_deferred || !first.position().deferred.empty();

    TrainBatchBuilder resumed(data, o, t2.fn());
    resumed.restore(DataPosition::from_json(saved));
    CHECK(resumed.position().to_json() == saved);
    for (int i = 0; i < 10; ++i) {
      const TrainBatch x = i < stop ? head[size_t(i)] : resumed.next();
      INFO("stopped after " << stop << ", batch " << i);
      CHECK(same(x, all[size_t(i)]));
    }
  }
  CHECK(saw_deferred);

  // The position is checked against the data and options.
  FakeTokenizer tok2;
  TrainBatchBuilder b(data, o, tok2.fn());
  take(b, 4);
  const DataPosition pos = b.position();
  TrainBatchOptions other = o;
  other.seed = 43;
  TrainBatchBuilder wrong_seed(data, other, tok2.fn());
  CHECK_THROWS_WITH(wrong_seed.restore(pos),
                    Contains("cannot resume: the position was saved with seed 42 but this run "
                             "has 43"));
  other = o;
  other.shuffle = false;
  TrainBatchBuilder wrong_shuffle(data, other, tok2.fn());
  CHECK_THROWS_WITH(wrong_shuffle.restore(pos), Contains("shuffle true but this run has false"));
  DataPosition bad = pos;
  bad.records = 31;
  CHECK_THROWS_WITH(b.restore(bad), Contains("saved with records 31 but this run has 30"));
  CHECK_THROWS_WITH(DataPosition::from_json("{\"format\": \"x\"}"),
                    Contains("[train-data] position: field 'format'"));
  CHECK_THROWS_WITH(DataPosition::from_json("[1"), Contains("position: not valid JSON"));
  std::string json = pos.to_json();
  json.replace(json.find("\"cursor\":"), 9, "\"cursor\":-");
  CHECK_THROWS_WITH(DataPosition::from_json(json),
                    Contains("field 'cursor' must be a non-negative integer"));
}

TEST_CASE("rank slices and micro-batches cover the global batch exactly", "[train-data]") {
  TempDir dir;
  FakeTokenizer tok;
  auto recs = plain_records(24, 3);
  recs[3].n.clear();
  TrainBatchBuilder b(dataset(dir, recs), opts(12, 2), tok.fn());
  const TrainBatch g = b.next();
  for (int world : {1, 2, 3, 4, 6, 12}) {
    TrainBatch joined;
    joined.epoch = g.epoch;
    joined.index_in_epoch = g.index_in_epoch;
    joined.num_negatives = g.num_negatives;
    for (int r = 0; r < world; ++r) {
      const TrainBatch s = slice_for_rank(g, r, world);
      CHECK(s.size() == 12 / size_t(world));
      CHECK(s.negatives.size() == s.size() * 2);
      CHECK(s.records.front() == g.records[size_t(r) * s.size()]);
      auto add = [](auto& dst, const auto& src) { dst.insert(dst.end(), src.begin(), src.end()); };
      add(joined.records, s.records);
      add(joined.queries, s.queries);
      add(joined.positives, s.positives);
      add(joined.negatives, s.negatives);
      add(joined.negative_mask, s.negative_mask);
    }
    CHECK(same(joined, g));
  }
  CHECK_THROWS_WITH(slice_for_rank(g, 0, 5), Contains("global batch of 12 rows does not split "
                                                      "over 5 ranks"));
  CHECK_THROWS_WITH(slice_for_rank(g, 2, 2), Contains("rank 2 is not in [0, world_size 2)"));

  const auto micro = split_micro_batches(slice_for_rank(g, 1, 2), 2);
  REQUIRE(micro.size() == 3);
  CHECK(micro[2].records == std::vector<uint32_t>{g.records[10], g.records[11]});
  CHECK(micro[2].negatives[3] == g.negatives[23]);
  CHECK_THROWS_WITH(split_micro_batches(g, 5), Contains("does not split into micro-batches of 5"));
}
