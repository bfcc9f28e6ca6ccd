#!/usr/bin/env python3
"""Writes tests/fixtures/train/*.safetensors: PyTorch references for the contrastive loss,
AdamW, gradient clipping and NeMo's learning-rate schedules (tests/unit/test_loss*.cpp,
test_adamw*.cpp, test_schedule*.cpp read them).

    /opt/refvenv/bin/python tools/reference/make_train_fixtures.py [--out tests/fixtures/train]

Needs torch, safetensors and sentence-transformers. Deterministic (fixed seeds); never needed to
build or test. The files are committed and small (< 100 KB in all).

loss.safetensors      per case "<case>.*": inputs q, p, n (F32), mask (U8), cfg (F64: mode,
                      softmax_temp or scale, label_smoothing, B, K, H); references from torch
                      autograd in float64 on the same float32 inputs (loss64, dq64, dp64, dn64,
                      accuracy, pos_score) and in float32 (loss32, dq32, dp32, dn32).
                      Case "st_raw" holds UNNORMALIZED q, p, n and the gradients of
                      sentence-transformers' own MultipleNegativesRankingLoss (cos_sim normalizes
                      inside), to check l2norm -> loss -> l2norm backward against it.
adamw.safetensors     10 steps of torch.optim.AdamW (single-tensor path) with two parameter
                      groups (decay / no decay) for two configurations.
clip.safetensors      torch.nn.utils.clip_grad_norm_ on the same tensors, clipping and not.
schedule.safetensors  the lr of every optimizer step for several NeMo scheduler configs, computed
                      by a transcription of NeMo's nemo/core/optim/lr_scheduler.py (NeMo itself is
                      not installable here) driven by torch's own LRScheduler stepping.
"""

import argparse
import json
import math
import os
import warnings

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

B, K, H = 8, 3, 16


# ------------------------------------------------------------------------------------------
# Loss references
# ------------------------------------------------------------------------------------------

def nemo_loss_as_written(q, p, n, softmax_temp, label_smoothing):
    """BERTInBatchExclusiveHardNegativesRankingLoss.forward (nemo/collections/llm/bert/loss.py)
    on already split embeddings; used to validate the per-row form below on unmasked cases."""
    bs = q.shape[0]
    k = n.shape[0] // bs
    pos_in_batch_negs_scores = torch.mm(q, p.transpose(0, 1))
    nk = n.view(bs, k, -1)
    hard_negs = [nk[:, i] for i in range(k)]
    hard_negs_scores = torch.multiply(q.unsqueeze(0).repeat(len(hard_negs), 1, 1),
                                      torch.stack(hard_negs)).sum(axis=-1).T
    scores = torch.cat([pos_in_batch_negs_scores, hard_negs_scores], axis=1)
    scores = scores.clamp(-1.0, 1.0)
    scores = scores * (1.0 / softmax_temp)  # NeMo: self.scale = 1.0 / softmax_temp
    labels = torch.arange(bs)
    return torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)(scores, labels)


def logits_and_valid(q, p, n, mask, mode, param):
    """Full logit matrix and its valid-column mask, per mode."""
    bs = q.shape[0]
    k = n.shape[0] // bs
    if mode == 0:  # exclusive hard negatives (NeMo)
        s = torch.cat([q @ p.T, (q.unsqueeze(1) * n.view(bs, k, -1)).sum(-1)], 1)
        s = s.clamp(-1.0, 1.0) * (1.0 / param)
        valid = torch.cat([torch.ones(bs, bs, dtype=torch.bool), mask.view(bs, k).bool()], 1)
    else:  # shared negatives (sentence-transformers MNRL on normalized inputs)
        s = torch.cat([q @ p.T, q @ n.T], 1) * param
        valid = torch.cat([torch.ones(bs, bs, dtype=torch.bool),
                           mask.bool().unsqueeze(0).expand(bs, -1)], 1)
    return s, valid


def masked_loss(q, p, n, mask, mode, param, label_smoothing):
    """Cross-entropy row by row over the valid columns only: a masked slot is absent."""
    s, valid = logits_and_valid(q, p, n, mask, mode, param)
    bs = q.shape[0]
    total = 0
    for i in range(bs):
        cols = valid[i].nonzero().squeeze(1)
        row = s[i, cols].unsqueeze(0)
        target = torch.tensor([int((cols == i).nonzero())])
        total = total + F.cross_entropy(row, target, label_smoothing=label_smoothing,
                                        reduction="sum")
    return total / bs


