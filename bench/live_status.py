"""Live status latency: from a job's status or progress change to its push reaching a subscriber.

    python -m bench.live_status [--jobs 50] [--parallel 5]

Runs make serve's servers on a local stack with the pocketsphinx engine, subscribes one WebSocket
client to every job of a tenant, submits ``--jobs`` short clips (the first 2 s of the sample, each
20 ms longer than the last, so none reuses another's transcript) through the HTTP API, and for
every push takes the delay from the job record's ``updated_at`` (when the change was written) to
the message's arrival. Prints p50/p95/max over all pushes and over the final (COMPLETED) pushes.
Local figures: moto's EventBridge -> SQS -> Lambda delivery and the local worker pools, not AWS's.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import threading
import time
import urllib.request
from datetime import datetime
from typing import Any

from websockets.sync.client import connect

from localrun.live_server import LiveServer
from localrun.pipeline import LocalPipeline
from localrun.serve import ApiServer, dev_key

SAMPLE = "samples/sample.flac"


def _clip(seconds: float) -> bytes:
    import imageio_ffmpeg

    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-i",
        SAMPLE,
        "-t",
        str(seconds),
        "-f",
        "flac",
        "-",
    ]
    return subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=5, help="jobs in flight at a time")
    args = parser.parse_args()
    # A different length per job: the same audio twice would reuse the first transcript (dedup).
    clips = [base64.b64encode(_clip(2.0 + 0.02 * i)).decode() for i in range(args.jobs)]
    with LocalPipeline(overrides={"engine": "pocketsphinx"}) as pipeline:
        api, live = ApiServer(pipeline), LiveServer(pipeline)
        base_url, ws_url = api.start(), live.start()
        key = dev_key(pipeline, "bench-live")
        received: list[tuple[float, dict[str, Any]]] = []
        socket = connect(ws_url, subprotocols=["transcriber.v1", f"key.{key}"])  # type: ignore[list-item]
        socket.send(json.dumps({"action": "subscribe"}))
        socket.recv(timeout=30)

        def read() -> None:
            for message in socket:
                received.append((time.time(), json.loads(message)))

        threading.Thread(target=read, daemon=True).start()
        done: set[str] = set()
        submitted: list[str] = []
        started = time.monotonic()
        while len(done) < args.jobs:
            while len(submitted) - len(done) < args.parallel and len(submitted) < args.jobs:
                body = json.dumps(
                    {"filename": f"clip-{len(submitted)}.flac", "content_base64": clips[len(submitted)]}
                ).encode()
                request = urllib.request.Request(
                    f"{base_url}/v1/transcriptions",
                    data=body,
                    method="POST",
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=60) as resp:
                    submitted.append(json.load(resp)["job_id"])
            done = {m["job_id"] for _, m in list(received) if m.get("status") in ("COMPLETED", "FAILED")}
            if time.monotonic() - started > 60 * max(5, args.jobs):
                raise SystemExit(f"only {len(done)} of {args.jobs} jobs finished")
            time.sleep(0.05)
        socket.close()
        api.stop()
        live.stop()
    delays = [(at - _epoch(m["updated_at"])) * 1000 for at, m in received if m.get("updated_at")]
    final = [(at - _epoch(m["updated_at"])) * 1000 for at, m in received if m.get("status") == "COMPLETED"]
    print(f"jobs: {args.jobs} (pocketsphinx, 2 s clips, {args.parallel} in flight); pushes: {len(delays)}")
    for name, values in (("all pushes", delays), ("COMPLETED pushes", final)):
        if values:
            print(
                f"{name:>17}: p50 {statistics.median(values):7.1f} ms"
                f"  p95 {_percentile(values, 0.95):7.1f} ms  max {max(values):7.1f} ms  (n={len(values)})"
            )


if __name__ == "__main__":
    main()
