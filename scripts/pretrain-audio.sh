#!/usr/bin/env bash
# Pre-training audio from Debian packages, outside the repo (default ~/.cache/m2d/pretrain-audio):
#  - speech: sentences of Debian's license texts (/usr/share/common-licenses) read by espeak-ng in
#    many voices, variants, speeds and pitches, grouped into ~10 s clips;
#  - sound effects: the OGG sounds of sound-theme-freedesktop, fetched with `apt-get download` and
#    unpacked (never installed).
# Everything is converted to 16 kHz mono WAV. SOURCES.txt lists every package and version used.
# Reserved for held-out evaluation and never used here: hydrogen-drumkits, tuxpaint-stamps-default,
# hedgewars-data and the MuseScore General soundfonts.
#   scripts/pretrain-audio.sh [OUT_DIR] [SPEECH_CLIPS]
set -euo pipefail
OUT=${1:-$HOME/.cache/m2d/pretrain-audio}
CLIPS=${2:-600}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need() { dpkg -s "$1" >/dev/null 2>&1 || { $SUDO apt-get install -y -qq "$1" >/dev/null; }; }
need espeak-ng; need sox
mkdir -p "$OUT/speech" "$OUT/effects" "$OUT/debs"
: > "$OUT/SOURCES.txt.tmp"
echo "espeak-ng $(dpkg-query -W -f='${Version}' espeak-ng)" >> "$OUT/SOURCES.txt.tmp"
echo "espeak-ng-data $(dpkg-query -W -f='${Version}' espeak-ng-data)" >> "$OUT/SOURCES.txt.tmp"
echo "base-files (license texts) $(dpkg-query -W -f='${Version}' base-files)" >> "$OUT/SOURCES.txt.tmp"

# Sentences from the license texts.
cat /usr/share/common-licenses/{GPL-3,LGPL-3,Apache-2.0,MPL-2.0,Artistic,GFDL-1.3} 2>/dev/null \
  | tr '\n' ' ' | sed 's/  */ /g' | tr '.;:' '\n\n\n' | awk 'length($0) > 40 && length($0) < 220' > "$OUT/sentences.txt"
mapfile -t sentences < "$OUT/sentences.txt"
voices=(en-us en en-gb-scotland en-029 en-gb-x-rp de fr es it pt nl pl sv)
variants=("" +m1 +m2 +m3 +m4 +f1 +f2 +f3 +f4 +klatt +klatt2)
n=${#sentences[@]}
for i in $(seq 0 $((CLIPS - 1))); do
  f="$OUT/speech/s$(printf %05d $i).wav"
  [ -s "$f" ] && continue
  v=${voices[$((i % ${#voices[@]}))]}${variants[$(((i / ${#voices[@]}) % ${#variants[@]}))]}
  text="${sentences[$(((i * 7) % n))]}. ${sentences[$(((i * 7 + 3) % n))]}."
  espeak-ng -v "$v" -s $((130 + (i * 13) % 80)) -p $((30 + (i * 17) % 50)) -w "$OUT/tmp.wav" "$text" 2>/dev/null || continue
  sox "$OUT/tmp.wav" -r 16000 -c 1 -b 16 "$f" 2>/dev/null || true
done
rm -f "$OUT/tmp.wav"

# Sound effects from a package fetched (not installed) with apt-get download.
for pkg in sound-theme-freedesktop; do
  (cd "$OUT/debs" && apt-get download -qq "$pkg" >/dev/null 2>&1) || { echo "could not download $pkg (run apt-get update?)"; continue; }
  deb=$(ls "$OUT"/debs/${pkg}_*.deb | head -1)
  mkdir -p "$OUT/debs/$pkg" && dpkg-deb -x "$deb" "$OUT/debs/$pkg"
  echo "$pkg $(dpkg-deb -f "$deb" Version)" >> "$OUT/SOURCES.txt.tmp"
  find "$OUT/debs/$pkg" -type f \( -name '*.oga' -o -name '*.ogg' -o -name '*.wav' \) | while read -r s; do
    sox "$s" -r 16000 -c 1 -b 16 "$OUT/effects/${pkg}_$(basename "${s%.*}").wav" 2>/dev/null || true
  done
done
mv "$OUT/SOURCES.txt.tmp" "$OUT/SOURCES.txt"
secs=$(find "$OUT/speech" "$OUT/effects" -name '*.wav' -exec soxi -D {} + 2>/dev/null | awk '{s+=$1} END {printf "%.0f", s}')
echo "$(find "$OUT/speech" "$OUT/effects" -name '*.wav' | wc -l) clips, $((secs / 60)) minutes -> $OUT"
cat "$OUT/SOURCES.txt"
