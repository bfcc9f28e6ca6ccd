#!/usr/bin/env python3
"""Reads the TensorBoard event files of an sbert-finetune run with TensorBoard itself and checks
them against the run's metrics.jsonl.

TensorBoard's own loader (tensorboard.backend.event_processing.event_accumulator, which checks
every record's length and data CRC32C) reads <log_dir>/tensorboard; every training step of
metrics.jsonl must appear as the scalars "loss" and "lr" with the same values (float32), and
every validation metric (val_loss, val_ndcg@10, ...) at its step. Prints a summary; exits 1 on
the first mismatch. Nothing in the build or tests runs this (CI needs no Python).

    python3 -m venv /tmp/venv-tb && /tmp/venv-tb/bin/pip install tensorboard
    build/bin/sbert-finetune ... exp_manager.explicit_log_dir=/tmp/run
    /tmp/venv-tb/bin/python tools/reference/check_tfevents.py /tmp/run
"""
import json
import math
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    log_dir = sys.argv[1]
    acc = event_accumulator.EventAccumulator(
        log_dir + "/tensorboard", size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    got = {t: {e.step: e.value for e in acc.Scalars(t)} for t in tags}
    want = {}
    with open(log_dir + "/metrics.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            step = rec.pop("step")
            keys = [k for k in rec if k.startswith("val_")] if rec.pop("validation", False) \
                else ["loss", "lr"]
            for k in keys:
                if rec.get(k) is not None:
                    want.setdefault(k, {})[step] = rec[k]
    bad = 0
    for tag, steps in sorted(want.items()):
        for step, value in sorted(steps.items()):
            g = got.get(tag, {}).get(step)
            if g is None or not math.isclose(g, f32(value), rel_tol=1e-6, abs_tol=1e-12):
                print(f"MISMATCH {tag} step {step}: metrics.jsonl {value}, tensorboard {g}")
                bad += 1
        print(f"{tag}: {len(steps)} values, steps {min(steps)}..{max(steps)}, "
              f"last {got.get(tag, {}).get(max(steps))} (tensorboard) = {steps[max(steps)]}")
    print(f"tensorboard tags: {', '.join(sorted(tags))}")
    if bad:
        sys.exit(f"{bad} mismatches")
    print("OK: TensorBoard read every logged scalar back")


if __name__ == "__main__":
    main()
