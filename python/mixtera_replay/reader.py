"""ManifestReader: replays one rank's samples from a manifest (docs/manifest-format.md)."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._json import FieldMissing, LineError, PathError, TextExtractor, json_string, to_utf8
from ._jsonl import PlainReader, StreamReader
from ._xxh3 import file_fingerprint
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
    #: the text field (str; None for a null Parquet value or a tar sample without the text member) when the
    #: dataset has one, else the record's bytes: the JSONL line, or for Parquet / WebDataset the row's / tar
    #: sample's JSON object (docs/manifest-format.md §4.1, §4.2)
    sample: Union[str, bytes, None]


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
        self._files: Dict[int, tuple] = {}
        self._dsnames = [d.name for d in self.header.datasets]
        self._dataset_of = [f.dataset for f in self.header.files]
        self._encode_kind: Dict[int, int] = {}
        labels = self.rank_file.labels
        # A label entry whose first row is more than half a checkpoint interval past its checkpoint is read
        # back from the next checkpoint when the file's reader can (docs/manifest-format.md §3.3).
        self._half_g = labels.g // 2 if labels is not None else 0

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
            fp = file_fingerprint(path, f.fingerprint)
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
            return r
        f = self.header.files[i]
        path = self.absolute_path(i)
        try:
            if f.format == "parquet":
                from ._parquet import ParquetReplayFile
                r = ParquetReplayFile(path, self.header.datasets[f.dataset].text_field)
            elif f.format == "webdataset":
                from ._wds import TarReplayFile
                if f.compression not in ("none", "zstd", "gzip", "xz", "bzip2"):
                    raise UnsupportedFormatError("compression %s is not supported by this reader" % f.compression,
                                                 path)
                r = TarReplayFile(path, f.compression, self.header.datasets[f.dataset].text_field)
            elif f.compression == "none":
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

    def _open_file(self, fi: int):
        """First use of data file `fi` by an entry: range check, verification, format; cached."""
        h = self.header
        if not 0 <= fi < len(h.files):
            raise CorruptBlockError("entry references file %d outside the file table" % fi, self.rank_file.path)
        self.verify_file(fi)
        f = h.files[fi]
        if f.format == "jsonl":
            ex = self._extractor(f.dataset)
            slot = (f, ex.text if ex is not None else None)
        elif f.format in ("parquet", "webdataset"):
            if f.format == "parquet":
                from ._parquet import need_pyarrow
                need_pyarrow(self.absolute_path(fi))
            # The format reader returns the sample values itself (str/None with a text field, JSON bytes else).
            slot = (f, None)
        else:
            raise UnsupportedFormatError("replay of %s files is not supported by this reader (format 1.0 reads "
                                         "jsonl, parquet and webdataset)" % f.format, f.path)
        self._files[fi] = slot
        return slot

    def _bad_entry(self, comp, fi, row, count):
        h = self.header
        if not 0 <= comp < len(h.components):
            return CorruptBlockError("entry references component %d outside the component table" % comp,
                                     self.rank_file.path)
        f = h.files[fi]
        return CorruptBlockError("entry rows %d..<%d exceed the %d samples of %s" % (row, row + count, f.samples, f.path),
                                 self.rank_file.path)

    def _back_from(self, fi: int, row: int, loc: int, lead: int):
        """(locator, lead) to read label entry row `row` from, `lead` records past checkpoint `loc`: the next
        checkpoint and a negative lead (the records back from it) when there is one, else (loc, lead)."""
        lf = self.rank_file.labels.file(fi)
        k = row // lf.g + 1
        if k < len(lf.checkpoints):
            return lf.checkpoints[k], row - k * lf.g
        return loc, lead

    def _record_error(self, err, fi, loc):
        if isinstance(err, LineError):
            return RecordError("invalid JSON: %s" % err.message, self.absolute_path(fi), loc, kind="invalid-json")
        return RecordError(str(err), self.absolute_path(fi), loc, kind="missing-field")

    def _step_values(self, s: int, flat: bool):
        """The samples of step `s`: with `flat`, a list of values (text str or line bytes); otherwise a
        list of (component, file, row, values) per entry. This is the hot path."""
        out = []
        files = self._files
        readers = self._readers
        ncomp = len(self.header.components)
        half_g = self._half_g
        for comp, fi, row, count, loc, skips, lead in self.rank_file.entries_full(s):
            slot = files.get(fi)
            if slot is None:
                slot = self._open_file(fi)
            f, text = slot
            span = count + sum(skips) if skips else count
            if row + span > f.samples or comp >= ncomp:
                raise self._bad_entry(comp, fi, row, count)
            r = readers.get(fi)
            if r is None:
                r = self._reader(fi)
            if skips or lead:
                # A sparse or label entry: one run of `span` records, keeping the selected ones; a label entry's
                # run starts `lead` records after its locator (the checkpoint at or before its first row).
                if f.format != "jsonl":
                    raise self._bad_entry(comp, fi, row, count)
                if lead > half_g and r.backward:
                    # Past the middle of its checkpoint interval: from the next checkpoint, scan back.
                    loc, lead = self._back_from(fi, row, loc, lead)
                if skips and r.backward:
                    # Mapped or in memory: only the kept records are copied.
                    lines = r.read_selected(loc, skips, lead)
                    rows = [row]
                    for sk in skips:
                        rows.append(rows[-1] + 1 + sk)
                    row = rows
                    run = None
                else:
                    run = r.read(loc, span, lead)
                if run is None:
                    pass
                elif not skips:
                    lines = run
                else:
                    lines = []
                    rows = []
                    k = 0
                    for sk in skips:
                        lines.append(run[k])
                        rows.append(row + k)
                        k += 1 + sk
                    lines.append(run[k])
                    rows.append(row + k)
                    row = rows
            else:
                lines = r.read(loc, count)
            if text is not None:
                try:
                    if count == 1:
                        lines = [text(lines[0])]
                    else:
                        lines = [text(l) for l in lines]
                except (LineError, FieldMissing) as err:
                    raise self._record_error(err, fi, loc)
            if flat:
                out += lines
            else:
                out.append((comp, fi, row, lines))
        return out

    def _step_samples(self, s: int) -> List[Sample]:
        h = self.header
        comps = h.components
        dsnames = self._dsnames
        files = h.files
        rank = self.rank
        new = tuple.__new__
        batch = []
        slot = 0
        for comp, fi, row, values in self._step_values(s, False):
            cname = comps[comp]
            f = files[fi]
            dname = dsnames[f.dataset]
            path = f.path
            if row.__class__ is list:
                for v, rw in zip(values, row):
                    batch.append(new(Sample, (s, rank, slot, cname, dname, path, rw, v)))
                    slot += 1
                continue
            for v in values:
                batch.append(new(Sample, (s, rank, slot, cname, dname, path, row, v)))
                slot += 1
                row += 1
        return batch

    def iter_steps(self) -> Iterator[Tuple[int, List[Sample]]]:
        """Yields (step, micro-batch) pairs: the b samples of each step, in slot order."""
        for s in self.steps():
            yield s, self._step_samples(s)

    def __iter__(self) -> Iterator[Sample]:
        for s in self.steps():
            yield from self._step_samples(s)

    def iter_texts(self) -> Iterator[Union[str, bytes]]:
        """Just the sample values, in order (fastest path for training loops)."""
        for s in self.steps():
            yield from self._step_values(s, True)

    def step_texts(self, step: int) -> List[Union[str, bytes]]:
        """The sample values of one step (any step of the manifest, regardless of the worker split)."""
        return self._step_values(step, True)

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

    def _encode_of(self, fi: int) -> int:
        """How replay lines encode file fi's values: 0 verbatim bytes, 1 str → JSON string, 2 mixed
        (Parquet/WebDataset with a text field: str, None for null, or bytes already JSON)."""
        f = self.header.files[fi]
        if f.format == "jsonl":
            k = 0 if self._extractor(f.dataset) is None else 1
        else:
            k = 0 if self.header.datasets[f.dataset].text_field is None else 2
        self._encode_kind[fi] = k
        return k

    def _replay_lines_of(self, s: int) -> List[bytes]:
        rank = self.rank
        out = []
        slot = 0
        mids = self._prefix
        encode = self._encode_kind
        for comp, fi, row, values in self._step_values(s, False):
            mid = mids.get((comp, fi)) or self._mid(comp, fi)
            k = encode.get(fi)
            if k is None:
                k = self._encode_of(fi)
            if k == 1:
                values = [json_string(to_utf8(t)) for t in values]
            elif k == 2:
                values = [t if t.__class__ is bytes else (b"null" if t is None else json_string(to_utf8(t)))
                          for t in values]
            if row.__class__ is list:
                for v, rw in zip(values, row):
                    out.append(b'{"step":%d,"rank":%d,"slot":%d%s%d,"sample":%s}\n' % (s, rank, slot, mid, rw, v))
                    slot += 1
                continue
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
        if v is None:
            return b"null"
        return v if isinstance(v, bytes) else json_string(to_utf8(v))
