#!/usr/bin/env python3
"""Writes the BEIR SciFact folder from the files committed in data/scifact/.

    python3 tools/scifact/prepare.py [--data data/scifact] [--out data/scifact/beir]
    python3 tools/scifact/prepare.py --demo 1152     # -> data/scifact/demo (scripts/demo.sh)

Output (the standard BEIR layout, read by sbert-mine and sbert-eval):
    <out>/corpus.jsonl      5,183 abstracts {"_id", "title", "text", "metadata"}, built from
                            scifact.zip:corpus_train.csv; byte-identical to BEIR's scifact
                            corpus.jsonl (sha256 checked below)
    <out>/queries.jsonl     copy of data/scifact/queries.jsonl (1,109 claims)
    <out>/qrels/train.tsv   copy (919 pairs, CRLF, header)
    <out>/qrels/test.tsv    copy (339 pairs, CRLF, header)

With --demo N the corpus keeps the 667 documents named by a train or test qrel plus N others
drawn with a fixed seed: a smaller retrieval task for the README demo (1,819 documents for
N = 1152), not SciFact's official corpus.

Python 3 standard library only. Every input and output is checked against its sha256, so the
result is the same on every machine; a run on an up-to-date folder rewrites nothing. Outputs
are written to a temporary name, fsynced and renamed: an interrupted run never leaves a partial
file. Exit status 1 with a one-line message on any mismatch.
"""
import argparse
import ast
import csv
import hashlib
import io
import json
import os
import random
import sys
import tempfile
import tokenize
import zipfile

# sha256 of the committed inputs (see data/scifact/README.md for their provenance).
INPUTS = {
    "scifact.zip": "a798a7046af0f6fa04476448459ce7cafeea5bd90d4d99c53a0e27dc5e1a4673",
    "queries.jsonl": "8ff84a7c903f722981cd8d595c022660140c51867b27608a6d4910db86080313",
    "qrels/train.tsv": "a53f2114831916c096b6c37d9e54da68cef4efdcdbd5ed46533601af972acf1d",
    "qrels/test.tsv": "0864bb985e0ca2367ba217977e72004d549054b2b06666ed9d4825ac7c21284c",
}
# BEIR's scifact/corpus.jsonl (8,106,566 bytes); our build reproduces it byte for byte.
CORPUS_SHA256 = "dec31c8182f3d744c7d2c09423756fd1d17cbef75808db13ba01cc0aab4d1ac6"
CORPUS_DOCS = 5183


class PrepError(Exception):
    pass


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def read_checked(path, expected):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PrepError(f"{path}: cannot read ({e.strerror})")
    got = sha256_bytes(data)
    if got != expected:
        raise PrepError(f"{path}: sha256 {got}, expected {expected}; is it the committed file?")
    return data


def parse_sentence_list(field, doc_id):
    """The `abstract` column is numpy's repr of an array of str: "['s1'\\n 's2' ...]".

    Adjacent literals have no commas between them, so Python's literal_eval would glue them
    into one string; instead each string token is evaluated on its own (escapes and both
    quote styles handled by Python's own tokenizer), and nothing but '[' strings ']' may
    appear."""
    sentences, others = [], []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(field).readline):
            if tok.type == tokenize.STRING:
                sentences.append(ast.literal_eval(tok.string))
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER,
                                  tokenize.INDENT, tokenize.DEDENT):
                others.append(tok.string)
    except (tokenize.TokenError, SyntaxError, ValueError) as e:
        raise PrepError(f"corpus_train.csv: doc {doc_id}: abstract is not a list of strings ({e})")
    if others != ["[", "]"] or not all(isinstance(s, str) for s in sentences):
        raise PrepError(f"corpus_train.csv: doc {doc_id}: abstract is not a list of strings "
                        f"(found {others[:4]})")
    return sentences


