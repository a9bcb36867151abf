"""Signs a request with botocore (AWS's own Python signer), as an independent judge of ours.

Reads one JSON object on stdin: {"mode": "header"|"query", "method", "url" (already encoded as
sent), "headers": {name: value}, "body" (text, hashed by botocore), "timestamp" (YYYYMMDDTHHMMSSZ), "access_key",
"secret_key", "session_token" (optional), "region", "expires"}. Prints {"authorization": ...} or {"url": ...}.
"""
import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.load(sys.stdin)
body = spec.get("body", "").encode()
fixed = datetime.datetime.strptime(spec["timestamp"], "%Y%m%dT%H%M%SZ")
botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed  # the signing time is an input
credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("session_token"))
headers = dict(spec.get("headers", {}))
if spec["mode"] == "header":
    # botocore hashes the body itself (it replaces any x-amz-content-sha256 given).
    request = AWSRequest(method=spec["method"], url=spec["url"], headers=headers, data=body)
    botocore.auth.S3SigV4Auth(credentials, "s3", spec["region"]).add_auth(request)
    json.dump({"authorization": request.headers["Authorization"]}, sys.stdout)
else:
    request = AWSRequest(method=spec["method"], url=spec["url"], headers=headers)
    botocore.auth.S3SigV4QueryAuth(credentials, "s3", spec["region"], expires=spec["expires"]).add_auth(request)
    json.dump({"url": request.url}, sys.stdout)
