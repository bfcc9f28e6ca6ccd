#!/usr/bin/env python3
"""Write the truncation (Matryoshka) evaluation fixtures: what sentence-transformers gives with
all-MiniLM-L6-v2 when embeddings are truncated (`truncate_dim`), for sbert-embed --truncate-dim,
sbert-eval --matryoshka and the STS validation of sbert-finetune.

    HF_HUB_OFFLINE=1 python tools/reference/make_truncate_fixture.py \
        --minilm models/all-MiniLM-L6-v2 [--data /work/shared/data]

Writes (deterministic: torch.set_num_threads(2), deterministic algorithms):
  - tests/fixtures/minilm/truncated.safetensors: SentenceTransformer.encode(texts,
    truncate_dim=d[, normalize_embeddings=True]) for 24 fixture texts (tests/data/texts.jsonl),
    d in TRUNCATE_DIMS: tensors `text_ids` I64 [n], `dim{d}` F32 [n, d] (truncated after the
    model's Normalize module, not renormalized) and `dim{d}_normalized` F32 [n, d]
    (normalize_embeddings=True: L2-normalized after truncation).
  - tests/fixtures/eval/stsb-dev-sample.tsv: 40 pairs of the STS benchmark's sts-dev.csv (the
    images, track5.en-en and headlines genres, seeded sample), as a 3-column TSV with the header
    `sentence1<TAB>sentence2<TAB>score` (the form a scored-pairs validation file takes).
  - tests/fixtures/eval/st_truncate.json: InformationRetrievalEvaluator(truncate_dim=d) on the
    committed tests/fixtures/eval/scifact-subset for d in MATRYOSHKA_DIMS (every metric and the
    top 10 (id, score) per query), and EmbeddingSimilarityEvaluator (cosine; with and without
    truncate_dim) on stsb-dev-sample.tsv.
"""
import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRUNCATE_DIMS = [128, 64, 1]
MATRYOSHKA_DIMS = [384, 256, 128, 64]
STS_DIMS = [None, 128, 32]
# STS sts-texts, SciFact queries and documents, and edge cases ("", ".", CJK, emoji, U+FFFD).
TEXT_IDS = list(range(0, 12)) + [200, 201, 202, 250, 251, 300, 302, 305, 307, 312, 326, 330]
STS_SAMPLE = [("images", 15), ("track5.en-en", 10), ("headlines", 15)]
STS_SEED = 20261206

sys.path.insert(0, str(Path(__file__).resolve().parent))


def setup_torch():
    import torch
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)


def write_sts_sample(data: Path, out: Path):
    lines = open(data / "stsbenchmark" / "sts-dev.csv", encoding="utf-8", newline="").read().split("\n")
    lines = [l for l in lines if l]
    rng = random.Random(STS_SEED)
    picked = []
    for genre, n in STS_SAMPLE:
        pool = [l for l in lines if l.split("\t")[1] == genre]
        picked += rng.sample(pool, n)
    picked.sort(key=lines.index)
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write("sentence1\tsentence2\tscore\n")
        for l in picked:
            c = l.split("\t")
            f.write(f"{c[5]}\t{c[6]}\t{c[4]}\n")


def read_sts(path: Path):
    s1, s2, scores = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        rows = [l.rstrip("\n").split("\t") for l in f]
    assert rows[0] == ["sentence1", "sentence2", "score"], rows[0]
    for c in rows[1:]:
        s1.append(c[0])
        s2.append(c[1])
        scores.append(float(c[2]))
    return s1, s2, scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", required=True)
    ap.add_argument("--data", default="/work/shared/data")
    args = ap.parse_args()
    setup_torch()
    import numpy as np
    import sentence_transformers
    import torch
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from make_eval_fixture import KS, TOP_SAVED, st_retrieval

    model = SentenceTransformer(args.minilm, device="cpu")
    versions = {"sentence_transformers": sentence_transformers.__version__,
                "torch": torch.__version__}

    # Truncated embeddings.
    texts_all = [json.loads(l)["text"] for l in open(ROOT / "tests/data/texts.jsonl", encoding="utf-8")]
    texts = [texts_all[i] for i in TEXT_IDS]
    tensors = {"text_ids": np.array(TEXT_IDS, dtype=np.int64)}
    for d in TRUNCATE_DIMS:
        for norm in (False, True):
            e = model.encode(texts, batch_size=32, truncate_dim=d, normalize_embeddings=norm,
                             convert_to_numpy=True)
            assert e.shape == (len(texts), d) and e.dtype == np.float32
            tensors[f"dim{d}" + ("_normalized" if norm else "")] = np.ascontiguousarray(e)
    meta = {"what": "SentenceTransformer.encode(texts, truncate_dim=d, normalize_embeddings=...)",
            "model": "all-MiniLM-L6-v2", **versions, "torch_threads": "2"}
    save_file(tensors, str(ROOT / "tests/fixtures/minilm/truncated.safetensors"), metadata=meta)

    # Matryoshka retrieval: one evaluator per truncation, on the committed SciFact subset.
    eval_dir = ROOT / "tests/fixtures/eval"
    retrieval = {}
    for d in MATRYOSHKA_DIMS:
        metrics, top, nq, nc, _ = st_retrieval(model, eval_dir / "scifact-subset", "test",
                                               truncate_dim=d)
        retrieval[str(d)] = {**metrics, "queries": nq, "corpus": nc, "top10": top}

    # STS on a sample of the dev split, 3-column form with a header.
    sts_path = eval_dir / "stsb-dev-sample.tsv"
    write_sts_sample(Path(args.data), sts_path)
    s1, s2, scores = read_sts(sts_path)
    sts = {}
    for d in STS_DIMS:
        ev = EmbeddingSimilarityEvaluator(s1, s2, scores, batch_size=32, name="sts",
                                          write_csv=False, truncate_dim=d)
        res = ev(model)
        sts["full" if d is None else str(d)] = {"spearman": float(res["sts_spearman_cosine"]),
                                                "pearson": float(res["sts_pearson_cosine"])}
    ref = {"what": "sentence-transformers evaluators with truncate_dim, all-MiniLM-L6-v2",
           "versions": versions, "ks": KS, "top_saved": TOP_SAVED,
           "retrieval_by_dim": retrieval, "sts_dev_sample": {"pairs": len(scores), **sts}}
    with open(eval_dir / "st_truncate.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps({d: {k: v[k] for k in ("ndcg@10", "mrr@10", "map@100")}
                      for d, v in retrieval.items()}, indent=1))
    print(json.dumps(ref["sts_dev_sample"], indent=1))


if __name__ == "__main__":
    main()
