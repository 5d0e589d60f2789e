#!/usr/bin/env python3
"""Rebuilds fixtures/wds/ and fixtures/bad/wds/ (tar walker and WebDataset grouping tests).

Deterministic: fixed mtimes, owners and modes; gzip -n; GNU tar with --sort=name and fixed pax header names.
Pinned tools (recorded in fixtures/wds/TOOLS.txt): Python 3.11 tarfile, webdataset 1.0.2 (pip), GNU tar 1.34,
gzip 1.12, zstd 1.5.4. Run from the package root:

    pip install webdataset==1.0.2 && python3 scripts/make-wds-fixtures.py

For every good fixture `X.tar[.gz|.zst]` the script writes `X.expected.json` from Python's own reading of
the archive (members with `offset`/`offset_data`) and the WebDataset rule, and cross-checks the samples against
webdataset's `group_by_keys` (extensions compared lowercased, as webdataset lowercases them).
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import webdataset
import webdataset.tariterators as wdsit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOD = os.path.join(ROOT, "fixtures", "wds")
BAD = os.path.join(ROOT, "fixtures", "bad", "wds")
MTIME = 1_700_000_000


# ---------------------------------------------------------------------------------------------- helpers

def info(name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) else 0
    ti.type = kind
    ti.linkname = linkname
    ti.mtime = MTIME
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.uid = ti.gid = 1000
    ti.uname = ti.gname = "mixtera"
    return ti


def write_tar(path, fmt, entries, pax_headers=None):
    """entries: list of (name, data) for files, or (name, None, kind, linkname)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers=pax_headers or {}) as tf:
        for e in entries:
            if len(e) == 2:
                name, data = e
                tf.addfile(info(name, data), io.BytesIO(data))
            else:
                name, _, kind, link = e
                tf.addfile(info(name, b"", kind, link))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def payload(tag, n):
    """Deterministic bytes: repeat `tag` to n bytes."""
    t = tag.encode()
    return (t * (n // len(t) + 1))[:n]


def checksum(block):
    b = bytearray(block)
    b[148:156] = b" " * 8
    return sum(b)


def raw_header(name, size, typeflag=b"0", magic=b"ustar\x0000", prefix=b"", size_field=None, linkname=b""):
    """A hand-built 512-byte header (for dialects Python cannot write: v7, base-256 sizes)."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\x00"
    h[108:116] = b"0001750\x00"
    h[116:124] = b"0001750\x00"
    h[124:136] = size_field if size_field is not None else b"%011o\x00" % size
    h[136:148] = b"%011o\x00" % MTIME
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    h[257:265] = magic
    h[345:345 + len(prefix)] = prefix
    h[148:156] = b"%06o\x00 " % checksum(h)
    return bytes(h)


def raw_member(name, data, **kw):
    pad = (-len(data)) % 512
    return raw_header(name, len(data), **kw) + data + b"\x00" * pad


def pax_block(records, typeflag=b"x", name=b"PaxHeader/x"):
    body = b""
    for k, v in records:
        rec = b" %s=%s\n" % (k, v)
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n = len(str(n)) + len(rec)
        body += str(n).encode() + rec
    return raw_member(name, body, typeflag=typeflag)


def kind_of(ti):
    if ti.isreg():
        return "regular"
    if ti.isdir():
        return "directory"
    if ti.issym():
        return "symlink"
    if ti.islnk():
        return "hardlink"
    return "other"


def has_data(ti):
    return ti.isreg() or ti.type not in tarfile.SUPPORTED_TYPES


def wds_split(name):
    """mixtera's rule (see docs/webdataset.md): webdataset's base_plus_ext, plus skips."""
    first = name.split("/", 1)[0]
    if len(first) >= 4 and first.startswith("__") and first.endswith("__"):
        return None, "metadata"
    base = name.rsplit("/", 1)[-1]
    if "." not in base:
        return None, "no-extension"
    if base.startswith("."):
        return None, "hidden"
    dot = len(name) - len(base) + base.index(".")
    key, ext = name[:dot], name[dot + 1:]
    ref = wdsit.base_plus_ext(name)
    assert ref == (key, ext), (name, ref, key, ext)
    return (key, ext), None


def expected_for(tar_bytes):
    tf = tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:")
    members, samples = [], []
    skipped = {"not-regular": 0, "no-extension": 0, "hidden": 0, "metadata": 0}
    for i, ti in enumerate(tf.getmembers()):
        size = ti.size if has_data(ti) else 0
        data = tar_bytes[ti.offset_data:ti.offset_data + size]
        name = ti.name.rstrip("/") if ti.isdir() else ti.name
        m = {"index": i, "name": name, "kind": kind_of(ti), "header_offset": ti.offset,
             "data_offset": ti.offset_data, "size": size}
        if ti.issym() or ti.islnk():
            m["link"] = ti.linkname
        if ti.isreg() and size <= 256:
            m["data_hex"] = data.hex()
        members.append(m)
        if not ti.isreg():
            skipped["not-regular"] += 1
            continue
        split, why = wds_split(ti.name)
        if split is None:
            skipped[why] += 1
            continue
        key, ext = split
        entry = {"ext": ext, "name": ti.name, "data_offset": ti.offset_data, "size": size, "member_index": i}
        if samples and samples[-1]["key"] == key:
            assert ext not in [e["ext"] for e in samples[-1]["members"]], ("duplicate", ti.name)
            samples[-1]["members"].append(entry)
        else:
            samples.append({"key": key, "index": len(samples), "members": [entry]})
    return {"members": members, "samples": samples, "skipped": skipped}


def cross_check_webdataset(tar_bytes, expected):
    """webdataset's own grouping (minus names mixtera skips as hidden) must give the same samples."""
    hidden = {s["name"] for s in expected["members"] if wds_split(s["name"])[1] == "hidden"}
    stream = [dict(fname=f["fname"], data=f["data"], __url__="x")
              for f in wdsit.tar_file_iterator(io.BytesIO(tar_bytes)) if f["fname"] not in hidden]
    ref = [(s["__key__"], sorted(k for k in s if not k.startswith("__"))) for s in wdsit.group_by_keys(stream)]
    ours = [(s["key"], sorted(m["ext"].lower() for m in s["members"])) for s in expected["samples"]]
    assert ref == ours, (ref, ours)


def emit_good(name, tar_bytes_for_expected=None):
    path = os.path.join(GOOD, name)
    with open(path, "rb") as f:
        raw = f.read()
    tar_bytes = tar_bytes_for_expected if tar_bytes_for_expected is not None else raw
    exp = expected_for(tar_bytes)
    cross_check_webdataset(tar_bytes, exp)
    stem = name.split(".tar")[0] + (".tar" + name.split(".tar")[1] if name.split(".tar")[1] else ".tar")
    with open(os.path.join(GOOD, stem + ".expected.json"), "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def run(*args, cwd=None, stdout=None):
    env = dict(os.environ, LC_ALL="C.UTF-8", TZ="UTC")
    subprocess.run(args, cwd=cwd, check=True, env=env, stdout=stdout)


# ---------------------------------------------------------------------------------------------- good

LONG_DIR = "deep/" + "/".join(["segment%02d" % i for i in range(12)])          # 112 bytes
LONG_BASE = "sample_" + "x" * 80                                              # 87 bytes
NON_ASCII = [("données/échantillon_ü.txt", "é"), ("日本語/サンプル.json", "{\"lang\":\"ja\"}"),
             ("emoji/😀.txt", "smile")]


def sample_entries(with_long):
    e = []
    for i in range(3):
        key = "s%04d" % i
        e.append((key + ".json", b'{"source":"web","i":%d}' % i))
        e.append((key + ".txt", payload("text%d " % i, 100 + 300 * i)))
        e.append((key + ".cls", b"%d" % (i % 2)))
    if with_long:
        e.append((LONG_DIR + "/", None, tarfile.DIRTYPE, ""))
        e.append((LONG_DIR + "/" + LONG_BASE + ".txt", payload("long", 700)))
        e.append((LONG_DIR + "/" + LONG_BASE + ".json", b"{}"))
    for n, t in NON_ASCII:
        e.append((n, t.encode()))
    return e


def make_good():
    # Python tarfile, three formats.
    write_tar(os.path.join(GOOD, "python-ustar.tar"), tarfile.USTAR_FORMAT, sample_entries(True))
    very_long = "very/" + "long/" * 60 + "name.with.dots.txt"                # > 255 bytes: pax path only
    pax = sample_entries(True) + [(very_long, b"v"), ("link.txt", None, tarfile.SYMTYPE, "x" * 150 + ".txt")]
    write_tar(os.path.join(GOOD, "python-pax.tar"), tarfile.PAX_FORMAT, pax)
    gnu = sample_entries(True) + [(very_long, b"v"), ("link.txt", None, tarfile.SYMTYPE, "y" * 150 + ".txt")]
    write_tar(os.path.join(GOOD, "python-gnu.tar"), tarfile.GNU_FORMAT, gnu)
    # pax with a global header ('g') first.
    write_tar(os.path.join(GOOD, "python-pax-global.tar"), tarfile.PAX_FORMAT, sample_entries(False)[:6],
              pax_headers={"comment": "mixtera fixture"})

    # webdataset's TarWriter.
    with open(os.path.join(GOOD, "webdataset-writer.tar"), "wb") as f:
        w = webdataset.TarWriter(f, mtime=MTIME, user="mixtera", group="mixtera")
        for i in range(4):
            w.write({"__key__": "shard/%06d" % i, "txt": "hello %d" % i,
                     "json": {"source": ["web", "code"][i % 2], "id": i}, "cls": i % 3})
        w.close()

    # GNU tar CLI, three formats, from a staged tree with dotted directories and non-ASCII names.
    stage = tempfile.mkdtemp()
    try:
        tree = os.path.join(stage, "tree")
        files = {
            "a.b/c.0001.txt": b"first", "a.b/c.0001.json": b'{"k":1}', "a.b/c.0002.txt": b"second",
            "v1.2/x.y/s.txt": payload("s", 1000), "données/été.txt": b"ete",
            LONG_DIR[:80] + "/" + "n" * 60 + ".txt": b"long-ish",
        }
        for rel, data in files.items():
            p = os.path.join(tree, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, 0o644)
        for d, _, _ in os.walk(tree):
            os.chmod(d, 0o755)
        for fmt in ("ustar", "pax", "gnu"):
            out = os.path.join(GOOD, "gnutar-%s.tar" % fmt)
            args = ["tar", "--format=" + fmt, "--sort=name", "--mtime=@%d" % MTIME, "--owner=0", "--group=0",
                    "--numeric-owner", "-cf", out, "."]
            if fmt == "pax":
                args.insert(1, "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime")
            run(*args, cwd=tree)
    finally:
        shutil.rmtree(stage)

    # Grouping edge cases.
    write_tar(os.path.join(GOOD, "dotted-dirs.tar"), tarfile.USTAR_FORMAT, [
        ("a.b/", None, tarfile.DIRTYPE, ""),
        ("a.b/c.0001.txt", b"1"), ("a.b/c.0001.json", b"{}"), ("a.b/c.0002.txt", b"2"),
        ("x.y.z/k.tar.gz", b"not really"), ("x.y.z/k.TXT", b"upper"),
        ("./rel.txt", b"dot-slash"),
    ])
    write_tar(os.path.join(GOOD, "non-adjacent.tar"), tarfile.USTAR_FORMAT, [
        ("a.txt", b"a1"), ("b.txt", b"b1"), ("a.json", b"{}"), ("a.cls", b"0"), ("b.json", b"{}"),
    ])
    write_tar(os.path.join(GOOD, "edge-names.tar"), tarfile.PAX_FORMAT, [
        ("dir/", None, tarfile.DIRTYPE, ""), ("README", b"no dot"), ("dir/.hidden.txt", b"h"), (".DS_Store", b"d"),
        ("__meta__/info.json", b"{}"), ("empty.", b"e"), ("/abs/x.txt", b"abs"), ("../up/y.txt", b"up"),
        ("s.txt", b"s"), ("s.link", None, tarfile.SYMTYPE, "s.txt"), ("s.hard", None, tarfile.LNKTYPE, "s.txt"),
        ("fifo.pipe", None, tarfile.FIFOTYPE, ""), ("t.txt", b""), ("t.json", b"{}"),
    ])
    # Without end-of-archive zero blocks.
    write_tar(os.path.join(GOOD, "no-eof-blocks.tar"), tarfile.USTAR_FORMAT, sample_entries(False)[:4])
    p = os.path.join(GOOD, "no-eof-blocks.tar")
    data = open(p, "rb").read()
    end = len(data)
    while data[end - 512:end] == b"\x00" * 512:
        end -= 512
    open(p, "wb").write(data[:end])

    # Hand-built dialects: v7 headers (no magic, '\0' type, directory by trailing slash), a base-256 size,
    # a pax 'size' record overriding a zero header size, a Solaris 'X' header, GNU long link ('K').
    v7 = (raw_member(b"old/", b"", typeflag=b"\x00", magic=b"\x00" * 8)
          + raw_member(b"old/v7.txt", b"seventh edition", typeflag=b"\x00", magic=b"\x00" * 8)
          + raw_member(b"old/v7.json", b"{}", typeflag=b"\x00", magic=b"\x00" * 8) + b"\x00" * 1024)
    open(os.path.join(GOOD, "v7.tar"), "wb").write(v7)
    big = payload("b256", 1234)
    b256 = bytes([0x80]) + (1234).to_bytes(11, "big")
    dialects = (raw_member(b"n.txt", big, size_field=b256)
                + raw_member(b"gnu-magic.txt", b"gnu", magic=b"ustar  \x00", prefix=b"")
                + raw_member(b"name.txt", b"joined", prefix=b"the/ustar/prefix")
                + pax_block([(b"size", b"5"), (b"path", b"pax/sized.txt")])
                + raw_member(b"ignored", b"", size_field=b"%011o\x00" % 0)[:512] + b"sized" + b"\x00" * 507
                + pax_block([(b"path", b"solaris/x.txt")], typeflag=b"X")
                + raw_member(b"solaris-ignored", b"sol")
                + raw_member(b"././@LongLink", b"k" * 120 + b".txt\x00", typeflag=b"K", magic=b"ustar  \x00")
                + raw_member(b"klink.txt", b"", typeflag=b"2", magic=b"ustar  \x00", linkname=b"short")
                + b"\x00" * 1024)
    open(os.path.join(GOOD, "dialects.tar"), "wb").write(dialects)

    # Compressed.
    for src, dst, cmd in (("webdataset-writer.tar", "webdataset-writer.tar.gz", ["gzip", "-n", "-9", "-c"]),
                          ("python-pax.tar", "python-pax.tar.zst", ["zstd", "-q", "-19", "-c"])):
        with open(os.path.join(GOOD, dst), "wb") as out:
            run(*cmd, os.path.join(GOOD, src), stdout=out)

    for name in sorted(os.listdir(GOOD)):
        if name.endswith(".tar"):
            emit_good(name)
    emit_good("webdataset-writer.tar.gz", open(os.path.join(GOOD, "webdataset-writer.tar"), "rb").read())
    emit_good("python-pax.tar.zst", open(os.path.join(GOOD, "python-pax.tar"), "rb").read())


# ---------------------------------------------------------------------------------------------- bad

def make_bad():
    src = os.path.join(GOOD, "python-ustar.tar")
    data = open(src, "rb").read()
    tf = tarfile.open(src)
    ms = tf.getmembers()
    big = next(m for m in ms if m.size > 600)
    report = {}

    def put(name, blob, note):
        open(os.path.join(BAD, name), "wb").write(blob)
        report[name] = note

    # Cut in the middle of a member's data.
    cut = big.offset_data + big.size // 2
    put("truncated-member.tar", data[:cut], {"member": big.name, "data_offset": big.offset_data})
    # Cut inside a header.
    h = ms[3].offset
    put("truncated-header.tar", data[:h + 300], {"header_offset": h})
    # Cut after a member's data, inside its padding.
    odd = next(m for m in ms if m.size % 512 != 0 and m.isreg())
    put("truncated-padding.tar", data[:odd.offset_data + odd.size], {"member": odd.name})
    # Bad checksum in the third header (a flipped name byte).
    b = bytearray(data)
    b[ms[2].offset] ^= 0x01
    put("bad-checksum.tar", bytes(b), {"header_offset": ms[2].offset})
    # Not a tar at all.
    put("not-a-tar.tar", b"this is plain text, not a tar archive\n" * 20, {})
    # A malformed pax record (length larger than the data).
    put("pax-bad-record.tar", _bad_pax(), {})
    # A pax header and then the end of the file.
    put("pax-without-member.tar", pax_block([(b"path", b"lonely.txt")]), {})
    # Duplicate extension inside one sample.
    write_tar(os.path.join(BAD, "duplicate-extension.tar"), tarfile.USTAR_FORMAT,
              [("a.txt", b"1"), ("a.json", b"{}"), ("a.txt", b"2")])
    report["duplicate-extension.tar"] = {}
    # gzip of a truncated tar, and a gzip stream cut short.
    with open(os.path.join(BAD, "truncated-member.tar.gz"), "wb") as out:
        run("gzip", "-n", "-9", "-c", os.path.join(BAD, "truncated-member.tar"), stdout=out)
    gz = subprocess.run(["gzip", "-n", "-9", "-c", src], check=True, stdout=subprocess.PIPE).stdout
    put("cut-stream.tar.gz", gz[:len(gz) // 2], {})
    # GNU sparse member ('S').
    stage = tempfile.mkdtemp()
    try:
        p = os.path.join(stage, "sparse.bin")
        with open(p, "wb") as f:
            f.seek(1 << 20)
            f.write(b"end")
        os.chmod(p, 0o644)
        run("tar", "--format=gnu", "--sparse", "--mtime=@%d" % MTIME, "--owner=0", "--group=0", "--numeric-owner",
            "-cf", os.path.join(BAD, "gnu-sparse.tar"), "sparse.bin", cwd=stage)
    finally:
        shutil.rmtree(stage)
    return report


def _bad_pax():
    block = bytearray(pax_block([(b"path", b"p.txt")]))
    # The record is "14 path=p.txt\n": claim 99 bytes (only 14 exist). The header checksum is unaffected.
    i = block.index(b"14 path", 512)
    block[i:i + 2] = b"99"
    return bytes(block) + raw_member(b"p.txt", b"p") + b"\x00" * 1024


def main():
    for d in (GOOD, BAD):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    make_good()
    make_bad()
    with open(os.path.join(GOOD, "TOOLS.txt"), "w") as f:
        f.write("python %s\nwebdataset %s\n" % (sys.version.split()[0], webdataset.__version__))
        for cmd in (["tar", "--version"], ["gzip", "--version"], ["zstd", "--version"]):
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
            f.write(out + "\n")


if __name__ == "__main__":
    main()
