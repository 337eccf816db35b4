"""S3 access for the handlers: the only place that knows object storage is S3."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from botocore.exceptions import ClientError

from transcriber.adapters import aws_clients
from transcriber.adapters.retry import is_retryable_code, translate_client_errors
from transcriber.domain.errors import CorruptAudioError, RetryableError
from transcriber.faults import with_s3_faults


class ObjectTooLargeError(Exception):
    """The object is larger than the caller can take in one piece (``size`` bytes)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"object of {size} bytes")
        self.size = size


class IncompleteDeletionError(Exception):
    """S3 refused to delete some of the objects asked for (access, object lock, ...)."""


def attachment_disposition(filename: str) -> str:
    """``Content-Disposition`` for downloading a file under ``filename`` (RFC 6266).

    The name may come from an object key that nobody cleaned (a file dropped into the bucket):
    quotes, backslashes, semicolons and control characters would end the parameter or add others,
    so the quoted ``filename`` is an ASCII fallback with those replaced, and ``filename*`` carries
    the name itself, percent-encoded as UTF-8.
    """
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\;' else "_" for c in filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@dataclass(frozen=True)
class ObjectHead:
    """The start of an object and its user metadata (``x-amz-meta-*``, keys lower-cased by S3)."""

    data: bytes
    metadata: dict[str, str]


def _is_missing(err: ClientError) -> bool:
    """S3's answer for an object that does not exist (GET says NoSuchKey, HEAD a bare 404)."""
    return err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


T = TypeVar("T")

#: Concurrent requests for the calls that move many objects: S3 calls are network-bound, and a job's
#: chunks or partial transcripts one after another add up on the critical path.
IO_THREADS = 8


def _concurrently(call: Callable[..., T], calls: Sequence[tuple[Any, ...]]) -> list[T]:
    """``call(*args)`` for each args, on a thread pool, results in order; the first error is raised."""
    if len(calls) <= 1:
        return [call(*args) for args in calls]
    with ThreadPoolExecutor(max_workers=min(IO_THREADS, len(calls)), thread_name_prefix="s3") as pool:
        return list(pool.map(lambda args: call(*args), calls))


