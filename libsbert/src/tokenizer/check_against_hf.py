#!/usr/bin/env python3
"""Compares libsbert's tokenizer with Hugging Face tokenizers (the reference) on many texts.

  /opt/refvenv/bin/python libsbert/src/tokenizer/check_against_hf.py \
      --bin build/bin/sbert_tests --model <dir with tokenizer.json> [--texts texts.jsonl] \
      [--fuzz 20000] [--codepoints] [--max-length 128]

Texts: those of --texts (JSON lines with a "text" field), random strings drawn from a pool of
troublesome characters (--fuzz N), and with --codepoints every Unicode scalar value alone and
between letters. Both tokenizers encode each text; the script prints every mismatch (up to 20)
and exits 1 if there is one. With --normalize it also compares the normalized strings of
BertNormalizer for every code point under the four strip_accents/lowercase combinations.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer, normalizers


def write_texts(path, texts):
    with open(path, "wb") as f:
        for t in texts:
            b = t.encode("utf-8")
            f.write(b"%d\n" % len(b))
            f.write(b)
            f.write(b"\n")


def read_prefixed(path):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i < len(data):
        j = data.index(b"\n", i)
        n = int(data[i:j])
        out.append(data[j + 1:j + 1 + n].decode("utf-8"))
        i = j + 1 + n + 1
    return out


def run_dump(binary, model, texts, what, max_length=0):
    with tempfile.TemporaryDirectory() as d:
        inp, outp = os.path.join(d, "in"), os.path.join(d, "out")
        write_texts(inp, texts)
        env = dict(os.environ, SBERT_TOK_DUMP_MODEL=model, SBERT_TOK_DUMP_INPUT=inp,
                   SBERT_TOK_DUMP_OUTPUT=outp, SBERT_TOK_DUMP_WHAT=what,
                   SBERT_TOK_DUMP_MAX_LENGTH=str(max_length))
        r = subprocess.run([binary, "[tokenizer-dump]"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            raise SystemExit("the dump failed")
        if what == "ids":
            with open(outp) as f:
                return [[int(x) for x in line.split()] for line in f.read().splitlines()]
        return read_prefixed(outp)


POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 4
    + list(" \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\u180e\u200b")
    + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»‘’“”—–…·•†‰§¶、。「」『』【】〈〉・")
    + list("\x00\x01\x1b\x1f\x7f\x80\x9f\u00ad\u200c\u200d\u200e\u2060\ufeff\ufffd\ue000\U000f0000")
    + list("àáâãäåèéêëìíîïòóôõöùúûüýÿçñÀÁÂÃÄÅÈÉÊËÌÍÎÏÒÓÔÕÖÙÚÛÜÝÇÑßẞİıŁłØøÆæŒœǅǈǋ")
    + list("\u0300\u0301\u0302\u0303\u0308\u0327\u0328\u0331\u0334\u0345\u05b0\u064b\u0670\u093c"
           "\u0e31\u1dc0\u20d0\ufe20\U0001d165\U0001d167\u302a\u302e\u0f71\u0f72\u0f80")
    + list("ΑΒΓΔΣσςΩωάέήίόύώΐΰАБВГДЁЖабвгдёжІїЄєשָׁלוֹםمرحباًٌٍَُِّْ")
    + list("中文字漢語日本語東京我爱你丽杨𠀀𪛖豈鶴\u3400\u4dbf\u9fff\uf900\ufaff\U0002f800")
    + list("ひらがなカタカナﾊﾝｶｸ한국어텍스트ภาษาไทยहिन्दीक़ॐ१२३")
    + list("😀👍🏽👨‍👩‍👧🏳️‍🌈❤️🇩🇪🫠🩷™©®℃ℝ∑√∞≠±½①ⅻ㎏ＡＢＣｆｕｌｌ１２３ﬁﬀǄǆ")
    + list("\u0890\u08e2\u110cd\U00013430\u061d\u166d\u2e43\u2e5d\u07fd\u0898\u1734\u1ac0\U00011938")
    + ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[SEP", "##", "##s", "un", "##aff"]
    + ["hello", "world", "the", "tokenization", "unbelievable", "café", "naïve", "Straße"]
    + ["<s>", "</s>", "<mask>", "<pad>", "<unk>", "\u2581", "\u2581\u2581", "'s", "'ll", "'RE", "  ", "   "]
    + ["\uff1cmask\uff1e", " <mask>", "<MASK>", "\uff1cs\uff1e"]
    + list("\u0e33\u0e4d\u0e32\u1100\u1161\u11a8\u0915\u094d\u0937\u200d\U0001f3fb\ufe0f\u20e3")
)


def fuzz_texts(n, seed=1234):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        k = rnd.choice([1, 2, 3, 5, 8, 13, 30, 80])
        out.append("".join(rnd.choice(POOL) for _ in range(k)))
    # long words around max_input_chars_per_word
    for k in (99, 100, 101, 102, 150):
        out.append("a" * k)
        out.append("é" * k)
        out.append("x" + "\u0301" * k)
    return out


def codepoint_texts():
    out = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        out.append(c)
        out.append("ab" + c + "cd" + c + "\u0301e")
    return out


def compare_ids(args, model_json, texts, label):
    if args.auto:  # what sentence-transformers runs: transformers' AutoTokenizer on the folder
        from transformers import AutoTokenizer
        ref = AutoTokenizer.from_pretrained(args.model)
        if args.max_length:
            expected = ref(texts, truncation=True, max_length=args.max_length)["input_ids"]
        else:
            expected = ref(texts)["input_ids"]
        got = run_dump(args.bin, args.model, texts, "ids", args.max_length)
        return report(texts, expected, got, label)
    ref = Tokenizer.from_file(model_json)
    ref.no_padding()
    if args.max_length:
        ref.enable_truncation(max_length=args.max_length)
    else:
        ref.no_truncation()
    expected = [e.ids for e in ref.encode_batch(texts)]
    # Without --auto the reference reads tokenizer.json alone: so does libsbert.
    got = run_dump(args.bin, model_json, texts, "ids", args.max_length)
    return report(texts, expected, got, label)


def report(texts, expected, got, label):
    assert len(got) == len(expected), (len(got), len(expected))
    bad = [i for i in range(len(texts)) if got[i] != expected[i]]
    print("%s: %d texts, %d mismatches" % (label, len(texts), len(bad)))
    for i in bad[:20]:
        print("  text %r\n    hf:     %s\n    sbert:  %s" % (texts[i], expected[i], got[i]))
    return len(bad)


def compare_normalize(args):
    """Every code point through BertNormalizer with each strip_accents/lowercase setting."""
    base = json.load(open(os.path.join(args.model, "tokenizer.json")))
    cps = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = cps + ["a" + c + "\u0301\u0316" + c + "b" for c in cps[::7]]
    bad_total = 0
    with tempfile.TemporaryDirectory() as d:
        for clean, chinese, strip, lower in [(True, True, None, True), (True, True, False, True),
                                            (True, True, True, False), (False, False, None, False),
                                            (False, True, True, True)]:
            cfg = dict(base)
            cfg["normalizer"] = {"type": "BertNormalizer", "clean_text": clean,
                                 "handle_chinese_chars": chinese, "strip_accents": strip,
                                 "lowercase": lower}
            path = os.path.join(d, "tokenizer.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            n = normalizers.BertNormalizer(clean_text=clean, handle_chinese_chars=chinese,
                                           strip_accents=strip, lowercase=lower)
            expected = [n.normalize_str(t) for t in texts]
            got = run_dump(args.bin, path, texts, "normalize")
            bad = [i for i in range(len(texts)) if got[i] != expected[i]]
            print("normalize clean=%s chinese=%s strip=%s lower=%s: %d texts, %d mismatches" % (
                clean, chinese, strip, lower, len(texts), len(bad)))
            for i in bad[:10]:
                print("  %r: hf %r sbert %r" % (texts[i], expected[i], got[i]))
            bad_total += len(bad)
    return bad_total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True, help="directory with tokenizer.json")
    ap.add_argument("--texts", action="append", default=[])
    ap.add_argument("--fuzz", type=int, default=0)
    ap.add_argument("--codepoints", action="store_true")
    ap.add_argument("--normalize", action="store_true")
    ap.add_argument("--max-length", type=int, default=0)
    ap.add_argument("--auto", action="store_true",
                    help="reference: transformers' AutoTokenizer on --model (the folder, as "
                         "sentence-transformers loads it) instead of tokenizers' tokenizer.json")
    args = ap.parse_args()
    model_json = os.path.join(args.model, "tokenizer.json")
    bad = 0
    for path in args.texts:
        with open(path, encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()]
        bad += compare_ids(args, model_json, texts, path)
    if args.fuzz:
        bad += compare_ids(args, model_json, fuzz_texts(args.fuzz), "fuzz")
    if args.codepoints:
        bad += compare_ids(args, model_json, codepoint_texts(), "code points")
    if args.normalize:
        bad += compare_normalize(args)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
