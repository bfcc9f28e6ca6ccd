#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizers/: small XLM-R (SentencePiece Unigram) and RoBERTa (byte-level
BPE) tokenizer folders and the ids Hugging Face gives for every text of tokenizer_texts.py.

  xlmr-spm/      sentencepiece.bpe.model + tokenizer_config.json only (trained here with the
                 sentencepiece package, nmt_nfkc as XLM-R; transformers converts it on load)
  xlmr/          what transformers' XLMRobertaTokenizer.save_pretrained writes for xlmr-spm
  xlmr-classic/  (not kept: the test rebuilds it from xlmr/) the same model in the layout of the published XLM-R tokenizer.json files
                 (normalizer Sequence[Precompiled, Replace(" {2,}", " ")], Metaspace without
                 prepend_scheme, <mask> with lstrip) -- as xlm-roberta-base, multilingual-e5, bge-m3
  roberta-files/ vocab.json + merges.txt + tokenizer_config.json only (RobertaTokenizer's files)
  xlmr-model-type/ (not kept either) xlmr-classic without tokenizer_class, config.json's
                 model_type xlm-roberta instead: same ids as xlmr-classic
  roberta/       byte-level BPE trained with the tokenizers package, saved by transformers'
                 RobertaTokenizer (tokenizer.json, vocab.json, merges.txt)
  cases.jsonl    one line per text: {"text", "set", "<folder>": ids, "<folder>@16": ids,
                 "<folder>:file": ids when not the same}: AutoTokenizer(text)["input_ids"] (what
                 sentence-transformers runs), untruncated and truncated to 16, and
                 tokenizers.Tokenizer.from_file(<folder>/tokenizer.json) (the file alone);
                 xlmr-spm's and roberta-files' ids only where not those of xlmr / roberta

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
# In cases.jsonl, a key of the first folder is left out where its ids equal the second's.
SAME_AS = {"xlmr-spm": "xlmr", "roberta-files": "roberta"}


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
            input=corpus, model_prefix=os.path.join(tmp, "sp"), vocab_size=2000,
            model_type="unigram", normalization_rule_name="nmt_nfkc", character_coverage=0.9995,
            hard_vocab_limit=False, num_threads=1, seed_sentencepiece_size=100000, minloglevel=2)
        spm_dir = os.path.join(out, "xlmr-spm")
        os.makedirs(spm_dir, exist_ok=True)
        shutil.copy(os.path.join(tmp, "sp.model"), os.path.join(spm_dir, "sentencepiece.bpe.model"))
    write_json(os.path.join(spm_dir, "tokenizer_config.json"),
               {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512})
    tok = AutoTokenizer.from_pretrained(spm_dir)
    # The .model-only folder keeps the published configs' <mask> (lstrip), after xlmr/ is saved.
    spm_config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
                  "mask_token": {"__type": "AddedToken", "content": "<mask>", "lstrip": True,
                                 "normalized": True, "rstrip": False, "single_word": False}}
    xlmr_dir = os.path.join(out, "xlmr")
    tok.save_pretrained(xlmr_dir)
    compact(os.path.join(xlmr_dir, "tokenizer.json"))
    clean_config(xlmr_dir)
    write_json(os.path.join(spm_dir, "tokenizer_config.json"), spm_config)


def compact(path):
    """The same tokenizer.json without indentation (the fixtures stay small)."""
    Tokenizer.from_file(path).save(path, pretty=False)


def clean_config(folder):
    path = os.path.join(folder, "tokenizer_config.json")
    cfg = json.load(open(path, encoding="utf-8"))
    for k in ("is_local", "local_files_only"):
        cfg.pop(k, None)
    write_json(path, cfg)