def _object_size(content_range: str | None) -> int | None:
    """The object's size from a ranged GET's ``Content-Range`` (``bytes 0-9/1234``), if it says."""
    total = (content_range or "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


def _audio_ends_early(first: int, size: int | None) -> CorruptAudioError:
    """A chunk's range runs past the end of the stored audio: the file is shorter than its header
    says (truncated), which no retry changes."""
    held = f"it holds {size} bytes, " if size is not None else ""
    return CorruptAudioError(
        f"The audio ends before the part starting at byte {first} ({held}fewer than its header "
        "declares): the file appears truncated. Upload the complete file again."
    )


class ObjectStore:
    """Reads and writes the objects of the pipeline.

    With ``FAULT_RATE`` set (see :mod:`transcriber.faults`) every S3 call may fail first with a
    :class:`~transcriber.domain.errors.RetryableError`; without it the client is used as it is.
    """

    def __init__(self, client: Any | None = None) -> None:
        self._client = with_s3_faults(client or aws_clients.client("s3"))

    @translate_client_errors
    def read_head(self, bucket: str, key: str, length: int = 64) -> ObjectHead:
        """The first ``length`` bytes (enough to sniff the real content type) and the user metadata."""
        resp = self._client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}")
        return ObjectHead(data=resp["Body"].read(), metadata=dict(resp.get("Metadata") or {}))

    @translate_client_errors
    def sha256(self, bucket: str, key: str) -> str:
        """Hash the object by streaming it, so memory stays flat whatever its size."""
        digest = hashlib.sha256()
        body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        for block in body.iter_chunks(chunk_size=1024 * 1024):
            digest.update(block)
        return digest.hexdigest()

    @translate_client_errors
    def download(self, bucket: str, key: str, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._client.download_file(bucket, key, str(path))
        return path

    @translate_client_errors
    def get_range(self, bucket: str, key: str, first: int, stop: int) -> bytes:
        """Bytes [first, stop) of the object, in one ranged GET (a chunk of the job's stored WAV)."""
        if stop <= first:
            return b""
        try:
            resp = self._client.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{stop - 1}")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "InvalidRange":  # starts past the end
                raise _audio_ends_early(first, None) from err
            raise
        data = bytes(resp["Body"].read())
        if len(data) == stop - first:
            return data
        size = _object_size(resp.get("ContentRange"))
        if size is not None and size < stop:
            # S3 sent all there is: the object itself is shorter, and reading again cannot help.
            raise _audio_ends_early(first, size)
        # A body cut short on the way is a network fault: the step's retry reads it again.
        raise RetryableError(f"s3://{bucket}/{key}: asked for bytes {first}-{stop - 1}, got {len(data)}")

    @translate_client_errors
    def upload(
        self, path: Path, bucket: str, key: str, content_type: str = "application/octet-stream"
    ) -> None:
        self._client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type})

    def upload_many(self, files: Sequence[tuple[Path, str]], bucket: str, content_type: str) -> None:
        """Upload each (path, key) pair, several at a time."""
        _concurrently(self.upload, [(path, bucket, key, content_type) for path, key in files])

    @translate_client_errors
    def put_text(self, bucket: str, key: str, text: str, content_type: str) -> None:
        self._client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)

    def put_json(self, bucket: str, key: str, data: Any) -> None:
        self.put_text(bucket, key, json.dumps(data, ensure_ascii=False), "application/json")

    @translate_client_errors
    def get_json(self, bucket: str, key: str) -> Any:
        return json.loads(self._client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def get_json_many(self, bucket: str, keys: Sequence[str]) -> list[Any]:
        """``get_json`` of each key, several at a time, in the order of ``keys``."""
        return _concurrently(self.get_json, [(bucket, key) for key in keys])

    def put_texts(self, bucket: str, texts: Sequence[tuple[str, str, str]]) -> None:
        """``put_text`` of each (key, text, content type), several at a time."""
        _concurrently(self.put_text, [(bucket, key, text, content_type) for key, text, content_type in texts])

    @translate_client_errors
    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if _is_missing(err):
                return False
            raise
        return True

    @translate_client_errors
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def _get_object(self, bucket: str, key: str) -> dict[str, Any] | None:
        """S3's GetObject answer (its body unread); None when the object does not exist."""
        try:
            return dict(self._client.get_object(Bucket=bucket, Key=key))
        except ClientError as err:
            if _is_missing(err):
                return None
            raise

    @translate_client_errors
    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        """The object's content; None when it does not exist."""
        resp = self._get_object(bucket, key)
        return None if resp is None else bytes(resp["Body"].read())

    def get_bytes_many(self, bucket: str, keys: Sequence[str]) -> list[bytes | None]:
        """``get_bytes`` of each key, several at a time, in the order of ``keys``."""
        return _concurrently(self.get_bytes, [(bucket, key) for key in keys])

    @translate_client_errors
    def get_text(self, bucket: str, key: str, *, max_bytes: int | None = None) -> str | None:
        """The object as UTF-8 text; None when it does not exist; ObjectTooLargeError past ``max_bytes``."""
        resp = self._get_object(bucket, key)
        if resp is None:
            return None
        if max_bytes is not None and int(resp.get("ContentLength") or 0) > max_bytes:
            resp["Body"].close()
            raise ObjectTooLargeError(int(resp["ContentLength"]))
        return str(resp["Body"].read().decode("utf-8"))

    def presigned_get(self, bucket: str, key: str, *, expires_s: int, filename: str) -> str:
        """A URL that downloads the object, as ``filename``, until it expires (signed locally)."""
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": bucket,
                    "Key": key,
                    "ResponseContentDisposition": attachment_disposition(filename),
                },
                ExpiresIn=expires_s,
            )
        )

    def presigned_put(self, bucket: str, key: str, *, size: int, expires_s: int) -> str:
        """A URL that lets its holder PUT exactly ``size`` bytes at ``key`` until it expires.

        Signed locally (no request to S3) with SigV4 (the s3 client's ``signature_version``, see
        transcriber/adapters/aws_clients.py): Content-Length is among its signed headers, so S3
        refuses a body of any other size. The legacy query signature signs no header at all.
        moto checks no signature, so ingest compares the object's size with the declared one too.
        """
        return str(
            self._client.generate_presigned_url(
                "put_object",
                Params={"Bucket": bucket, "Key": key, "ContentLength": size},
                ExpiresIn=expires_s,
                HttpMethod="PUT",
            )
        )

    @translate_client_errors
    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None:
        """Copy one object inside S3 (up to 5 GB: transcripts are far smaller)."""
        self._client.copy_object(Bucket=to_bucket, Key=to_key, CopySource={"Bucket": bucket, "Key": key})

    @translate_client_errors
    def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        """Delete one object, or one version of it for good (S3 answers success for a key that is
        already gone)."""
        self._client.delete_object(
            Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {})
        )

    @translate_client_errors
    def size(self, bucket: str, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""
        try:
            return int(self._client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except ClientError as err:
            if _is_missing(err):
                return None
            raise

    @translate_client_errors
    def delete_every_version(self, bucket: str, key: str) -> int:
        """Delete the object and, in a versioned bucket, every earlier version and delete marker
        (a plain delete there only hides it); returns how many versions went."""
        versions: list[dict[str, str]] = []
        paginator = self._client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry["Key"] == key:
                    versions.append({"Key": key, "VersionId": entry["VersionId"]})
        for start in range(0, len(versions), 1000):
            self._delete_objects(bucket, versions[start : start + 1000])
        return len(versions)

    @translate_client_errors
    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under ``prefix``, a listed page (up to 1,000) at a time; returns how many."""
        deleted = 0
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self._delete_objects(bucket, keys)
                deleted += len(keys)
        return deleted

    def _delete_objects(self, bucket: str, objects: list[dict[str, str]]) -> None:
        """One DeleteObjects call. S3 answers 200 even when some keys could not be deleted, listing
        them under ``Errors``: a deletion that left objects behind must not pass for done."""
        resp = self._client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        errors = resp.get("Errors") or []
        if errors:
            first = errors[0]
            code, key = first.get("Code", ""), first.get("Key", "")
            detail = f"s3://{bucket}: {len(errors)} of {len(objects)} objects not deleted ({code} on {key})"
            if is_retryable_code(code):  # per key, the codes a whole request would carry
                raise RetryableError(detail)
            raise IncompleteDeletionError(detail)