def loss_stats(q, p, n, mask, mode, param):
    with torch.no_grad():
        s, valid = logits_and_valid(q, p, n, mask, mode, param)
        s = s.masked_fill(~valid, -math.inf)
        acc = (s.argmax(1) == torch.arange(q.shape[0])).double().mean()
        pos = (q * p).sum(1).double().mean()
    return acc, pos


def unit_rows(x):
    return F.normalize(x, dim=1)


def make_inputs(gen, clamp_case=False):
    q = unit_rows(torch.randn(B, H, generator=gen, dtype=torch.float64))
    p = unit_rows(q + 0.9 * torch.randn(B, H, generator=gen, dtype=torch.float64))
    n = unit_rows(q.repeat_interleave(K, 0) + 1.2 * torch.randn(B * K, H, generator=gen,
                                                                dtype=torch.float64))
    if clamp_case:
        # Slightly unnormalized vectors so that some scores leave [-1, 1]: positives close to
        # their query and scaled up, one hard negative per query opposite to it.
        scale_q = 1.0 + 0.3 * torch.rand(B, 1, generator=gen, dtype=torch.float64)
        q = q * scale_q
        p = unit_rows(q + 0.15 * torch.randn(B, H, generator=gen, dtype=torch.float64)) * 1.2
        n = n.clone().view(B, K, H)
        n[:, 0] = -1.25 * unit_rows(q)
        n = n.view(B * K, H)
    return q.float(), p.float(), n.float()


def loss_case(name, q, p, n, mask, mode, param, ls, out, check_nemo_code):
    cfg = torch.tensor([mode, param, ls, B, K, H], dtype=torch.float64)
    t = {f"{name}.q": q, f"{name}.p": p, f"{name}.n": n, f"{name}.mask": mask.to(torch.uint8),
         f"{name}.cfg": cfg}
    for dtype, tag in ((torch.float64, "64"), (torch.float32, "32")):
        qq, pp, nn = [x.to(dtype).clone().requires_grad_(True) for x in (q, p, n)]
        loss = masked_loss(qq, pp, nn, mask, mode, param, ls)
        loss.backward()
        if check_nemo_code and dtype == torch.float64:
            ref = nemo_loss_as_written(qq.detach(), pp.detach(), nn.detach(), param, ls)
            assert abs(ref.item() - loss.item()) < 1e-12, (name, ref.item(), loss.item())
        t[f"{name}.loss{tag}"] = loss.detach().reshape(1)
        t[f"{name}.dq{tag}"] = qq.grad
        t[f"{name}.dp{tag}"] = pp.grad
        t[f"{name}.dn{tag}"] = nn.grad
        if dtype == torch.float64:
            acc, pos = loss_stats(qq.detach(), pp.detach(), nn.detach(), mask, mode, param)
            t[f"{name}.accuracy"] = acc.reshape(1)
            t[f"{name}.pos_score"] = pos.reshape(1)
    out.update(t)
    return name


