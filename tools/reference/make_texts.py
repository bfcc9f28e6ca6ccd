#!/usr/bin/env python3
"""Write tests/data/texts.jsonl (and scifact_qrels.tsv, texts.safetensors) from the shared data.

    python tools/reference/make_texts.py [--data /work/shared/data] [--out tests/data]

Deterministic: same inputs give byte-identical outputs. Reads the SciFact/STS files only here;
the library and its tests read the committed outputs, never the shared folder.
"""
import argparse
import ast
import csv
import io
import json
import random
import struct
import tokenize
import zipfile
from pathlib import Path

N_STS = 200          # 70 images + 70 track5.en-en (SNLI) + 60 headlines
N_QUERIES = 50
N_DOCS = 50
LONG_WORDS = 2000


def sts_sentences(path: Path):
    """Unique sentences per genre file, in file order. Tab-split only (no CSV quoting)."""
    by_file = {}
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.endswith("\r"):
                line = line[:-1]
            cols = line.split("\t")
            assert len(cols) >= 7, cols
            lst = by_file.setdefault(cols[1], [])
            for s in cols[5:7]:
                if s not in lst:
                    lst.append(s)
    return by_file


def parse_abstract(field: str):
    """The corpus CSV stores the abstract as a numpy list repr: ['s1'\n 's2' ...].
    Take each string literal in turn (ast.literal_eval on the whole field would glue adjacent
    literals into one)."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(field).readline):
        if tok.type == tokenize.STRING:
            out.append(ast.literal_eval(tok.string))
    return out


def scifact_corpus(zip_path: Path):
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(zip_path) as z:
        with z.open("corpus_train.csv") as raw:
            rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
    corpus = {}
    for r in rows:
        sents = parse_abstract(r["abstract"])
        assert sents, r["doc_id"]
        # BEIR record: {"_id", "title", "text": " ".join(s.strip() for s in abstract)}
        corpus[r["doc_id"]] = (r["title"], " ".join(s.strip() for s in sents))
    assert len(corpus) == 5183, len(corpus)
    return corpus


def edge_cases(long_text: str):
    word100 = "a" * 100
    return [
        "",
        "   ",
        ".",
        "Café naïve résumé Ångström, señor jalapeño, Zoë and Björk in Århus.",
        "cafe\u0301 e\u0301le\u0300ve n\u0303 A\u030a o\u0308 (combining marks, NFD)",
        "我爱自然语言处理。東京は日本の首都です。ひらがな カタカナ ﾊﾝｶｸ 한국어 텍스트입니다",
        "中文English混合，テスト123と漢字かな交じり文",
        "I love it 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🏳️‍🌈 heart ❤️ 🇩🇪 new 🫠🩷",
        "ctrl a\u0001b\u007fc\u0085d e\u0000f g\u001bh \u0007bell",
        "zero\u200bwidth\u200djoiner\ufeffbom\u200cnon\u200ejoiner\u2060wj",
        "non\u00a0breaking\u2003em\u3000ideographic\u2009thin\u202fnarrow\u1680ogham\u2028line\u2029para",
        "tab\there\nnewline\r\ncrlf\rcr\u000bvt\u000cff  double  space\t\t",
        "replacement \ufffd char, private use \ue000 and \U0010fffd, unassigned \u0378 end",
        "İstanbul ıi İI ß STRASSE Straße ﬁ ligature ǅ titlecase K Kelvin Å angstrom",
        "ΟΔΥΣΣΕΥΣ Οδυσσεύς σοφός ΣΊΣΥΦΟΣ ἀρετή",
        "مرحبا بالعالم، هذا نص عربي مع تشكيل: كَتَبَ الطَّالِبُ ١٢٣",
        "हिन्दी में क़ानून और ज़िंदगी, क्षत्रिय ॐ १२३",
        "ภาษาไทยไม่มีการเว้นวรรค Привет, мир! ЁЖИК שָׁלוֹם עולם",
        "∑ᵢ xᵢ² ≤ ∞ ± √2 ≠ π ∀x∈ℝ ∫₀¹ f(x)dx = ½ + ¼ ① ⅻ ℃ ㎏ ＡＢＣ ｆｕｌｌ １２３",
        "“Quotes” ‘single’ — em – en «guillemets» ‹›  ¿Qué? ¡Hola! ・ ‰ … § ¶ † • 〈〉【】「」『』、。",
        "Hello!!! What?? (yes) [no] {maybe} <tag> a/b\\c @user #hash $5 %50 ^caret & *star* _under_ ~tilde `tick` | pipe ' \" ;:,",
        "[CLS] special [SEP] tokens [MASK] in [UNK] text [PAD] and lower [cls] [sep]",
        "Don't can't won't O'Neill's rock'n'roll e.g. U.S.A. Ph.D. 5'11\" it's",
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG. The Quick Brown Fox.",
        "See https://example.com/path/to?q=1&lang=en#frag, mailto:user@example.org and www.Example.COM/Index.html",
        "1,234,567.89 3.14159 10^6 1 000 000 2024-01-15 12:30:45 +44 (0)20 7946 0958 $1.5M 50% 3rd 1e-12",
        ("Pneumonoultramicroscopicsilicovolcanoconiosis" * 7)[:300],
        word100,
        word100 + "b",
        "x " + "é" * 60 + " y " + "É" * 101,
        "😀",
        "中",
        long_text,
    ]


# Characters written as \\uXXXX escapes in the JSONL (invisible or line-breaking), so that the
# file reads well and no line splitter (str.splitlines, editors) breaks a record. Only BMP
# characters are escaped (no surrogate pairs); everything else is raw UTF-8.
def _escape_char(c: str) -> bool:
    o = ord(c)
    return (o < 0x20 or 0x7F <= o <= 0xA0 or o in (0xAD, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F,
            0x3000, 0xFEFF, 0xFFFD) or 0x2000 <= o <= 0x200F or 0x2060 <= o <= 0x206F
            or 0xE000 <= o <= 0xF8FF or o == 0x378)


def json_line(obj) -> str:
    s = json.dumps(obj, ensure_ascii=False)
    return "".join(("\\u%04x" % ord(c)) if _escape_char(c) else c for c in s)


def write_safetensors_bytes(path: Path, texts):
    """texts as raw UTF-8: "text_bytes" U8 [total], "text_offsets" I64 [n+1]."""
    blobs = [t.encode("utf-8") for t in texts]
    offs = [0]
    for b in blobs:
        offs.append(offs[-1] + len(b))
    data = b"".join(blobs)
    offb = struct.pack("<%dq" % len(offs), *offs)
    header = {
        "__metadata__": {"what": "tests/data/texts.jsonl texts in id order, raw UTF-8"},
        "text_offsets": {"dtype": "I64", "shape": [len(offs)], "data_offsets": [0, len(offb)]},
        "text_bytes": {"dtype": "U8", "shape": [len(data)],
                       "data_offsets": [len(offb), len(offb) + len(data)]},
    }
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + offb + data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "tests" / "data"))
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    rng = random.Random(20240601)

    # STS: licence-friendly genres only (images: PASCAL captions CC BY-SA; track5: SNLI CC BY-SA
    # 4.0; headlines: EMM). MSR-* and the Stack Exchange forums are left out.
    sts = sts_sentences(data / "stsbenchmark" / "sts-test.csv")
    picks = []
    for file, n in (("images", 70), ("track5.en-en", 70), ("headlines", 60)):
        picks += [s for s in rng.sample(sts[file], n)]
    assert len(picks) == N_STS

    # SciFact: 50 test queries (qrels/test.tsv) and the first relevant document of each,
    # so query i and doc i form a positive pair (scifact_qrels.tsv lists them).
    queries = {}
    with open(data / "scifact" / "beir" / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            queries[q["_id"]] = q["text"]
    qrels = {}
    with open(data / "scifact" / "beir" / "qrels" / "test.tsv", encoding="utf-8", newline="") as f:
        next(f)
        for line in f:
            qid, did, score = line.rstrip("\r\n").split("\t")
            qrels.setdefault(qid, []).append(did)
    corpus = scifact_corpus(data / "scifact" / "scifact.zip")
    # Queries in random order until 50 with distinct first documents; then in query-id order.
    chosen = {}
    for qid in rng.sample(sorted(qrels, key=int), len(qrels)):
        if qrels[qid][0] not in chosen.values():
            chosen[qid] = qrels[qid][0]
        if len(chosen) == N_QUERIES:
            break
    qids = sorted(chosen, key=int)
    pairs = [(qid, chosen[qid]) for qid in qids]
    used_docs = [did for _, did in pairs]
    assert len(set(used_docs)) == N_DOCS

    # One ~2,000-word text: abstracts of documents not used above, joined in doc-id order.
    others = sorted((d for d in corpus if d not in used_docs), key=int)
    long_parts, words = [], 0
    for d in rng.sample(others, 40):
        title, text = corpus[d]
        long_parts.append(title + " " + text)
        words += len((title + " " + text).split())
        if words >= LONG_WORDS:
            break
    long_text = " ".join(long_parts)

    records = []
    def add(source, text):
        records.append({"id": len(records), "source": source, "text": text})
    for s in picks:
        add("sts", s)
    qtext_id = {}
    for qid in qids:
        qtext_id[qid] = len(records)
        add("scifact_query", queries[qid])
    dtext_id = {}
    for did in used_docs:
        title, text = corpus[did]
        dtext_id[did] = len(records)
        add("scifact_doc", title + " " + text)
    for t in edge_cases(long_text):
        add("edge", t)

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "texts.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            line = json_line(r)
            assert json.loads(line) == r
            f.write(line + "\n")
    with open(out / "scifact_qrels.tsv", "w", encoding="utf-8", newline="\n") as f:
        f.write("query_text_id\tdoc_text_id\tscifact_query_id\tscifact_doc_id\n")
        for qid, did in pairs:
            f.write(f"{qtext_id[qid]}\t{dtext_id[did]}\t{qid}\t{did}\n")
    write_safetensors_bytes(out / "texts.safetensors", [r["text"] for r in records])
    n_by = {}
    for r in records:
        n_by[r["source"]] = n_by.get(r["source"], 0) + 1
    print(f"wrote {len(records)} texts {n_by}; long text {len(long_text.split())} words")


if __name__ == "__main__":
    main()
