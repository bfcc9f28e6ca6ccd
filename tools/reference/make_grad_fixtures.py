#!/usr/bin/env python3
"""Write the PyTorch-autograd gradient fixtures of libsbert's backward pass.

    HF_HUB_OFFLINE=1 /opt/refvenv/bin/python tools/reference/make_grad_fixtures.py \\
        [--minilm models/all-MiniLM-L6-v2] [--verify]

For each model it runs sentence-transformers (Transformer -> Pooling -> Normalize) in eval mode
(dropout off), fp32, on a fixed batch of 8 texts, with the stand-in loss

    loss = sum(embeddings * R),   R ~ N(0, 1) of shape (8, hidden), stored

and writes every parameter's gradient to tests/fixtures/grad/<model>.safetensors, for
<model> in tiny-bert (mean pooling + Normalize), tiny-bert-cls (CLS pooling, no Normalize),
tiny-xlmr (XLM-RoBERTa, mean pooling + Normalize; its own 8 multilingual texts, XLMR_TEXTS),
from tests/fixtures/, and minilm (models/all-MiniLM-L6-v2, mean pooling + Normalize):

  ids (I32, T), cu_seqlens (I64, 9)     the packed batch ([CLS] ... [SEP], no padding)
  R (F32, 8 x H), embeddings (F32, 8 x H), loss (F64, 1)
  norm/<name> (F64, 1)                   ||grad|| (float64 sum of squares), every tensor
  grad/<name> (F32, shape)               the full gradient: every tensor of the tiny BERTs; MiniLM
                                         and tiny-xlmr every tensor except the ones below
  rows/<name> (I64, U), grad_rows/<name> (F32, U x H)
                                         MiniLM and tiny-xlmr word and position embeddings: only
                                         the rows the batch touches (every other row's gradient
                                         is exactly 0)
  sketch/<name> (F64, K)                 MiniLM per-layer weight matrices: K = 128 Rademacher
                                         projections <s_k, grad>, s_k in {-1, +1}^numel (below)
  sample_idx/<name> (I64, M), sample/<name> (F32, M)
                                         ... and M = 2048 exact entries at random flat indices

Rademacher signs, reproduced bit for bit in C++ (tests/parity/test_backward_parity.cpp): for
flat index i of a tensor (row-major) and word w in {0, 1},
    z = splitmix64_mix(SKETCH_SEED + (2 i + w + 1) * 0x9E3779B97F4A7C15)   (mod 2^64)
and s_k(i) = -1 if bit (k mod 64) of the word w = k div 64 is set, else +1. Since
E[<s, x>^2] = ||x||^2, ||ours - ref||^2 ~ mean_k (<s_k, ours> - sketch_k)^2.

--verify recomputes everything and compares with the stored files instead of writing.
"""
import argparse
import hashlib
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
THREADS = 2
R_SEED = 20240611
SAMPLE_SEED = 7
SKETCH_SEED = 0x5EB3_27D5_0C1A_4F11
SKETCH_DIRECTIONS = 128  # two 64-bit words per element
SAMPLES = 2048
MASK64 = (1 << 64) - 1

# Eight texts of different lengths: a one-word text, punctuation, digits, accents, a literal
# [PAD] (tokenized as the padding id: its embedding row gets no gradient in PyTorch), and a
# longer paragraph.
TEXTS = [
    "A man is eating food.",
    "Hi",
    "The quick brown fox jumps over the lazy dog, while 3 cats watch from the fence!",
    "Café prices rose 12.5% in 2023; economists blame supply chains.",
    "a [PAD] token inside",
    "What is the capital of France?",
    "Sentence embeddings map text to vectors so that similar meanings end up close together, "
    "which makes semantic search, clustering and deduplication simple nearest-neighbour "
    "problems over a vector index.",
    "ok ok ok ok",
]