def st_raw_case(gen, out):
    """sentence-transformers' MultipleNegativesRankingLoss itself, on raw embeddings."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    q = (torch.randn(B, H, generator=gen, dtype=torch.float64) * 3.0)
    p = q + 2.5 * torch.randn(B, H, generator=gen, dtype=torch.float64)
    n = q.repeat_interleave(K, 0) + 3.0 * torch.randn(B * K, H, generator=gen, dtype=torch.float64)
    q, p, n = q.float(), p.float(), n.float()
    name = "st_raw"
    mask = torch.ones(B * K, dtype=torch.uint8)
    out.update({f"{name}.q": q, f"{name}.p": p, f"{name}.n": n, f"{name}.mask": mask,
                f"{name}.cfg": torch.tensor([1, 20.0, 0.0, B, K, H], dtype=torch.float64)})
    for dtype, tag in ((torch.float64, "64"), (torch.float32, "32")):
        loss_fn = MultipleNegativesRankingLoss(model=None, scale=20.0)
        qq, pp, nn = [x.to(dtype).clone().requires_grad_(True) for x in (q, p, n)]
        # ST's columns: anchors, positives, then one column per hard-negative index.
        cols = [qq, pp] + [nn.view(B, K, H)[:, j] for j in range(K)]
        loss = loss_fn.compute_loss_from_embeddings(cols, None)
        loss.backward()
        out[f"{name}.loss{tag}"] = loss.detach().reshape(1)
        out[f"{name}.dq{tag}"] = qq.grad
        out[f"{name}.dp{tag}"] = pp.grad
        out[f"{name}.dn{tag}"] = nn.grad
    return name


def check_st_form(q, p, n, loss64):
    """The shared-negatives form on unit vectors is sentence-transformers' MNRL itself."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    cols = [q.double(), p.double()] + [n.double().view(B, K, H)[:, j] for j in range(K)]
    ref = MultipleNegativesRankingLoss(model=None, scale=20.0).compute_loss_from_embeddings(cols, None)
    # float32 inputs are unit length only to ~1e-8, which cos_sim renormalizes away
    assert abs(ref.item() - loss64) < 1e-6, (ref.item(), loss64)


def make_loss(path):
    gen = torch.Generator().manual_seed(1234)
    out = {}
    cases = []
    full = torch.ones(B * K, dtype=torch.uint8)
    holes = torch.ones(B * K, dtype=torch.uint8)
    holes[[1, 5, 6, 7, 8, 20]] = 0  # query 2 has no hard negative left; others lose one
    q, p, n = make_inputs(gen)
    cases.append(loss_case("nemo_basic", q, p, n, full, 0, 0.02, 0.0, out, True))
    cases.append(loss_case("nemo_smooth", q, p, n, full, 0, 0.05, 0.1, out, True))
    cases.append(loss_case("nemo_mask", q, p, n, holes, 0, 0.02, 0.0, out, False))
    cases.append(loss_case("nemo_mask_smooth", q, p, n, holes, 0, 0.02, 0.2, out, False))
    qc, pc, nc = make_inputs(gen, clamp_case=True)
    cases.append(loss_case("nemo_clamp", qc, pc, nc, full, 0, 0.02, 0.0, out, True))
    cases.append(loss_case("nemo_clamp_mask_smooth", qc, pc, nc, holes, 0, 0.02, 0.1, out, False))
    q2, p2, n2 = make_inputs(gen)
    cases.append(loss_case("st_basic", q2, p2, n2, full, 1, 20.0, 0.0, out, False))
    cases.append(loss_case("st_mask_smooth", q2, p2, n2, holes, 1, 20.0, 0.1, out, False))
    cases.append(st_raw_case(gen, out))
    check_st_form(q2, p2, n2, out["st_basic.loss64"].item())
    s, _ = logits_and_valid(qc.double(), pc.double(), nc.double(), full, 0, 1.0)
    raw = torch.cat([qc.double() @ pc.double().T,
                     (qc.double().unsqueeze(1) * nc.double().view(B, K, H)).sum(-1)], 1)
    print("clamp case: %d of %d scores outside [-1, 1]" % (int((raw.abs() > 1).sum()), raw.numel()))
    out = {k: v.detach().clone().contiguous() for k, v in out.items()}
    save_file(out, path, metadata={"cases": ",".join(cases), "B": str(B), "K": str(K),
                                   "H": str(H)})
    return cases


# ------------------------------------------------------------------------------------------
# AdamW and clipping
# ------------------------------------------------------------------------------------------

# name, shape, weight decay: the test rebuilds a ParamLayout with the same table.
PARAMS = [("w1", (5, 7), True), ("b1", (7,), False), ("w2", (3, 5), True), ("ln", (5,), False)]


def make_params(gen):
    return {name: torch.randn(*shape, generator=gen) * 0.5 for name, shape, _ in PARAMS}


