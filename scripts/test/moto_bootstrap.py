"""Creates an IAM user with S3 rights and an access key in a fresh moto_server.

moto_server runs with INITIAL_NO_AUTH_ACTION_COUNT=3: the first three IAM calls below are the
only unauthenticated ones (the user's key then makes a role to assume); every later request must carry a valid SigV4 signature of a
key that exists. The script proves that before printing the key as JSON:
a wrong secret must be refused.

usage: moto_bootstrap.py ENDPOINT [BUCKET ...]
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
buckets = sys.argv[2:]
region = "us-east-1"
config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def client(service, key_id, secret):
    return boto3.client(service, endpoint_url=endpoint, region_name=region, config=config,
                        aws_access_key_id=key_id, aws_secret_access_key=secret)


iam = client("iam", "bootstrap", "bootstrap")
user = "media-worker-test"
iam.create_user(UserName=user)
iam.put_user_policy(UserName=user, PolicyName="s3-all", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole", "iam:CreateRole", "iam:PutRolePolicy"], "Resource": "*"}],
}))
key = iam.create_access_key(UserName=user)["AccessKey"]

# A role the credential-chain tests become (by AssumeRole, and behind their web identity,
# container and instance-metadata endpoints), with S3 rights of its own. Made with the user's
# key: the unauthenticated budget is spent.
user_iam = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
role = user_iam.create_role(RoleName="media-worker-role", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]}],
}))["Role"]
user_iam.put_role_policy(RoleName="media-worker-role", PolicyName="s3-all", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    # sts:AssumeRole too: a profile's credential_source may chain from this role to a role.
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole"], "Resource": "*"}],
}))

s3 = client("s3", key["AccessKeyId"], key["SecretAccessKey"])
for bucket in buckets:
    s3.create_bucket(Bucket=bucket)
s3.list_buckets()

forged = client("s3", key["AccessKeyId"], key["SecretAccessKey"] + "x")
try:
    forged.list_buckets()
except ClientError as error:
    code = error.response.get("Error", {}).get("Code", "")
    if error.response["ResponseMetadata"]["HTTPStatusCode"] != 403:
        sys.exit(f"moto refused a forged signature with an unexpected answer: {code}")
else:
    sys.exit("moto_server accepted a wrong secret: it is not verifying signatures "
             "(is INITIAL_NO_AUTH_ACTION_COUNT set?)")

print(json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
                  "region": region, "endpoint": endpoint, "role_arn": role["Arn"]}))
