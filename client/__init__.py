"""Python SDK for the transcription HTTP API (``/v1``), on the standard library only.

    from client import Client

    api = Client("http://127.0.0.1:8080", "tk_...")
    print(api.transcribe("talk.mp3", options={"language": "en"}).text)

Modules: ``resources`` (the :class:`Client`'s operations), ``models`` (what the API returns),
``errors`` (what it raises), ``transport`` (HTTP: the key, retries of 429/502-504 and dropped
connections, redirects, uploads).
The ``transcriber`` command line lives in ``client.cli``; its operator command ``keys`` is the only
part that needs more than the standard library (boto3 and the server package), imported when run.
"""

from client.errors import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TranscriberError,
    TranscriptionFailedError,
    UploadError,
    ValidationError,
    WaitTimeoutError,
)
from client.models import (
    AWAITING_UPLOAD,
    COMPLETED,
    FAILED,
    PENDING,
    PROCESSING,
    STATUSES,
    TERMINAL_STATES,
    Page,
    Segment,
    Submission,
    Transcript,
    Transcription,
    Word,
)
from client.resources import DOWNLOAD_FORMATS, INLINE_LIMIT_BYTES, Client, guess_content_type
from client.search import SearchHit, SearchResults
from client.transport import __version__, parse_retry_after

__all__ = [
    "AWAITING_UPLOAD",
    "COMPLETED",
    "DOWNLOAD_FORMATS",
    "FAILED",
    "INLINE_LIMIT_BYTES",
    "PENDING",
    "PROCESSING",
    "STATUSES",
    "TERMINAL_STATES",
    "APIConnectionError",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "NotFoundError",
    "Page",
    "RateLimitedError",
    "SearchHit",
    "SearchResults",
    "Segment",
    "ServerError",
    "Submission",
    "TranscriberError",
    "Transcript",
    "Transcription",
    "TranscriptionFailedError",
    "UploadError",
    "ValidationError",
    "WaitTimeoutError",
    "Word",
    "__version__",
    "guess_content_type",
    "parse_retry_after",
]
