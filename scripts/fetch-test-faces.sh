#!/usr/bin/env bash
# Installs the face test images used by capture/tests/capture_face.rs and the capture benchmarks.
#
# Source: scikit-image's bundled sample data (PyPI wheel `scikit-image`), file
# skimage/data/astronaut.png: "Eileen Collins, NASA portrait (1999), public domain"
# (see skimage/data/README.txt inside the wheel and skimage.data.astronaut's docstring).
# Nothing is fetched from the web: only the package registry through pip.
#
# Second source: the group photo insightface/data/images/t1.jpg (six people at a table)
# from the source archive of PyPI's `insightface==0.7.3` (package licence MIT; pip
# downloads the sdist and prepares its metadata, nothing is installed). Used by
# capture/tests/capture_face_group.rs and scripts/bench-face-check.sh.
#
# Output: target/test-faces/astronaut.png and group-t1.jpg (the tests look there;
# override with SHINSEI_TEST_FACES=/some/dir). Neither image is in the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${SHINSEI_TEST_FACES:-$here/target/test-faces}"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PY="${PYTHON:-python3}"

if [[ -s "$out/astronaut.png" ]]; then
  echo "fetch-test-faces: $out/astronaut.png already present"
else
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
fi

if [[ -s "$out/group-t1.jpg" ]]; then
  echo "fetch-test-faces: $out/group-t1.jpg already present"
else
  # --no-binary for insightface only: its sdist holds the image (build tools as wheels).
  "$PY" -m pip download --quiet --no-deps --no-binary=insightface -d "$tmp" "insightface==0.7.3"
  sdist="$(ls "$tmp"/insightface-0.7.3.tar.gz)"
  "$PY" - "$sdist" "$out" <<'PYEOF'
import sys, tarfile, hashlib, os
sdist, out = sys.argv[1], sys.argv[2]
want = "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489"
with tarfile.open(sdist) as t:
    data = t.extractfile("insightface-0.7.3/insightface/data/images/t1.jpg").read()
got = hashlib.sha256(data).hexdigest()
if got != want:
    sys.exit(f"fetch-test-faces: t1.jpg sha256 {got}, expected {want}")
tmp = os.path.join(out, "group-t1.jpg.part")
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, os.path.join(out, "group-t1.jpg"))
with open(os.path.join(out, "LICENSE-group-t1.txt"), "w") as f:
    f.write("group-t1.jpg: insightface/data/images/t1.jpg from the source archive of PyPI's\n"
            "insightface 0.7.3 (package licence MIT). Test input only; not redistributed.\n")
print("fetch-test-faces: wrote", os.path.join(out, "group-t1.jpg"), "sha256", got)
PYEOF
fi