def build_corpus(zip_bytes):
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        csv_text = z.read("corpus_train.csv").decode("utf-8")
    csv.field_size_limit(1 << 30)
    reader = csv.DictReader(io.StringIO(csv_text, newline=""))
    if reader.fieldnames[:3] != ["doc_id", "title", "abstract"]:
        raise PrepError(f"corpus_train.csv: unexpected header {reader.fieldnames}")
    lines, seen = [], set()
    for row in reader:
        doc_id = row["doc_id"]
        if doc_id in seen:
            raise PrepError(f"corpus_train.csv: duplicate doc_id {doc_id}")
        seen.add(doc_id)
        sentences = parse_sentence_list(row["abstract"], doc_id)
        record = {"_id": doc_id, "title": row["title"],
                  "text": " ".join(s.strip() for s in sentences), "metadata": {}}
        lines.append(json.dumps(record))  # BEIR's own writer: ensure_ascii, ", " and ": "
    if len(lines) != CORPUS_DOCS:
        raise PrepError(f"corpus_train.csv: {len(lines)} documents, expected {CORPUS_DOCS}")
    return ("\n".join(lines) + "\n").encode("utf-8"), seen


def check_qrels(name, data, doc_ids, query_ids):
    rows = data.decode("utf-8").splitlines()
    if not rows or rows[0].split("\t")[:2] != ["query-id", "corpus-id"]:
        raise PrepError(f"{name}: missing the BEIR header line")
    for lineno, row in enumerate(rows[1:], start=2):
        q, d, _ = row.split("\t")
        if q not in query_ids:
            raise PrepError(f"{name}:{lineno}: query {q} is not in queries.jsonl")
        if d not in doc_ids:
            raise PrepError(f"{name}:{lineno}: document {d} is not in the corpus")
    return len(rows) - 1


def demo_corpus(corpus, inputs, extra):
    """Keeps the judged documents and `extra` others (random.Random(0) over sorted ids)."""
    judged = set()
    for name in ("qrels/train.tsv", "qrels/test.tsv"):
        for row in inputs[name].decode("utf-8").splitlines()[1:]:
            judged.add(row.split("\t")[1])
    lines = corpus.decode("utf-8").splitlines()
    ids = [json.loads(line)["_id"] for line in lines]
    others = sorted(i for i in ids if i not in judged)
    if extra < 0 or extra > len(others):
        raise PrepError(f"--demo {extra}: must be between 0 and {len(others)}")
    keep = judged | set(random.Random(0).sample(others, extra))
    kept = [line for i, line in zip(ids, lines) if i in keep]
    return ("\n".join(kept) + "\n").encode("utf-8"), keep


def write_atomic(path, data):
    """Writes unless the file already holds exactly these bytes. Returns True if written."""
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(root, "data", "scifact"),
                    help="folder with the committed scifact.zip, queries.jsonl, qrels/ "
                         "(default: %(default)s)")
    ap.add_argument("--out", default=None,
                    help="BEIR folder to write (default: <data>/beir, or <data>/demo with --demo)")
    ap.add_argument("--demo", type=int, default=None, metavar="N",
                    help="a smaller corpus for the README demo: every document named by a qrel "
                         "plus N others drawn with a fixed seed (file order kept)")
    args = ap.parse_args()
    out = args.out or os.path.join(args.data, "demo" if args.demo is not None else "beir")

    inputs = {name: read_checked(os.path.join(args.data, name), sha)
              for name, sha in INPUTS.items()}
    corpus, doc_ids = build_corpus(inputs["scifact.zip"])
    if sha256_bytes(corpus) != CORPUS_SHA256:
        raise PrepError(f"built corpus.jsonl has sha256 {sha256_bytes(corpus)}, expected "
                        f"{CORPUS_SHA256} (BEIR's scifact corpus)")
    query_ids = {json.loads(line)["_id"] for line in
                 inputs["queries.jsonl"].decode("utf-8").splitlines() if line.strip()}
    counts = {name: check_qrels(name, inputs[name], doc_ids, query_ids)
              for name in ("qrels/train.tsv", "qrels/test.tsv")}

    if args.demo is not None:
        corpus, doc_ids = demo_corpus(corpus, inputs, args.demo)
    outputs = [("corpus.jsonl", corpus)] + [(n, inputs[n]) for n in
                                           ("queries.jsonl", "qrels/train.tsv", "qrels/test.tsv")]
    written = [name for name, data in outputs if write_atomic(os.path.join(out, name), data)]
    print(f"prepare.py: {out}: {len(doc_ids)} documents, {len(query_ids)} queries, "
          f"{counts['qrels/train.tsv']} train and {counts['qrels/test.tsv']} test qrels; "
          f"{'wrote ' + ', '.join(written) if written else 'already up to date'}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PrepError as e:
        print(f"prepare.py: error: {e}", file=sys.stderr)
        sys.exit(1)
