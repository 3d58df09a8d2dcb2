#!/usr/bin/env python3
"""Independent check of the ID photos made from the group photo's faces
(capture/tests/capture_face_group.rs with SHINSEI_FACE_OUT): OpenCV's Haar cascade
(haarcascade_frontalface_default, from opencv-python-headless) must find exactly one
face in each photo made, centred (its centre within 8 % of the width of the middle) and
of ID-photo size: the cascade's box on the reference portrait's photo (astronaut) is the
yardstick (width within ±20 % of it). Also measures the eye line's angle with the eye
cascade on every placed face, to compare with the roll check's verdict.
Usage: face_check.py DIR   (DIR holds faces.tsv, face-N.jpg and reference.jpg)"""
import math
import sys
from pathlib import Path

import cv2

CASCADE = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
EYES = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")


def eye_line(path):
    """Angle (degrees) of the line through the two eyes of the largest Haar face in the
    placed frame, or None when the cascade does not find one face with two eyes."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    found = CASCADE.detectMultiScale(img, scaleFactor=1.05, minNeighbors=5, minSize=(100, 100))
    if len(found) == 0:
        return None
    x, y, w, h = max(found, key=lambda f: f[2])
    top = img[y:y + h * 6 // 10, x:x + w]
    eyes = EYES.detectMultiScale(top, scaleFactor=1.05, minNeighbors=6, minSize=(w // 10, w // 10))
    if len(eyes) < 2:
        return None
    a, b = sorted(sorted(eyes, key=lambda e: -e[2])[:2], key=lambda e: e[0])
    (ax, ay), (bx, by) = (a[0] + a[2] / 2, a[1] + a[3] / 2), (b[0] + b[2] / 2, b[1] + b[3] / 2)
    return math.degrees(math.atan2(by - ay, bx - ax))


def faces(path):
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    found = CASCADE.detectMultiScale(img, scaleFactor=1.05, minNeighbors=5, minSize=(60, 60))
    return img.shape, [tuple(int(v) for v in f) for f in found]


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "target/face-check")
    (rh, rw), ref = faces(d / "reference.jpg")
    if len(ref) != 1:
        sys.exit(f"reference photo: {len(ref)} Haar faces, expected 1")
    ref_w = ref[0][2]
    print(f"reference (astronaut) photo {rw}x{rh}: Haar face {ref_w} px wide")
    rows = (d / "faces.tsv").read_text().splitlines()[1:]
    bad = 0
    print("| face | shinsei (roll °) | eye line (Haar eyes) | Haar faces in the photo | centre offset | width vs reference | verdict |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        face, file, outcome, _mm, _top, _off, roll = r.split("\t")
        eyes = eye_line(d / f"placed-{face}.png")
        eyes = "–" if eyes is None else f"{eyes:+.0f}°"
        head = f"| {face} | {outcome} ({roll}) | {eyes} |"
        if file == "-":
            print(f"{head} – | – | – | refused by shinsei |")
            continue
        (h, w), found = faces(d / file)
        if len(found) != 1:
            bad += 1
            print(f"{head} {len(found)} | – | – | FAIL |")
            continue
        x, y, fw, fh = found[0]
        off = abs(x + fw / 2 - w / 2) / w
        size = fw / ref_w
        ok = off <= 0.08 and 0.8 <= size <= 1.2
        bad += not ok
        print(f"{head} 1 | {off * 100:.1f} % of width | {size:.2f}× | {'ok' if ok else 'FAIL'} |")
    print(f"{bad} photo(s) failed the independent check")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
