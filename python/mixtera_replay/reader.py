"""ManifestReader: replays one rank's samples from a manifest (docs/manifest-format.md)."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._json import FieldMissing, LineError, PathError, TextExtractor, json_string, to_utf8
from ._jsonl import PlainReader, StreamReader
from ._xxh3 import hex64, xxh3_64_file
from .errors import (DataChangedError, DataMissingError, MixteraReplayError, RecordError, UnsupportedFormatError,
                     UsageError, CorruptBlockError)
from .manifest import Header, open_rank, read_header


class Sample(NamedTuple):
    step: int
    rank: int
    slot: int
    component: str
    dataset: str
    file: str
    row: int
    #: the text field (str) when the dataset has one, else the record's line bytes
    sample: Union[str, bytes]


def _norm_roots(roots) -> List[Tuple[str, str]]:
    if not roots:
        return []
    items = roots.items() if isinstance(roots, dict) else roots
    out = []
    for old, new in items:
        old, new = str(old), str(new)
        while len(old) > 1 and old.endswith("/"):
            old = old[:-1]
        while len(new) > 1 and new.endswith("/"):
            new = new[:-1]
        out.append((old, new))
    return out


def worker_steps(start: int, end: int, worker: int = 0, num_workers: int = 1) -> range:
    """Steps s in [start, end) with s mod num_workers == worker (the manifest's data-loader split)."""
    first = start + ((worker - start) % num_workers)
    return range(first, end, num_workers)


class ManifestReader:
    """Replays rank `rank` of the manifest at `path`.

    Iterating yields `Sample`s of steps [start_step, end_step) (end_step None: to the end), in manifest
    order; with `worker`/`num_workers`, only the steps s with s % num_workers == worker.
    `roots` remaps dataset roots ({OLD: NEW} or [(OLD, NEW)], prefix match on path components).
    `verify`: "fast" (size; fingerprint when mtime differs), "deep" (always rehash) or "none".
    Data files are verified lazily, the first time an entry references them.
    """

    def __init__(self, path: str, rank: int, start_step: int = 0, end_step: Optional[int] = None,
                 worker: Optional[int] = None, num_workers: Optional[int] = None, roots=None, verify: str = "fast"):
        if verify not in ("fast", "deep", "none"):
            raise ValueError('verify must be "fast", "deep" or "none"')
        self.path = path
        self.header: Header = read_header(path)
        self.rank_file = open_rank(path, self.header, rank)
        self.rank = rank
        self.verify = verify
        self.roots = _norm_roots(roots)
        S = self.header.steps
        if end_step is None:
            end_step = S
        if not (0 <= start_step <= end_step <= S):
            raise UsageError("steps %d:%d are outside the manifest's %d steps" % (start_step, end_step, S), path,
                             kind="usage")
        if (worker is None) != (num_workers is None):
            raise UsageError("worker and num_workers go together", kind="usage")
        if num_workers is not None and not (num_workers >= 1 and 0 <= worker < num_workers):
            raise UsageError("worker must be in 0..<num_workers", kind="usage")
        self.start_step = start_step
        self.end_step = end_step
        self.worker = worker or 0
        self.num_workers = num_workers or 1
        self._verified = set()
        self._readers: "OrderedDict[int, object]" = OrderedDict()
        self._extractors: Dict[int, Optional[TextExtractor]] = {}
        self._prefix: Dict[Tuple[int, int], bytes] = {}

    # -- files -------------------------------------------------------------------------------
    def absolute_path(self, i: int) -> str:
        f = self.header.files[i]
        root = self.header.datasets[f.dataset].root
        for old, new in self.roots:
            if root == old or root.startswith(old + "/"):
                root = new + root[len(old):]
                break
        return root + "/" + f.path

    def verify_file(self, i: int, mode: Optional[str] = None) -> None:
        """Checks data file `i` against the manifest's size, mtime and fingerprint."""
        mode = mode or self.verify
        if mode == "none" or i in self._verified:
            return
        f = self.header.files[i]
        path = self.absolute_path(i)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise DataMissingError(
                'data file is missing (manifest expects %s of dataset "%s"); remap roots with --root OLD=NEW if it moved'
                % (f.path, self.header.datasets[f.dataset].name), path)
        if st.st_size != f.size:
            raise DataChangedError("data file changed: size is %d bytes, manifest expects %d" % (st.st_size, f.size), path)
        if mode == "deep" or st.st_mtime_ns != f.mtime_ns:
            fp = hex64(xxh3_64_file(path))
            if fp != f.fingerprint:
                raise DataChangedError("data file changed: fingerprint is %s, manifest expects %s" % (fp, f.fingerprint),
                                       path)
        self._verified.add(i)

    def verify_all(self, mode: Optional[str] = None) -> None:
        """Verifies every data file the selected steps reference (normally done lazily)."""
        for s in self.steps():
            for e in self.rank_file.entries(s):
                if 0 <= e[1] < len(self.header.files):
                    self.verify_file(e[1], mode)

    def _reader(self, i: int):
        r = self._readers.get(i)
        if r is not None:
            self._readers.move_to_end(i)
            return r
        f = self.header.files[i]
        path = self.absolute_path(i)
        try:
            if f.compression == "none":
                r = PlainReader(path, f.size, f.samples)
            elif f.compression in ("zstd", "gzip", "xz", "bzip2"):
                r = StreamReader(path, f.compression, f.zstd_frames, f.size)
            else:
                raise UnsupportedFormatError("compression %s is not supported by this reader" % f.compression, path)
        except FileNotFoundError:
            raise DataMissingError("data file is missing", path)
        self._readers[i] = r
        while len(self._readers) > 64:
            _, old = self._readers.popitem(last=False)
            old.close()
        return r

    def _extractor(self, dataset: int) -> Optional[TextExtractor]:
        if dataset in self._extractors:
            return self._extractors[dataset]
        tf = self.header.datasets[dataset].text_field
        ex = None
        if tf is not None:
            try:
                ex = TextExtractor(tf)
            except PathError as e:
                raise UnsupportedFormatError("bad text path: %s" % e, self.header.path)
        self._extractors[dataset] = ex
        return ex

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()
        self.rank_file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- steps -------------------------------------------------------------------------------
    def steps(self) -> range:
        """The steps this reader replays."""
        return worker_steps(self.start_step, self.end_step, self.worker, self.num_workers)

    def _step_records(self, step: int):
        """Yields (entry, file_info, lines) for each entry of `step` after checks and verification."""
        h = self.header
        nfiles = len(h.files)
        ncomp = len(h.components)
        for e in self.rank_file.entries(step):
            comp, fi, row, count, loc = e
            if not 0 <= fi < nfiles:
                raise CorruptBlockError("entry references file %d outside the file table" % fi, self.rank_file.path)
            if not 0 <= comp < ncomp:
                raise CorruptBlockError("entry references component %d outside the component table" % comp,
                                        self.rank_file.path)
            if fi not in self._verified:
                self.verify_file(fi)
            f = h.files[fi]
            if row + count > f.samples:
                raise CorruptBlockError("entry rows %d..<%d exceed the %d samples of %s" % (row, row + count, f.samples,
                                                                                          f.path), self.rank_file.path)
            if f.format != "jsonl":
                raise UnsupportedFormatError("replay of %s files is not supported by this reader (format 1.0 reads jsonl)"
                                             % f.format, f.path)
            lines = self._reader(fi).read(loc, count)
            yield e, f, lines

    def _texts(self, dataset: int, lines, fi: int, loc: int):
        ex = self._extractor(dataset)
        if ex is None:
            return lines
        text = ex.text
        try:
            return [text(l) for l in lines]
        except LineError as err:
            raise RecordError("invalid JSON: %s" % err.message, self.absolute_path(fi), loc, kind="invalid-json")
        except FieldMissing as err:
            raise RecordError(str(err), self.absolute_path(fi), loc, kind="missing-field")

    def iter_steps(self) -> Iterator[Tuple[int, List[Sample]]]:
        """Yields (step, micro-batch) pairs: the b samples of each step, in slot order."""
        h = self.header
        rank = self.rank
        comps = h.components
        dsnames = [d.name for d in h.datasets]
        for s in self.steps():
            batch = []
            slot = 0
            for (comp, fi, row, count, loc), f, lines in self._step_records(s):
                values = self._texts(f.dataset, lines, fi, loc)
                cname = comps[comp]
                dname = dsnames[f.dataset]
                for v in values:
                    batch.append(Sample(s, rank, slot, cname, dname, f.path, row, v))
                    slot += 1
                    row += 1
            yield s, batch

    def __iter__(self) -> Iterator[Sample]:
        for _, batch in self.iter_steps():
            yield from batch

    def iter_texts(self) -> Iterator[Union[str, bytes]]:
        """Just the sample values (fastest path for training loops)."""
        for s in self.steps():
            for (comp, fi, row, count, loc), f, lines in self._step_records(s):
                yield from self._texts(f.dataset, lines, fi, loc)

    # -- replay lines ------------------------------------------------------------------------
    def _mid(self, comp: int, fi: int) -> bytes:
        key = (comp, fi)
        m = self._prefix.get(key)
        if m is None:
            h = self.header
            f = h.files[fi]
            m = (b',"component":' + json_string(h.components[comp].encode("utf-8")) + b',"dataset":'
                 + json_string(h.datasets[f.dataset].name.encode("utf-8")) + b',"file":'
                 + json_string(f.path.encode("utf-8")) + b',"row":')
            self._prefix[key] = m
        return m

    def _replay_lines_of(self, s: int) -> List[bytes]:
        rank = self.rank
        out = []
        slot = 0
        for (comp, fi, row, count, loc), f, lines in self._step_records(s):
            mid = self._mid(comp, fi)
            ex = self._extractor(f.dataset)
            if ex is None:
                values = lines
            else:
                values = [json_string(to_utf8(t)) for t in self._texts(f.dataset, lines, fi, loc)]
            for v in values:
                out.append(b'{"step":%d,"rank":%d,"slot":%d%s%d,"sample":%s}\n' % (s, rank, slot, mid, row, v))
                slot += 1
                row += 1
        return out

    def replay_step_bytes(self) -> Iterator[bytes]:
        """Yields, per step, the concatenated replay lines of `mixtera replay` (bytes)."""
        for s in self.steps():
            yield b"".join(self._replay_lines_of(s))

    def replay_lines(self) -> Iterator[bytes]:
        """Yields each replay JSON line (with its final LF), exactly as `mixtera replay` prints it."""
        for s in self.steps():
            yield from self._replay_lines_of(s)

    @staticmethod
    def sample_json(sample: Sample) -> bytes:
        """The JSON encoding of a sample value as it appears in a replay line."""
        v = sample.sample
        return v if isinstance(v, bytes) else json_string(to_utf8(v))
