#!/usr/bin/env python3
"""Write the parity fixtures that libsbert's C++ tests compare against.

    HF_HUB_OFFLINE=1 /opt/refvenv/bin/python tools/reference/make_fixtures.py \\
        --minilm models/all-MiniLM-L6-v2 [--verify]

For each model M in {minilm, tiny-bert, tiny-bert-cls} (texts: tests/data/texts.jsonl) and
{tiny-xlmr, tiny-roberta} (texts: tests/data/multilingual.jsonl) it writes tests/fixtures/M/:
  tokens.safetensors      ids/offsets (no truncation), ids_trunc/offsets_trunc (max_seq_length)
  embeddings.safetensors  SentenceTransformer(...).encode(texts, batch_size=32) fp32 [n, dim]
  hidden.safetensors      BertModel hidden_states for a subset of texts, each run alone
See tests/fixtures/README.md. --verify reloads the files and recomputes everything instead of
writing (exit 1 on any difference).
"""
import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
THREADS = 2
ATTN = "eager"  # attention implementation for hidden.safetensors (plain softmax(QK^T/sqrt(d))V)

# hidden.safetensors subsets (text ids in tests/data/texts.jsonl).
# MiniLM: real texts + edge cases, total tokens <= ~350 so the file stays under 4 MB.
MINILM_HIDDEN = [0, 1, 75, 150, 200, 300, 302, 303, 304, 305, 307, 308, 309, 312, 313, 321, 326,
                 330]
# tiny-bert: every text except 40 of the 50 SciFact documents (ids 260-299; each is 128 tokens,
# together more than half the tokens), to keep all fixtures under ~8 MB.
TINY_HIDDEN = [i for i in range(333) if not 260 <= i < 300]
# tiny-bert-cls: every edge case + a few real texts (40 texts).
CLS_HIDDEN = [0, 1, 2, 75, 150, 200, 201] + list(range(300, 333))
# tiny-xlmr / tiny-roberta (ids into multilingual.jsonl): English, Greek capitals, CJK, Arabic,
# emoji, combining marks, a literal "<pad>" (position pad_token_id in transformers), the
# special-token strings and "" (the long text cut at 128 tokens is in embeddings.safetensors
# only: the fixtures stay near 1 MB).
XLMR_HIDDEN = [0, 11, 12, 17, 22, 23, 28, 29, 32]
ROBERTA_HIDDEN = [0, 3, 12, 22, 28, 29, 33]
# Models whose fixture texts are tests/data/multilingual.jsonl.
MULTILINGUAL = ("tiny-xlmr", "tiny-roberta")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def packed(seqs, dtype):
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in seqs])
    flat = np.concatenate([np.asarray(s, dtype=dtype) for s in seqs]) if seqs else np.zeros(0, dtype)
    return flat, offsets


def model_dirs(args):
    fx = Path(args.out)
    return {"minilm": Path(args.minilm), "tiny-bert": fx / "tiny-bert", "tiny-bert-cls": fx / "tiny-bert-cls",
            "tiny-xlmr": fx / "tiny-xlmr", "tiny-roberta": fx / "tiny-roberta"}


