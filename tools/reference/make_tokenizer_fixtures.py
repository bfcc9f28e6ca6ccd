#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizers/: small XLM-R (SentencePiece Unigram) and RoBERTa (byte-level
BPE) tokenizer folders and the ids Hugging Face gives for every text of tokenizer_texts.py.

  xlmr-spm/      sentencepiece.bpe.model + tokenizer_config.json only (trained here with the
                 sentencepiece package, nmt_nfkc as XLM-R; transformers converts it on load)
  xlmr/          what transformers' XLMRobertaTokenizer.save_pretrained writes for xlmr-spm
  xlmr-classic/  the same model in the layout of the published XLM-R tokenizer.json files
                 (normalizer Sequence[Precompiled, Replace(" {2,}", " ")], Metaspace without
                 prepend_scheme, <mask> with lstrip) -- as xlm-roberta-base, multilingual-e5, bge-m3
  roberta/       byte-level BPE trained with the tokenizers package, saved by transformers'
                 RobertaTokenizer (tokenizer.json, vocab.json, merges.txt)
  cases.jsonl    one line per text: {"text", "set", "<folder>": ids, "<folder>@16": ids,
                 "<folder>:file": ids}: AutoTokenizer(text)["input_ids"] (what
                 sentence-transformers runs), untruncated and truncated to 16, and
                 tokenizers.Tokenizer.from_file(<folder>/tokenizer.json) (the file alone)

Run: HF_HUB_OFFLINE=1 /tmp/venv-st/bin/python tools/reference/make_tokenizer_fixtures.py
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import sentencepiece as spm
import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_texts import HELDOUT, TEST, TRAIN  # noqa: E402

TRUNC = 16


def sts_lines(data, name, limit):
    out = []
    with open(os.path.join(data, "stsbenchmark", name), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 7:
                out += [parts[5], parts[6]]
    return out[:limit]


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def make_xlmr(out, corpus):
    with tempfile.TemporaryDirectory() as tmp:
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(tmp, "sp"), vocab_size=3000,
            model_type="unigram", normalization_rule_name="nmt_nfkc", character_coverage=0.9995,
            hard_vocab_limit=False, num_threads=1, seed_sentencepiece_size=100000, minloglevel=2)
        spm_dir = os.path.join(out, "xlmr-spm")
        os.makedirs(spm_dir, exist_ok=True)
        shutil.copy(os.path.join(tmp, "sp.model"), os.path.join(spm_dir, "sentencepiece.bpe.model"))
    write_json(os.path.join(spm_dir, "tokenizer_config.json"),
               {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512})
    tok = AutoTokenizer.from_pretrained(spm_dir)
    xlmr_dir = os.path.join(out, "xlmr")
    tok.save_pretrained(xlmr_dir)
    # The published layout (xlm-roberta-base's tokenizer.json, written by older tokenizers).
    j = json.load(open(os.path.join(xlmr_dir, "tokenizer.json"), encoding="utf-8"))
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        j["normalizer"], {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    for t in j["added_tokens"]:
        if t["content"] == "<mask>":
            t["lstrip"] = True
    classic = os.path.join(out, "xlmr-classic")
    os.makedirs(classic, exist_ok=True)
    with open(os.path.join(classic, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    cfg = json.load(open(os.path.join(xlmr_dir, "tokenizer_config.json"), encoding="utf-8"))
    for k in ("is_local", "local_files_only"):
        cfg.pop(k, None)
    write_json(os.path.join(xlmr_dir, "tokenizer_config.json"), cfg)
    write_json(os.path.join(classic, "tokenizer_config.json"), cfg)


def make_roberta(out, corpus):
    from tokenizers import ByteLevelBPETokenizer
    bpe = ByteLevelBPETokenizer()
    bpe.train(files=[corpus], vocab_size=2500, min_frequency=2, show_progress=False,
              special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        write_json(os.path.join(tmp, "tokenizer_config.json"),
                   {"tokenizer_class": "RobertaTokenizer", "model_max_length": 512})
        tok = AutoTokenizer.from_pretrained(tmp)
        rdir = os.path.join(out, "roberta")
        tok.save_pretrained(rdir)
        for name in ("vocab.json", "merges.txt"):
            if not os.path.exists(os.path.join(rdir, name)):
                shutil.copy(os.path.join(tmp, name), os.path.join(rdir, name))
    cfg = json.load(open(os.path.join(rdir, "tokenizer_config.json"), encoding="utf-8"))
    for k in ("is_local", "local_files_only"):
        cfg.pop(k, None)
    write_json(os.path.join(rdir, "tokenizer_config.json"), cfg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default="tests/fixtures/tokenizers")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    train = list(TRAIN) + sts_lines(args.data, "sts-train.csv", 6000)
    heldout = list(HELDOUT) + sts_lines(args.data, "sts-test.csv", 12)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(train) + "\n")
        make_xlmr(args.out, corpus)
        make_roberta(args.out, corpus)

    folders = ["xlmr-spm", "xlmr", "xlmr-classic", "roberta"]
    toks = {name: AutoTokenizer.from_pretrained(os.path.join(args.out, name)) for name in folders}
    raw = {name: Tokenizer.from_file(os.path.join(args.out, name, "tokenizer.json"))
           for name in folders if name != "xlmr-spm"}
    rows = [("test", t) for t in TEST] + [("heldout", t) for t in heldout]
    with open(os.path.join(args.out, "cases.jsonl"), "w", encoding="utf-8") as f:
        for kind, text in rows:
            row = {"set": kind, "text": text}
            for name, tok in toks.items():
                ids = tok(text)["input_ids"]
                row[name] = ids
                if name in raw:  # tokenizers.Tokenizer.from_file: the file as it is
                    row[f"{name}:file"] = raw[name].encode(text).ids
                row[f"{name}@{TRUNC}"] = tok(text, truncation=True, max_length=TRUNC)["input_ids"]
            f.write(json.dumps(row, ensure_ascii=True) + "\n")
    write_json(os.path.join(args.out, "versions.json"),
               {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
                "sentencepiece": spm.__version__, "texts": len(rows), "truncation": TRUNC})
    print(f"{len(rows)} texts -> {args.out}")


if __name__ == "__main__":
    main()
