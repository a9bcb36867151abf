"""An independent producer and consumer for the end-to-end tests, written with redis-py and
boto3 (not MediaWorker's own code), doing what the README tells a backend team to do.

usage: e2e_producer.py SPEC_JSON   (one JSON argument)
  spec: redis_url, endpoint, access_key, secret_key, region, fixture, raw_bucket, media_bucket,
        key, movie_id, mode ("job" | "minio"), job_id, schema (event schema path), timeout_s
Uploads the fixture with x-amz-meta-movie-id, enqueues a transcode (a job envelope with RPUSH, or a
MinIO `access` notification record), reads the event stream through a consumer group until the
job's terminal event, validates every event with jsonschema, and for a completed transcode
downloads the whole HLS package from the bucket and plays it with ffmpeg. Prints a JSON report.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

import boto3
import jsonschema
import redis
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mw_redis  # noqa: E402

spec = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url=spec["endpoint"], region_name=spec["region"], aws_access_key_id=spec["access_key"],
                  aws_secret_access_key=spec["secret_key"], config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
r = mw_redis.connect(spec["redis_url"])  # every MW_REDIS_URL form
inbox, events = "mw:{default}:inbox", "mw:{default}:events"
report = {"events": [], "invalid_events": [], "objects": [], "play_errors": None}

# 1. The upload ("draft and link"): the object carries the movie id in its metadata. The presigned
#    URL a browser would use is made too (moto cannot check presigned URLs while it checks
#    signatures, so the bytes go up with a signed PUT carrying the same metadata).
report["presigned_put"] = s3.generate_presigned_url("put_object", Params={
    "Bucket": spec["raw_bucket"], "Key": spec["key"], "Metadata": {"movie-id": spec["movie_id"]}}, ExpiresIn=600)[:60]
with open(spec["fixture"], "rb") as body:
    s3.put_object(Bucket=spec["raw_bucket"], Key=spec["key"], Body=body, Metadata={"movie-id": spec["movie_id"]},
                  ContentType="video/mp4")

# 2. A consumer group that sees every event from now on.
try:
    r.xgroup_create(events, "e2e-consumer", id="$", mkstream=True)
except redis.ResponseError as error:
    if "BUSYGROUP" not in str(error):
        raise

# 3. Enqueue: one RPUSH, as the README documents.
if spec["mode"] == "job":
    job = {"id": spec["job_id"], "type": "transcode", "input": {"url": f"s3://{spec['raw_bucket']}/{spec['key']}"},
           "output": {"url": f"s3://{spec['media_bucket']}/"}, "metadata": {"request_id": "e2e-1"},
           "options": {"renditions": [360, 234], "thumbnails": 2}}
    r.rpush(inbox, json.dumps(job))
    job_id = spec["job_id"]
else:
    record = {"eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-11-21T10:00:00.000Z",
              "eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": spec["raw_bucket"]},
              "object": {"key": urllib.parse.quote_plus(spec["key"]), "size": os.path.getsize(spec["fixture"]),
                         "userMetadata": {"X-Amz-Meta-Movie-Id": spec["movie_id"]}}}}
    r.rpush(inbox, json.dumps([{"Event": [record], "EventTime": "2026-11-21T10:00:00.000Z"}]))
    job_id = None

# 4. Consume until the job's terminal event.
schema = json.load(open(spec["schema"]))
deadline = time.time() + spec.get("timeout_s", 120)
terminal = None
while time.time() < deadline and terminal is None:
    for _, entries in r.xreadgroup("e2e-consumer", "c1", {events: ">"}, count=100, block=1000) or []:
        for entry_id, fields in entries:
            event = json.loads(fields[b"event"])
            r.xack(events, "e2e-consumer", entry_id)
            try:
                jsonschema.validate(event, schema)
            except jsonschema.ValidationError as error:
                report["invalid_events"].append(f"{event.get('type')}: {error.message}")
            if job_id is None and event.get("type", "").startswith("Transcode"):
                job_id = event["job_id"]
            if event.get("job_id") != job_id:
                continue
            report["events"].append(event)
            if event["type"] in ("TranscodeCompleted", "TranscodeFailed", "TranscodeCanceled"):
                terminal = event
report["terminal"] = terminal

# 5. What is under the output prefix, and does the package play?
listing = s3.list_objects_v2(Bucket=spec["media_bucket"])
report["objects"] = [item["Key"] for item in listing.get("Contents", [])]
if terminal and terminal["type"] == "TranscodeCompleted":
    with tempfile.TemporaryDirectory() as directory:
        for key in report["objects"]:
            target = os.path.join(directory, key)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            s3.download_file(spec["media_bucket"], key, target)
        master = terminal["data"]["outputs"]["hls_master"].split(f"s3://{spec['media_bucket']}/", 1)[1]
        played = subprocess.run(["ffmpeg", "-v", "error", "-i", os.path.join(directory, master), "-f", "null", "-"],
                                capture_output=True, text=True)
        report["play_errors"] = played.stderr if played.returncode != 0 or played.stderr else ""
json.dump(report, sys.stdout)
