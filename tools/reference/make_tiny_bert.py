#!/usr/bin/env python3
"""Write the tiny random BERT test models tests/fixtures/tiny-bert/ and tests/fixtures/tiny-bert-cls/.

    HF_HUB_OFFLINE=1 /opt/refvenv/bin/python tools/reference/make_tiny_bert.py --minilm models/all-MiniLM-L6-v2

tiny-bert:     mean pooling + Normalize, uncased tokenizer (BertNormalizer lowercase=True,
               strip_accents unset => follows lowercase), max_seq_length 128.
tiny-bert-cls: the same weights, CLS pooling, no Normalize, cased tokenizer (lowercase=False,
               strip_accents unset => no accent stripping), max_seq_length 128.

The vocabulary (1,500 WordPieces) is [PAD] [UNK] [CLS] [SEP] [MASK], then a-z and 0-9, then the
most frequent pieces of tests/data/texts.jsonl under the MiniLM tokenizer (ties by string), so
that the tiny tokenizers split words a lot and produce many [UNK]s. Weights: transformers'
BertModel from torch.manual_seed(0) with initializer_range 0.2, then every bias ~ N(0, 0.1),
LayerNorm weight ~ N(1, 0.2), LayerNorm bias ~ N(0, 0.2) and the [PAD] embedding row random too,
so no parameter is trivially 0 or 1.
"""
import argparse
import collections
import json
import os
import shutil
import string
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import AutoTokenizer, BertConfig, BertModel, BertTokenizerFast  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB_SIZE = 1500
MAX_SEQ = 128


def build_vocab(minilm: Path, texts):
    tok = AutoTokenizer.from_pretrained(str(minilm))
    counts = collections.Counter()
    for t in texts:
        counts.update(p for p in tok.tokenize(t) if p not in SPECIALS)
    vocab = list(SPECIALS) + list(string.ascii_lowercase) + list(string.digits)
    seen = set(vocab)
    for piece, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) == VOCAB_SIZE:
            break
        if piece not in seen:
            vocab.append(piece)
            seen.add(piece)
    assert len(vocab) == VOCAB_SIZE
    return vocab


def build_model(vocab_size: int) -> BertModel:
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=512,
                     type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0,
                     initializer_range=0.2, hidden_dropout_prob=0.1,
                     attention_probs_dropout_prob=0.1)
    torch.manual_seed(0)
    model = BertModel(cfg)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "LayerNorm" in name and name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        # BertEmbeddings zeroes the padding row at init; make it a random row like the others.
        model.embeddings.word_embeddings.weight[0].copy_(0.2 * torch.randn(32, generator=g))
    return model.float().eval()


def write_json(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def save_folder(out: Path, model: BertModel, vocab_file: Path, lowercase: bool, pooling: str,
                normalize: bool):
    if out.exists():
        for f in ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
                  "tokenizer_config.json", "special_tokens_map.json", "modules.json",
                  "sentence_bert_config.json", "config_sentence_transformers.json"]:
            (out / f).unlink(missing_ok=True)
        for d in ["1_Pooling", "2_Normalize"]:
            shutil.rmtree(out / d, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tok = BertTokenizerFast(vocab=str(vocab_file), do_lower_case=lowercase,
                            model_max_length=512)
    tok.save_pretrained(str(out))
    # vocab.txt exactly as built (some transformers versions do not write it), and the
    # special_tokens_map.json that transformers 5 no longer writes.
    shutil.copyfile(vocab_file, out / "vocab.txt")
    write_json(out / "special_tokens_map.json", {
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]"})
    # tokenizer.json must say what we mean; check rather than trust defaults.
    tj = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    norm = tj["normalizer"]
    assert norm["type"] == "BertNormalizer" and norm["lowercase"] is lowercase, norm
    assert norm["strip_accents"] is None and norm["clean_text"] and norm["handle_chinese_chars"], norm
    assert tj["model"]["type"] == "WordPiece" and len(tj["model"]["vocab"]) == VOCAB_SIZE
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        (out / "2_Normalize").mkdir(exist_ok=True)
    write_json(out / "modules.json", modules)
    write_json(out / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ, "do_lower_case": False})
    write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": 32,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", required=True, help="all-MiniLM-L6-v2 folder (scripts/fetch-model.sh)")
    ap.add_argument("--texts", default=str(REPO / "tests" / "data" / "texts.jsonl"))
    ap.add_argument("--out", default=str(REPO / "tests" / "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    texts = [json.loads(l)["text"] for l in open(args.texts, encoding="utf-8")]
    vocab = build_vocab(Path(args.minilm), texts)
    model = build_model(len(vocab))
    with tempfile.TemporaryDirectory() as tmp:
        vf = Path(tmp) / "vocab.txt"
        vf.write_text("".join(v + "\n" for v in vocab), encoding="utf-8")
        out = Path(args.out)
        save_folder(out / "tiny-bert", model, vf, lowercase=True, pooling="mean", normalize=True)
        save_folder(out / "tiny-bert-cls", model, vf, lowercase=False, pooling="cls", normalize=False)
    print("wrote", out / "tiny-bert", out / "tiny-bert-cls")


if __name__ == "__main__":
    main()
