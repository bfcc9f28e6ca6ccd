// The one exact search (eval/search.h) of evaluation and mining: exact order (score, then tie
// key), bitwise independence of chunking, blocks and threads, the dot() kernel, errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "eval/search.h"

using namespace sbert::eval;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

SearchOptions threads(int n) {
  SearchOptions o;
  o.threads = n;
  return o;
}

}  // namespace

TEST_CASE("ties in score: ascending corpus id (as a string) first, independent of chunks",
          "[eval]") {
  // Six documents, dim 2. Ids "10", "9", "2", "b", "a", "x". Docs 0, 1, 2 tie at the top score,
  // 3 and 4 tie below, 5 is last.
  const std::vector<std::string> ids = {"10", "9", "2", "b", "a", "x"};
  const std::vector<float> docs = {1, 0, 2, 0, 0.5f, 0,  // same direction: cosine 1
                                   1, 1, 2, 2,           // cosine 1/sqrt(2), bitwise equal
                                   0, 1};                // cosine 0
  const std::vector<float> query = {1, 0};
  const auto keys = id_order_keys(ids);
  // "10" < "2" < "9" < "a" < "b" < "x"
  CHECK(keys == std::vector<int64_t>{0, 2, 1, 4, 3, 5});
  const auto hits = exact_search(query.data(), 1, docs.data(), 6, 2, 6, keys, threads(1));
  std::vector<int64_t> order;
  for (const auto& h : hits[0]) order.push_back(h.doc);
  CHECK(order == std::vector<int64_t>{0, 2, 1, 4, 3, 5});
  CHECK(hits[0][0].score == 1.0f);
  CHECK(hits[0][1].score == 1.0f);
  CHECK(hits[0][2].score == 1.0f);
  CHECK(hits[0][3].score == hits[0][4].score);

  // k = 2 cuts inside the tie: the two smallest ids win, whatever the chunking and threads.
  for (int64_t chunk : {1, 2, 4, 6}) {
    for (int t : {1, 2}) {
      ExactSearch s(query.data(), 1, 2, 2, threads(t));
      for (int64_t start = 0; start < 6; start += chunk) {
        const int64_t n = std::min<int64_t>(chunk, 6 - start);
        s.add(docs.data() + start * 2, n, start, keys.data() + start);
      }
      const auto r = s.results();
      REQUIRE(r[0].size() == 2);
      CHECK(r[0][0].doc == 0);
      CHECK(r[0][1].doc == 2);
    }
  }
}

TEST_CASE("exact search equals a full sort on random data, any chunking", "[eval]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> N(0.0f, 1.0f);
  const int64_t nq = 37, nd = 1000, dim = 16, k = 25;
  std::vector<float> q(static_cast<size_t>(nq * dim)), d(static_cast<size_t>(nd * dim));
  for (auto& v : q) v = N(rng);
  for (auto& v : d) v = N(rng);
  // a few exact duplicates of document 3 to create ties
  for (int64_t dup : {500, 501, 900}) std::copy_n(d.begin() + 3 * dim, dim, d.begin() + dup * dim);
  std::vector<std::string> ids;
  for (int64_t i = 0; i < nd; ++i) ids.push_back("doc" + std::to_string(i));
  const auto keys = id_order_keys(ids);

  // reference: normalized dot products, full sort by (score desc, id asc)
  std::vector<float> qn = q, dn = d;
  l2_normalize_rows(qn.data(), nq, dim);
  l2_normalize_rows(dn.data(), nd, dim);
  const auto full = exact_search(q.data(), nq, d.data(), nd, dim, k, keys, threads(2));
  for (int64_t chunk : {1000, 333, 64}) {
    ExactSearch s(q.data(), nq, dim, k, threads(1));
    for (int64_t start = 0; start < nd; start += chunk) {
      s.add(d.data() + start * dim, std::min(chunk, nd - start), start, keys.data() + start);
    }
    const auto r = s.results();
    for (int64_t i = 0; i < nq; ++i) {
      REQUIRE(r[i].size() == static_cast<size_t>(k));
      for (int64_t j = 0; j < k; ++j) {
        CHECK(r[i][j].doc == full[i][j].doc);
        CHECK(r[i][j].score == full[i][j].score);
      }
    }
  }
  int64_t checked = 0;
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<std::pair<float, int64_t>> all;
    for (int64_t j = 0; j < nd; ++j) {
      float s = 0;
      for (int64_t t = 0; t < dim; ++t) s += qn[i * dim + t] * dn[j * dim + t];
      all.emplace_back(s, j);
    }
    std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && ids[a.second] < ids[b.second]);
    });
    for (int64_t j = 0; j < k; ++j) {
      CHECK_THAT(full[i][j].score, WithinAbs(all[j].first, 1e-5));
      // the order can only differ where two scores are within rounding of each other
      if (full[i][j].doc != all[j].second) {
        CHECK(std::fabs(all[j].first - all[j + 1].first) < 1e-5f);
      } else {
        ++checked;
      }
    }
  }
  CHECK(checked > nq * k * 9 / 10);
  // duplicates tie exactly and come in id order: doc3 < doc500 < doc501 < doc900
  std::vector<float> self(d.begin() + 3 * dim, d.begin() + 4 * dim);
  const auto h = exact_search(self.data(), 1, d.data(), nd, dim, 4, keys, threads(1));
  CHECK(h[0][0].doc == 3);
  CHECK(h[0][1].doc == 500);
  CHECK(h[0][2].doc == 501);
  CHECK(h[0][3].doc == 900);
}

