#!/usr/bin/env python3
"""Write tests/fixtures/eval/: a small SciFact BEIR subset, 200 STS-test pairs, and the metrics
sentence-transformers' InformationRetrievalEvaluator and EmbeddingSimilarityEvaluator give with
all-MiniLM-L6-v2 on them (the C++ parity test compares sbert::eval with these numbers).

    python tools/reference/make_eval_fixture.py --minilm models/all-MiniLM-L6-v2 \
        [--data /work/shared/data] [--out tests/fixtures/eval]

    # or: evaluate a whole BEIR folder with sentence-transformers and print metrics + seconds
    python tools/reference/make_eval_fixture.py --minilm models/all-MiniLM-L6-v2 \
        --evaluate-beir /tmp/scifact --split test [--threads 2]

Deterministic (fixed seeds, torch.set_num_threads, deterministic algorithms). The subset:
  - 30 SciFact test queries (seeded sample), all their relevant documents except one (dropped
    on purpose: a qrel naming a document absent from the corpus), plus 300 other documents
    (seeded sample); every document's text is cut to its first 500 characters at a word
    boundary to keep the fixture small (both sides embed the same cut text);
  - queries.jsonl also holds 5 train queries without test qrels (skipped by both sides), and
    qrels/test.tsv one line naming a query absent from queries.jsonl (ignored by both sides);
    CRLF line ends and the header, as the BEIR files have.
  - sts-test-subset.tsv: 200 lines of the STS benchmark's sts-test.csv, verbatim (70 images,
    70 track5.en-en, 60 headlines; the genres whose licences allow redistribution).
"""
import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

N_QUERIES = 30
N_OTHER_DOCS = 300
N_NO_QREL_QUERIES = 5
DOC_CHARS = 500
STS_GENRES = [("images", 70), ("track5.en-en", 70), ("headlines", 60)]
KS = dict(accuracy_at_k=[1, 3, 5, 10], precision_recall_at_k=[1, 3, 5, 10, 100], mrr_at_k=[10],
          ndcg_at_k=[10], map_at_k=[100])
TOP_SAVED = 10


def setup_torch(threads):
    import torch
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def read_beir(folder: Path, split: str):
    """BEIR's GenericDataLoader, then the relevant_docs sets as ST's examples build them."""
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                corpus[d["_id"]] = (d.get("title") or "", d["text"])
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                queries[q["_id"]] = q["text"]
    qrels = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8", newline="") as f:
        lines = [l.rstrip("\n").rstrip("\r") for l in f]
    for line in lines[1:]:
        if not line.strip():
            continue
        qid, cid, score = line.split("\t")
        qrels.setdefault(qid, {})[cid] = int(score)
    relevant_docs = {qid: {cid for cid, s in d.items() if s > 0} for qid, d in qrels.items()}
    corpus_texts = {cid: (t + " " + x).strip() for cid, (t, x) in corpus.items()}
    return corpus_texts, queries, relevant_docs


def st_retrieval(model, folder: Path, split: str, batch_size=32, truncate_dim=None):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    corpus, queries, relevant = read_beir(folder, split)
    ev = InformationRetrievalEvaluator(queries=queries, corpus=corpus, relevant_docs=relevant,
                                       batch_size=batch_size, write_csv=False,
                                       write_predictions=True, name="eval",
                                       truncate_dim=truncate_dim, **KS)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        res = ev(model, output_path=tmp)
        seconds = time.time() - t0
        pred_files = list(Path(tmp).glob("*predictions*.jsonl"))
        assert len(pred_files) == 1, pred_files
        preds = [json.loads(l) for l in open(pred_files[0], encoding="utf-8")]
    prefix = "eval_cosine_"
    metrics = {k[len(prefix):]: float(v) for k, v in res.items() if k.startswith(prefix)}
    top = {p["query_id"]: [[r["corpus_id"], r["score"]] for r in p["results"][:TOP_SAVED]]
           for p in preds}
    return metrics, top, len(ev.queries), len(ev.corpus), seconds


def st_sts(model, path: Path, batch_size=32):
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    s1, s2, scores = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            cols = line.rstrip("\n").rstrip("\r").split("\t")
            s1.append(cols[5])
            s2.append(cols[6])
            scores.append(float(cols[4]))
    ev = EmbeddingSimilarityEvaluator(s1, s2, scores, batch_size=batch_size, name="sts",
                                      write_csv=False)
    res = ev(model)
    return {"spearman": float(res["sts_spearman_cosine"]),
            "pearson": float(res["sts_pearson_cosine"]), "pairs": len(scores)}


def cut(text: str) -> str:
    if len(text) <= DOC_CHARS:
        return text
    c = text[:DOC_CHARS]
    return c[:c.rfind(" ")] if " " in c else c


