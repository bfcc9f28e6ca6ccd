#!/usr/bin/env python3
"""Writes tests/fixtures/train/objectives.safetensors: sentence-transformers' own loss classes
(CoSENTLoss, AnglELoss, GISTEmbedLoss, CachedGISTEmbedLoss, MarginMSELoss, MatryoshkaLoss around
them) evaluated on small random embeddings, in float64, with torch autograd gradients w.r.t. the
input embeddings. tests/unit/test_objectives.cpp reads it.

    HF_HUB_OFFLINE=1 /tmp/venv-st/bin/python tools/reference/make_objective_fixtures.py \\
        [--out tests/fixtures/train/objectives.safetensors]

The losses are called on embeddings, not texts: a stand-in model returns the fixture's tensor as
its "sentence_embedding", and the loss modules' embed_columns is replaced by a call of that model,
so every line of the loss itself (and MatryoshkaLoss's ForwardDecorator / CachedLossDecorator,
which truncate and renormalise) is sentence-transformers' code.

Per case "<c>": inputs <c>.q (B, H), <c>.p (B, H), <c>.n (B*K, H) F64 (float32-representable
values), optional <c>.scores (B), <c>.margins (B*K), <c>.gq/<c>.gp/<c>.gn (guide, GH columns);
outputs <c>.loss [1], <c>.dq, <c>.dp, <c>.dn F64. The metadata holds "cases" and per case a JSON
object: loss, B, K, H, GH and the loss's parameters as libsbert's model.* keys name them.
Deterministic (fixed seeds); a few tens of KB.
"""

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch import nn  # noqa: E402

import sentence_transformers.sentence_transformer.losses.cosent as st_cosent  # noqa: E402
import sentence_transformers.sentence_transformer.losses.gist_embed as st_gist  # noqa: E402
import sentence_transformers.sentence_transformer.losses.margin_mse as st_mmse  # noqa: E402
import sentence_transformers.sentence_transformer.losses.multiple_negatives_ranking as st_mnrl  # noqa: E402
from sentence_transformers.sentence_transformer.losses import (  # noqa: E402
    AnglELoss, CachedGISTEmbedLoss, CoSENTLoss, GISTEmbedLoss, MarginMSELoss, MatryoshkaLoss,
    MultipleNegativesRankingLoss)
from sentence_transformers.sentence_transformer.losses.matryoshka import CachedLossDecorator  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


class EmbeddingModel(nn.Module):
    """Stands in for a SentenceTransformer: features["emb"] is the sentence embedding."""

    def __init__(self, dim, key="emb"):
        super().__init__()
        self.dim, self.key = dim, key

    def forward(self, features):
        return {"sentence_embedding": features[self.key]}

    def _get_untruncated_embedding_dimension(self):
        return self.dim

    def get_embedding_dimension(self):
        return self.dim


def embed_columns(model, features):
    return [model(f)["sentence_embedding"] for f in features]


for mod in (st_cosent, st_gist, st_mmse, st_mnrl):
    mod.embed_columns = embed_columns


def rand(gen, *shape, scale=1.0):
    """float32-representable float64 values."""
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float().double()


def make_gist(model, guide, cfg):
    loss = GISTEmbedLoss.__new__(GISTEmbedLoss)
    nn.Module.__init__(loss)
    loss.model, loss.guide = model, guide
    loss.temperature = cfg["gist_temperature"]
    loss.similarity_fct = nn.CosineSimilarity(dim=-1)
    loss.must_retokenize = False
    loss.margin_strategy = cfg["gist_margin_strategy"]
    loss.margin = cfg["gist_margin"]
    loss.contrast_anchors = cfg["gist_contrast_anchors"]
    loss.contrast_positives = cfg["gist_contrast_positives"]
    loss.gather_across_devices = False
    loss.cross_entropy_loss = nn.CrossEntropyLoss()
    return loss


def make_cached_gist(cfg, mini_batch_size):
    loss = CachedGISTEmbedLoss.__new__(CachedGISTEmbedLoss)
    nn.Module.__init__(loss)
    loss.temperature = cfg["gist_temperature"]
    loss.similarity_fct = nn.CosineSimilarity(dim=-1)
    loss.mini_batch_size = mini_batch_size
    loss.show_progress_bar = False
    loss.margin_strategy = cfg["gist_margin_strategy"]
    loss.margin = cfg["gist_margin"]
    loss.contrast_anchors = cfg["gist_contrast_anchors"]
    loss.contrast_positives = cfg["gist_contrast_positives"]
    loss.gather_across_devices = False
    loss.cross_entropy_loss = nn.CrossEntropyLoss()
    return loss


