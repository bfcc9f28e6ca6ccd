#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizers/decode.jsonl: transformers' batch_decode(ids,
skip_special_tokens=True) of the token ids of tests/data/texts.jsonl and multilingual.jsonl
(the first 100 of texts.jsonl, all of multilingual.jsonl; truncation at 128 tokens) for tiny-bert, tiny-bert-cls and all-MiniLM-L6-v2 (tests/unit/
test_tokenizer_decode.cpp compares Tokenizer::decode; gist's guide re-tokenizes this text).

    HF_HUB_OFFLINE=1 /tmp/venv-st/bin/python tools/reference/make_decode_fixture.py \\
        [--minilm /work/main/models/all-MiniLM-L6-v2]

Each line: {"model", "file", "id", "ids", "decoded"}; every 7th sequence gets 3 [PAD] and an
[UNK] before [SEP], as a padded batch of a loss holds (special tokens, dropped by the decode);
every 11th is cut in the middle (a byte-level sequence may end inside a character).
"""

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from transformers import AutoTokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", default="/work/main/models/all-MiniLM-L6-v2")
    a = ap.parse_args()
    texts = []
    for name in ("texts.jsonl", "multilingual.jsonl"):
        with open(REPO / "tests/data" / name, encoding="utf-8") as f:
            recs = [json.loads(line) for line in f]
        # The first 100 English texts and every multilingual one: a small fixture.
        texts += [(name, r["id"], r["text"]) for r in recs[:100 if name == "texts.jsonl" else None]]
    models = {"tiny-bert": REPO / "tests/fixtures/tiny-bert",
              "tiny-bert-cls": REPO / "tests/fixtures/tiny-bert-cls", "minilm": Path(a.minilm),
              "tiny-xlmr": REPO / "tests/fixtures/tiny-xlmr",
              "tiny-roberta": REPO / "tests/fixtures/tiny-roberta",
              "tokenizers/xlmr-spm": REPO / "tests/fixtures/tokenizers/xlmr-spm",
              "tokenizers/roberta-files": REPO / "tests/fixtures/tokenizers/roberta-files"}
    out = REPO / "tests/fixtures/tokenizers/decode.jsonl"
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for model, folder in models.items():
            tok = AutoTokenizer.from_pretrained(str(folder))
            ids = tok([t for _, _, t in texts], truncation=True, max_length=128)["input_ids"]
            for i, seq in enumerate(ids):
                if i % 7 == 3:
                    seq = seq[:-1] + [tok.unk_token_id, tok.sep_token_id] + [tok.pad_token_id] * 3
                if i % 11 == 5 and len(seq) > 6:
                    seq = seq[:len(seq) // 2] + [tok.sep_token_id]  # cut mid-text (byte-level: mid-character)
                ids[i] = seq
            decoded = tok.batch_decode(ids, skip_special_tokens=True)
            for (file, tid, _), seq, d in zip(texts, ids, decoded):
                f.write(json.dumps(dict(model=model, file=file, id=tid, ids=seq, decoded=d),
                                   ensure_ascii=False) + "\n")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
