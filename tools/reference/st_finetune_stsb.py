#!/usr/bin/env python3
"""The sentence-transformers side of the CoSENT / AnglE row of docs/results.md: fine-tunes a model
on scored pairs (data/stsb/train.tsv: sentence1, sentence2, score) with CoSENTLoss (or AnglELoss),
then reports STSb test Spearman / Pearson of the cosine similarity with
EmbeddingSimilarityEvaluator -- the same data, batch size, steps, schedule, optimizer settings
and sequence length as the libsbert run it is compared with (conf/stsb_cosent.yaml).

    HF_HUB_OFFLINE=1 /tmp/venv-st/bin/python tools/reference/st_finetune_stsb.py \
        --model models/all-MiniLM-L6-v2 --train data/stsb/train.tsv --test data/stsb/test.tsv \
        --output /tmp/st-stsb --loss cosent --batch-size 16 --epochs 1 --lr 2e-5 \
        --warmup-steps 36 --threads 2

Writes <output>/results.json (Spearman before and after, the loss log, wall times, versions).
Needs torch, transformers, sentence-transformers, datasets, accelerate; never used by the
libsbert build or tests.
"""
import argparse
import csv
import json
import os
import platform
import random
import sys
import time


def read_pairs(path):
    """The TSV as libsbert reads it: a header, then tab-separated fields, never quoted."""
    s1, s2, score = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        i1, i2, isc = header.index("sentence1"), header.index("sentence2"), header.index("score")
        for r in rows:
            s1.append(r[i1])
            s2.append(r[i2])
            score.append(float(r[isc]))
    return s1, s2, score


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--loss", choices=["cosent", "angle"], default="cosent")
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--warmup-steps", type=int, default=36)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    import datasets
    import sentence_transformers as st
    from sentence_transformers import SentenceTransformer, losses
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator
    from sentence_transformers.training_args import BatchSamplers

    random.seed(a.seed)
    torch.manual_seed(a.seed)
    os.makedirs(a.output, exist_ok=True)

    s1, s2, score = read_pairs(a.train)
    train = datasets.Dataset.from_dict({"sentence1": s1, "sentence2": s2, "score": score})
    t1, t2, tscore = read_pairs(a.test)
    evaluator = EmbeddingSimilarityEvaluator(t1, t2, tscore, batch_size=64, name="sts-test",
                                             show_progress_bar=False)

    model = SentenceTransformer(a.model, device="cpu")
    model.max_seq_length = a.max_seq_length
    out = {"model": a.model, "train": a.train, "test": a.test, "pairs": len(train),
           "args": vars(a),
           "versions": {"torch": torch.__version__, "sentence_transformers": st.__version__,
                        "python": platform.python_version()},
           "machine": platform.processor() or platform.machine(), "threads": a.threads}

    def metrics(m):
        r = evaluator(m)
        return {k.split("sts-test_")[-1]: v for k, v in r.items()}

    t = time.time()
    out["before"] = metrics(model)
    out["eval_seconds_base"] = time.time() - t
    print("before:", out["before"], file=sys.stderr)

    args = st.SentenceTransformerTrainingArguments(
        output_dir=os.path.join(a.output, "trainer"),
        num_train_epochs=a.epochs,
        per_device_train_batch_size=a.batch_size,
        learning_rate=a.lr,
        warmup_steps=a.warmup_steps,
        lr_scheduler_type="cosine",
        weight_decay=a.weight_decay,
        adam_beta2=a.beta2,
        adam_epsilon=1e-8,
        max_grad_norm=1.0,
        batch_sampler=BatchSamplers.BATCH_SAMPLER,
        dataloader_drop_last=True,
        seed=a.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
    )
    if a.loss == "cosent":
        loss = losses.CoSENTLoss(model, scale=a.scale)
    else:
        loss = losses.AnglELoss(model, scale=a.scale)
    trainer = st.SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=loss)
    t = time.time()
    trainer.train()
    out["train_seconds"] = time.time() - t
    out["steps"] = trainer.state.global_step
    out["loss_log"] = [h["loss"] for h in trainer.state.log_history if "loss" in h]

    out["after"] = metrics(model)
    print("after:", out["after"], file=sys.stderr)
    with open(os.path.join(a.output, "results.json"), "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
