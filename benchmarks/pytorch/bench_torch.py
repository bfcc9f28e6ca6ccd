#!/usr/bin/env python3
"""The PyTorch / sentence-transformers side of sbert-bench: the same workload, the same numbers.

Reads a workload written by `sbert-bench --write-workload FILE` (model shape, the exact token
ids of every step or embedding batch) and runs it with Hugging Face transformers' BertModel:

  train: one optimizer step per workload step: queries and documents (positives, then hard
         negatives) each padded to their longest sequence, as sentence-transformers' collator
         does; mean pooling over the attention mask; L2 normalize; NeMo's exclusive
         hard-negative InfoNCE (scores clamped to [-1, 1], / temperature, cross-entropy);
         backward; torch.optim.AdamW step. Dropout as the config (training mode).
  embed: sentence-transformers' encode(): sequences sorted by length (longest first), batches
         padded to their longest, inference mode, mean pooling, L2 normalize.
  pad_to > 0 in the workload pads every batch to that length instead (padding="max_length").

CPU: fp32, torch.set_num_threads(threads). GPU: bf16 autocast, SDPA attention.
Prints one JSON object with the same keys as sbert-bench. Needs torch and transformers only
(benchmark-time dependency; /opt/refvenv has them).
"""
import argparse
import json
import os
import statistics
import sys
import time


def peak_rss_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", required=True, help="JSON written by sbert-bench --write-workload")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true",
                    help="also report gemm_s_per_step: wall time inside GEMM ops (torch.profiler)")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from transformers import BertConfig, BertModel

    with open(args.workload) as f:
        wl = json.load(f)
    shape = wl["shape"]
    torch.manual_seed(args.seed)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
    dev = torch.device(args.device)
    cfg = BertConfig(vocab_size=shape["vocab_size"], hidden_size=shape["hidden_size"],
                     num_hidden_layers=shape["num_layers"], num_attention_heads=shape["num_heads"],
                     intermediate_size=shape["intermediate_size"],
                     max_position_embeddings=shape["max_position_embeddings"],
                     hidden_dropout_prob=shape["hidden_dropout"],
                     attention_probs_dropout_prob=shape["attention_dropout"],
                     attn_implementation="sdpa")
    model = BertModel(cfg, add_pooling_layer=False).to(dev)
    gpu = args.device == "cuda"
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if gpu else torch.autocast("cpu", enabled=False)

    pad_to = wl.get("pad_to", 0)

    def pad(seqs):
        n = max(pad_to, max(len(s) for s in seqs))
        ids = torch.zeros((len(seqs), n), dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
        return ids.to(dev), mask.to(dev)

    def embed(seqs):
        ids, mask = pad(seqs)
        with amp:
            h = model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled.float(), p=2, dim=1), int(ids.numel())

    def sync():
        if gpu:
            torch.cuda.synchronize()

    times, cpu, real_tokens, padded_tokens, samples, sequences = [], [], [], [], [], []
    mode = wl["mode"]
    if mode == "train":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
        temp = wl["softmax_temp"]
        model.train()

        def step(batch):
            q, p, n = batch["queries"], batch["positives"], batch["negatives"]
            B, K = len(q), len(n) // max(1, len(q))
            qe, qpad = embed(q)
            de, dpad = embed(p + n)
            pe, ne = de[:B], de[B:].view(B, K, -1)
            scores = torch.cat([qe @ pe.T, (qe.unsqueeze(1) * ne).sum(-1)], dim=1)
            scores = scores.clamp(-1.0, 1.0) / temp
            loss = F.cross_entropy(scores, torch.arange(B, device=dev))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return qpad + dpad

        steps = wl["steps"]
    else:
        model.eval()
        bs = wl["embed_batch_size"]

        def step(seqs):
            # sentence-transformers' encode(): longest first, batches padded to their longest.
            order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
            padded = 0
            with torch.inference_mode():
                for b in range(0, len(order), bs):
                    _, p = embed([seqs[i] for i in order[b:b + bs]])
                    padded += p
            return padded

        steps = wl["embed_passes"]

    warmup = wl["warmup"]
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    prof = None
    for i, batch in enumerate(steps):
        if i == warmup:
            peak_rss_reset()
            if args.profile:
                prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                prof.__enter__()
        sync()
        c0, t0 = time.process_time(), time.perf_counter()
        padded = step(batch)
        sync()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i >= warmup:
            times.append(dt)
            cpu.append(dc)
            if mode == "train":
                seqs = batch["queries"] + batch["positives"] + batch["negatives"]
                samples.append(len(batch["queries"]))
            else:
                seqs = batch
                samples.append(len(batch))
            sequences.append(len(seqs))
            real_tokens.append(sum(len(s) for s in seqs))
            padded_tokens.append(padded)

    total = sum(times)
    gemm_s = None
    if prof is not None:
        prof.__exit__(None, None, None)
        # Self time of the GEMM ops, as seen on the calling thread: their wall time (the
        # intra-op threads work inside it).
        gemm_ops = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}
        gemm_us = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in gemm_ops)
        gemm_s = gemm_us / 1e6 / len(times)
    out = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "device": args.device,
        "threads": torch.get_num_threads() if not gpu else None,
        "shape": shape["name"],
        "workload": wl["workload"],
        "mode": mode,
        "steps": len(times),
        "step_s_median": statistics.median(times),
        "step_s_min": min(times),
        "cpu_s_per_step": sum(cpu) / len(cpu),
        "pad_to": pad_to,
        "samples_per_s": sum(samples) / total,
        "sequences_per_s": sum(sequences) / total,
        "real_tokens_per_s": sum(real_tokens) / total,
        "padded_tokens_per_step": sum(padded_tokens) / len(padded_tokens),
        "real_tokens_per_step": sum(real_tokens) / len(real_tokens),
        "peak_rss_mib": peak_rss_mib(),
    }
    if gemm_s is not None:
        out["gemm_s_per_step"] = gemm_s
    if gpu:
        out["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