def make_adamw(path):
    gen = torch.Generator().manual_seed(99)
    out = {}
    configs = {"a": (0.9, 0.98, 1e-8, 0.01), "b": (0.9, 0.999, 1e-6, 0.1)}
    steps = 10
    for tag, (b1, b2, eps, wd) in configs.items():
        init = make_params(gen)
        params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
        decay = [params[n] for n, _, d in PARAMS if d]
        nodecay = [params[n] for n, _, d in PARAMS if not d]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                                 {"params": nodecay, "weight_decay": 0.0}],
                                lr=1e-3, betas=(b1, b2), eps=eps, foreach=False)
        lrs = [1e-3 * (0.5 + 0.1 * i) if i < 5 else 2e-2 / (i + 1) for i in range(steps)]
        grads = {n: [] for n, _, _ in PARAMS}
        for i in range(steps):
            for n, shape, _ in PARAMS:
                g = torch.randn(*shape, generator=gen) * (10.0 ** (i % 3 - 1))
                if i == 3:
                    g[..., 0] = 0.0  # exact zeros
                params[n].grad = g
                grads[n].append(g.clone())
            for group in opt.param_groups:
                group["lr"] = lrs[i]
            opt.step()
        for n, _, _ in PARAMS:
            out[f"{tag}.{n}.init"] = init[n]
            out[f"{tag}.{n}.grads"] = torch.stack(grads[n])
            out[f"{tag}.{n}.final"] = params[n].detach().clone()
            st = opt.state[params[n]]
            out[f"{tag}.{n}.exp_avg"] = st["exp_avg"].clone()
            out[f"{tag}.{n}.exp_avg_sq"] = st["exp_avg_sq"].clone()
        out[f"{tag}.lrs"] = torch.tensor(lrs, dtype=torch.float64)
        out[f"{tag}.cfg"] = torch.tensor([b1, b2, eps, wd], dtype=torch.float64)
    save_file({k: v.contiguous() for k, v in out.items()}, path,
              metadata={"params": ",".join(n for n, _, _ in PARAMS), "steps": str(steps)})


def make_clip(path):
    gen = torch.Generator().manual_seed(7)
    out = {}
    for tag, mult in (("big", 1.0), ("small", 0.01)):
        params = {n: torch.zeros(*shape, requires_grad=True) for n, shape, _ in PARAMS}
        for n, shape, _ in PARAMS:
            params[n].grad = torch.randn(*shape, generator=gen) * mult
            out[f"{tag}.{n}.grad"] = params[n].grad.clone()
        total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=1.0, foreach=False)
        for n, _, _ in PARAMS:
            out[f"{tag}.{n}.clipped"] = params[n].grad.clone()
        out[f"{tag}.total_norm"] = total.reshape(1)
    save_file({k: v.contiguous() for k, v in out.items()}, path)


# ------------------------------------------------------------------------------------------
# NeMo schedules: a transcription of nemo/core/optim/lr_scheduler.py (NVIDIA/NeMo main,
# WarmupPolicy, WarmupAnnealHoldPolicy, CosineAnnealing, WarmupAnnealing and the helper
# functions), kept structurally identical so it can be diffed against the original.
# ------------------------------------------------------------------------------------------

from torch.optim.lr_scheduler import _LRScheduler  # noqa: E402


class WarmupPolicy(_LRScheduler):
    def __init__(self, optimizer, *, warmup_steps=None, warmup_ratio=None, max_steps=None, min_lr=0.0,
                 last_epoch=-1):
        assert not (warmup_steps is not None and warmup_ratio is not None), \
            "Either use particular number of step or ratio"
        assert warmup_ratio is None or max_steps is not None, "If there is a ratio, there should be a total steps"
        self.max_steps = max_steps
        if warmup_steps is not None:
            self.warmup_steps = warmup_steps
        elif warmup_ratio is not None:
            self.warmup_steps = int(warmup_ratio * max_steps)
        else:
            self.warmup_steps = 0
        self.min_lr = min_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        step = self.last_epoch
        if step <= self.warmup_steps and self.warmup_steps > 0:
            return self._get_warmup_lr(step)
        if (self.max_steps is not None) and (step > self.max_steps):
            return [self.min_lr for _ in self.base_lrs]
        return self._get_lr(step)

    def _get_warmup_lr(self, step):
        lr_val = (step + 1) / (self.warmup_steps + 1)
        return [initial_lr * lr_val for initial_lr in self.base_lrs]

    def _get_lr(self, step):
        return self.base_lrs


