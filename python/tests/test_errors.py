"""Rejections (docs/manifest-format.md §6): corrupt rank files, header problems, changed/moved data."""
import os
import shutil
import struct
import time

import pytest

from conftest import Env, run_py, run_swift
from mixtera_replay import (BadMagicError, ChecksumError, CorruptBlockError, DataChangedError, DataMissingError,
                            HeaderMismatchError, ManifestError, ManifestMissingError, ManifestReader, MixteraReplayError,
                            RankFileError,
                            RankFileVersionError, TruncatedError, UnsupportedFlagsError, UnsupportedFormatError,
                            UnsupportedVersionError, UsageError, xxh3_64)

SPEC = dict(shuffle="samples", G=12, D=2, S=20)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from conftest import have_bin, BIN
    if not have_bin():
        pytest.skip("mixtera binary not found at %s: run `swift build` (or set MIXTERA_BIN)" % BIN)
    e = Env(str(tmp_path_factory.mktemp("errors")))
    return e.manifest("err", **SPEC)


@pytest.fixture
def m(base, tmp_path):
    d = str(tmp_path / "m")
    shutil.copytree(base, d)
    return d


def rank0(m):
    return os.path.join(m, "rank-00000.bin")


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def reseal_header(path):
    """Recomputes the header checksum after an edit (to reach the checks behind it)."""
    with open(path, "r+b") as f:
        head = f.read(56)
        f.write(struct.pack("<Q", xxh3_64(head)))


def read_all(m, rank=0, **kw):
    with ManifestReader(m, rank, **kw) as r:
        return b"".join(r.replay_step_bytes())


def same_exit(m, rank="0"):
    s = run_swift("replay", "--manifest", m, "--rank", rank, check=False)
    p = run_py("--manifest", m, "--rank", rank)
    assert s.returncode != 0
    assert p.returncode == s.returncode, (s.returncode, p.returncode, s.stderr, p.stderr)
    return p


def test_intact(m):
    assert read_all(m) == run_swift("replay", "--manifest", m, "--rank", "0").stdout


@pytest.mark.parametrize("offset,exc", [
    (0, BadMagicError), (8, RankFileVersionError), (20, ChecksumError), (40, ChecksumError), (57, ChecksumError)])
def test_header_bytes(m, offset, exc):
    flip(rank0(m), offset)
    with pytest.raises(exc):
        ManifestReader(m, 0)
    same_exit(m)


def test_wrong_version(m):
    patch(rank0(m), 8, struct.pack("<H", 2))
    reseal_header(rank0(m))
    with pytest.raises(RankFileVersionError) as e:
        ManifestReader(m, 0)
    assert "2.0" in str(e.value) and isinstance(e.value, UnsupportedVersionError)
    same_exit(m)


def test_minor_version_accepted(m):
    want = read_all(m)
    patch(rank0(m), 10, struct.pack("<H", 7))
    reseal_header(rank0(m))
    assert read_all(m) == want


def test_flags(m):
    patch(rank0(m), 12, struct.pack("<I", 2))  # bit 1 is unknown (bit 0 = sparse entries)
    reseal_header(rank0(m))
    with pytest.raises(UnsupportedFlagsError):
        ManifestReader(m, 0)
    same_exit(m)


def test_topology_mismatch(m):
    patch(rank0(m), 16, struct.pack("<I", 1))  # claims rank 1
    reseal_header(rank0(m))
    with pytest.raises(HeaderMismatchError):
        ManifestReader(m, 0)
    same_exit(m)


def test_truncated(m):
    size = os.path.getsize(rank0(m))
    os.truncate(rank0(m), size - 1)
    with pytest.raises(TruncatedError):
        ManifestReader(m, 0)
    same_exit(m)
    os.truncate(rank0(m), 30)
    with pytest.raises(TruncatedError):
        ManifestReader(m, 0)
    same_exit(m)


def test_trailing_bytes(m):
    with open(rank0(m), "ab") as f:
        f.write(b"\0")
    with pytest.raises(TruncatedError):
        ManifestReader(m, 0)


def test_block_table_checksum(m):
    size = os.path.getsize(rank0(m))
    flip(rank0(m), size - 12)
    with pytest.raises(ChecksumError):
        ManifestReader(m, 0)
    same_exit(m)


def test_block_checksum(m):
    flip(rank0(m), 70)
    r = ManifestReader(m, 0)  # blocks are checked when read
    with pytest.raises(ChecksumError) as e:
        list(r)
    assert "block 0" in str(e.value) and isinstance(e.value, RankFileError)
    same_exit(m)


def test_header_json_changed(m):
    p = os.path.join(m, "header.json")
    with open(p, "rb") as f:
        text = f.read()
    with open(p, "wb") as f:
        f.write(text.replace(b'"seed": 7', b'"seed": 8'))
    with pytest.raises(HeaderMismatchError):
        ManifestReader(m, 0)
    same_exit(m)


