#!/usr/bin/env bash
# Regenerates samples/sample.flac from samples/sample.txt with espeak-ng and sox
# (Debian: apt-get install espeak-ng sox). One sentence a line, 0.8 s of silence between them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
i=0; parts=()
while IFS= read -r line; do
  [ -n "$line" ] || continue
  espeak-ng -v en-us -s 150 -w "$tmp/$i.wav" "$line"
  sox "$tmp/$i.wav" -r 16000 -c 1 -b 16 "$tmp/$i.16k.wav" pad 0 0.8
  parts+=("$tmp/$i.16k.wav"); i=$((i+1))
done < "$here/sample.txt"
sox "${parts[@]}" "$here/sample.flac"
soxi "$here/sample.flac"
