#!/usr/bin/env python3
"""The sentence-transformers side of docs/results.md: fine-tunes a model on NeMo-format training
JSONL (as written by sbert-mine) with MultipleNegativesRankingLoss and hard negatives, then
evaluates it on a BEIR split with InformationRetrievalEvaluator -- the same data, batch size,
steps, learning-rate schedule, optimizer settings and sequence lengths as the libsbert run it is
compared with.

    HF_HUB_OFFLINE=1 /opt/refvenv/bin/python tools/reference/st_finetune_scifact.py \
        --model models/all-MiniLM-L6-v2 --train data/scifact/mined/train.jsonl \
        --beir data/scifact/beir --split test --output /tmp/st-scifact \
        --negatives 2 --batch-size 32 --epochs 1 --lr 5e-5 --warmup-steps 3 --threads 2

Writes <output>/results.json (NDCG@10 etc. before and after, wall times, versions) and the
fine-tuned model in <output>/model. Needs torch, transformers, sentence-transformers, datasets,
accelerate; never used by the libsbert build or tests.
"""
import argparse
import json
import os
import platform
import random
import sys
import time


def read_beir(folder, split):
    corpus, queries, rel = {}, {}, {}
    with open(os.path.join(folder, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                corpus[d["_id"]] = (d.get("title", "") + " " + d["text"]).strip()
    with open(os.path.join(folder, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                queries[d["_id"]] = d["text"]
    with open(os.path.join(folder, "qrels", split + ".tsv"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            cols = line.strip().split("\t")
            if i == 0 and cols[0] == "query-id":
                continue
            if len(cols) == 3 and int(cols[2]) > 0:
                rel.setdefault(cols[0], set()).add(cols[1])
    queries = {q: t for q, t in queries.items() if q in rel}
    return corpus, queries, rel


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True, help="NeMo JSONL: query, pos_doc, neg_doc")
    ap.add_argument("--beir", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--output", required=True)
    ap.add_argument("--negatives", type=int, default=2, help="hard negatives per record (first K)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--warmup-steps", type=int, default=0)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--beta2", type=float, default=0.98)
    ap.add_argument("--scale", type=float, default=20.0, help="MNRL scale (1 / temperature)")
    ap.add_argument("--max-seq-length", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--skip-base-eval", action="store_true")
    a = ap.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    import datasets
    import sentence_transformers as st
    from sentence_transformers import SentenceTransformer, losses
    from sentence_transformers.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.training_args import BatchSamplers

    random.seed(a.seed)
    torch.manual_seed(a.seed)
    os.makedirs(a.output, exist_ok=True)

    rows = {"anchor": [], "positive": []}
    for k in range(a.negatives):
        rows[f"negative_{k + 1}"] = []
    with open(a.train, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            negs = list(r.get("neg_doc", []))
            if not negs:
                continue
            # NeMo fills a short list by sampling with replacement; cycle for determinism here.
            while len(negs) < a.negatives:
                negs += negs[: a.negatives - len(negs)]
            rows["anchor"].append(r["query"])
            rows["positive"].append(r["pos_doc"])
            for k in range(a.negatives):
                rows[f"negative_{k + 1}"].append(negs[k])
    train = datasets.Dataset.from_dict(rows)

    corpus, queries, rel = read_beir(a.beir, a.split)
    evaluator = InformationRetrievalEvaluator(queries, corpus, rel, name=a.split,
                                              batch_size=64, show_progress_bar=False,
                                              precision_recall_at_k=[1, 3, 5, 10, 100])

    model = SentenceTransformer(a.model, device="cpu")
    model.max_seq_length = a.max_seq_length
    out = {"model": a.model, "train": a.train, "records": len(train), "args": vars(a),
           "versions": {"torch": torch.__version__, "sentence_transformers": st.__version__,
                        "python": platform.python_version()},
           "machine": platform.processor() or platform.machine(), "threads": a.threads}
    if not a.skip_base_eval:
        t = time.time()
        base = evaluator(model)
        out["eval_seconds_base"] = time.time() - t
        out["before"] = {k.split("_cosine_")[-1]: v for k, v in base.items() if "_cosine_" in k}
        print("before:", out["before"].get("ndcg@10"), file=sys.stderr)

    args = st.SentenceTransformerTrainingArguments(
        output_dir=os.path.join(a.output, "trainer"),
        num_train_epochs=a.epochs,
        max_steps=a.max_steps,
        per_device_train_batch_size=a.batch_size,
        learning_rate=a.lr,
        warmup_steps=a.warmup_steps,
        lr_scheduler_type="cosine",
        weight_decay=a.weight_decay,
        adam_beta2=a.beta2,
        adam_epsilon=1e-8,
        max_grad_norm=1.0,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        dataloader_drop_last=True,
        seed=a.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
    )
    loss = losses.MultipleNegativesRankingLoss(model, scale=a.scale)
    trainer = st.SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=loss)
    t = time.time()
    trainer.train()
    out["train_seconds"] = time.time() - t
    out["steps"] = trainer.state.global_step
    out["loss_log"] = [h["loss"] for h in trainer.state.log_history if "loss" in h]

    t = time.time()
    after = evaluator(model)
    out["eval_seconds_after"] = time.time() - t
    out["after"] = {k.split("_cosine_")[-1]: v for k, v in after.items() if "_cosine_" in k}
    print("after:", out["after"].get("ndcg@10"), file=sys.stderr)
    model.save(os.path.join(a.output, "model"))
    with open(os.path.join(a.output, "results.json"), "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
