"""Exception hierarchy. Every error names the file (and byte offset when known) and says what differs.

`kind` matches the `[kind]` the Swift CLI prints; `exit_code` matches its exit status.
"""
from __future__ import annotations


class MixteraReplayError(Exception):
    kind = "error"
    exit_code = 65

    def __init__(self, message: str, path: str | None = None, offset: int | None = None, kind: str | None = None):
        self.message = message
        self.path = path
        self.offset = offset
        if kind is not None:
            self.kind = kind
        loc = ""
        if path is not None:
            loc = path if offset is None else "%s@%d" % (path, offset)
            loc += ": "
        super().__init__("%s%s [%s]" % (loc, message, self.kind))


class ManifestError(MixteraReplayError):
    """The manifest directory or header.json is missing or malformed."""
    kind = "bad-header"


class UnsafePathError(ManifestError):
    """A manifest file path is absolute or has "..", "." or empty components (docs/security.md)."""
    kind = "unsafe-path"


class ManifestMissingError(ManifestError):
    kind = "missing"
    exit_code = 66


class UnsupportedVersionError(ManifestError):
    """format_version / rank file major version is not 1."""
    kind = "unsupported-version"


class RankFileError(MixteraReplayError):
    """A rank file is corrupt (base class of the rank-file errors)."""
    kind = "corrupt"


class BadMagicError(RankFileError):
    kind = "bad-magic"


class RankFileVersionError(RankFileError, UnsupportedVersionError):
    kind = "unsupported-version"


class UnsupportedFlagsError(RankFileError):
    kind = "unsupported-flags"


class ChecksumError(RankFileError):
    kind = "checksum-mismatch"


class TruncatedError(RankFileError):
    kind = "truncated"


class HeaderMismatchError(RankFileError):
    """The rank file belongs to another header.json, or its topology disagrees."""
    kind = "header-mismatch"


class CorruptBlockError(RankFileError):
    kind = "corrupt"


class UsageError(MixteraReplayError):
    kind = "usage"
    exit_code = 64


class DataError(MixteraReplayError):
    """A data file or record problem."""
    kind = "data"


class DataMissingError(DataError):
    kind = "data-missing"
    exit_code = 66


class DataChangedError(DataError):
    kind = "data-changed"


class UnsupportedFormatError(DataError):
    kind = "unsupported"


class RecordError(DataError):
    """A record is not valid JSON, lacks the text field, or the file ended early."""
    kind = "invalid-json"
