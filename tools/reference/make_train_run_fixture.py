#!/usr/bin/env python3
"""Writes tests/fixtures/train_run/: a PyTorch reference of a whole libsbert training run
(tests/parity/test_train_parity.cpp reads it).

    HF_HUB_OFFLINE=1 /opt/refvenv/bin/python tools/reference/make_train_run_fixture.py \\
        [--minilm models/all-MiniLM-L6-v2] [--out tests/fixtures/train_run] [--verify]

Files:
  train.jsonl              40 NeMo-format records {"query", "pos_doc", "neg_doc": [2 texts]} made
                           of the STS sentences of tests/data/texts.jsonl (ids 0..159: record r is
                           texts 4r, 4r+1, 4r+2, 4r+3), stripped, every text distinct.
  tiny-bert.safetensors    the run from tests/fixtures/tiny-bert (see below), with the trained
                           weights and the full first-step gradients.
  minilm.safetensors       the run from all-MiniLM-L6-v2 (only when --minilm exists): per-step
                           values and gradient/weight-update SKETCHES instead of full tensors.
  tiny-xlmr.safetensors    the run from tests/fixtures/tiny-xlmr (XLMRobertaModel: positions from
                           pad_token_id + 1, one token type), sketches as MiniLM.

The reference run (what libsbert's trainer does with shuffle=false, dedupe_in_batch=false,
add_prefix=false, hard_negatives_to_train=2, dropout 0):
  - transformers BertModel / XLMRobertaModel (eager attention, no pooler), float32, eval mode
    (no dropout);
  - each step takes the next G=8 records in FILE ORDER (40 records: 5 steps an epoch, epoch 2
    repeats the order); texts are tokenized with the folder's HF fast tokenizer, truncation at
    128 tokens (libsbert: min(model.encoder_seq_length=128, max_position_embeddings)), padded,
    attention mask, token_type_ids 0;
  - mean pooling over the real tokens ([CLS]/[SEP] included), L2 normalize;
  - NeMo's exclusive-hard-negative InfoNCE: row i = [Q_i.P_j for j < G | Q_i.N_ik for k < K],
    clamp [-1, 1], / softmax_temp 0.02, cross-entropy with target i, mean over i. The loss head
    runs in float64 on the float32 embeddings (libsbert's loss computes in double: see
    docs/training.md); everything else is float32. The float32 loss head is also run, to report
    how much that choice matters (printed, `losses_fp32_head`);
  - torch.nn.utils.clip_grad_norm_(max_norm 1.0) over the trained parameters;
  - torch.optim.AdamW (single-tensor path), betas (0.9, 0.98), eps 1e-8, two groups: weight
    decay 0.01 for the weight matrices and the three embedding tables, 0 for biases and
    LayerNorm parameters (libsbert's make_bert_layout flags); the pooler is not trained;
  - NeMo CosineAnnealing (warmup_steps 3, max_steps 10, min_lr), the transcription of
    nemo/core/optim/lr_scheduler.py in make_train_fixtures.py stepped by torch's LRScheduler
    (checked against the closed form of docs/training.md): lr of step k = get_lr(last_epoch=k).

Tensors (F64 unless said):
  losses [10], losses_fp32_head [10], lrs [10], grad_norms [10] (pre-clip norm per step)
  loss0 []                           loss of step 0 (the first batch), float64 head
  index.<name> I64 []                the tensor's sketch index t (its position in libsbert's
                                     make_bert_layout order), seed of its sign vectors
  grad0.norm.<name> []               ||g|| of the first-step gradient (before clipping)
  grad0.sketch.<name> [8]            <g, r_k> for the 8 sign vectors of the tensor (below)
  delta.norm.<name> [], delta.sketch.<name> [8]
                                     the same for the weight change after 10 steps (final - initial)
  tiny-bert only:
  grad0.<name> F32 [shape]           the full first-step gradient
  weights.<name> F32 [shape]         the full weights after step 10

Sign vectors (portable, reproduced in C++): for tensor index t, state = 1234 + t (uint64), the
stream x_j = splitmix64 output number j (j = 0, 1, ...: state += 0x9E3779B97F4A7C15, then the
usual mix); r_k[e] = -1 if bit 63 of x_{8e+k} is set else +1, for element e (row-major) and
k < 8. Since E[r r^T] = I, E[<d, r_k>^2] = ||d||^2 for any vector d, so for two gradients
||g_ours - g_ref|| ~= sqrt(mean_k (s_k(ours) - s_k(ref))^2) (8 samples: a chi-square with 8 degrees
of freedom, the estimate is within a factor 0.45..1.6 of the truth with 98% probability).
"""

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_train_fixtures import CosineAnnealing  # noqa: E402

