#!/usr/bin/env bash
# Faces beyond one portrait, checked by an independent detector.
#
# 1. Fetches the test faces (scripts/fetch-test-faces.sh: the NASA portrait and the
#    group photo t1.jpg of PyPI's insightface 0.7.3 source archive).
# 2. Runs capture/tests/capture_face_group.rs (release) with SHINSEI_FACE_OUT: the group
#    must be refused as several faces; each face, cut out with its surroundings and
#    placed in a 1080p frame, is cropped or refused; the photos made go to
#    target/face-check/ with faces.tsv and the reference portrait's photo.
# 3. Installs opencv-python-headless 4.x (the Haar cascades left the main package in
#    5.0) into a private venv and runs scripts/face_check.py on them: one centred face of
#    ID-photo size in every photo made.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/target/face-check"
venv="$here/target/qr-bench-venv"
"$here/scripts/fetch-test-faces.sh"
rm -rf "$out"
echo "== shinsei on the group photo and on each face alone (release)"
SHINSEI_FACE_OUT="$out" cargo test --release -q -p shinsei-capture --test capture_face_group \
  -- --nocapture --test-threads 1 2>&1 | grep -oE "(group photo: [0-9]+ faces found|face [0-9] at .*)" | sed 's/^/  /'
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "opencv-python-headless<5"
echo "== OpenCV Haar cascade on the photos made"
"$venv/bin/python" "$here/scripts/face_check.py" "$out"
