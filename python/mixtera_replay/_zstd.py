"""zstd decompression: the `zstandard` package when importable, else the `zstd` command-line tool."""
from __future__ import annotations

import shutil
import subprocess

try:
    import zstandard as _zs  # type: ignore
except ImportError:  # pragma: no cover - exercised only without zstandard
    _zs = None

BACKEND = "zstandard" if _zs is not None else ("zstd-cli" if shutil.which("zstd") else None)


def _need():
    if BACKEND is None:
        raise RuntimeError("zstd support needs the `zstandard` package (pip install zstandard) or the `zstd` command")


def decompress_frame(data: bytes, raw_size: int) -> bytes:
    """Decompresses one zstd frame whose content is expected to be `raw_size` bytes (at most)."""
    _need()
    if _zs is not None:
        d = _zs.ZstdDecompressor()
        return d.decompress(data, max_output_size=raw_size)
    p = subprocess.run(["zstd", "-dcq"], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise ValueError(p.stderr.decode(errors="replace").strip() or "zstd failed")
    return p.stdout


class _CliStream:
    def __init__(self, fileobj):
        self._p = subprocess.Popen(["zstd", "-dcq"], stdin=fileobj, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def read(self, n):
        b = self._p.stdout.read(n)
        if not b:
            rc = self._p.wait()
            if rc != 0:
                raise ValueError(self._p.stderr.read().decode(errors="replace").strip() or "zstd failed")
        return b

    def close(self):
        try:
            self._p.stdout.close()
            self._p.stderr.close()
        finally:
            if self._p.poll() is None:
                self._p.kill()
            self._p.wait()


def open_stream(path: str, start: int = 0):
    """A readable decompressed stream (read(n)/close()) of a zstd file from compressed offset `start`
    (which must be a frame start). Multi-frame files are one stream; skippable frames add nothing."""
    _need()
    f = open(path, "rb")
    if start:
        f.seek(start)
    if _zs is not None:
        r = _zs.ZstdDecompressor().stream_reader(f, read_across_frames=True, closefd=True)
        return r
    s = _CliStream(f)
    f.close()  # the child holds its own descriptor
    return s
