"""PyTorch-style IterableDataset over a manifest rank (torch is optional)."""
from __future__ import annotations

from typing import Optional

from .reader import ManifestReader

try:  # pragma: no cover - depends on the environment
    import torch.utils.data as _tud

    _Base = _tud.IterableDataset
    _get_worker_info = _tud.get_worker_info
except ImportError:  # pragma: no cover
    _tud = None
    _Base = object

    def _get_worker_info():
        return None


class MixteraIterableDataset(_Base):
    """Yields the samples of `rank` in manifest order from `start_step` (resume point) to `end_step`.

    Inside a torch DataLoader with W workers, loader worker i reads the steps s with
    s % W == (start_step + i) % W (the manifest's split, rotated to the resume point), so with
    `batch_size=samples_per_rank` (or `batched=True` and `batch_size=None`) the loader's batches come
    out in step order. Outside torch, pass `worker`/`num_workers` explicitly (or neither).

    Items: `Sample` named tuples by default; `as_dict=True` gives dicts; `text_only=True` gives just
    the sample values (str, or bytes for datasets without a text field); `batched=True` yields one
    list per step (the rank's micro-batch).
    """

    def __init__(self, manifest: str, rank: int, start_step: int = 0, end_step: Optional[int] = None,
                 worker: Optional[int] = None, num_workers: Optional[int] = None, roots=None, verify: str = "fast",
                 as_dict: bool = False, text_only: bool = False, batched: bool = False):
        if _Base is not object:
            super().__init__()
        self.manifest = manifest
        self.rank = rank
        self.start_step = start_step
        self.end_step = end_step
        self.worker = worker
        self.num_workers = num_workers
        self.roots = roots
        self.verify = verify
        self.as_dict = as_dict
        self.text_only = text_only
        self.batched = batched
        # Opened once in the parent to fail fast on a bad manifest; workers open their own reader.
        with ManifestReader(manifest, rank, start_step, end_step, roots=roots, verify="none") as r:
            self.steps_total = r.header.steps
            self.samples_per_step = r.header.samples_per_rank

    def _split(self):
        if self.num_workers is not None:
            return self.worker, self.num_workers
        info = _get_worker_info()
        if info is not None:
            # Loader worker i takes the manifest worker (start_step + i) % W: the same split (s mod W),
            # rotated so that the DataLoader's round-robin over workers yields steps in order from
            # start_step, also when resuming at a step that is not a multiple of W.
            n = info.num_workers
            return (self.start_step + info.id) % n, n
        return None, None

    def reader(self) -> ManifestReader:
        w, n = self._split()
        return ManifestReader(self.manifest, self.rank, self.start_step, self.end_step, worker=w, num_workers=n,
                              roots=self.roots, verify=self.verify)

    def resume(self, step: int) -> "MixteraIterableDataset":
        """A copy that starts at `step` (e.g. the checkpointed next step)."""
        return MixteraIterableDataset(self.manifest, self.rank, step, self.end_step, self.worker, self.num_workers,
                                      self.roots, self.verify, self.as_dict, self.text_only, self.batched)

    def __len__(self):
        end = self.steps_total if self.end_step is None else self.end_step
        return (end - self.start_step) * (1 if self.batched else self.samples_per_step)

    def __iter__(self):
        r = self.reader()
        try:
            if self.batched:
                for _, batch in r.iter_steps():
                    if self.text_only:
                        yield [x.sample for x in batch]
                    elif self.as_dict:
                        yield [x._asdict() for x in batch]
                    else:
                        yield batch
            elif self.text_only:
                yield from r.iter_texts()
            elif self.as_dict:
                for x in r:
                    yield x._asdict()
            else:
                yield from r
        finally:
            r.close()
