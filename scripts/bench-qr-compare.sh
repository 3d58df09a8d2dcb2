#!/usr/bin/env bash
# Compares shinsei's QR scanner with zxing-cpp and zbar on the same generated corpus.
#
# 1. Writes the 1080p corpus (PNG + truth.tsv) to target/qr-corpus/ by running the
#    corpus test with SHINSEI_QR_CORPUS set (release build).
# 2. Installs zxing-cpp and pyzbar from PyPI into a private venv (target/qr-bench-venv);
#    pyzbar needs the zbar shared library: Debian package `libzbar0` (installed with
#    apt-get when missing and running as root).
# 3. Runs ours (the corpus test prints per-category rates, overall rate and median, and
#    writes each frame's time to shinsei.tsv) and scripts/qr_compare.py for zxing-cpp and
#    zbar (rate, median/p95/max, each frame the median of 5 decodes), then compares
#    frame by frame.
# 4. The real photos of printed codes (the shared qr-real-dev set, when present beside the
#    work tree or at $SHINSEI_QR_REAL_DIR), each set its own rows: shinsei's raw reader
#    (capture/tests/capture_qr_real.rs, release, writing target/qr-real/shinsei.tsv) and
#    zxing-cpp, codes read with exactly the text of NAME.txt, wrong reads, times.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$here/target/qr-corpus"
venv="$here/target/qr-bench-venv"

echo "== shinsei (rqrr + pre-processing, release, one core); also writes the corpus to $corpus"
SHINSEI_QR_CORPUS="$corpus" cargo test --release -q -p shinsei-capture --test capture_qr \
  corpus_decode_rates -- --nocapture --test-threads 1 2>&1 | grep -E "^qr corpus" | sed 's/^/  /'

if ! ldconfig -p 2>/dev/null | grep -q libzbar.so; then
  if [[ "$(id -u)" == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzbar0 >/dev/null || echo "warning: libzbar0 not installed; zbar skipped"
  else
    echo "warning: libzbar0 missing (apt-get install libzbar0); zbar skipped"
  fi
fi
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check zxing-cpp pyzbar pillow

echo "== zxing-cpp / zbar, and frame by frame"
"$venv/bin/python" "$here/scripts/qr_compare.py" "$corpus"

real_dir="${SHINSEI_QR_REAL_DIR:-$here/../shared/data/qr-real-dev}"
if [[ -d "$real_dir" ]]; then
  echo "== real photos ($real_dir): shinsei's raw reader, then both decoders per set"
  mkdir -p "$here/target/qr-real"
  SHINSEI_QR_REAL_DIR="$real_dir" SHINSEI_QR_REAL_OUT="$here/target/qr-real/shinsei.tsv" \
    cargo test --release -q -p shinsei-capture --test capture_qr_real -- --nocapture 2>&1 \
    | grep -E "^qr real" | sed 's/^/  /'
  "$venv/bin/python" "$here/scripts/qr_compare.py" --real "$real_dir" "$here/target/qr-real/shinsei.tsv"
else
  echo "== real photos skipped: no $real_dir (set SHINSEI_QR_REAL_DIR)"
fi
