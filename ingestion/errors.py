"""Failures a bad file can cause. Each becomes one row in raw.ingest_failures, never a crash."""


class IngestError(Exception):
    """A file that cannot be ingested; the message says why and what to do."""


class FileTooLarge(IngestError):
    pass


class EmptyFile(IngestError):
    pass


class BinaryContent(IngestError):
    pass


class UnsafeArchive(IngestError):
    pass


class NoTextExtracted(IngestError):
    pass


class ParseTimeout(IngestError):
    pass


class ParserCrashed(IngestError):
    pass


class UnsafePath(IngestError):
    pass


class MalformedDocument(IngestError):
    """The file's structure is broken in a way parsers loop or fail on (a looping PDF xref
    chain, a notebook that is not JSON)."""