class WarmupAnnealHoldPolicy(_LRScheduler):
    def __init__(self, optimizer, *, warmup_steps=None, warmup_ratio=None, constant_steps=None,
                 constant_ratio=None, max_steps=None, min_lr=0.0, last_epoch=-1):
        assert not (warmup_steps is not None and warmup_ratio is not None), \
            "Either use particular number of step or ratio"
        assert not (constant_steps is not None and constant_ratio is not None), \
            "Either use constant_steps or constant_ratio"
        assert warmup_ratio is None or max_steps is not None, "If there is a ratio, there should be a total steps"
        self.max_steps = max_steps
        if warmup_steps is not None:
            self.warmup_steps = warmup_steps
        elif warmup_ratio is not None:
            self.warmup_steps = int(warmup_ratio * max_steps)
        else:
            self.warmup_steps = 0
        if constant_steps is not None:
            self.constant_steps = constant_steps
        elif constant_ratio is not None:
            self.constant_steps = int(constant_ratio * max_steps)
        else:
            self.constant_steps = 0
        self.decay_steps = max_steps - (self.constant_steps + self.warmup_steps)
        self.min_lr = min_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        step = self.last_epoch
        if self.warmup_steps > 0 and step <= self.warmup_steps:
            return self._get_warmup_lr(step)
        if self.constant_steps > 0 and (self.warmup_steps + self.decay_steps) < step <= self.max_steps:
            return self._get_constant_lr(step)
        if step > self.max_steps:
            return [self.min_lr for _ in self.base_lrs]
        return self._get_lr(step)

    def _get_warmup_lr(self, step):
        lr_val = (step + 1) / (self.warmup_steps + 1)
        return [initial_lr * lr_val for initial_lr in self.base_lrs]

    def _get_constant_lr(self, step):
        return [self.min_lr for _ in self.base_lrs]

    def _get_lr(self, step):
        return self.base_lrs


def _cosine_annealing(initial_lr, step, max_steps, min_lr):
    mult = 0.5 * (1 + math.cos(math.pi * step / max_steps))
    out_lr = (initial_lr - min_lr) * mult + min_lr
    return out_lr


def _linear_warmup_with_cosine_annealing(max_lr, warmup_steps, step, decay_steps, min_lr):
    assert max_lr > min_lr
    if warmup_steps > 0 and step <= warmup_steps:
        return max_lr * float(step) / float(warmup_steps)
    if step > warmup_steps + decay_steps:
        return min_lr
    num_steps_ = step - warmup_steps
    decay_steps_ = decay_steps
    decay_ratio = float(num_steps_) / float(decay_steps_)
    assert decay_ratio >= 0.0
    assert decay_ratio <= 1.0
    delta_lr = max_lr - min_lr
    coeff = 0.5 * (math.cos(math.pi * decay_ratio) + 1.0)
    return min_lr + coeff * delta_lr


class CosineAnnealing(WarmupAnnealHoldPolicy):
    def __init__(self, optimizer, *, max_steps, min_lr=0, last_epoch=-1, **kwargs):
        super().__init__(optimizer=optimizer, max_steps=max_steps, last_epoch=last_epoch, min_lr=min_lr, **kwargs)

    def _get_lr(self, step):
        for initial_lr in self.base_lrs:
            if initial_lr < self.min_lr:
                raise ValueError("initial learning rate lower than the minimum learning rate")
        if self.constant_steps is None or self.constant_steps == 0:
            new_lrs = [
                _cosine_annealing(initial_lr=initial_lr, step=step - self.warmup_steps,
                                  max_steps=self.max_steps - self.warmup_steps, min_lr=self.min_lr)
                for initial_lr in self.base_lrs
            ]
        else:
            new_lrs = self._get_linear_warmup_with_cosine_annealing_lr(step)
        return new_lrs

    def _get_warmup_lr(self, step):
        if self.constant_steps is None or self.constant_steps == 0:
            return super()._get_warmup_lr(step)
        else:
            return self._get_linear_warmup_with_cosine_annealing_lr(step)

    def _get_constant_lr(self, step):
        return self._get_linear_warmup_with_cosine_annealing_lr(step)

    def _get_linear_warmup_with_cosine_annealing_lr(self, step):
        return [
            _linear_warmup_with_cosine_annealing(max_lr=self.base_lrs[0], warmup_steps=self.warmup_steps,
                                                 step=step, decay_steps=self.decay_steps, min_lr=self.min_lr)
            for _ in self.base_lrs
        ]


