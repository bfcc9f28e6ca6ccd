#!/usr/bin/env python3
"""Checks that a libsbert model folder carries its prompts as sentence-transformers does.

A fine-tune's checkpoint (or its `sbert-convert --to-hf` export) records the training prefixes
in config_sentence_transformers.json. This script loads the folder with sentence-transformers
and checks, exiting 1 on the first failure:
  1. model.prompts == the expected prompts (default {"query": "query: ", "document": "passage: "})
     and model.default_prompt_name is None;
  2. the file's "prompts" / "default_prompt_name" / "similarity_fn_name" equal what
     SentenceTransformer.save() writes for the same model (it saves a copy and compares);
  3. encode(texts, prompt_name="query") == encode(["query: " + t ...]), and encode_document
     (sentence-transformers >= 5) == encode with the document prompt: the prompts are applied as
     plain prefixes, as libsbert applies them;
  4. with --npy-query / --npy-document (sbert-embed --prompt-name query|document of the same
     texts), libsbert's embeddings equal sentence-transformers' within --tolerance.

    build/bin/sbert-embed --model runs/r1 --input tests/data/texts.jsonl --prompt-name query \
        --output /tmp/q.npy
    /tmp/venv-st/bin/python tools/reference/check_prompts.py --model runs/r1/checkpoints/best \
        --texts tests/data/texts.jsonl --npy-query /tmp/q.npy

Needs sentence-transformers, torch and numpy (a venv outside the repository); run with
HF_HUB_OFFLINE=1. Nothing in the build or the tests runs it.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np


def read_texts(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            return [json.loads(line)["text"] for line in f if line.strip()]
        return [line.rstrip("\n") for line in f if line.strip()]


def fail(msg):
    print(f"check_prompts: FAILED: {msg}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a libsbert checkpoint or export folder")
    ap.add_argument("--texts", required=True, help="one text per line, or .jsonl with \"text\"")
    ap.add_argument("--prompts", default='{"query": "query: ", "document": "passage: "}',
                    help="the prompts expected, as JSON")
    ap.add_argument("--npy-query", help="sbert-embed --prompt-name query of the texts")
    ap.add_argument("--npy-document", help="sbert-embed --prompt-name document of the texts")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    ap.add_argument("--save-st-config", help="also write the config_sentence_transformers.json "
                    "that sentence-transformers saves for this model here (the committed fixture "
                    "tests/fixtures/st-prompts/ comes from this)")
    args = ap.parse_args()

    from sentence_transformers import SentenceTransformer
    import sentence_transformers

    expected = json.loads(args.prompts)
    texts = read_texts(args.texts)
    model = SentenceTransformer(args.model, device="cpu")
    print(f"sentence-transformers {sentence_transformers.__version__}: {args.model}")
    got = {k: v for k, v in model.prompts.items() if v}  # it may add empty defaults
    print(f"model.prompts = {got}, default_prompt_name = {model.default_prompt_name!r}")
    if got != expected:
        fail(f"prompts {got} != expected {expected}")
    if model.default_prompt_name is not None:
        fail(f"default_prompt_name is {model.default_prompt_name!r}, expected None")

    with open(os.path.join(args.model, "config_sentence_transformers.json"), encoding="utf-8") as f:
        ours = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        with open(os.path.join(tmp, "config_sentence_transformers.json"), encoding="utf-8") as f:
            text = f.read()
        theirs = json.loads(text)
        if args.save_st_config:
            with open(args.save_st_config, "w", encoding="utf-8") as f:
                f.write(text)
    for key in ("prompts", "default_prompt_name", "similarity_fn_name"):
        print(f"{key}: libsbert {json.dumps(ours.get(key))}, sentence-transformers {json.dumps(theirs.get(key))}")
        if ours.get(key) != theirs.get(key):
            fail(f"config_sentence_transformers.json '{key}' differs from what sentence-transformers writes")

    kw = dict(batch_size=32, convert_to_numpy=True)
    by_name = model.encode(texts, prompt_name="query", **kw)
    by_text = model.encode([expected["query"] + t for t in texts], **kw)
    err = float(np.abs(by_name - by_text).max())
    print(f"encode(prompt_name='query') vs encode('query: ' + text): max abs error {err:.3e}")
    if err > 0:
        fail("prompt_name='query' is not the prefix")
    doc = model.encode([expected["document"] + t for t in texts], **kw)
    if hasattr(model, "encode_document"):
        err = float(np.abs(model.encode_document(texts, **kw) - doc).max())
        print(f"encode_document vs encode(document prompt + text): max abs error {err:.3e}")
        if err > 0:
            fail("encode_document does not apply the document prompt")

    for path, ref, name in ((args.npy_query, by_name, "query"), (args.npy_document, doc, "document")):
        if path:
            err = float(np.abs(np.load(path).astype(np.float32) - ref).max())
            print(f"libsbert --prompt-name {name} vs sentence-transformers: max abs error {err:.3e}")
            if err > args.tolerance:
                fail(f"libsbert's --prompt-name {name} embeddings differ (tolerance {args.tolerance:g})")
    print("check_prompts: OK")


if __name__ == "__main__":
    main()
