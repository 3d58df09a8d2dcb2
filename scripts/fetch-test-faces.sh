#!/usr/bin/env bash
# Installs the face test images used by capture/tests/capture_face.rs and the capture benchmarks.
#
# Source: scikit-image's bundled sample data (PyPI wheel `scikit-image`), file
# skimage/data/astronaut.png: "Eileen Collins, NASA portrait (1999), public domain"
# (see skimage/data/README.txt inside the wheel and skimage.data.astronaut's docstring).
# Nothing is fetched from the web: only the package registry through pip.
#
# Output: target/test-faces/astronaut.png (the tests look there; override with
# SHINSEI_TEST_FACES=/some/dir).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${SHINSEI_TEST_FACES:-$here/target/test-faces}"
want_sha="${ASTRONAUT_SHA256:-}"
mkdir -p "$out"
if [[ -s "$out/astronaut.png" ]]; then
  echo "fetch-test-faces: $out/astronaut.png already present"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PY="${PYTHON:-python3}"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "scikit-image==${SKIMAGE_VERSION:-0.26.0}"
whl="$(ls "$tmp"/scikit_image-*.whl | head -1)"
"$PY" - "$whl" "$out" <<'PYEOF'
import sys, zipfile, hashlib, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    data = z.read("skimage/data/astronaut.png")
    try:
        readme = z.read("skimage/data/README.txt")
    except KeyError:
        readme = b""
tmp = os.path.join(out, "astronaut.png.part")
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, os.path.join(out, "astronaut.png"))
with open(os.path.join(out, "LICENSE-astronaut.txt"), "w") as f:
    f.write("astronaut.png: Eileen Collins, NASA portrait; public domain.\n"
            "Copied from the scikit-image wheel (skimage/data/astronaut.png).\n")
print("fetch-test-faces: wrote", os.path.join(out, "astronaut.png"),
      "sha256", hashlib.sha256(data).hexdigest())
PYEOF
