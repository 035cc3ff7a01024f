#!/usr/bin/env bash
# Regenerates the small decoder fixtures in Tests/Fixtures/audio (committed; needs sox, opus-tools).
# Each is a 0.75 s, 44.1 kHz stereo 440 Hz (left) / 660 Hz (right) tone at -6 dBFS.
set -euo pipefail
out="$(dirname "$0")/../Tests/Fixtures/audio"
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
sox -n -r 44100 -c 2 -b 16 "$tmp/src.wav" synth 0.75 sine 440 sine 660 gain -6
sox "$tmp/src.wav" -b 8 -e unsigned-integer "$out/pcm_u8.wav"
sox "$tmp/src.wav" -b 16 "$out/pcm_16.wav"
sox "$tmp/src.wav" -b 24 "$out/pcm_24.wav"
sox "$tmp/src.wav" -b 32 -e signed-integer "$out/pcm_32.wav"
sox "$tmp/src.wav" -b 32 -e floating-point "$out/float_32.wav"
sox "$tmp/src.wav" "$out/tone.flac"
sox "$tmp/src.wav" -C 3 "$out/tone_vorbis.ogg"
sox "$tmp/src.wav" -C 128 "$out/tone.mp3"
sox "$tmp/src.wav" -b 16 "$out/tone.aiff"
sox "$tmp/src.wav" -r 48000 "$tmp/src48.wav"
opusenc --quiet --bitrate 64 "$tmp/src48.wav" "$out/tone.opus"
# 10 channels: more than the decoder accepts.
sox -n -r 16000 -c 10 -b 16 "$out/ten_channels.wav" synth 0.2 sine 440
# 3 s mono: used for the header-based duration limit.
sox -n -r 16000 -c 1 -b 16 "$out/three_seconds.wav" synth 3 sine 300
ls -la "$out"
