#!/usr/bin/env python3
"""Writes tests/fixtures/train_run/objectives.jsonl and objectives.safetensors: 10-step training
runs of tests/fixtures/tiny-bert with each new objective, the loss computed by
sentence-transformers' own loss classes (tests/parity/test_objective_parity.cpp reads them).

    HF_HUB_OFFLINE=1 /tmp/venv-st/bin/python tools/reference/make_objective_run_fixture.py

The run is make_train_run_fixture.py's (transformers BertModel in eval mode, float32, the same
40 records in file order, G = 8, truncation at 128 tokens, clip 1.0, AdamW betas (0.9, 0.98)
eps 1e-8 weight decay 0.01 on matrices and embeddings, NeMo CosineAnnealing warmup 3, lr 1e-3,
min_lr 1e-5) with two differences: the sentence embedding is the model folder's own output
(tiny-bert: mean pooling and its Normalize module; tiny-bert-cls: the [CLS] vector, no Normalize,
so MarginMSELoss's dot products see unnormalised vectors), and the loss is one of
sentence-transformers' classes (called through make_objective_fixtures.py's stand-in model), in
float64 on the float32 embeddings (libsbert's loss computes in double).

objectives.jsonl: the 40 records with "score" (record r: ((37 r) mod 17) / 16, ties included)
and "margins" (record r, negative k: ((13 r + 5 k) mod 9) / 4 - 1), the keys of the JSONL record.

Runs (tensors "<run>.losses" and "<run>.grad_norms" (pre-clip) [10] F64, metadata "<run>": JSON of the run):
  cosent             CoSENTLoss(scale 20) on (query, pos_doc, score)
  angle              AnglELoss(scale 20)
  marginmse          MarginMSELoss, 2 negatives per record, margins as above
  marginmse_cls      the same, training tiny-bert-cls (CLS pooling, no Normalize module)
  gist               GISTEmbedLoss(guide = tests/fixtures/tiny-bert-cls, temperature 0.01,
                     absolute margin 0) on (query, pos_doc, first neg_doc); the guide in eval mode
                     under no_grad
  gist_retok         the same with the guide tests/fixtures/tiny-xlmr (another vocabulary:
                     GISTEmbedLoss.must_retokenize): per column, the trained model's padded ids
                     through tok.batch_decode(skip_special_tokens=True), then the guide
                     SentenceTransformer's preprocess (its tokenizer, its max_seq_length 128) and
                     forward (mean pooling, Normalize), as GISTEmbedLoss.forward does
  matryoshka_mnrl    MatryoshkaLoss(MultipleNegativesRankingLoss(scale 20), dims [32, 16, 8]),
                     2 negatives
  matryoshka_cosent  MatryoshkaLoss(CoSENTLoss, dims [32, 16, 8], weights [1, 0.5, 0.25])
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, BertModel  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_objective_fixtures import EmbeddingModel, make_gist  # noqa: E402  (patches ST)
from make_train_fixtures import CosineAnnealing  # noqa: E402
from make_train_run_fixture import (BETAS, CLIP, EPS, G, MAX_LEN, RECORDS, STEPS, THREADS,  # noqa: E402
                                    WARMUP, WEIGHT_DECAY, layout_names, make_records)
from sentence_transformers.sentence_transformer.losses import (  # noqa: E402
    AnglELoss, CoSENTLoss, MarginMSELoss, MatryoshkaLoss, MultipleNegativesRankingLoss)

REPO = Path(__file__).resolve().parents[2]
LR, MIN_LR = 1e-3, 1e-5

RUNS = {
    "cosent": dict(loss="cosent", K=0),
    "angle": dict(loss="angle", K=0),
    "marginmse": dict(loss="marginmse", K=2),
    "marginmse_cls": dict(loss="marginmse", K=2, model="tiny-bert-cls"),
    "gist": dict(loss="gist", K=1),
    "gist_retok": dict(loss="gist", K=1, guide="tiny-xlmr"),
    "matryoshka_mnrl": dict(loss="mnrl", K=2, matryoshka_dims=[32, 16, 8]),
    "matryoshka_cosent": dict(loss="cosent", K=0, matryoshka_dims=[32, 16, 8],
                              matryoshka_weights=[1.0, 0.5, 0.25]),
}


def score_of(r):
    return ((37 * r) % 17) / 16


def margin_of(r, k):
    return ((13 * r + 5 * k) % 9) / 4 - 1


def embed(model, tok, texts, cls=False):
    """tiny-bert's head (mean pooling, Normalize) or tiny-bert-cls's (the [CLS] vector)."""
    enc = tok(texts, padding=True, truncation=True, max_length=MAX_LEN, return_tensors="pt")
    mask = enc["attention_mask"]
    out = model(input_ids=enc["input_ids"], attention_mask=mask,
                token_type_ids=torch.zeros_like(enc["input_ids"])).last_hidden_state
    if cls:
        return out[:, 0]
    m = mask.unsqueeze(-1).to(out.dtype)
    return F.normalize((out * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1)


def load(folder):
    model = BertModel.from_pretrained(str(folder), add_pooling_layer=False,
                                      attn_implementation="eager", dtype=torch.float32)
    model.eval()
    return model


def make_loss(spec, stub):
    kind = spec["loss"]
    if kind == "cosent":
        base = CoSENTLoss(stub, scale=20.0)
    elif kind == "angle":
        base = AnglELoss(stub, scale=20.0)
    elif kind == "marginmse":
        base = MarginMSELoss(stub)
    elif kind == "mnrl":
        base = MultipleNegativesRankingLoss(stub, scale=20.0)
    elif kind == "gist":
        base = make_gist(stub, EmbeddingModel(32, key="gemb"),
                         {"gist_temperature": 0.01, "gist_margin_strategy": "absolute",
                          "gist_margin": 0.0, "gist_contrast_anchors": True,
                          "gist_contrast_positives": True})
    if spec.get("matryoshka_dims"):
        return MatryoshkaLoss(stub, base, spec["matryoshka_dims"], spec.get("matryoshka_weights"))
    return base


def run(name, spec, recs):
    torch.manual_seed(0)
    folder = spec.get("model", "tiny-bert")
    cls = folder == "tiny-bert-cls"
    model = load(REPO / "tests/fixtures" / folder)
    # The trained model's tokenizer (tiny-bert-cls does not lowercase); gist's guide embeds the
    # same ids, as GISTEmbedLoss does when the vocabularies are equal (must_retokenize False).
    tok = AutoTokenizer.from_pretrained(str(REPO / "tests/fixtures" / folder))
    plain_gist = spec["loss"] == "gist" and not spec.get("guide")
    guide = load(REPO / "tests/fixtures/tiny-bert-cls") if plain_gist else None
    st_guide = None
    if spec.get("guide"):
        from sentence_transformers import SentenceTransformer
        st_guide = SentenceTransformer(str(REPO / "tests/fixtures" / spec["guide"]), device="cpu")
        st_guide.eval()
        assert tok.get_vocab() != st_guide.tokenizer.get_vocab()  # must_retokenize
    named = dict(model.named_parameters())
    layout = layout_names(model.config.num_hidden_layers)
    decay = [named[n] for n, d in layout if d]
    no_decay = [named[n] for n, d in layout if not d]
    params = [named[n] for n, _ in layout]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS, foreach=False, fused=False)
    sched = CosineAnnealing(opt, warmup_steps=WARMUP, max_steps=STEPS, min_lr=MIN_LR)
    stub = EmbeddingModel(32)
    loss_fn = make_loss(spec, stub)
    K = spec["K"]
    losses, norms = [], []
    for step in range(STEPS):
        first = (step * G) % RECORDS
        ids = list(range(first, first + G))
        batch = [recs[i] for i in ids]
        texts = ([r["query"] for r in batch] + [r["pos_doc"] for r in batch]
                 + [r["neg_doc"][k] for r in batch for k in range(K)])
        emb = embed(model, tok, texts, cls=cls).double()
        q, p, n = emb[:G], emb[G:2 * G], emb[2 * G:]
        cols = [q, p] + [n.view(G, K, -1)[:, k] for k in range(K)]
        feats = [{"emb": c} for c in cols]
        if st_guide is not None:
            # GISTEmbedLoss.forward with must_retokenize, column by column (the ids of a column
            # padded together, as the collator does; [PAD] is special and dropped).
            columns = [texts[:G], texts[G:2 * G]] + [texts[2 * G + k::K] for k in range(K)]
            parts = []
            with torch.no_grad():
                for col in columns:
                    col_ids = tok(col, padding=True, truncation=True,
                                  max_length=MAX_LEN)["input_ids"]
                    decoded = tok.batch_decode(col_ids, skip_special_tokens=True)
                    parts.append(st_guide(st_guide.preprocess(decoded))["sentence_embedding"])
            gemb = torch.cat(parts[:2] + [torch.stack(parts[2:], 1).reshape(G * K, -1)]).double()
        elif guide is not None:
            with torch.no_grad():
                gemb = embed(guide, tok, texts, cls=True).double()
        if st_guide is not None or guide is not None:
            gcols = [gemb[:G], gemb[G:2 * G]] + [gemb[2 * G:].view(G, K, -1)[:, k] for k in range(K)]
            for f, g in zip(feats, gcols):
                f["gemb"] = g
        if spec["loss"] in ("cosent", "angle"):
            labels = torch.tensor([score_of(i) for i in ids], dtype=torch.float64)
        elif spec["loss"] == "marginmse":
            labels = torch.tensor([[margin_of(i, k) for k in range(K)] for i in ids],
                                  dtype=torch.float64)
        else:
            labels = None
        loss = loss_fn(feats, labels)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        sched.step()
        losses.append(float(loss))
        norms.append(float(norm))
        print(f"{name} step {step + 1:2d}: loss {losses[-1]:.10f} grad_norm {float(norm):.6g}",
              flush=True)
    return torch.tensor(losses, dtype=torch.float64), torch.tensor(norms, dtype=torch.float64)


def main():
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    recs = make_records()
    assert len(recs) == RECORDS
    out_dir = REPO / "tests/fixtures/train_run"
    with open(out_dir / "objectives.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for r, rec in enumerate(recs):
            rec = dict(rec, score=score_of(r), margins=[margin_of(r, k) for k in range(2)])
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tensors, meta = {}, {}
    for name, spec in RUNS.items():
        tensors[f"{name}.losses"], tensors[f"{name}.grad_norms"] = run(name, spec, recs)
        meta[name] = json.dumps(spec, sort_keys=True)
    meta["runs"] = ",".join(RUNS)
    meta["config"] = json.dumps(dict(records=RECORDS, global_batch_size=G, steps=STEPS,
                                     max_length=MAX_LEN, clip=CLIP, betas=list(BETAS), eps=EPS,
                                     weight_decay=WEIGHT_DECAY, warmup_steps=WARMUP, lr=LR,
                                     min_lr=MIN_LR), sort_keys=True)
    path = out_dir / "objectives.safetensors"
    save_file(tensors, str(path), metadata=meta)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