def make_subset(data: Path, out: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_texts import scifact_corpus
    corpus = scifact_corpus(data / "scifact" / "scifact.zip")
    beir = data / "scifact" / "beir"
    queries = [json.loads(l) for l in open(beir / "queries.jsonl", encoding="utf-8") if l.strip()]
    qtext = {q["_id"]: q["text"] for q in queries}

    def qrels(split):
        lines = open(beir / "qrels" / f"{split}.tsv", encoding="utf-8", newline="").read().split("\r\n")
        return [l.split("\t") for l in lines[1:] if l]

    test, train = qrels("test"), qrels("train")
    rng = random.Random(20240607)
    test_qids = sorted({q for q, _, _ in test}, key=int)
    chosen = sorted(rng.sample(test_qids, N_QUERIES), key=int)
    chosen_rows = [r for r in test if r[0] in set(chosen)]
    relevant_docs = []
    for _, d, _ in chosen_rows:
        if d not in relevant_docs:
            relevant_docs.append(d)
    # one query with several relevant documents loses one of them from the corpus
    multi = [q for q in chosen if sum(1 for r in chosen_rows if r[0] == q) >= 2]
    assert multi, "no query with several relevant documents in the sample"
    dropped = [r[1] for r in chosen_rows if r[0] == multi[0]][-1]
    relevant_docs.remove(dropped)
    others = sorted(set(corpus) - set(relevant_docs) - {dropped}, key=int)
    extra = rng.sample(others, N_OTHER_DOCS)
    doc_ids = sorted(set(relevant_docs) | set(extra), key=int)

    train_only = sorted({q for q, _, _ in train} - set(test_qids), key=int)
    no_qrel = sorted(rng.sample(train_only, N_NO_QREL_QUERIES), key=int)
    unknown_query = "999999"
    assert unknown_query not in qtext

    d = out / "scifact-subset"
    (d / "qrels").mkdir(parents=True, exist_ok=True)
    with open(d / "corpus.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for did in doc_ids:
            title, text = corpus[did]
            f.write(json.dumps({"_id": did, "title": title, "text": cut(text)},
                               ensure_ascii=False) + "\n")
    with open(d / "queries.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for qid in sorted(chosen + no_qrel, key=int):
            f.write(json.dumps({"_id": qid, "text": qtext[qid]}, ensure_ascii=False) + "\n")
    with open(d / "qrels" / "test.tsv", "w", encoding="utf-8", newline="") as f:
        f.write("query-id\tcorpus-id\tscore\r\n")
        for q, doc, s in chosen_rows:
            f.write(f"{q}\t{doc}\t{s}\r\n")
        f.write(f"{unknown_query}\t{doc_ids[0]}\t1\r\n")

    # STS: sts-test.csv lines of the redistributable genres, verbatim
    lines = open(data / "stsbenchmark" / "sts-test.csv", encoding="utf-8", newline="").read().split("\n")
    lines = [l for l in lines if l]
    picked = []
    for genre, n in STS_GENRES:
        pool = [l for l in lines if l.split("\t")[1] == genre]
        picked += rng.sample(pool, n)
    picked.sort(key=lines.index)
    with open(out / "sts-test-subset.tsv", "w", encoding="utf-8", newline="") as f:
        for l in picked:
            f.write(l + "\n")
    return {"scifact_queries": chosen, "no_qrel_queries": no_qrel, "dropped_doc": dropped,
            "dropped_from_query": multi[0], "unknown_query": unknown_query}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", required=True)
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "eval"))
    ap.add_argument("--evaluate-beir", help="only evaluate this BEIR folder and print the metrics")
    ap.add_argument("--split", default="test")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    setup_torch(args.threads)
    from sentence_transformers import SentenceTransformer
    t0 = time.time()
    model = SentenceTransformer(args.minilm, device="cpu")
    load_s = time.time() - t0

    if args.evaluate_beir:
        metrics, _, nq, nc, secs = st_retrieval(model, Path(args.evaluate_beir), args.split)
        print(json.dumps({**metrics, "queries": nq, "corpus": nc, "seconds_evaluator": secs,
                          "seconds_model_load": load_s}, indent=2))
        return

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = make_subset(Path(args.data), out)
    metrics, top, nq, nc, _ = st_retrieval(model, out / "scifact-subset", "test")
    sts = st_sts(model, out / "sts-test-subset.tsv")
    import sentence_transformers
    import torch
    ref = {
        "what": "sentence-transformers evaluators on tests/fixtures/eval with all-MiniLM-L6-v2",
        "versions": {"sentence_transformers": sentence_transformers.__version__,
                     "torch": torch.__version__},
        "subset": info,
        "retrieval": {**metrics, "queries": nq, "corpus": nc},
        "retrieval_top10": top,
        "sts": sts,
    }
    with open(out / "st_metrics.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps({"retrieval": ref["retrieval"], "sts": sts}, indent=1))


if __name__ == "__main__":
    main()
