#!/usr/bin/env python3
"""Write the tiny random RoBERTa-family test models tests/fixtures/tiny-xlmr/ and
tests/fixtures/tiny-roberta/, and the fixture texts tests/data/multilingual.jsonl.

    HF_HUB_OFFLINE=1 /tmp/venv-st/bin/python tools/reference/make_tiny_xlmr.py

tiny-xlmr:    XLMRobertaModel; a SentencePiece Unigram model (sentencepiece package, nmt_nfkc,
              character_coverage 1.0, vocab 800) trained on multilingual_corpus.CORPUS and
              converted by transformers' XLMRobertaTokenizer (fairseq ids: <s>=0 <pad>=1 </s>=2
              <unk>=3, pieces + 1, <mask> last); mean pooling + Normalize, max_seq_length 128.
tiny-roberta: RobertaModel; a byte-level BPE (tokenizers ByteLevelBPETokenizer, vocab 600)
              trained on the same corpus, loaded by RobertaTokenizerFast; CLS pooling, no
              Normalize, max_seq_length 128.

Both: 2 layers, 4 heads, max_position_embeddings 514 (positions start at pad_token_id + 1 = 2),
type_vocab_size 1, layer_norm_eps 1e-5, gelu; tiny-xlmr hidden 32, intermediate 64; tiny-roberta
hidden 16, intermediate 32 (its folder stays small). Weights from
torch.manual_seed(0) with initializer_range 0.2, then (generator seed 1) every bias ~ N(0, 0.1),
LayerNorm weight ~ N(1, 0.2) and bias ~ N(0, 0.2), and the <pad> rows of the word AND position
tables random (transformers zeroes them): so a wrong position offset or a pad row used by
mistake shows. Only tokenizer.json is kept for the tokenizer (sentencepiece.bpe.model would
double the folder's size).
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
from tokenizers import ByteLevelBPETokenizer  # noqa: E402
from transformers import (RobertaConfig, RobertaModel, RobertaTokenizerFast,  # noqa: E402
                          XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from multilingual_corpus import CORPUS, TEXTS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MAX_SEQ = 128
SPM_VOCAB = 800
BPE_VOCAB = 600


def write_json(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def randomize(model, pad_id, hidden):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "LayerNorm" in name and name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        model.embeddings.word_embeddings.weight[pad_id].copy_(0.2 * torch.randn(hidden, generator=g))
        model.embeddings.position_embeddings.weight[pad_id].copy_(
            0.2 * torch.randn(hidden, generator=g))
    return model.float().eval()


def config_kwargs(vocab_size, hidden):
    return dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=2 * hidden, max_position_embeddings=514,
                type_vocab_size=1, hidden_act="gelu", layer_norm_eps=1e-5, pad_token_id=1,
                bos_token_id=0, eos_token_id=2, initializer_range=0.2, hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1)


def st_files(out: Path, pooling: str, normalize: bool, hidden: int):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        (out / "2_Normalize").mkdir(exist_ok=True)
    write_json(out / "modules.json", modules)
    write_json(out / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ, "do_lower_case": False})
    write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })


def compact_tokenizer_json(out: Path):
    """tokenizer.json on one line (transformers writes it indented: 10% larger)."""
    path = out / "tokenizer.json"
    tj = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(tj, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return tj


def fresh(out: Path):
    """Removes the model folder's files, keeping make_fixtures.py's (tokens, embeddings, hidden)."""
    keep = {"tokens.safetensors", "embeddings.safetensors", "hidden.safetensors"}
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():
        if p.is_dir():
            shutil.rmtree(p)
        elif p.name not in keep:
            p.unlink()


def make_xlmr(out: Path, tmp: Path):
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp / "spm"),
                                   vocab_size=SPM_VOCAB, model_type="unigram",
                                   character_coverage=1.0, num_threads=1, seed_sentencepiece_size=100000,
                                   minloglevel=2)
    # transformers 5 converts a sentencepiece model to tokenizer.json when loading a folder
    # (the constructor's vocab_file is not read).
    shutil.copyfile(tmp / "spm.model", tmp / "sentencepiece.bpe.model")
    tok = XLMRobertaTokenizer.from_pretrained(str(tmp), model_max_length=512)
    assert tok.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]
    torch.manual_seed(0)
    model = randomize(XLMRobertaModel(XLMRobertaConfig(**config_kwargs(len(tok), 32))), 1, 32)
    fresh(out)
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    (out / "sentencepiece.bpe.model").unlink(missing_ok=True)
    tj = compact_tokenizer_json(out)
    assert tj["model"]["type"] == "Unigram", tj["model"]["type"]
    st_files(out, "mean", True, 32)
    (out / "model.safetensors").chmod(0o644)
    return len(tok)


def make_roberta(out: Path, tmp: Path):
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=BPE_VOCAB, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(tmp))
    tok = RobertaTokenizerFast.from_pretrained(str(tmp), model_max_length=512)
    assert tok.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]
    torch.manual_seed(0)
    model = randomize(RobertaModel(RobertaConfig(**config_kwargs(len(tok), 16))), 1, 16)
    fresh(out)
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    for f in ["vocab.json", "merges.txt"]:  # tokenizer.json holds both
        (out / f).unlink(missing_ok=True)
    tj = compact_tokenizer_json(out)
    assert tj["model"]["type"] == "BPE", tj["model"]["type"]
    st_files(out, "cls", False, 16)
    (out / "model.safetensors").chmod(0o644)
    return len(tok)


def main():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    fx = REPO / "tests" / "fixtures"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x").mkdir()
        (Path(tmp) / "r").mkdir()
        vx = make_xlmr(fx / "tiny-xlmr", Path(tmp) / "x")
        vr = make_roberta(fx / "tiny-roberta", Path(tmp) / "r")
    with open(REPO / "tests" / "data" / "multilingual.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for i, t in enumerate(TEXTS):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
    print(f"wrote tiny-xlmr (vocab {vx}), tiny-roberta (vocab {vr}), "
          f"tests/data/multilingual.jsonl ({len(TEXTS)} texts)")


if __name__ == "__main__":
    main()