def columns(q, p, n, K):
    """ST's columns: anchor, positive, then one column per negative index."""
    B, H = q.shape
    return [q, p] + [n.view(B, K, H)[:, k] for k in range(K)]


class Case:
    def __init__(self, name, cfg, q, p, n, **extra):
        self.name, self.cfg = name, dict(cfg)
        self.t = {"q": q, "p": p, "n": n, **extra}
        B, H = q.shape
        self.cfg.update(B=B, H=H, K=n.shape[0] // B, GH=extra["gq"].shape[1] if "gq" in extra else 0)


def compute(case):
    """Loss and gradients w.r.t. q, p, n through sentence-transformers' classes."""
    cfg, t = case.cfg, case.t
    B, K, H = cfg["B"], cfg["K"], cfg["H"]
    q, p, n = [t[k].clone().requires_grad_(True) for k in ("q", "p", "n")]
    model = EmbeddingModel(H)
    feats = [{"emb": x} for x in columns(q, p, n, K)]
    kind = cfg["loss"]
    if kind in ("cosent", "angle"):
        base = CoSENTLoss(model, scale=cfg["cosent_scale"]) if kind == "cosent" else \
            AnglELoss(model, scale=cfg["angle_scale"])
        feats, labels = feats[:2], t["scores"]
    elif kind == "marginmse":
        base = MarginMSELoss(model)
        labels = t["margins"].view(B, K)
    elif kind == "mnrl":
        base = MultipleNegativesRankingLoss(model, scale=cfg["mnrl_scale"])
        labels = None
    elif kind == "gist":
        guide = EmbeddingModel(cfg["GH"], key="gemb")
        gcols = columns(t["gq"], t["gp"], t["gn"], K)
        for f, g in zip(feats, gcols):
            f["gemb"] = g
        base = make_gist(model, guide, cfg)
        labels = None
    elif kind == "cached_gist":
        base = None
    else:
        raise ValueError(kind)

    dims = cfg.get("matryoshka_dims")
    if kind == "cached_gist":
        # CachedGISTEmbedLoss.calculate_loss on the cached reps (what its forward calls between its
        # two embedding passes), optionally decorated as MatryoshkaLoss decorates it.
        gl = make_cached_gist(cfg, cfg["mini_batch_size"])
        mb = cfg["mini_batch_size"]
        reps = [list(c.split(mb)) for c in columns(q, p, n, K)]
        reps_g = [list(c.split(mb)) for c in columns(t["gq"], t["gp"], t["gn"], K)]
        calc = gl.calculate_loss
        if dims:
            weights = cfg.get("matryoshka_weights") or [1] * len(dims)
            dw = sorted(zip(dims, weights), key=lambda x: x[0], reverse=True)
            calc = CachedLossDecorator(calc, [d for d, _ in dw], [w for _, w in dw])
        # with_backward=True: what calculate_loss_and_cache_gradients passes; the gradients
        # reach q, p, n through the reps (split views) and the decorator's t.backward.
        loss = calc(reps, reps_g, with_backward=True)
        return loss.detach().reshape(1), q.grad, p.grad, n.grad
    elif dims:
        loss_fn = MatryoshkaLoss(model, base, dims, cfg.get("matryoshka_weights"))
        loss = loss_fn(feats, labels)
    else:
        loss = base(feats, labels)
    loss.backward()
    return loss.detach().reshape(1), q.grad, p.grad, n.grad


def cases():
    gen = torch.Generator().manual_seed(4321)
    out = []
    B, K, H = 8, 2, 16
    q = rand(gen, B, H, scale=2.0)
    p = q + rand(gen, B, H, scale=2.0)
    n = q.repeat_interleave(K, 0) + rand(gen, B * K, H, scale=2.5)
    # scores with ties (ties never pair in CoSENT)
    scores = torch.tensor([0.1, 0.8, 0.4, 0.8, 1.0, 0.0, 0.4, 0.65], dtype=torch.float64)
    empty = torch.zeros(0, H, dtype=torch.float64)
    out.append(Case("cosent", {"loss": "cosent", "cosent_scale": 20.0}, q, p, empty, scores=scores))
    out.append(Case("cosent_s7", {"loss": "cosent", "cosent_scale": 7.0}, q, p, empty, scores=scores))
    out.append(Case("angle", {"loss": "angle", "angle_scale": 20.0}, q, p, empty, scores=scores))
    qo, po = q[:, :15].contiguous(), p[:, :15].contiguous()
    out.append(Case("angle_odd", {"loss": "angle", "angle_scale": 20.0}, qo, po,
                    torch.zeros(0, 15, dtype=torch.float64), scores=scores))
    margins = rand(gen, B * K, scale=3.0)
    out.append(Case("marginmse_k2", {"loss": "marginmse"}, q, p, n, margins=margins))
    out.append(Case("marginmse_k1", {"loss": "marginmse"}, q, p, n.view(B, K, H)[:, 0].contiguous(),
                    margins=margins.view(B, K)[:, 0].contiguous()))
    # Guide: correlated with the model's embeddings so that some candidates pass the threshold.
    GH = 12
    gq = rand(gen, B, GH)
    gp = gq + rand(gen, B, GH, scale=0.9)
    gn = gq.repeat_interleave(K, 0) + rand(gen, B * K, GH, scale=1.0)
    gist = {"gist_temperature": 0.01, "gist_margin_strategy": "absolute", "gist_margin": 0.0,
            "gist_contrast_anchors": True, "gist_contrast_positives": True}
    n1 = n.view(B, K, H)[:, 0].contiguous()
    gn1 = gn.view(B, K, GH)[:, 0].contiguous()
    out.append(Case("gist_k1", {"loss": "gist", **gist}, q, p, n1, gq=gq, gp=gp, gn=gn1))
    out.append(Case("gist_pairs", {"loss": "gist", **gist, "gist_temperature": 0.05}, q, p, empty,
                    gq=gq, gp=gp, gn=torch.zeros(0, GH, dtype=torch.float64)))
    out.append(Case("gist_rel", {"loss": "gist", **gist, "gist_margin_strategy": "relative",
                                 "gist_margin": 0.1, "gist_contrast_anchors": False},
                    q, p, n1, gq=gq, gp=gp, gn=gn1))
    out.append(Case("gist_abs_nopp", {"loss": "gist", **gist, "gist_margin": 0.05,
                                      "gist_contrast_positives": False}, q, p, n1, gq=gq, gp=gp, gn=gn1))
    out.append(Case("cached_gist_k2", {"loss": "cached_gist", **gist, "mini_batch_size": 3},
                    q, p, n, gq=gq, gp=gp, gn=gn))
    mat = {"matryoshka_dims": [16, 8, 4], "matryoshka_weights": [1.0, 0.5, 2.0]}
    out.append(Case("mat_mnrl", {"loss": "mnrl", "mnrl_scale": 20.0, "matryoshka_dims": [4, 16, 8]},
                    q, p, n))
    out.append(Case("mat_mnrl_w", {"loss": "mnrl", "mnrl_scale": 20.0, **mat}, q, p, n))
    out.append(Case("mat_cosent", {"loss": "cosent", "cosent_scale": 20.0, **mat}, q, p, empty,
                    scores=scores))
    out.append(Case("mat_angle", {"loss": "angle", "angle_scale": 20.0,
                                  "matryoshka_dims": [16, 7, 4]}, q, p, empty, scores=scores))
    out.append(Case("mat_marginmse", {"loss": "marginmse", **mat}, q, p, n, margins=margins))
    out.append(Case("mat_gist", {"loss": "gist", **gist, **mat}, q, p, n1, gq=gq, gp=gp, gn=gn1))
    out.append(Case("mat_cached_gist", {"loss": "cached_gist", **gist, **mat, "mini_batch_size": 3},
                    q, p, n, gq=gq, gp=gp, gn=gn))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "tests/fixtures/train/objectives.safetensors"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    tensors, meta = {}, {}
    names = []
    for c in cases():
        loss, dq, dp, dn = compute(c)
        for k, v in c.t.items():
            tensors[f"{c.name}.{k}"] = v.contiguous()
        tensors[f"{c.name}.loss"] = loss
        tensors[f"{c.name}.dq"] = dq
        tensors[f"{c.name}.dp"] = dp
        tensors[f"{c.name}.dn"] = dn if dn is not None else torch.zeros_like(c.t["n"])
        cfg = dict(c.cfg)
        if cfg["loss"] == "cached_gist":
            cfg["loss"] = "gist"
        meta[c.name] = json.dumps(cfg, sort_keys=True)
        names.append(c.name)
        print(f"{c.name:18s} loss {loss.item():.10g}")
    meta["cases"] = ",".join(names)
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, args.out, metadata=meta)
    print("wrote", args.out, os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()
