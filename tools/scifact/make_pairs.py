#!/usr/bin/env python3
"""SciFact training pairs for the Matryoshka row of docs/results.md: one (query, positive)
record per train qrel, no hard negatives (in-batch negatives only), as JSONL
{"query": claim, "pos_doc": "title text"} -- the document text exactly as the BEIR corpus gives
it to sbert-eval (title + " " + text, stripped), in qrels order. Standard library only.

    python3 tools/scifact/make_pairs.py   # -> data/scifact/pairs/train.jsonl (919 records)
"""
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BEIR = os.path.join(ROOT, "data", "scifact", "beir")
OUT = os.path.join(ROOT, "data", "scifact", "pairs", "train.jsonl")


def main():
    corpus, queries = {}, {}
    with open(os.path.join(BEIR, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus[d["_id"]] = (d.get("title", "") + " " + d["text"]).strip()
    with open(os.path.join(BEIR, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            queries[d["_id"]] = d["text"]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    n = 0
    tmp = OUT + ".tmp"
    with open(os.path.join(BEIR, "qrels", "train.tsv"), encoding="utf-8") as f, \
            open(tmp, "w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            cols = line.strip().split("\t")
            if i == 0 or len(cols) != 3 or int(cols[2]) <= 0:
                continue
            out.write(json.dumps({"query": queries[cols[0]], "pos_doc": corpus[cols[1]]},
                                 ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, OUT)
    print(f"make_pairs.py: {OUT}: {n} pairs")


if __name__ == "__main__":
    main()
