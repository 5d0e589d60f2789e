#!/usr/bin/env python3
"""Writes the committed test fixtures under fixtures/ (deterministic: fixed seeds, fixed mtimes).

JSONL is written by Python's json module and compressed by the real CLIs (zstd, gzip, xz, bzip2).
Run via `make fixtures`. Parquet and WebDataset fixtures have their own scripts.
"""
import json
import os
import random
import shutil
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
LANGS = ["en", "de", "fr"]
LICENSES = ["cc-by", "mit", "unknown"]
TAGS = ["math", "news", "code", "fiction"]
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()
EXTRA = ["é", "中文", "\"quoted\"", "back\\slash", "tab\there", "line\nbreak", "emoji 🚀", "\u0001ctl"]
MTIME = 1_700_000_000


def record(rng, source, i):
    n = rng.randint(3, 40)
    text = " ".join(rng.choice(WORDS) for _ in range(n))
    if rng.random() < 0.3:
        text += " " + rng.choice(EXTRA)
    tags = sorted(set(rng.choice(TAGS) for _ in range(rng.randint(0, 2))))
    return {
        "id": f"{source}-{i:05d}",
        "text": text,
        "meta": {"language": rng.choice(LANGS), "license": rng.choice(LICENSES), "year": rng.randint(2000, 2024),
                 "tags": tags},
        "quality": round(rng.random(), 4),
        "token_count": n + 2,
    }


def write_jsonl(path, records, crlf=False, blank_every=0, bom=False, final_newline=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nl = "\r\n" if crlf else "\n"
    with open(path, "w", encoding="utf-8", newline="") as f:
        if bom:
            f.write("\ufeff")
        for i, r in enumerate(records):
            if blank_every and i and i % blank_every == 0:
                f.write("   " + nl)
            line = json.dumps(r, ensure_ascii=(i % 2 == 0))
            f.write(line)
            if final_newline or i < len(records) - 1:
                f.write(nl)


def compress(path, tool):
    cmds = {
        "zstd": ["zstd", "-q", "-f", "-3", "--rm", path, "-o", path + ".zst"],
        "gzip": ["gzip", "-n", "-f", path],
        "xz": ["xz", "-f", path],
        "bzip2": ["bzip2", "-f", path],
    }
    subprocess.run(cmds[tool], check=True)


def touch_all(root):
    for dirpath, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME))


