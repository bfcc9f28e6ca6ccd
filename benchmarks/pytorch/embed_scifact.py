#!/usr/bin/env python3
"""Corpus embedding, the comparison people make: sentence-transformers, ONNX Runtime fp32/int8
and libsbert fp32/int8 on the same SciFact documents, the same threads, one run.

Texts: the first N documents of corpus.jsonl, title + " " + text stripped (as BEIR and sbert-eval
join them), truncated to the model's max_seq_length (256 for all-MiniLM-L6-v2).

Rows (every engine embeds every text; the best wall time of --repeat runs is reported, with its
CPU time):
  sentence-transformers  SentenceTransformer.encode(batch_size=32), torch.set_num_threads(T);
                         again with torch.set_float32_matmul_precision("medium") (bf16 matmuls;
                         PyTorch's "high" runs as fp32 on the CPU)
  onnxruntime fp32       the BertModel exported with torch.onnx.export; the pipeline of optimum /
                         fastembed: HF tokenizer (batches of 32, sorted by length, padded to the
                         longest) -> InferenceSession(intra_op_num_threads=T) -> mean pooling over
                         the attention mask -> L2 normalize
  onnxruntime int8       the same graph through onnxruntime.quantization.quantize_dynamic
                         (QInt8 weights, per_channel as --ort-per-channel, dynamic uint8
                         activations: what optimum's dynamic quantization and fastembed ship)
  libsbert fp32 / int8   sbert-embed --threads T [--matmul-precision high | --quantize int8] on a
                         JSONL of the same texts, timed as a process (model load and
                         tokenization included)
Quality: cosine of each row to sentence-transformers' fp32 embedding, min and mean; the faster
modes against their own fp32 (cosine and largest difference).
Prints a markdown table on stdout; --json FILE writes the raw numbers.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_seconds(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def timed(fn, repeat):
    """(best wall, CPU of that run, result of the last run)."""
    best = None
    out = None
    for _ in range(repeat):
        c0, t0 = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - t0, cpu_seconds(resource.RUSAGE_SELF) - c0
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return best[0], best[1], out


def load_texts(corpus, n):
    texts = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts.append((d.get("title", "") + " " + d["text"]).strip())
            if len(texts) == n:
                break
    return texts


def cosines(a, b):
    import numpy as np
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = (a.astype(np.float64) * b.astype(np.float64)).sum(axis=1)
    return float(c.min()), float(c.mean())


def export_onnx(model_dir, path, max_len):
    import torch
    from transformers import AutoModel
    class Wrapped(torch.nn.Module):  # positional inputs, the last hidden state out
        def __init__(self):
            super().__init__()
            self.m = AutoModel.from_pretrained(model_dir).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    m = Wrapped().eval()
    ids = torch.ones(2, 16, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(
            m, (ids, torch.ones_like(ids), torch.zeros_like(ids)), path,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                          ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
            opset_version=17, dynamo=False)


def ort_embed(session, tok, texts, batch, max_len):
    import numpy as np
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as encode(): longest first
    out = np.zeros((len(texts), 0), dtype=np.float32)
    rows = [None] * len(texts)
    names = {i.name for i in session.get_inputs()}
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len,
                  return_tensors="np")
        feed = {k: v.astype(np.int64) for k, v in enc.items() if k in names}
        h = session.run(None, feed)[0]  # (b, L, H)
        mask = enc["attention_mask"][..., None].astype(np.float32)
        e = (h * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        for j, i in enumerate(idx):
            rows[i] = e[j]
    out = np.stack(rows).astype(np.float32)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--corpus", default="data/scifact/beir/corpus.jsonl")
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--build", default="build")
    ap.add_argument("--ort-per-channel", action="store_true",
                    help="quantize_dynamic(per_channel=True) (default False, the usual setting)")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip: st-medium,ort,sbert")
    ap.add_argument("--json", help="also write the raw numbers here")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    texts = load_texts(args.corpus, args.docs)
    tmp = tempfile.mkdtemp(prefix="embed_scifact.")
    rows = []  # (name, wall, cpu, embeddings)

    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(args.model, device="cpu")
    max_len = st.max_seq_length
    st.encode(texts[:64], batch_size=args.batch_size)  # warm up
    wall, cpu, ref = timed(lambda: st.encode(texts, batch_size=args.batch_size,
                                             convert_to_numpy=True), args.repeat)
    rows.append(("sentence-transformers encode (PyTorch fp32)", wall, cpu, ref))
    if "st-medium" not in skip:
        # PyTorch's own faster fp32 matmuls: on the CPU "high" runs as "highest" (measured: same
        # error, same speed, torch 2.15), "medium" multiplies in bf16 (oneDNN, AMX).
        torch.set_float32_matmul_precision("medium")
        st.encode(texts[:64], batch_size=args.batch_size)
        wall, cpu, e = timed(lambda: st.encode(texts, batch_size=args.batch_size,
                                               convert_to_numpy=True), args.repeat)
        torch.set_float32_matmul_precision("highest")
        rows.append(("sentence-transformers, torch matmul precision 'medium' (bf16)", wall, cpu, e))

    if "ort" not in skip:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(args.model)
        fp32 = os.path.join(tmp, "model.onnx")
        int8 = os.path.join(tmp, "model_int8.onnx")
        export_onnx(args.model, fp32, max_len)
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=args.ort_per_channel)
        for name, path in [("ONNX Runtime fp32", fp32), ("ONNX Runtime int8 (quantize_dynamic)", int8)]:
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            ort_embed(sess, tok, texts[:64], args.batch_size, max_len)  # warm up
            wall, cpu, e = timed(lambda: ort_embed(sess, tok, texts, args.batch_size, max_len),
                                 args.repeat)
            rows.append((name, wall, cpu, e))

    if "sbert" not in skip:
        inp = os.path.join(tmp, "texts.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        exe = os.path.join(args.build, "bin", "sbert-embed")
        for name, extra in [("libsbert sbert-embed fp32", []),
                            ("libsbert sbert-embed fp32 --matmul-precision high (bf16x3, AMX)",
                             ["--matmul-precision", "high"]),
                            ("libsbert sbert-embed --quantize int8", ["--quantize", "int8"])]:
            out = os.path.join(tmp, "out.npy")
            cmd = [exe, "--model", args.model, "--input", inp, "--output", out, "--threads",
                   str(args.threads), "--batch-size", str(args.batch_size)] + extra

            def run():
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                return np.load(out)
            best = None
            for _ in range(args.repeat):
                c0, t0 = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
                e = run()
                wall, cpu = time.perf_counter() - t0, cpu_seconds(resource.RUSAGE_CHILDREN) - c0
                if best is None or wall < best[0]:
                    best = (wall, cpu)
            rows.append((name, best[0], best[1], e))

    st_wall = rows[0][1]
    print(f"{len(texts)} SciFact documents, max_seq_length {max_len}, batch {args.batch_size}, "
          f"{args.threads} threads, best of {args.repeat}; torch {torch.__version__}"
          + (f", onnxruntime {__import__('onnxruntime').__version__}" if "ort" not in skip else ""))
    print()
    print("| engine | time (s) | CPU (s) | docs/s | vs sentence-transformers | cosine to ST fp32 min / mean |")
    print("|---|---|---|---|---|---|")
    raw = []
    for name, wall, cpu, e in rows:
        cmin, cmean = cosines(ref, e)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {len(texts) / wall:.1f} | {st_wall / wall:.2f}x "
              f"| {cmin:.5f} / {cmean:.5f} |")
        raw.append({"engine": name, "wall_s": wall, "cpu_s": cpu, "docs": len(texts),
                    "cos_min": cmin, "cos_mean": cmean})
    # int8 against its own fp32 (the quantization's own cost)
    by = {r[0]: r[3] for r in rows}
    pairs = [("libsbert sbert-embed --quantize int8", "libsbert sbert-embed fp32"),
             ("libsbert sbert-embed fp32 --matmul-precision high (bf16x3, AMX)",
              "libsbert sbert-embed fp32"),
             ("ONNX Runtime int8 (quantize_dynamic)", "ONNX Runtime fp32"),
             ("sentence-transformers, torch matmul precision 'medium' (bf16)",
              "sentence-transformers encode (PyTorch fp32)")]
    print()
    for q, f in pairs:
        if q in by and f in by:
            cmin, cmean = cosines(by[f], by[q])
            dmax = float(np.abs(by[f].astype(np.float64) - by[q].astype(np.float64)).max())
            print(f"{q} vs {f}: cosine min {cmin:.7f}, mean {cmean:.7f}, max |difference| {dmax:.2e}")
            raw.append({"engine": q, "vs": f, "cos_min": cmin, "cos_mean": cmean, "max_abs": dmax})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
