#!/usr/bin/env python3
"""Pairs the JSON lines of sbert-bench and bench_torch.py (same shape, mode, workload, pad_to)
and prints a markdown table. ratio = PyTorch step time / libsbert step time (> 1: libsbert is
faster); CPU s = process CPU time per step, all threads (robust to other load on the machine)."""
import json
import sys


def key(r):
    return (r["shape"], r["mode"], r["workload"], r.get("pad_to", 0))


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    lib = {key(r): r for r in rows if r["impl"] == "libsbert"}
    ref = {key(r): r for r in rows if r["impl"] == "pytorch"}
    keys = [key(r) for r in rows if r["impl"] == "pytorch"]
    print("| shape | mode | workload | real tok/step | PyTorch padded tok/step | libsbert step s |"
          " PyTorch step s | **ratio** | libsbert tok/s | PyTorch tok/s | libsbert CPU s |"
          " PyTorch CPU s | CPU ratio | libsbert peak RSS MiB | PyTorch peak RSS MiB |")
    print("|" + "---|" * 15)
    for k in keys:
        t, l = ref[k], lib.get(k)
        wl = k[2] + (f", padded to {k[3]}" if k[3] else "")
        if l is None:
            print(f"| {k[0]} | {k[1]} | {wl} | {t['real_tokens_per_step']:.0f} |"
                  f" {t['padded_tokens_per_step']:.0f} | n/a | {t['step_s_median']:.3f} | n/a |"
                  f" n/a | {t['real_tokens_per_s']:.0f} | n/a | {t['cpu_s_per_step']:.2f} | n/a |"
                  f" n/a | {t['peak_rss_mib']:.0f} |")
            continue
        ratio = t["step_s_median"] / l["step_s_median"]
        cpu_ratio = t["cpu_s_per_step"] / l["cpu_s_per_step"]
        print(f"| {k[0]} | {k[1]} | {wl} | {l['real_tokens_per_step']:.0f} |"
              f" {t['padded_tokens_per_step']:.0f} | {l['step_s_median']:.3f} |"
              f" {t['step_s_median']:.3f} | **{ratio:.2f}x** | {l['real_tokens_per_s']:.0f} |"
              f" {t['real_tokens_per_s']:.0f} | {l['cpu_s_per_step']:.2f} |"
              f" {t['cpu_s_per_step']:.2f} | {cpu_ratio:.2f}x | {l['peak_rss_mib']:.0f} |"
              f" {t['peak_rss_mib']:.0f} |")
    gpu = [r for r in rows if r["impl"] == "libsbert" and r.get("mfu") is not None]
    if gpu:
        print("\nMFU (6N + 12 L d s FLOPs per token against 989 TFLOP/s):")
        for r in gpu:
            print(f"- {r['shape']} {r['mode']} {r['workload']}: {100 * r['mfu']:.1f}%")


if __name__ == "__main__":
    main()
