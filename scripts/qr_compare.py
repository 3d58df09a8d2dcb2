#!/usr/bin/env python3
"""Decode rate and time of zxing-cpp and zbar on target/qr-corpus (truth.tsv), and a
frame-by-frame comparison with shinsei's own times (shinsei.tsv, written by the corpus
test). Every decoder's time per frame is the median of 5 decodes of that frame.

With --real DIR SHINSEI_TSV: the real photos of printed codes (DIR/NAME.png with the
exact text in DIR/NAME.txt; the shared qr-real-dev set), per set (the name before the
first "_"): codes read with exactly the right text, wrong reads (a text that is not
NAME.txt; every code the decoder returns counts, as for shinsei), median and p95 time,
for zxing-cpp (text mode Plain: the payload's characters, no GS1 brackets) and for
shinsei from SHINSEI_TSV (written by capture/tests/capture_qr_real.rs)."""
import json
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

REPEAT = 5


def load(corpus):
    rows = (Path(corpus) / "truth.tsv").read_text().splitlines()[1:]
    out = []
    for r in rows:
        f, cat, ident = r.split("\t")
        img = Image.open(Path(corpus) / f).convert("L")
        img.load()
        out.append((f, cat, ident, img))
    return out


def p95(v):
    return sorted(v)[int(0.95 * (len(v) - 1))]


def run(name, decode, frames):
    """Returns {file: (ms, decoded)}."""
    per_frame, ok, per_cat = {}, 0, {}
    for f, cat, ident, img in frames:
        times, hit = [], False
        for _ in range(REPEAT):
            t = time.perf_counter()
            texts = decode(img)
            times.append((time.perf_counter() - t) * 1000)
            hit = any(ident in s for s in texts)
        ms = statistics.median(times)
        per_frame[f] = (ms, hit)
        ok += hit
        a, n = per_cat.get(cat, (0, 0))
        per_cat[cat] = (a + hit, n + 1)
    times = [ms for ms, _ in per_frame.values()]
    cats = " ".join(f"{c}={a}/{n}" for c, (a, n) in per_cat.items())
    print(f"{name:<10} {ok}/{len(frames)} decoded, median {statistics.median(times):.1f} ms,"
          f" p95 {p95(times):.1f} ms, max {max(times):.1f} ms  [{cats}]")
    return per_frame


def ours(corpus):
    path = Path(corpus) / "shinsei.tsv"
    if not path.exists():
        return None
    out = {}
    for r in path.read_text().splitlines()[1:]:
        f, ms, decoded = r.split("\t")
        out[f] = (float(ms), decoded == "true")
    times = [ms for ms, _ in out.values()]
    ok = sum(d for _, d in out.values())
    print(f"{'shinsei':<10} {ok}/{len(out)} decoded, median {statistics.median(times):.1f} ms,"
          f" p95 {p95(times):.1f} ms, max {max(times):.1f} ms  (from shinsei.tsv)")
    return out


def compare(name, mine, theirs):
    both = [f for f in mine if f in theirs]
    slower = [f for f in both if mine[f][0] > theirs[f][0]]
    only_theirs = [f for f in both if theirs[f][1] and not mine[f][1]]
    only_mine = [f for f in both if mine[f][1] and not theirs[f][1]]
    ratio = statistics.median(mine[f][0] / max(theirs[f][0], 1e-6) for f in both)
    print(f"shinsei vs {name}: slower on {len(slower)}/{len(both)} frames"
          f" {sorted(slower)}; median time ratio {ratio:.2f};"
          f" read only by {name}: {sorted(only_theirs)}; read only by shinsei: {sorted(only_mine)}")


def real(data_dir, shinsei_tsv):
    import zxingcpp

    fmt = zxingcpp.BarcodeFormat.QRCode
    mine = {}
    for r in Path(shinsei_tsv).read_text().splitlines()[1:]:
        f, ms, text = r.split("\t")
        mine[f] = (float(ms), None if text == "-" else json.loads(text))
    sets = {}
    for p in sorted(Path(data_dir).glob("*.png")):
        want = p.with_suffix(".txt").read_bytes().decode("utf-8")
        img = Image.open(p).convert("L")
        img.load()
        times, texts = [], []
        for _ in range(REPEAT):
            t = time.perf_counter()
            texts = [r.text for r in zxingcpp.read_barcodes(img, formats=fmt, text_mode=zxingcpp.TextMode.Plain)]
            times.append((time.perf_counter() - t) * 1000)
        zx = (statistics.median(times), want in texts, bool(texts) and want not in texts)
        ms, text = mine.get(p.name, (float("nan"), None))
        ours = (ms, text == want, text is not None and text != want)
        sets.setdefault(p.name.split("_")[0], []).append((p.name, zx, ours))
    print("| set | decoder | read exactly | wrong | median | p95 | read only by this one |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in sets.items():
        for who, k in (("shinsei", 2), ("zxing-cpp", 1)):
            other = 1 if k == 2 else 2
            ok = sum(r[k][1] for r in rows)
            wrong = sum(r[k][2] for r in rows)
            times = [r[k][0] for r in rows]
            only = [r[0].split("_", 1)[1] for r in rows if r[k][1] and not r[other][1]]
            print(f"| {name} | {who} | {ok}/{len(rows)} | {wrong} | {statistics.median(times):.1f} ms"
                  f" | {p95(times):.1f} ms | {' '.join(only) or '–'} |")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--real":
        real(sys.argv[2], sys.argv[3])
        return
    corpus = sys.argv[1] if len(sys.argv) > 1 else "target/qr-corpus"
    frames = load(corpus)
    mine = ours(corpus)
    results = {}
    try:
        import zxingcpp

        fmt = zxingcpp.BarcodeFormat.QRCode
        results["zxing-cpp"] = run(
            "zxing-cpp", lambda im: [r.text for r in zxingcpp.read_barcodes(im, formats=fmt)], frames)
    except ImportError as e:
        print("zxing-cpp unavailable:", e)
    try:
        from pyzbar import pyzbar

        results["zbar"] = run(
            "zbar", lambda im: [s.data.decode("latin-1") for s in pyzbar.decode(im)], frames)
    except (ImportError, OSError) as e:
        print("zbar unavailable:", e)
    if mine:
        for name, theirs in results.items():
            compare(name, mine, theirs)


if __name__ == "__main__":
    main()