def main():
    rng = random.Random(42)
    jsonl = os.path.join(ROOT, "jsonl")
    keep = None
    duck = os.path.join(jsonl, "duckdb", "records.json")
    if os.path.exists(duck):
        with open(duck, "rb") as f:
            keep = f.read()
    shutil.rmtree(jsonl, ignore_errors=True)
    if keep is not None:
        os.makedirs(os.path.dirname(duck))
        with open(duck, "wb") as f:
            f.write(keep)
    # Dataset "corpus": source from the path; several compressions.
    write_jsonl(f"{jsonl}/corpus/web/part-000.jsonl", [record(rng, "web", i) for i in range(300)], blank_every=37)
    write_jsonl(f"{jsonl}/corpus/web/part-001.jsonl", [record(rng, "web", 300 + i) for i in range(250)], crlf=True, bom=True,
                final_newline=False)
    write_jsonl(f"{jsonl}/corpus/web/part-002.jsonl", [record(rng, "web", 550 + i) for i in range(200)])
    compress(f"{jsonl}/corpus/web/part-002.jsonl", "zstd")
    write_jsonl(f"{jsonl}/corpus/github/code-000.jsonl", [record(rng, "github", i) for i in range(160)])
    compress(f"{jsonl}/corpus/github/code-000.jsonl", "gzip")
    write_jsonl(f"{jsonl}/corpus/books/books-000.jsonl", [record(rng, "books", i) for i in range(120)])
    compress(f"{jsonl}/corpus/books/books-000.jsonl", "xz")
    write_jsonl(f"{jsonl}/corpus/wiki/wiki-000.jsonl", [record(rng, "wiki", i) for i in range(140)])
    compress(f"{jsonl}/corpus/wiki/wiki-000.jsonl", "bzip2")
    # Multi-frame zstd (two frames concatenated) and multi-member gzip.
    os.makedirs(f"{jsonl}/multi", exist_ok=True)
    a = f"{jsonl}/multi/a.jsonl"
    b = f"{jsonl}/multi/b.jsonl"
    write_jsonl(a, [record(rng, "multi", i) for i in range(50)])
    write_jsonl(b, [record(rng, "multi", 50 + i) for i in range(50)])
    for tool, ext in (("zstd", ".zst"), ("gzip", ".gz")):
        parts = []
        for p in (a, b):
            out = subprocess.run([tool, "-n", "-c", p] if tool == "gzip" else [tool, "-q", "-c", p], check=True,
                                 capture_output=True).stdout
            parts.append(out)
        with open(f"{jsonl}/multi/frames.jsonl{ext}", "wb") as f:
            f.write(parts[0])
            if tool == "zstd":
                # A skippable frame between the two data frames.
                f.write(bytes([0x50, 0x2A, 0x4D, 0x18]) + (8).to_bytes(4, "little") + b"mixtera!")
            f.write(parts[1])
    # Multi-stream bzip2 and xz: two streams concatenated by the CLIs.
    for tool, ext in (("bzip2", ".bz2"), ("xz", ".xz")):
        with open(f"{jsonl}/multi/frames.jsonl{ext}", "wb") as f:
            for p in (a, b):
                f.write(subprocess.run([tool, "-c", p], check=True, capture_output=True).stdout)
    os.remove(a)
    os.remove(b)
    # A second JSON writer: duckdb's newline-delimited JSON (COPY … (FORMAT JSON)).
    try:
        import duckdb
    except ImportError:
        duckdb = None
    if duckdb is not None:
        os.makedirs(f"{jsonl}/duckdb", exist_ok=True)
        src = f"{jsonl}/duckdb/src.jsonl"
        write_jsonl(src, [record(rng, "duckdb", i) for i in range(60)])
        con = duckdb.connect()
        con.execute(f"COPY (SELECT * FROM read_json('{src}', format='newline_delimited') ORDER BY id) "
                    f"TO '{jsonl}/duckdb/records.json' (FORMAT JSON)")
        os.remove(src)
    else:
        print("duckdb not installed: keeping the committed fixtures/jsonl/duckdb/records.json", file=sys.stderr)
    touch_all(jsonl)

    # Bad inputs: each tested for kind and location.
    bad = os.path.join(ROOT, "bad", "jsonl")
    shutil.rmtree(bad, ignore_errors=True)
    os.makedirs(bad)
    good = json.dumps({"text": "ok", "meta": {"language": "en"}})
    cases = {
        "invalid-json.jsonl": good + "\n" + '{"text": "a", "meta": {"language": "en"' + "\n",
        "not-object.jsonl": good + "\n" + good + "\n" + "[1, 2, 3]\n",
        "type-mismatch.jsonl": good + "\n" + '{"text": "x", "meta": {"language": 7}}' + "\n",
        "missing-text.jsonl": '{"meta": {"language": "en"}}\n',
        "bad-escape.jsonl": '{"text": "bad \\q escape", "meta": {"language": "en"}}\n',
        "trailing-garbage.jsonl": good + " x\n",
        "truncated.jsonl.zst": None,
    }
    for name, content in cases.items():
        if content is not None:
            with open(os.path.join(bad, name), "w", encoding="utf-8") as f:
                f.write(content)
    payload = "".join(json.dumps({"text": "t" * 50, "meta": {"language": "en"}}) + "\n" for _ in range(200))
    z = subprocess.run(["zstd", "-q", "-c"], input=payload.encode(), check=True, capture_output=True).stdout
    with open(os.path.join(bad, "truncated.jsonl.zst"), "wb") as f:
        f.write(z[: len(z) // 2])
    # Byte-level cases (docs/security.md): invalid UTF-8 in a categorical value, NUL bytes, empty.
    raw = {
        "invalid-utf8-value.jsonl": good.encode() + b'\n{"text": "bad", "meta": {"language": "caf\xe9"}}\n',
        "nul-byte.jsonl": good.encode() + b'\n{"text": "a\x00b", "meta": {"language": "en"}}\n',
        "nul-after-object.jsonl": good.encode() + b"\n" + good.encode() + b"\x00\n",
        "empty.jsonl": b"",
    }
    for name, content in raw.items():
        with open(os.path.join(bad, name), "wb") as f:
            f.write(content)
    touch_all(bad)
    print("fixtures written under", os.path.relpath(ROOT))


if __name__ == "__main__":
    sys.exit(main())