TEST_CASE("exact search: k above the corpus size, empty chunks, NaN refused", "[eval]") {
  const std::vector<float> q = {1, 0, 0, 1};
  const std::vector<float> d = {1, 0, 0, 2, 1, 1};
  const auto r = exact_search(q.data(), 2, d.data(), 3, 2, 10, {0, 1, 2}, threads(1));
  REQUIRE(r.size() == 2);
  CHECK(r[0].size() == 3);
  CHECK(r[0][0].doc == 0);
  CHECK(r[1][0].doc == 1);
  const std::vector<float> bad = {NAN, 0};
  CHECK_THROWS_WITH(exact_search(q.data(), 2, bad.data(), 1, 2, 10, {0}, threads(1)),
                    Catch::Contains("NaN"));
  std::vector<float> zero = {0, 0, 3, 4};
  l2_normalize_rows(zero.data(), 2, 2);
  CHECK(zero == std::vector<float>{0, 0, 0.6f, 0.8f});
}

TEST_CASE("exact search without tie keys: ties by row, scores are dot()'s bits, any blocks",
          "[eval][mine]") {
  // Mining's use: rows normalized by the caller, scored as given (normalize = false).
  const int64_t nq = 13, nd = 57, dim = 19;  // dim not a multiple of 8: the kernel's tail
  std::mt19937 gen(7);
  std::normal_distribution<float> nd01;
  std::vector<float> q(static_cast<size_t>(nq * dim)), d(static_cast<size_t>(nd * dim));
  for (auto& x : q) x = nd01(gen);
  for (auto& x : d) x = nd01(gen);
  // Exact ties: rows 40..44 copy row 3, so their order must come from the row index.
  for (int64_t r = 40; r < 45; ++r) std::copy_n(d.begin() + 3 * dim, dim, d.begin() + r * dim);
  l2_normalize_rows(q.data(), nq, dim);
  l2_normalize_rows(d.data(), nd, dim);

  for (const int64_t k : {1, 10, 57, 100}) {
    SearchOptions o;
    o.normalize = false;
    o.threads = 1;
    const auto ref = exact_search(q.data(), nq, d.data(), nd, dim, k, {}, o);
    // Against a plain sort of dot() by (score desc, row asc).
    for (int64_t i = 0; i < nq; ++i) {
      std::vector<std::pair<float, int64_t>> all;
      for (int64_t j = 0; j < nd; ++j)
        all.emplace_back(dot(q.data() + i * dim, d.data() + j * dim, dim), j);
      std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      const auto& hits = ref[static_cast<size_t>(i)];
      REQUIRE(static_cast<int64_t>(hits.size()) == std::min(k, nd));
      for (size_t j = 0; j < hits.size(); ++j) {
        CHECK(hits[j].doc == all[j].second);
        CHECK(hits[j].score == all[j].first);  // bitwise
      }
    }
    // Blocks, query tasks, threads and corpus chunks change nothing, bit for bit.
    for (const auto& [qb, db] :
         std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 5}, {5, 100}, {16, 1024}, {2, 56}}) {
      for (const int n : {1, 2, 3}) {
        o.query_block = qb;
        o.doc_block = db;
        o.threads = n;
        ExactSearch s(q.data(), nq, dim, k, o);
        for (int64_t start = 0; start < nd; start += 20)
          s.add(d.data() + start * dim, std::min<int64_t>(20, nd - start), start);
        const auto r = s.results();
        INFO("k " << k << " blocks " << qb << "x" << db << " threads " << n);
        for (int64_t i = 0; i < nq; ++i) {
          const auto& a = r[static_cast<size_t>(i)];
          const auto& b = ref[static_cast<size_t>(i)];
          REQUIRE(a.size() == b.size());
          for (size_t j = 0; j < a.size(); ++j) {
            CHECK(a[j].doc == b[j].doc);
            CHECK(a[j].score == b[j].score);
          }
        }
      }
    }
  }
  // Ties broken by row: for query 0, rows 3 and 40..44 appear in increasing order.
  SearchOptions o;
  o.normalize = false;
  const auto all = exact_search(q.data(), nq, d.data(), nd, dim, nd, {}, o);
  std::vector<int64_t> tied;
  for (const Hit& h : all[0])
    if (h.doc == 3 || (h.doc >= 40 && h.doc < 45)) tied.push_back(h.doc);
  CHECK(tied == std::vector<int64_t>{3, 40, 41, 42, 43, 44});
}

TEST_CASE("exact search: bad sizes, options and non-finite scores name what is wrong",
          "[eval][mine]") {
  const std::vector<float> q = {1, 0, 0, 1};
  const std::vector<float> d = {1, 0, 0, 1, 1, 1};
  CHECK_THROWS_WITH(exact_search(q.data(), 2, d.data(), 3, 2, 0, {}), Contains("k 0"));
  SearchOptions o;
  o.doc_block = 0;
  CHECK_THROWS_WITH(exact_search(q.data(), 2, d.data(), 3, 2, 1, {}, o),
                    Contains("doc_block and query_block must be >= 1"));
  CHECK_THROWS_WITH(exact_search(q.data(), 2, d.data(), 3, 2, 1, {0, 1}),
                    Contains("2 tie keys for 3 documents"));
  std::vector<float> bad = d;
  bad[4] = INFINITY;  // document 2
  o = SearchOptions();
  o.normalize = false;
  CHECK_THROWS_WITH(exact_search(q.data(), 2, bad.data(), 3, 2, 1, {}, o),
                    Contains("query 0 and document 2 is not finite (inf)"));
  // dot(): the fixed order, exact on small integers; the tail beyond 8 lanes is included.
  std::vector<float> a(11), b(11);
  for (int i = 0; i < 11; ++i) {
    a[static_cast<size_t>(i)] = static_cast<float>(i);
    b[static_cast<size_t>(i)] = 2.0f;
  }
  CHECK(dot(a.data(), b.data(), 11) == 110.0f);
}
