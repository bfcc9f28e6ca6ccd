#!/usr/bin/env bash
# Assembles the seed corpus of every fuzz target into OUT/<target>/ from the committed seeds
# (tests/fuzz/corpus/<target>/: hand-made small inputs and the minimized inputs of findings)
# and from the project's fixtures and bundled data, as each target reads its input (several
# files joined by the separator line "@@@file@@@", tests/fuzz/support/fuzz_support.h).
#   tests/fuzz/seeds.sh OUT
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:?usage: tests/fuzz/seeds.sh OUT}
SEP=$'\n@@@file@@@\n'
F=tests/fixtures
D=tests/data

# join NAME TARGET FILE...: the files (a missing one as an empty part) joined by the separator.
join() {
  local target=$1 name=$2
  shift 2
  mkdir -p "$OUT/$target"
  local first=1
  {
    for f in "$@"; do
      [ $first = 1 ] || printf '%s' "$SEP"
      first=0
      [ -f "$f" ] && cat "$f"
    done
  } > "$OUT/$target/$name"
}

for t in tests/fuzz/corpus/*/; do
  mkdir -p "$OUT/$(basename "$t")"
  cp -f "$t"* "$OUT/$(basename "$t")/"
done

for s in "$F/train/clip.safetensors" "$F/train_run/objectives.safetensors" \
         "$F/tiny-roberta/embeddings.safetensors" "$F/tiny-xlmr/embeddings.safetensors"; do
  join safetensors "$(echo "$s" | tr / _)" "$s"
done

for m in tiny-bert tiny-bert-cls tiny-roberta tiny-xlmr; do
  join model_config "$m" $F/$m/config.json $F/$m/modules.json $F/$m/sentence_bert_config.json \
       $F/$m/1_Pooling/config.json $F/st-prompts/config_sentence_transformers.json
done

join tokenizer_json tiny-bert $F/tiny-bert/tokenizer.json $F/tiny-bert/tokenizer_config.json \
     $F/tiny-bert/special_tokens_map.json
join tokenizer_json roberta $F/tokenizers/roberta/tokenizer.json \
     $F/tokenizers/roberta/tokenizer_config.json
join vocab_txt tiny-bert $F/tiny-bert/vocab.txt $F/tiny-bert/tokenizer_config.json \
     $F/tiny-bert/special_tokens_map.json
join vocab_txt tiny-bert-plain $F/tiny-bert/vocab.txt
join bpe_files roberta $F/tokenizers/roberta-files/vocab.json \
     $F/tokenizers/roberta-files/merges.txt $F/tokenizers/roberta-files/tokenizer_config.json

join train_json quickstart data/quickstart/train.jsonl
join train_json train_run $F/train_run/train.jsonl
join train_json objectives $F/train_run/objectives.jsonl
join train_table triplets_csv $D/train_formats/triplets.csv
join train_table pairs_csv data/quickstart/pairs.csv
join train_table stsb_tsv /dev/null $D/train_formats/stsb_sample.tsv

for c in conf/demo.yaml conf/pairs_csv.yaml conf/stsb_cosent.yaml conf/scifact_matryoshka.yaml; do
  join yaml_config "$(basename "$c" .yaml)" "$c"
done
printf 'trainer:\n  max_steps: 3\nmodel:\n  optim:\n    lr: 1e-5\n%smodel.optim.lr=2e-5\ntrainer.max_epochs=2\n+model.x=1\n' "$SEP" \
  > "$OUT/yaml_config/overrides"

join beir tiny-beir $D/eval/tiny-beir/corpus.jsonl $D/eval/tiny-beir/queries.jsonl \
     $D/eval/tiny-beir/qrels/test.tsv
join beir quickstart data/quickstart/beir/corpus.jsonl data/quickstart/beir/queries.jsonl \
     data/quickstart/beir/qrels/test.tsv

join sts tiny-sts $D/eval/tiny-sts.tsv
join sts stsb-dev $F/eval/stsb-dev-sample.tsv

head -n 20 $D/texts.jsonl > "$OUT/texts.head.jsonl"
join texts sentences examples/data/sentences.txt "$OUT/texts.head.jsonl"
rm -f "$OUT/texts.head.jsonl"
join texts multilingual /dev/null $D/multilingual.jsonl
