"""mixtera_replay: a standard-library reader for mixtera manifests (docs/manifest-format.md).

    from mixtera_replay import ManifestReader, MixteraIterableDataset
    for s in ManifestReader("manifest", rank=0, start_step=100):
        s.step, s.slot, s.sample
"""
from ._xxh3 import BACKEND as XXH3_BACKEND, xxh3_64, xxh3_64_file, xxh3_64_python
from ._zstd import BACKEND as ZSTD_BACKEND
from ._json import json_string
from .dataset import MixteraIterableDataset
from .errors import (BadMagicError, ChecksumError, CorruptBlockError, DataChangedError, DataError, DataMissingError,
                     HeaderMismatchError, ManifestError, ManifestMissingError, MixteraReplayError, RankFileError,
                     RankFileVersionError, RecordError, TruncatedError, UnsupportedFlagsError, UnsupportedFormatError,
                     UnsupportedVersionError, UsageError)
from .manifest import Header, LabelTable, RankFile, read_header
from .reader import ManifestReader, Sample, worker_steps

__version__ = "1.0.0"
__all__ = [
    "ManifestReader", "MixteraIterableDataset", "Sample", "Header", "RankFile", "LabelTable", "read_header",
    "worker_steps",
    "json_string", "xxh3_64", "xxh3_64_file", "xxh3_64_python", "XXH3_BACKEND", "ZSTD_BACKEND",
    "MixteraReplayError", "ManifestError", "ManifestMissingError", "UnsupportedVersionError", "RankFileError",
    "BadMagicError", "RankFileVersionError", "UnsupportedFlagsError", "ChecksumError", "TruncatedError",
    "HeaderMismatchError", "CorruptBlockError", "UsageError", "DataError", "DataMissingError", "DataChangedError",
    "UnsupportedFormatError", "RecordError",
]