THREADS = 2
RECORDS = 40
G = 8            # model.global_batch_size
K = 2            # model.data.hard_negatives_to_train (every record has exactly 2)
STEPS = 10       # trainer.max_steps
MAX_LEN = 128    # model.encoder_seq_length
SOFTMAX_TEMP = 0.02
CLIP = 1.0
BETAS = (0.9, 0.98)
EPS = 1e-8
WEIGHT_DECAY = 0.01
WARMUP = 3
SKETCH_SEED = 1234
SKETCH_VECTORS = 8

# Per model: peak lr and min_lr of the schedule.
RUNS = {
    "tiny-bert": dict(lr=1e-3, min_lr=1e-5),
    "minilm": dict(lr=1e-4, min_lr=1e-5),
    "tiny-xlmr": dict(lr=1e-3, min_lr=1e-5),
}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def layout_names(num_layers):
    """libsbert's make_bert_layout order (nn/bert_params.cpp) and weight-decay flags."""
    names = [("embeddings.word_embeddings.weight", True),
             ("embeddings.position_embeddings.weight", True),
             ("embeddings.token_type_embeddings.weight", True),
             ("embeddings.LayerNorm.weight", False),
             ("embeddings.LayerNorm.bias", False)]
    for layer in range(num_layers):
        p = f"encoder.layer.{layer}."
        names += [(p + "attention.self.query.weight", True), (p + "attention.self.key.weight", True),
                  (p + "attention.self.value.weight", True), (p + "attention.self.query.bias", False),
                  (p + "attention.self.key.bias", False), (p + "attention.self.value.bias", False),
                  (p + "attention.output.dense.weight", True), (p + "attention.output.dense.bias", False),
                  (p + "attention.output.LayerNorm.weight", False),
                  (p + "attention.output.LayerNorm.bias", False),
                  (p + "intermediate.dense.weight", True), (p + "intermediate.dense.bias", False),
                  (p + "output.dense.weight", True), (p + "output.dense.bias", False),
                  (p + "output.LayerNorm.weight", False), (p + "output.LayerNorm.bias", False)]
    return names


# ------------------------------------------------------------------------------------------
# Sketches
# ------------------------------------------------------------------------------------------

GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def splitmix64_outputs(seed: int, js: np.ndarray) -> np.ndarray:
    """Output number j (0-based) of splitmix64 started at state `seed`, for every j in js."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (js.astype(np.uint64) + np.uint64(1)) * GAMMA
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
        return z ^ (z >> np.uint64(31))


def check_splitmix64():
    """Against a scalar transcription of the reference C code (Vigna)."""
    state = 1234
    mask = (1 << 64) - 1
    ref = []
    for _ in range(5):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        ref.append(z ^ (z >> 31))
    got = splitmix64_outputs(1234, np.arange(5))
    assert [int(x) for x in got] == ref, (got, ref)


def sketch(t: int, values: torch.Tensor) -> np.ndarray:
    """<values, r_k> for k < 8, in float64 (values taken as float64)."""
    v = values.detach().reshape(-1).double().numpy()
    e = np.arange(v.size, dtype=np.uint64)
    out = np.zeros(SKETCH_VECTORS)
    for k in range(SKETCH_VECTORS):
        x = splitmix64_outputs(SKETCH_SEED + t, e * np.uint64(SKETCH_VECTORS) + np.uint64(k))
        r = np.where((x >> np.uint64(63)) != 0, -1.0, 1.0)
        out[k] = float(np.dot(r, v))
    return out


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------

def make_records():
    texts = [json.loads(line) for line in open(REPO / "tests/data/texts.jsonl", encoding="utf-8")]
    sts = [t["text"].strip() for t in texts if t["source"] == "sts"]
    assert len(sts) >= 4 * RECORDS
    recs = []
    for r in range(RECORDS):
        q, p, n1, n2 = sts[4 * r: 4 * r + 4]
        recs.append({"query": q, "pos_doc": p, "neg_doc": [n1, n2]})
    all_texts = [x for r in recs for x in [r["query"], r["pos_doc"], *r["neg_doc"]]]
    assert len(set(all_texts)) == len(all_texts), "texts must be distinct (no dedupe questions)"
    return recs


def write_records(recs, path: Path):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------
# The reference run
# ------------------------------------------------------------------------------------------

def embed(model, tok, texts):
    enc = tok(texts, padding=True, truncation=True, max_length=MAX_LEN, return_tensors="pt")
    mask = enc["attention_mask"]
    out = model(input_ids=enc["input_ids"], attention_mask=mask,
                token_type_ids=torch.zeros_like(enc["input_ids"])).last_hidden_state
    m = mask.unsqueeze(-1).to(out.dtype)
    pooled = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)  # sentence-transformers Pooling (mean)
    return F.normalize(pooled, p=2, dim=1)                  # sentence-transformers Normalize


def nemo_loss(q, p, n):
    """BERTInBatchExclusiveHardNegativesRankingLoss (NeMo 2, nemo/collections/llm/bert/loss.py),
    scale = 1 / softmax_temp, no label smoothing."""
    bs = q.shape[0]
    scores = torch.cat([q @ p.T, (q.unsqueeze(1) * n.view(bs, K, -1)).sum(-1)], 1)
    scores = scores.clamp(-1.0, 1.0) * (1.0 / SOFTMAX_TEMP)
    return F.cross_entropy(scores, torch.arange(bs))


def closed_form_lr(step, lr, min_lr):
    """docs/training.md, CosineAnnealing with constant_steps 0."""
    if step <= WARMUP:
        return lr * ((step + 1) / (WARMUP + 1))
    if step <= STEPS:
        mult = 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / (STEPS - WARMUP)))
        return (lr - min_lr) * mult + min_lr
    return min_lr


def run(name: str, folder: Path, recs, full: bool):
    lr, min_lr = RUNS[name]["lr"], RUNS[name]["min_lr"]
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), add_pooling_layer=False,
                                      attn_implementation="eager", dtype=torch.float32)
    model.eval()  # dropout off (libsbert: model.hidden_dropout=0 model.attention_dropout=0)
    named = dict(model.named_parameters())
    layout = layout_names(model.config.num_hidden_layers)
    assert sorted(named) == sorted(n for n, _ in layout), sorted(set(named) ^ {n for n, _ in layout})
    decay = [named[n] for n, d in layout if d]
    no_decay = [named[n] for n, d in layout if not d]
    params = [named[n] for n, _ in layout]
    initial = {n: named[n].detach().clone() for n, _ in layout}
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=BETAS, eps=EPS, foreach=False, fused=False)
    sched = CosineAnnealing(opt, warmup_steps=WARMUP, max_steps=STEPS, min_lr=min_lr)

    losses, losses32, lrs, norms = [], [], [], []
    out = {}
    for step in range(STEPS):
        first = (step * G) % RECORDS
        batch = recs[first: first + G]
        texts = ([r["query"] for r in batch] + [r["pos_doc"] for r in batch]
                 + [x for r in batch for x in r["neg_doc"]])
        emb = embed(model, tok, texts)
        q, p, n = emb[:G], emb[G:2 * G], emb[2 * G:]
        loss = nemo_loss(q.double(), p.double(), n.double())
        with torch.no_grad():
            losses32.append(float(nemo_loss(q, p, n)))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        if step == 0:
            out["loss0"] = torch.tensor(loss.item(), dtype=torch.float64)
            for t, (pn, _) in enumerate(layout):
                g = named[pn].grad
                out[f"index.{pn}"] = torch.tensor(t, dtype=torch.int64)
                out[f"grad0.norm.{pn}"] = torch.tensor(float(g.double().norm()), dtype=torch.float64)
                out[f"grad0.sketch.{pn}"] = torch.from_numpy(sketch(t, g))
                if full:
                    out[f"grad0.{pn}"] = g.detach().clone().float()
        norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
        cur_lr = opt.param_groups[0]["lr"]
        assert all(g["lr"] == cur_lr for g in opt.param_groups)
        want = closed_form_lr(step, lr, min_lr)
        assert abs(cur_lr - want) <= 1e-15 * lr, (step, cur_lr, want)
        opt.step()
        sched.step()
        losses.append(float(loss))
        lrs.append(cur_lr)
        norms.append(float(norm))
        print(f"{name} step {step + 1:2d}: loss {losses[-1]:.10f} (fp32 head {losses32[-1]:.10f}) "
              f"lr {cur_lr:.6g} grad_norm {norms[-1]:.6g}", flush=True)

    for t, (pn, _) in enumerate(layout):
        d = (named[pn].detach().double() - initial[pn].double())
        out[f"delta.norm.{pn}"] = torch.tensor(float(d.norm()), dtype=torch.float64)
        out[f"delta.sketch.{pn}"] = torch.from_numpy(sketch(t, d))
        if full:
            out[f"weights.{pn}"] = named[pn].detach().clone().float()
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    out["losses_fp32_head"] = torch.tensor(losses32, dtype=torch.float64)
    out["lrs"] = torch.tensor(lrs, dtype=torch.float64)
    out["grad_norms"] = torch.tensor(norms, dtype=torch.float64)
    d32 = max(abs(a - b) for a, b in zip(losses, losses32))
    print(f"{name}: max |loss(fp64 head) - loss(fp32 head)| over the steps: {d32:.3g}")
    cfg = dict(records=RECORDS, global_batch_size=G, hard_negatives=K, steps=STEPS,
               max_length=MAX_LEN, softmax_temp=SOFTMAX_TEMP, clip=CLIP, betas=list(BETAS), eps=EPS,
               weight_decay=WEIGHT_DECAY, warmup_steps=WARMUP, lr=lr, min_lr=min_lr,
               sketch_seed=SKETCH_SEED, sketch_vectors=SKETCH_VECTORS)
    meta = {
        "model": name,
        "model_weights_sha256": sha256_file(folder / "model.safetensors"),
        "data_sha256": "",  # filled by main
        "config": json.dumps(cfg, sort_keys=True),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__,
        "numpy": np.__version__, "torch_threads": str(THREADS),
        "what": "PyTorch reference of a 10-step libsbert training run "
                "(tools/reference/make_train_run_fixture.py)",
    }
    return out, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "tests/fixtures/train_run"))
    ap.add_argument("--minilm", default=str(REPO / "models/all-MiniLM-L6-v2"))
    ap.add_argument("--verify", action="store_true",
                    help="recompute into a temporary folder and compare with --out (exit 1 on any "
                         "difference) instead of writing")
    ap.add_argument("--models", default="tiny-bert,tiny-xlmr,minilm",
                    help="which runs to (re)compute, comma-separated")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    check_splitmix64()
    committed = Path(args.out)
    tmp = tempfile.TemporaryDirectory() if args.verify else None
    out_dir = Path(tmp.name) if tmp else committed
    out_dir.mkdir(parents=True, exist_ok=True)
    recs = make_records()
    data_path = out_dir / "train.jsonl"
    write_records(recs, data_path)
    data_sha = sha256_file(data_path)
    models = [("tiny-bert", REPO / "tests/fixtures/tiny-bert", True),
              ("tiny-xlmr", REPO / "tests/fixtures/tiny-xlmr", False)]
    if (Path(args.minilm) / "model.safetensors").exists():
        models.append(("minilm", Path(args.minilm), False))
    else:
        print(f"{args.minilm} not found: skipping the MiniLM run")
    models = [m for m in models if m[0] in args.models.split(",")]
    for name, folder, full in models:
        tensors, meta = run(name, folder, recs, full)
        meta["data_sha256"] = data_sha
        path = out_dir / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    if tmp:
        sys.exit(0 if verify(out_dir, committed, [m[0] for m in models]) else 1)


def verify(new_dir: Path, old_dir: Path, names) -> bool:
    """Tensors, dtypes and metadata equal (the header's key order may differ between runs)."""
    from safetensors import safe_open
    ok = (new_dir / "train.jsonl").read_bytes() == (old_dir / "train.jsonl").read_bytes()
    if not ok:
        print("MISMATCH train.jsonl")
    for name in names:
        with safe_open(str(new_dir / f"{name}.safetensors"), "pt") as a, \
                safe_open(str(old_dir / f"{name}.safetensors"), "pt") as b:
            if set(a.keys()) != set(b.keys()):
                print(f"MISMATCH {name}: tensor names differ")
                ok = False
                continue
            for k in a.keys():
                x, y = a.get_tensor(k), b.get_tensor(k)
                if x.dtype != y.dtype or x.shape != y.shape or not torch.equal(x, y):
                    diff = (x.double() - y.double()).abs().max() if x.shape == y.shape else "shape"
                    print(f"MISMATCH {name} {k}: max |diff| {diff}")
                    ok = False
            if a.metadata() != b.metadata():
                print(f"MISMATCH {name}: metadata differs")
                ok = False
    print("verify:", "all tensors identical" if ok else "DIFFERENCES")
    return ok


if __name__ == "__main__":
    main()
