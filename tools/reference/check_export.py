#!/usr/bin/env python3
"""Checks a folder written by `sbert-convert --to-hf` (or any model folder) against libsbert.

Loads the folder with sentence-transformers (SentenceTransformer(dir)) and with transformers
(AutoModel + AutoTokenizer, pooling and normalization as the folder's 1_Pooling / modules.json
say), embeds the fixture texts and compares both with libsbert's embeddings of the same texts
(an .npy written by `sbert-embed --model DIR --input tests/data/texts.jsonl --output X.npy`).
Prints the max abs error of each pair; exits 1 if one exceeds --tolerance.

    build/bin/sbert-embed --model /tmp/export --input tests/data/texts.jsonl --output /tmp/e.npy
    /opt/refvenv/bin/python tools/reference/check_export.py --model /tmp/export --npy /tmp/e.npy \
        [--reference models/all-MiniLM-L6-v2] [--prompt-name query]

--reference DIR also embeds with sentence-transformers from DIR (the folder converted from) and
compares its tensors with the export's (bitwise, by name).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch


def read_texts(path):
    texts = []
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            for line in f:
                if line.strip():
                    texts.append(json.loads(line)["text"])
        else:
            texts = [line.rstrip("\n") for line in f if line.strip()]
    return texts


def st_embed(folder, texts, prompt_name):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(folder, device="cpu")
    kwargs = {"prompt_name": prompt_name} if prompt_name else {}
    emb = model.encode(texts, batch_size=32, convert_to_numpy=True, **kwargs)
    info = {
        "max_seq_length": model.max_seq_length,
        "prompts": {k: v for k, v in model.prompts.items() if v},
        "default_prompt_name": model.default_prompt_name,
        "similarity_fn_name": model.similarity_fn_name,
        "modules": [type(m).__name__ for m in model],
    }
    return emb.astype(np.float32), info, model


def hf_embed(folder, texts, prompt_text):
    """transformers alone: the pooling and normalization the sentence-transformers files name."""
    from transformers import AutoModel, AutoTokenizer

    with open(os.path.join(folder, "modules.json")) as f:
        modules = json.load(f)
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    with open(os.path.join(folder, pooling_dir, "config.json")) as f:
        pool = json.load(f)
    mode = pool.get("pooling_mode") or ("cls" if pool.get("pooling_mode_cls_token") else "mean")
    max_len = 512
    sb = os.path.join(folder, "sentence_bert_config.json")
    if os.path.exists(sb):
        with open(sb) as f:
            max_len = json.load(f).get("max_seq_length") or max_len
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            batch = [prompt_text + t for t in texts[i:i + 32]]
            enc = tok(batch, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
            h = model(**enc).last_hidden_state
            if mode == "cls":
                e = h[:, 0]
            else:
                m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
                e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            if "Normalize" in kinds:
                e = torch.nn.functional.normalize(e, p=2, dim=1)
            out.append(e.numpy())
    return np.concatenate(out).astype(np.float32), mode, "Normalize" in kinds, max_len


def same_tensors(a_dir, b_dir):
    from safetensors.torch import load_file

    a = load_file(os.path.join(a_dir, "model.safetensors"))
    b = load_file(os.path.join(b_dir, "model.safetensors"))
    if sorted(a) != sorted(b):
        return False, f"names differ: {sorted(set(a) ^ set(b))[:5]}"
    for k in a:
        if a[k].dtype != b[k].dtype or a[k].shape != b[k].shape:
            return False, f"{k}: {a[k].dtype}{tuple(a[k].shape)} vs {b[k].dtype}{tuple(b[k].shape)}"
        if not torch.equal(a[k].reshape(-1).view(torch.uint8), b[k].reshape(-1).view(torch.uint8)):
            return False, f"{k}: bytes differ"
    return True, f"{len(a)} tensors bitwise identical"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="exported folder")
    ap.add_argument("--npy", required=True, help="libsbert embeddings of the texts (sbert-embed)")
    ap.add_argument("--texts", default=os.path.join(here, "..", "..", "tests", "data", "texts.jsonl"))
    ap.add_argument("--reference", help="the folder the export came from (optional)")
    ap.add_argument("--prompt-name", help="embed with this prompt (sbert-embed --prefix its text)")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args()

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    texts = read_texts(args.texts)
    ours = np.load(args.npy).astype(np.float32)
    if ours.shape[0] != len(texts):
        sys.exit(f"check_export: {args.npy} has {ours.shape[0]} rows but {args.texts} has {len(texts)} texts")

    st, info, st_model = st_embed(args.model, texts, args.prompt_name)
    prompt_text = st_model.prompts.get(args.prompt_name, "") if args.prompt_name else ""
    hf, mode, normalize, max_len = hf_embed(args.model, texts, prompt_text)
    print(f"model: {args.model}")
    print(f"sentence-transformers read: {json.dumps(info)}")
    print(f"transformers: pooling {mode}, normalize {normalize}, max_length {max_len}")
    print(f"texts: {len(texts)}, dim {ours.shape[1]}" + (f", prompt '{prompt_text}'" if prompt_text else ""))
    errors = {
        "sentence-transformers vs libsbert": float(np.abs(st - ours).max()),
        "transformers vs libsbert": float(np.abs(hf - ours).max()),
        "sentence-transformers vs transformers": float(np.abs(st - hf).max()),
    }
    if args.reference:
        ref, _, _ = st_embed(args.reference, texts, args.prompt_name if args.prompt_name else None)
        errors["sentence-transformers: reference vs export"] = float(np.abs(ref - st).max())
        ok, what = same_tensors(args.reference, args.model)
        print(f"tensors vs reference: {what}")
    for k, v in errors.items():
        print(f"max abs error, {k}: {v:.3e}")
    bad = {k: v for k, v in errors.items() if v > args.tolerance}
    if bad:
        print(f"check_export: FAILED (tolerance {args.tolerance:g}): {', '.join(bad)}")
        sys.exit(1)
    print(f"check_export: OK (tolerance {args.tolerance:g})")


if __name__ == "__main__":
    main()
