#!/usr/bin/env bash
# Builds a labelled keyword task from Debian-packaged speech (espeak-ng voices and variants):
# 10 keywords spoken by many voice/variant/speed/pitch combinations, resampled to 16 kHz WAV.
# Test voices (accents and variants) are never seen in train or valid; valid has an accent of its own.
#   scripts/make-keyword-task.sh [OUT_DIR]    (default $M2D_CACHE/tasks/keywords, M2D_CACHE ~/.cache/m2d-serve)
# Then: m2d-train probe --model models/m2d-small-debian --labels OUT_DIR/keywords.csv --out models/m2d-small-debian/heads/keywords
set -euo pipefail
OUT=${1:-${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}/tasks/keywords}
command -v espeak-ng >/dev/null || { ${SUDO:-} apt-get install -y -qq espeak-ng >/dev/null; }
command -v sox >/dev/null || { ${SUDO:-} apt-get install -y -qq sox >/dev/null; }
mkdir -p "$OUT/wav"
words="yes no up down left right on off stop go"
# accent:variant lists per split (variants are espeak-ng voice variants, e.g. en-us+m3).
train="en-us+m1 en-us+m2 en-us+f1 en-us+f2 en+m3 en+f3 en-gb-x-rp+m4 en-gb-x-rp+klatt en-us+klatt2 en+m5"
# Valid uses an accent heard neither in train nor in test (New York City), so choosing a model or an
# early-stopping epoch on valid rewards what test measures: words in an unseen accent.
valid="en-us-nyc+m6 en-us-nyc+f4 en-us-nyc+m2"
test="en-gb-scotland+m1 en-gb-scotland+f2 en-029+m3 en-029+f1 en-gb-x-gbcwmd+m7 en-gb-x-gbclan+f5"
echo "file,label,split" > "$OUT/keywords.csv.tmp"
for split in train valid test; do
  for voice in ${!split}; do
    for w in $words; do
      for speed in 140 175 210; do
        for pitch in 35 65; do
          f="wav/${w}_${voice//+/_}_s${speed}_p${pitch}.wav"
          if [ ! -s "$OUT/$f" ]; then
            espeak-ng -v "$voice" -s $speed -p $pitch -w "$OUT/tmp.wav" "$w" 2>/dev/null
            sox "$OUT/tmp.wav" -r 16000 -c 1 -b 16 "$OUT/$f" pad 0.1 0.1
          fi
          echo "$f,$w,$split" >> "$OUT/keywords.csv.tmp"
        done
      done
    done
  done
done
rm -f "$OUT/tmp.wav"
mv "$OUT/keywords.csv.tmp" "$OUT/keywords.csv"
echo "espeak-ng $(dpkg-query -W -f='${Version}' espeak-ng) -> $OUT/keywords.csv ($(($(wc -l < "$OUT/keywords.csv") - 1)) clips)"