# tiny-xlmr: a literal "<pad>" (the padding id: no gradient to its word row, and transformers
# gives it position pad_token_id, whose row gets no gradient either), CJK, Arabic, emoji,
# combining marks, and a longer paragraph.
XLMR_TEXTS = [
    "A man is eating food.",
    "Hi",
    "Москва — столица России, а Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "東京は日本の首都です。我喜欢喝茶。서울은 한국의 수도입니다.",
    "a <pad> token inside, then more words after it",
    "القاهرة هي عاصمة مصر 👍🏽 👨‍👩‍👧 Cafe\u0301 ＡＢＣ",
    "Sentence embeddings map text to vectors so that similar meanings end up close together, "
    "which makes semantic search, clustering and deduplication simple nearest-neighbour "
    "problems over a vector index.",
    "ok ok ok ok",
]


def splitmix64_mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sketch(g: np.ndarray) -> np.ndarray:
    """<s_k, g> for k < SKETCH_DIRECTIONS, in float64."""
    flat = g.astype(np.float64).ravel()
    i = np.arange(flat.size, dtype=np.uint64)
    out = np.zeros(SKETCH_DIRECTIONS, dtype=np.float64)
    with np.errstate(over="ignore"):
        for w in range(SKETCH_DIRECTIONS // 64):
            z = np.uint64(SKETCH_SEED) + (np.uint64(2) * i + np.uint64(w + 1)) * np.uint64(
                0x9E3779B97F4A7C15)
            z = splitmix64_mix(z)
            for b in range(64):
                neg = ((z >> np.uint64(b)) & np.uint64(1)).astype(bool)
                out[w * 64 + b] = flat[~neg].sum() - flat[neg].sum()
    return out


def pack(model: SentenceTransformer, texts):
    tok = model.tokenizer
    seqs = [tok(t, truncation=True, max_length=model.max_seq_length)["input_ids"] for t in texts]
    cu = np.zeros(len(seqs) + 1, dtype=np.int64)
    cu[1:] = np.cumsum([len(s) for s in seqs])
    return seqs, np.concatenate([np.asarray(s, np.int32) for s in seqs]), cu


def run(model_dir: Path, texts):
    torch.manual_seed(0)
    model = SentenceTransformer(str(model_dir), device="cpu",
                                model_kwargs={"attn_implementation": "eager"})
    model.eval()
    model.float()
    seqs, ids, cu = pack(model, texts)
    B, L = len(seqs), max(len(s) for s in seqs)
    pad_id = model[0].auto_model.config.pad_token_id
    input_ids = torch.full((B, L), pad_id, dtype=torch.long)  # padded with the pad id (masked out)
    mask = torch.zeros(B, L, dtype=torch.long)
    for b, s in enumerate(seqs):
        input_ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
    features = {"input_ids": input_ids, "attention_mask": mask,
                "token_type_ids": torch.zeros_like(input_ids)}
    model.zero_grad(set_to_none=True)
    emb = model(features)["sentence_embedding"]
    H = emb.shape[1]
    R = torch.randn(B, H, generator=torch.Generator().manual_seed(R_SEED), dtype=torch.float32)
    loss = (emb * R).sum()
    loss.backward()
    bert = model[0].auto_model
    grads = {}
    for name, p in bert.named_parameters():
        if p.grad is None:  # the pooler (BertPooler) is not part of a sentence embedding
            assert name.startswith("pooler."), name
            continue
        grads[name] = p.grad.detach().numpy().copy()
    # Each token's position row, as transformers computes it (BertEmbeddings: 0, 1, ...;
    # RobertaEmbeddings: pad_id + 1, ... with a pad token at pad_id).
    roberta = bert.config.model_type in ("roberta", "xlm-roberta")
    pos = []
    for s in seqs:
        if roberta:
            mask = np.asarray(s) != pad_id
            pos.append(np.where(mask, np.cumsum(mask) + pad_id, pad_id))
        else:
            pos.append(np.arange(len(s)))
    pos = np.concatenate(pos).astype(np.int64)
    return ids, cu, R.numpy(), emb.detach().numpy(), float(loss.item()), grads, pad_id, pos, roberta


def build(model_dir: Path, full: bool, texts=TEXTS, matrices_full: bool = False):
    ids, cu, R, emb, loss, grads, pad_id, pos, roberta = run(model_dir, texts)
    out = {"ids": ids, "cu_seqlens": cu, "R": R, "embeddings": emb,
           "loss": np.array([loss], dtype=np.float64)}
    rng = np.random.default_rng(SAMPLE_SEED)
    for name, g in grads.items():
        out[f"norm/{name}"] = np.array([np.sqrt((g.astype(np.float64) ** 2).sum())])
        is_table = "word_embeddings" in name or "position_embeddings" in name
        if full or g.ndim == 1 or "token_type" in name or (matrices_full and not is_table):
            out[f"grad/{name}"] = g
        elif is_table:
            if "word" in name:  # the batch's ids; [PAD] (padding_idx) gets no gradient
                rows = np.unique(ids[ids != pad_id]).astype(np.int64)
            else:  # the positions used (RoBERTa: its padding_idx row gets no gradient)
                rows = np.unique(pos[pos != pad_id] if roberta else pos).astype(np.int64)
            rest = np.ones(g.shape[0], bool)
            rest[rows] = False
            assert not np.any(g[rest]), f"{name}: a row outside the batch has a gradient"
            out[f"rows/{name}"] = rows
            out[f"grad_rows/{name}"] = g[rows]
        else:
            out[f"sketch/{name}"] = sketch(g)
            idx = np.sort(rng.choice(g.size, size=SAMPLES, replace=False)).astype(np.int64)
            out[f"sample_idx/{name}"] = idx
            out[f"sample/{name}"] = g.ravel()[idx]
    sha = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    import sentence_transformers
    import transformers
    meta = {"what": "PyTorch autograd gradients of sum(sentence_embedding * R), eval, fp32",
            "texts": " | ".join(texts), "model_weights_sha256": sha,
            "torch": torch.__version__, "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "numpy": np.__version__, "torch_threads": str(THREADS),
            "sketch_seed": hex(SKETCH_SEED), "sketch_directions": str(SKETCH_DIRECTIONS)}
    return out, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minilm", type=Path, default=REPO / "models/all-MiniLM-L6-v2")
    ap.add_argument("--out", type=Path, default=REPO / "tests/fixtures/grad")
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--models", default="tiny-bert,tiny-bert-cls,minilm,tiny-xlmr")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    args.out.mkdir(parents=True, exist_ok=True)
    bad = 0
    models = [("tiny-bert", REPO / "tests/fixtures/tiny-bert", True),
              ("tiny-bert-cls", REPO / "tests/fixtures/tiny-bert-cls", True),
              ("minilm", args.minilm, False),
              ("tiny-xlmr", REPO / "tests/fixtures/tiny-xlmr", False)]
    for label, model_dir, full in models:
        if label not in args.models.split(","):
            continue
        if not (model_dir / "model.safetensors").exists():
            print(f"{label}: {model_dir} has no model.safetensors, skipped", file=sys.stderr)
            continue
        if label == "tiny-xlmr":  # full matrices, the two tables by rows (fixture size)
            out, meta = build(model_dir, False, XLMR_TEXTS, matrices_full=True)
        else:
            out, meta = build(model_dir, full)
        path = args.out / f"{label}.safetensors"
        if args.verify:
            old = load_file(str(path))
            for k, v in out.items():
                if k not in old or old[k].shape != v.shape:
                    print(f"{label}: {k} missing or reshaped"); bad += 1; continue
                if v.dtype.kind in "iu":
                    ok = np.array_equal(old[k], v)
                else:
                    d = np.abs(old[k].astype(np.float64) - v.astype(np.float64)).max(initial=0.0)
                    ok = d <= 1e-6 * max(1.0, np.abs(v).max(initial=0.0))
                if not ok:
                    print(f"{label}: {k} differs"); bad += 1
            print(f"{label}: verified {len(out)} tensors")
        else:
            save_file(out, str(path), metadata=meta)
            print(f"{label}: wrote {path} ({path.stat().st_size / 1e6:.2f} MB, "
                  f"{int(out['cu_seqlens'][-1])} tokens, loss {out['loss'][0]:.6f})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
