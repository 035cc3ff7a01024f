#!/usr/bin/env bash
# Builds a labelled spoken-language task from Debian-packaged speech (espeak-ng): 8 languages, each
# clip 3-6 random numbers ("4821, 37, 905", read as words in the voice's language) at a random
# speed and pitch, resampled to 16 kHz mono 16-bit WAV. Train, valid and test use different voice
# variants, so test voices are never heard in train or valid. Per language: 5 train variants x 12,
# 1 valid variant x 12, 3 test variants x 8 clips. Random choices use fixed seeds.
# languages-select.csv is for choosing a checkpoint (scripts/select-checkpoint.sh), never for test:
# the same train rows, and a wider validation split, valid's f3 plus 3 more variants x 8 clips that
# cover the kinds of voice test has (male m6, female f5, Klatt klatt4) without using test's voices.
# A single female variant alone did not predict test (see the model card).
#   scripts/make-language-task.sh [OUT_DIR]    (default $M2D_CACHE/tasks/languages, M2D_CACHE ~/.cache/m2d-serve)
# Then: m2d-train eval --model models/m2d-small-debian OUT_DIR/languages.csv
set -euo pipefail
OUT=${1:-${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}/tasks/languages}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need() { dpkg -s "$1" >/dev/null 2>&1 || { $SUDO apt-get install -y -qq "$1" >/dev/null; }; }
need espeak-ng; need sox
mkdir -p "$OUT/wav"
# Prints one "file|voice|speed|pitch|text|label|split" row per clip.
python3 - > "$OUT/rows.tmp" <<'EOF'
import random
languages = "en de fr es it pt nl pl".split()
splits = {"train": (["m1", "m2", "f1", "f2", "m3"], 12), "valid": (["f3"], 12), "test": (["m4", "f4", "klatt"], 8),
          "select": (["m6", "f5", "klatt4"], 8)}
for lang in languages:
    for split, (variants, n) in splits.items():
        for variant in variants:
            for i in range(n):
                name = f"{lang}_{variant}_{i:02d}"
                r = random.Random(name)
                text = ", ".join(str(r.randint(0, 10 ** r.randint(1, 4) - 1)) for _ in range(r.randint(3, 6)))
                print(f"wav/{name}.wav|{lang}+{variant}|{r.randint(130, 210)}|{r.randint(25, 75)}|{text}|{lang}|{split}")
EOF
echo "file,label,split" > "$OUT/languages.csv.tmp"
echo "file,label,split" > "$OUT/languages-select.csv.tmp"
while IFS='|' read -r f voice speed pitch text label split; do
  if [ ! -s "$OUT/$f" ]; then
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$OUT/tmp.wav" "$text" 2>/dev/null
    sox -G -D "$OUT/tmp.wav" -r 16000 -c 1 -b 16 -t wav "$OUT/$f.tmp" pad 0.1 0.1  # -G -D: no clipping, no (random) dither
    mv "$OUT/$f.tmp" "$OUT/$f"
  fi
  case $split in
    select) echo "$f,$label,valid" >> "$OUT/languages-select.csv.tmp" ;;
    test) echo "$f,$label,$split" >> "$OUT/languages.csv.tmp" ;;
    *) echo "$f,$label,$split" | tee -a "$OUT/languages-select.csv.tmp" >> "$OUT/languages.csv.tmp" ;;
  esac
done < "$OUT/rows.tmp"
rm -f "$OUT/tmp.wav" "$OUT/rows.tmp"
mv "$OUT/languages.csv.tmp" "$OUT/languages.csv"
mv "$OUT/languages-select.csv.tmp" "$OUT/languages-select.csv"
echo "espeak-ng $(dpkg-query -W -f='${Version}' espeak-ng), espeak-ng-data $(dpkg-query -W -f='${Version}' espeak-ng-data)," \
  "sox $(dpkg-query -W -f='${Version}' sox) -> $OUT/languages.csv ($(($(wc -l < "$OUT/languages.csv") - 1)) clips)"