def compute(name: str, folder: Path, texts, texts_sha: str, texts_file: str):
    """Everything for one model: {file: (tensors, metadata)}."""
    weights_sha = sha256_file(folder / "model.safetensors")
    meta = {
        "model": name,
        "model_weights_sha256": weights_sha,
        "texts": texts_file,
        "texts_sha256": texts_sha,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "generator": "tools/reference/make_fixtures.py",
        "torch_threads": str(THREADS),
    }
    tok = AutoTokenizer.from_pretrained(str(folder))
    assert tok.is_fast, "expected a tokenizers-backed (fast) tokenizer"
    st = SentenceTransformer(str(folder), device="cpu")
    st.eval()
    max_seq = int(st.max_seq_length)

    ids = [tok(t, add_special_tokens=True, truncation=False)["input_ids"] for t in texts]
    ids_trunc = [tok(t, add_special_tokens=True, truncation=True, max_length=max_seq)["input_ids"]
                 for t in texts]
    # The truncated ids must be exactly what sentence-transformers feeds its model.
    for i in range(0, len(texts), 64):
        feats = st.tokenize(texts[i:i + 64])
        for j, row in enumerate(feats["input_ids"].tolist()):
            n = int(feats["attention_mask"][j].sum())
            assert row[:n] == ids_trunc[i + j], (name, i + j)
    flat, off = packed(ids, np.int32)
    flat_t, off_t = packed(ids_trunc, np.int32)
    files = {}
    files["tokens.safetensors"] = (
        {"ids": flat, "offsets": off, "ids_trunc": flat_t, "offsets_trunc": off_t},
        dict(meta, max_length=str(max_seq),
             what="HF fast tokenizer input_ids with [CLS]/[SEP] (<s>/</s>); ids: truncation=False; "
                  "ids_trunc: truncation=True, max_length=max_seq_length"))

    emb = st.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    modules = [type(m).__name__ for m in st]
    files["embeddings.safetensors"] = (
        {"embeddings": emb},
        dict(meta, max_length=str(max_seq), modules=",".join(modules),
             attn_implementation=str(st[0].auto_model.config._attn_implementation),
             what="SentenceTransformer(dir, device='cpu').encode(texts, batch_size=32, "
                  "convert_to_numpy=True), fp32"))

    subset = {"minilm": MINILM_HIDDEN, "tiny-bert": TINY_HIDDEN, "tiny-bert-cls": CLS_HIDDEN,
              "tiny-xlmr": XLMR_HIDDEN, "tiny-roberta": ROBERTA_HIDDEN}[name]
    model = AutoModel.from_pretrained(str(folder), attn_implementation=ATTN,
                                      dtype=torch.float32).eval()
    arch = {"tiny-xlmr": "XLMRobertaModel", "tiny-roberta": "RobertaModel"}.get(name, "BertModel")
    assert type(model).__name__ == arch, type(model)
    layers = [[] for _ in range(model.config.num_hidden_layers + 1)]
    with torch.inference_mode():
        for i in subset:
            x = torch.tensor([ids_trunc[i]], dtype=torch.long)
            out = model(input_ids=x, attention_mask=torch.ones_like(x),
                        token_type_ids=torch.zeros_like(x), output_hidden_states=True)
            assert len(out.hidden_states) == len(layers)
            for l, h in enumerate(out.hidden_states):
                layers[l].append(h[0].float().numpy())
    hid = {"text_index": np.asarray(subset, dtype=np.int64),
           "offsets": packed([ids_trunc[i] for i in subset], np.int32)[1]}
    for l, hs in enumerate(layers):
        hid[f"hidden_states.{l}"] = np.ascontiguousarray(np.concatenate(hs, 0), dtype=np.float32)
    files["hidden.safetensors"] = (
        hid, dict(meta, max_length=str(max_seq), attn_implementation=ATTN,
                  what=f"{arch}(output_hidden_states=True) on each text alone: ids_trunc, "
                       "attention_mask ones, token_type_ids zeros; eval, fp32; "
                       "hidden_states.0 = embeddings output, .l = output of layer l"))
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", required=True, help="all-MiniLM-L6-v2 folder (scripts/fetch-model.sh)")
    ap.add_argument("--texts", default=str(REPO / "tests" / "data" / "texts.jsonl"))
    ap.add_argument("--out", default=str(REPO / "tests" / "fixtures"))
    ap.add_argument("--models", default="minilm,tiny-bert,tiny-bert-cls,tiny-xlmr,tiny-roberta")
    ap.add_argument("--verify", action="store_true", help="compare with the files instead of writing")
    args = ap.parse_args()

    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)

    texts_path = Path(args.texts)
    records = [json.loads(l) for l in open(texts_path, encoding="utf-8")]
    assert [r["id"] for r in records] == list(range(len(records)))
    texts = [r["text"] for r in records]
    # The hidden-state subsets above are written for this layout of texts.jsonl.
    assert len(records) == 333 and all(r["source"] == "edge" for r in records[300:])
    assert all(r["source"] == "scifact_doc" for r in records[250:300])
    texts_sha = sha256_file(texts_path)
    ml_path = REPO / "tests" / "data" / "multilingual.jsonl"
    ml_records = [json.loads(l) for l in open(ml_path, encoding="utf-8")]
    assert [r["id"] for r in ml_records] == list(range(len(ml_records)))
    ml_texts = [r["text"] for r in ml_records]
    dirs = model_dirs(args)
    bad = 0
    for name in args.models.split(","):
        if name in MULTILINGUAL:
            files = compute(name, dirs[name], ml_texts, sha256_file(ml_path),
                            "tests/data/multilingual.jsonl")
        else:
            files = compute(name, dirs[name], texts, texts_sha, "tests/data/texts.jsonl")
        out = Path(args.out) / name
        out.mkdir(parents=True, exist_ok=True)
        for fname, (tensors, meta) in files.items():
            path = out / fname
            if not args.verify:
                save_file(tensors, str(path), metadata=meta)
                print(f"wrote {path} ({path.stat().st_size} bytes)")
                continue
            old = load_file(str(path))
            with safetensors.safe_open(str(path), "np") as f:
                old_meta = f.metadata()
            for k, v in tensors.items():
                o = old.get(k)
                if o is None or o.shape != v.shape or o.dtype != v.dtype:
                    print(f"MISMATCH {path}:{k} shape/dtype {None if o is None else (o.shape, o.dtype)} vs {(v.shape, v.dtype)}")
                    bad += 1
                    continue
                diff = float(np.max(np.abs(o.astype(np.float64) - v.astype(np.float64)))) if v.size else 0.0
                print(f"{path}:{k} {v.dtype} {list(v.shape)} max|diff| {diff:g}")
                bad += diff != 0.0
            for k in ("model_weights_sha256", "texts_sha256"):
                if old_meta.get(k) != meta[k]:
                    print(f"MISMATCH {path} metadata {k}: {old_meta.get(k)} vs {meta[k]}")
                    bad += 1
    if args.verify:
        print("verify:", "OK" if bad == 0 else f"{bad} differences")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
