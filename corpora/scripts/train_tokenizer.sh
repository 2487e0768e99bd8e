#!/bin/sh
# Trains the bundled sentencepiece tokenizer on CORPUS_DIR/train/*.txt.
#
#   corpora/scripts/train_tokenizer.sh CORPUS_DIR
#
# Writes CORPUS_DIR/tokenizer/isotope-8k.model. Single-threaded with
# a fixed seed and no sentence sampling, so the model is byte-for-byte
# reproducible for a given sentencepiece version and corpus.
set -eu
corpus=${1:?usage: train_tokenizer.sh CORPUS_DIR}
export LC_ALL=C

# Relative paths: the model records its training options, inputs included.
cd "$corpus"
inputs=$(printf '%s\n' train/*.txt | sort | paste -sd, -)
mkdir -p tokenizer

spm_train \
  --input="$inputs" \
  --model_prefix=tokenizer/isotope-8k \
  --model_type=unigram \
  --vocab_size=8000 \
  --character_coverage=0.9995 \
  --byte_fallback=true \
  --normalization_rule_name=identity \
  --remove_extra_whitespaces=false \
  --add_dummy_prefix=true \
  --split_digits=true \
  --max_sentence_length=16384 \
  --input_sentence_size=0 \
  --shuffle_input_sentence=false \
  --num_threads=1 \
  --random_seed=20240607 \
  --minloglevel=1

# The vocabulary listing is derivable from the model
# (spm_export_vocab --model=tokenizer/isotope-8k.model): do not keep a copy.
rm -f tokenizer/isotope-8k.vocab