def balanced_object_end(text, start):
    """Index after the JSON object starting at text[start] == '{' (no braces inside strings)."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ValueError("unbalanced")


def classic_layout(text):
    """xlmr's compact tokenizer.json rewritten in the layout of the published XLM-R files:
    normalizer Sequence[Precompiled, Replace(" {2,}", " ")], Metaspace with add_prefix_space
    and no prepend_scheme, <mask> with lstrip. The C++ test (test_tokenizer_spm_bpe_parity.cpp)
    makes the same edits, so that this folder need not be committed."""
    key = '"normalizer":'
    a = text.index(key) + len(key)
    b = balanced_object_end(text, a)
    text = (text[:a] + '{"type":"Sequence","normalizers":[' + text[a:b] +
            ',{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]}' + text[b:])
    key = '"pre_tokenizer":'
    a = text.index(key) + len(key)
    b = balanced_object_end(text, a)
    text = text[:a] + '{"type":"Metaspace","replacement":"\u2581","add_prefix_space":true}' + text[b:]
    old = '"content":"<mask>","single_word":false,"lstrip":false'
    assert text.count(old) == 1
    return text.replace(old, '"content":"<mask>","single_word":false,"lstrip":true')


def make_roberta(out, corpus):
    from tokenizers import ByteLevelBPETokenizer
    bpe = ByteLevelBPETokenizer()
    bpe.train(files=[corpus], vocab_size=1500, min_frequency=2, show_progress=False,
              special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        write_json(os.path.join(tmp, "tokenizer_config.json"),
                   {"tokenizer_class": "RobertaTokenizer", "model_max_length": 512})
        tok = AutoTokenizer.from_pretrained(tmp)
        rdir = os.path.join(out, "roberta")
        tok.save_pretrained(rdir)
        files = os.path.join(out, "roberta-files")
        os.makedirs(files, exist_ok=True)
        for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
            shutil.copy(os.path.join(tmp, name), files)
    compact(os.path.join(rdir, "tokenizer.json"))
    clean_config(rdir)


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
    classic = os.path.join(args.out, "xlmr-classic")
    os.makedirs(classic, exist_ok=True)
    shutil.copy(os.path.join(args.out, "xlmr", "tokenizer_config.json"), classic)
    with open(os.path.join(args.out, "xlmr", "tokenizer.json"), encoding="utf-8") as f:
        text = classic_layout(f.read())
    with open(os.path.join(classic, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text)
    # No tokenizer_class: AutoTokenizer takes it from config.json's model_type.
    mt = os.path.join(args.out, "xlmr-model-type")
    os.makedirs(mt, exist_ok=True)
    shutil.copy(os.path.join(classic, "tokenizer.json"), mt)
    write_json(os.path.join(mt, "tokenizer_config.json"), {"model_max_length": 512})
    write_json(os.path.join(mt, "config.json"), {"model_type": "xlm-roberta"})
    j = json.loads(text)
    assert j["normalizer"]["normalizers"][1]["type"] == "Replace"
    assert j["pre_tokenizer"] == {"type": "Metaspace", "replacement": "\u2581",
                                  "add_prefix_space": True}

    folders = ["xlmr-spm", "xlmr", "xlmr-classic", "roberta", "roberta-files"]
    model_type_tok = AutoTokenizer.from_pretrained(mt)
    toks = {name: AutoTokenizer.from_pretrained(os.path.join(args.out, name)) for name in folders}
    raw = {name: Tokenizer.from_file(os.path.join(args.out, name, "tokenizer.json"))
           for name in folders if name not in ("xlmr-spm", "roberta-files")}
    rows = [("test", t) for t in TEST] + [("heldout", t) for t in heldout]
    with open(os.path.join(args.out, "cases.jsonl"), "w", encoding="utf-8") as f:
        for kind, text in rows:
            row = {"set": kind, "text": text}
            # config.json's model_type picks the same class as tokenizer_class
            assert model_type_tok(text)["input_ids"] == toks["xlmr-classic"](text)["input_ids"]
            for name, tok in toks.items():
                ids = tok(text)["input_ids"]
                row[name] = ids
                if name in raw:  # tokenizers.Tokenizer.from_file: the file as it is
                    file_ids = raw[name].encode(text).ids
                    if file_ids != ids:
                        row[f"{name}:file"] = file_ids
                row[f"{name}@{TRUNC}"] = tok(text, truncation=True, max_length=TRUNC)["input_ids"]
            # A folder whose ids are those of its sibling leaves them out (a smaller file).
            for name, base in SAME_AS.items():
                for suffix in ("", f"@{TRUNC}"):
                    if row[name + suffix] == row[base + suffix]:
                        del row[name + suffix]
            f.write(json.dumps(row, ensure_ascii=True) + "\n")
    shutil.rmtree(classic)  # rebuilt by the C++ test from xlmr/
    shutil.rmtree(mt)
    write_json(os.path.join(args.out, "versions.json"),
               {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
                "sentencepiece": spm.__version__, "texts": len(rows), "truncation": TRUNC})
    print(f"{len(rows)} texts -> {args.out}")


if __name__ == "__main__":
    main()
