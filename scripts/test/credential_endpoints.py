#!/usr/bin/env python3
"""Stand-ins for the AWS credential endpoints a worker meets in a cloud, each handing out real
temporary keys of a moto role (moto's AssumeRole, signed with the test user's key), so the S3
requests signed with them are checked by moto:

- POST /sts: STS AssumeRoleWithWebIdentity (moto cannot serve it unsigned while it verifies
  signatures); checks the token against --web-token and the role ARN.
- GET /ecs/creds: the ECS / EKS Pod Identity container endpoint; requires
  `Authorization: <--container-token>`.
- IMDSv2: PUT /latest/api/token (requires x-aws-ec2-metadata-token-ttl-seconds, 1-21600; the token
  expires after it), GET /latest/meta-data/iam/security-credentials/[role] (requires the token).
- GET /stats: how many credentials each endpoint handed out, and refusals.

Every set of credentials claims to expire --lifetime seconds after it was handed out.
usage: credential_endpoints.py PORT MOTO_ENDPOINT KEY SECRET ROLE_ARN [--web-token T]
       [--container-token T] [--lifetime S]
"""
import argparse
import datetime
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("moto")
parser.add_argument("key")
parser.add_argument("secret")
parser.add_argument("role")
parser.add_argument("--web-token", default="web-identity-token")
parser.add_argument("--container-token", default="container-token")
parser.add_argument("--lifetime", type=float, default=3600)
args = parser.parse_args()

sts = boto3.client("sts", endpoint_url=args.moto, region_name="us-east-1",
                   aws_access_key_id=args.key, aws_secret_access_key=args.secret)
lock = threading.Lock()
stats = {"sts": 0, "container": 0, "imds": 0, "imds_tokens": 0, "refused": 0}
imds_tokens = {}


def fresh(kind):
    creds = sts.assume_role(RoleArn=args.role, RoleSessionName=f"{kind}-{secrets.token_hex(4)}")["Credentials"]
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=args.lifetime)
    with lock:
        stats[kind] += 1
    return creds, expires.strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, why):
        with lock:
            stats["refused"] += 1
        self.answer(status, json.dumps({"error": why}))

    def json_credentials(self, kind):
        creds, expires = fresh(kind)
        self.answer(200, json.dumps({"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
                                     "Token": creds["SessionToken"], "Expiration": expires, "Code": "Success"}))

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                return self.answer(200, json.dumps(stats))
        if self.path == "/ecs/creds":
            if self.headers.get("Authorization") != args.container_token:
                return self.refuse(401, "wrong or missing Authorization")
            return self.json_credentials("container")
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            token = self.headers.get("x-aws-ec2-metadata-token")
            with lock:
                valid = token in imds_tokens and imds_tokens[token] > time.monotonic()
            if not valid:
                return self.refuse(401, "IMDSv2 token missing or expired")
            role = self.path[len("/latest/meta-data/iam/security-credentials/"):]
            if role == "":
                return self.answer(200, "media-worker-role", "text/plain")
            if role != "media-worker-role":
                return self.refuse(404, "no such role")
            return self.json_credentials("imds")
        self.refuse(404, "unknown path")

    def do_PUT(self):
        if self.path != "/latest/api/token":
            return self.refuse(404, "unknown path")
        try:
            ttl = int(self.headers.get("x-aws-ec2-metadata-token-ttl-seconds", ""))
        except ValueError:
            return self.refuse(400, "missing TTL")
        if not 1 <= ttl <= 21600:
            return self.refuse(400, "TTL out of range")
        token = secrets.token_hex(16)
        with lock:
            imds_tokens[token] = time.monotonic() + ttl
            stats["imds_tokens"] += 1
        self.answer(200, token, "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        field = lambda name: (form.get(name) or [""])[0]
        if self.path != "/sts/" or field("Action") != "AssumeRoleWithWebIdentity":
            return self.refuse(400, "not AssumeRoleWithWebIdentity")
        if field("WebIdentityToken") != args.web_token or field("RoleArn") != args.role or not field("RoleSessionName"):
            with lock:
                stats["refused"] += 1
            return self.answer(403, "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>the token is not "
                               "valid</Message></Error></ErrorResponse>", "text/xml")
        creds, expires = fresh("sts")
        self.answer(200, "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
                    f"<AccessKeyId>{creds['AccessKeyId']}</AccessKeyId><SecretAccessKey>{creds['SecretAccessKey']}</SecretAccessKey>"
                    f"<SessionToken>{creds['SessionToken']}</SessionToken><Expiration>{expires}</Expiration>"
                    "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>", "text/xml")


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("ready", flush=True)
server.serve_forever()
