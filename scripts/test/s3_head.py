#!/usr/bin/env python3
"""Reads objects' headers back with boto3 (a client nobody here wrote), as JSON lines:
ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled, CacheControl, ContentType, ContentLength.

usage: s3_head.py ENDPOINT BUCKET KEY [KEY ...]   (credentials and region from AWS_* variables)
"""
import json
import sys

import boto3

endpoint, bucket, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
client = boto3.client("s3", endpoint_url=endpoint)
for key in keys:
    head = client.head_object(Bucket=bucket, Key=key)
    print(json.dumps({"key": key, **{name: head.get(name) for name in (
        "ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled", "CacheControl", "ContentType", "ContentLength")}}))