class WarmupAnnealing(WarmupPolicy):
    def __init__(self, optimizer, *, max_steps, last_epoch=-1, min_lr=0.0, **kwargs):
        super().__init__(optimizer=optimizer, max_steps=max_steps, last_epoch=last_epoch, min_lr=min_lr, **kwargs)

    def _get_lr(self, step):
        delta_lr = self.base_lrs[0] - self.min_lr
        mult = (step - self.warmup_steps) / (self.max_steps - self.warmup_steps)
        out_lr = [self.min_lr + (1 - mult) * delta_lr for _ in self.base_lrs]
        return out_lr


SCHEDULERS = {"CosineAnnealing": CosineAnnealing, "WarmupAnnealing": WarmupAnnealing,
              "WarmupPolicy": WarmupPolicy}

# (tag, config). Keys as in model.optim / model.optim.sched; max_steps is trainer.max_steps.
SCHEDULE_CONFIGS = [
    ("cos_warmup", dict(name="CosineAnnealing", lr=2e-4, max_steps=100, warmup_steps=10, min_lr=1e-5)),
    ("cos_ratio", dict(name="CosineAnnealing", lr=1e-3, max_steps=57, warmup_ratio=0.1, min_lr=0.0)),
    ("cos_nowarmup", dict(name="CosineAnnealing", lr=5e-5, max_steps=20)),
    ("cos_constant", dict(name="CosineAnnealing", lr=2e-4, max_steps=100, warmup_steps=5,
                          constant_steps=20, min_lr=2e-5)),
    ("cos_constant_nowarmup", dict(name="CosineAnnealing", lr=3e-4, max_steps=50, constant_steps=10,
                                   min_lr=1e-5)),
    ("cos_constant_ratio", dict(name="CosineAnnealing", lr=3e-4, max_steps=64, warmup_ratio=0.05,
                                constant_ratio=0.25, min_lr=1e-6)),
    # NeMo's megatron_bert_embedding_config.yaml schedule (warmup 500, constant 50000) on a run
    # shorter than warmup + constant: no decay at all (schedule_warnings).
    ("cos_nemo_yaml_short", dict(name="CosineAnnealing", lr=2e-4, max_steps=1000, warmup_steps=500,
                                 constant_steps=50000, min_lr=2e-5)),
    ("linear", dict(name="WarmupAnnealing", lr=1e-4, max_steps=100, warmup_steps=10, min_lr=1e-6)),
    ("linear_nowarmup", dict(name="WarmupAnnealing", lr=1e-4, max_steps=30)),
    ("constant", dict(name="WarmupPolicy", lr=1e-4, max_steps=30, warmup_steps=7)),
]


def schedule_lrs(cfg, n_steps):
    """The lr of each optimizer step, read from the optimizer as Lightning would use it."""
    args = {k: v for k, v in cfg.items() if k not in ("name", "lr")}
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=cfg["lr"])
    sched = SCHEDULERS[cfg["name"]](opt, **args)
    lrs = []
    for _ in range(n_steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def make_schedule(path):
    out = {}
    meta = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tag, cfg in SCHEDULE_CONFIGS:
            lrs = schedule_lrs(cfg, cfg["max_steps"] + 5)
            out[f"{tag}.lr"] = torch.tensor(lrs, dtype=torch.float64)
            meta[tag] = json.dumps(cfg)
    meta["configs"] = ",".join(tag for tag, _ in SCHEDULE_CONFIGS)
    save_file(out, path, metadata=meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "fixtures", "train"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    make_loss(os.path.join(args.out, "loss.safetensors"))
    make_adamw(os.path.join(args.out, "adamw.safetensors"))
    make_clip(os.path.join(args.out, "clip.safetensors"))
    make_schedule(os.path.join(args.out, "schedule.safetensors"))
    for f in sorted(os.listdir(args.out)):
        print(f, os.path.getsize(os.path.join(args.out, f)), "bytes")


if __name__ == "__main__":
    main()