def test_header_json_major_version(m):
    p = os.path.join(m, "header.json")
    with open(p, "rb") as f:
        text = f.read()
    with open(p, "wb") as f:
        f.write(text.replace(b'"format_version": "1.0"', b'"format_version": "2.0"'))
    with pytest.raises(UnsupportedVersionError):
        ManifestReader(m, 0)
    with open(p, "wb") as f:
        f.write(b"{not json")
    with pytest.raises(ManifestError):
        ManifestReader(m, 0)
    with open(p, "wb") as f:
        f.write(b'{"tool_version": "0.1.0"}')
    with pytest.raises(ManifestError):
        ManifestReader(m, 0)


def test_missing_manifest_and_rank(m, tmp_path):
    with pytest.raises(ManifestMissingError):
        ManifestReader(str(tmp_path / "nope"), 0)
    with pytest.raises(UsageError):
        ManifestReader(m, 2)
    os.remove(os.path.join(m, "rank-00001.bin"))
    with pytest.raises(ManifestMissingError):
        ManifestReader(m, 1)


def _relabel_format(m, fmt):
    p = os.path.join(m, "header.json")
    with open(p, "rb") as f:
        text = f.read()
    # Re-bind the rank file to the edited header so only the format check fires.
    text = text.replace(b'"format": "jsonl",\n      "compression"', b'"format": "%s",\n      "compression"' % fmt)
    with open(p, "wb") as f:
        f.write(text)
    patch(rank0(m), 40, struct.pack("<Q", xxh3_64(text)))
    reseal_header(rank0(m))


def test_unsupported_file_format(m):
    _relabel_format(m, b"arrow")  # reserved for later minor versions (§6)
    with pytest.raises(UnsupportedFormatError, match="arrow"):
        list(ManifestReader(m, 0))


def test_jsonl_labelled_parquet_is_a_data_error(m):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (Parquet replay needs it)")
    _relabel_format(m, b"parquet")
    with pytest.raises(MixteraReplayError, match="parquet"):
        list(ManifestReader(m, 0))


# ---- data files -------------------------------------------------------------------------------

@pytest.fixture
def own(tmp_path):
    """A manifest over a private copy of the data (mutated by the test)."""
    from conftest import have_bin, BIN
    if not have_bin():
        pytest.skip("mixtera binary not found at %s" % BIN)
    e = Env(str(tmp_path))
    return e, e.manifest("own", shuffle="none", G=16, D=1, S=20)


def web_file(e):
    return os.path.join(e.data, "corpus", "web", "part-000.jsonl")


def test_changed_content_same_size(own):
    e, m = own
    p = web_file(e)
    with open(p, "r+b") as f:
        f.seek(200)
        b = f.read(1)
        f.seek(200)
        f.write(b"X" if b != b"X" else b"Y")
    with pytest.raises(DataChangedError) as ex:
        list(ManifestReader(m, 0))
    assert "part-000.jsonl" in str(ex.value) and "fingerprint" in str(ex.value)
    same_exit(m)


def test_changed_size(own):
    e, m = own
    with open(web_file(e), "ab") as f:
        f.write(b"\n")
    with pytest.raises(DataChangedError) as ex:
        list(ManifestReader(m, 0))
    assert "size" in str(ex.value)
    same_exit(m)


def test_touched_but_unchanged_is_fine(own):
    e, m = own
    want = run_swift("replay", "--manifest", m, "--rank", "0").stdout
    now = time.time()
    os.utime(web_file(e), (now, now))
    assert read_all(m) == want


def test_deep_detects_same_mtime_edit(own):
    e, m = own
    p = web_file(e)
    st = os.stat(p)
    with open(p, "r+b") as f:
        f.seek(300)
        b = f.read(1)
        f.seek(300)
        f.write(b"X" if b != b"X" else b"Y")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    read_all(m, verify="fast")  # same size and mtime: fast mode trusts it
    with pytest.raises(DataChangedError):
        read_all(m, verify="deep")
    s = run_swift("replay", "--manifest", m, "--rank", "0", "--deep", check=False)
    p2 = run_py("--manifest", m, "--rank", "0", "--deep")
    assert s.returncode == p2.returncode == 65


def test_moved_data_and_roots(own):
    e, m = own
    want = run_swift("replay", "--manifest", m, "--rank", "0").stdout
    moved = e.data + "-moved"
    os.rename(e.data, moved)
    with pytest.raises(DataMissingError) as ex:
        list(ManifestReader(m, 0))
    assert "--root" in str(ex.value)
    same_exit(m)
    assert read_all(m, roots={e.data: moved}) == want
    assert read_all(m, roots={e.data + "/": moved + "/"}) == want
    assert read_all(m, roots=[(e.data + "/corpus", moved + "/corpus"), (e.data, moved)]) == want
    p = run_py("--manifest", m, "--rank", "0", "--root", "%s=%s" % (e.data, moved))
    s = run_swift("replay", "--manifest", m, "--rank", "0", "--root", "%s=%s" % (e.data, moved))
    assert p.returncode == 0 and p.stdout == s.stdout == want
    # A root that only shares a string prefix (not a path prefix) is not remapped.
    assert ManifestReader(m, 0, roots={e.data[:-1]: moved}).absolute_path(0).startswith(e.data)


def test_none_mode_skips_checks(own):
    e, m = own
    with open(web_file(e), "ab") as f:
        f.write(b"\n")
    read_all(m, verify="none")
