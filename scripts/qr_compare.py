#!/usr/bin/env python3
"""Decode rate and median time of zxing-cpp and zbar on target/qr-corpus (truth.tsv)."""
import statistics
import sys
import time
from pathlib import Path

from PIL import Image


def load(corpus):
    rows = (Path(corpus) / "truth.tsv").read_text().splitlines()[1:]
    out = []
    for r in rows:
        f, cat, ident = r.split("\t")
        img = Image.open(Path(corpus) / f).convert("L")
        img.load()
        out.append((f, cat, ident, img))
    return out


def run(name, decode, frames):
    times, ok, per_cat = [], 0, {}
    for f, cat, ident, img in frames:
        t = time.perf_counter()
        texts = decode(img)
        times.append((time.perf_counter() - t) * 1000)
        hit = any(ident in s for s in texts)
        ok += hit
        a, n = per_cat.get(cat, (0, 0))
        per_cat[cat] = (a + hit, n + 1)
    cats = " ".join(f"{c}={a}/{n}" for c, (a, n) in per_cat.items())
    print(f"{name:<10} {ok}/{len(frames)} decoded, median {statistics.median(times):.1f} ms,"
          f" p95 {sorted(times)[int(0.95 * (len(times) - 1))]:.1f} ms  [{cats}]")


def main():
    frames = load(sys.argv[1] if len(sys.argv) > 1 else "target/qr-corpus")
    try:
        import zxingcpp

        fmt = zxingcpp.BarcodeFormat.QRCode
        run("zxing-cpp", lambda im: [r.text for r in zxingcpp.read_barcodes(im, formats=fmt)], frames)
    except ImportError as e:
        print("zxing-cpp unavailable:", e)
    try:
        from pyzbar import pyzbar

        run("zbar", lambda im: [s.data.decode("latin-1") for s in pyzbar.decode(im)], frames)
    except (ImportError, OSError) as e:
        print("zbar unavailable:", e)


if __name__ == "__main__":
    main()
