#!/usr/bin/env python3
"""Reference check of sbert-mine against sentence-transformers' util.mine_hard_negatives.

Not needed to build, test or run libsbert: it needs torch and sentence-transformers
(/opt/refvenv/bin/python on the development machine). The `datasets` package is not needed:
mine_hard_negatives only uses a few methods of datasets.Dataset, provided here by a stand-in.

    build/bin/sbert-mine --model M --beir data/scifact/beir --output mined.jsonl \\
        --num-negatives 4 --range-min 10 --range-max 60 --relative-margin 0.05 --write-ids
    /opt/refvenv/bin/python tools/scifact/compare_st_mining.py --model M \\
        --beir data/scifact/beir --mined mined.jsonl \\
        --num-negatives 4 --range-min 10 --range-max 60 --relative-margin 0.05

Compares, for --sample top (random draws differ by construction), each record's negative ids
and scores; prints how many records agree exactly and the largest score difference. Expected
differences: sentence-transformers merges queries with the same text (their positives are
pooled, and the margin uses the lowest positive score of the pool), and near-ties can swap.
"""
import argparse
import json
import sys
import types


class _Frame:
    """What mine_hard_negatives does with dataset.to_pandas(): groupby(a).count().to_dict()."""

    def __init__(self, cols):
        self.cols = cols

    def groupby(self, key):
        counts = {}
        for a in self.cols[key]:
            counts[a] = counts.get(a, 0) + 1
        other = [c for c in self.cols if c != key]

        class _G:
            def count(self_inner):
                class _C:
                    def to_dict(self_c):
                        return {c: dict(sorted(counts.items())) for c in other}
                return _C()
        return _G()


class Dataset:
    def __init__(self, cols):
        self.cols = cols

    @classmethod
    def from_dict(cls, d):
        return cls(d)

    @property
    def column_names(self):
        return list(self.cols)

    def __len__(self):
        return len(next(iter(self.cols.values())))

    def __getitem__(self, key):
        return self.cols[key]

    def to_pandas(self):
        return _Frame(self.cols)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--beir", required=True)
    ap.add_argument("--split", default="train")
    ap.add_argument("--mined", required=True, help="sbert-mine output written with --write-ids")
    ap.add_argument("--num-negatives", type=int, required=True)
    ap.add_argument("--range-min", type=int, default=0)
    ap.add_argument("--range-max", type=int, default=50)
    ap.add_argument("--margin", type=float, default=None)
    ap.add_argument("--relative-margin", type=float, default=None)
    ap.add_argument("--max-score", type=float, default=None)
    ap.add_argument("--min-score", type=float, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--cache", default=None, help="cache_folder for the embeddings (.npy)")
    args = ap.parse_args()

    import sentence_transformers.util.hard_negatives as hn
    from sentence_transformers import SentenceTransformer
    stand_in = types.ModuleType("datasets")  # after the imports: transformers probes for it
    stand_in.Dataset = Dataset
    stand_in.__version__ = "0"  # read by SentenceTransformer's model card
    sys.modules["datasets"] = stand_in
    hn.is_datasets_available = lambda: True

    corpus, doc_of_text = [], {}
    with open(f"{args.beir}/corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            t, x = d.get("title", ""), d["text"]
            text = f"{t or ''} {x}".strip()  # as sbert-mine (eval::BeirSet::document)
            doc_of_text[text] = d["_id"]
            corpus.append(text)
    queries = {}
    with open(f"{args.beir}/queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            queries[q["_id"]] = q["text"]
    texts = dict(zip(doc_of_text.values(), doc_of_text.keys()))
    pairs = []
    with open(f"{args.beir}/qrels/{args.split}.tsv", encoding="utf-8") as f:
        rows = f.read().splitlines()
    for row in rows[1:] if rows and not rows[0].split("\t")[2].isdigit() else rows:
        q, d, s = row.split("\t")
        if int(s) > 0:
            pairs.append((q, d))

    model = SentenceTransformer(args.model, device="cpu")
    ds = Dataset({"query": [queries[q] for q, _ in pairs], "pos": [texts[d] for _, d in pairs]})
    out = hn.mine_hard_negatives(
        ds, model, corpus=corpus, range_min=args.range_min, range_max=args.range_max,
        absolute_margin=args.margin, relative_margin=args.relative_margin,
        max_score=args.max_score, min_score=args.min_score, num_negatives=args.num_negatives,
        sampling_strategy="top", output_format="labeled-list", output_scores=True,
        batch_size=args.batch_size, verbose=True, cache_folder=args.cache)
    # labeled-list rows: (query, [pos, neg...], [scores]); rows with no negative are dropped.
    ref = {}
    for q, docs, scores in zip(out["query"], out["pos"], out["scores"]):
        ref[(q, docs[0])] = ([doc_of_text[t] for t in docs[1:]], scores[1:])

    with open(args.mined, encoding="utf-8") as f:
        mined = [json.loads(line) for line in f]
    same = differ = 0
    max_diff = 0.0
    examples = []
    for r in mined:
        ids, scores = ref.get((r["query"], r["pos_doc"]), ([], []))
        if ids == r["neg_ids"]:
            same += 1
            for a, b in zip(scores, r["neg_scores"]):
                max_diff = max(max_diff, abs(a - b))
        else:
            differ += 1
            if len(examples) < 5:
                examples.append((r["query_id"], r["neg_ids"], r["neg_scores"], ids, scores))
    print(f"records: {len(mined)}; identical negatives: {same}; different: {differ}; "
          f"largest |score difference| in identical records: {max_diff:.2e}")
    for e in examples:
        print("  query", e[0], "\n    sbert-mine", e[1], [round(x, 6) for x in e[2]],
              "\n    reference ", e[3], [round(x, 6) for x in e[4]])
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
