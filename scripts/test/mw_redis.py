"""redis-py connections for every MW_REDIS_URL form the worker takes, for the Python producers and
consumers of the tests: redis://, rediss://, unix://, redis+cluster://h1:p1,h2:p2,
redis+sentinel://h1:p1,h2:p2/<master>[/<db>] and their rediss+ variants. TLS files come from
MW_REDIS_TLS_CA, MW_REDIS_TLS_CERT and MW_REDIS_TLS_KEY, as for the worker.

As a program: pushes the job envelopes of a file (one JSON per line) to a queue's inbox, each
acknowledged by `--wait-replicas` replicas when asked, and prints how many it pushed.
usage: mw_redis.py URL QUEUE JOBS_JSONL [--wait-replicas N]
"""
import argparse
import os
import urllib.parse

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel


def _tls_options(tls):
    if not tls:
        return {}
    options = {"ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": os.environ.get("MW_REDIS_TLS_CA")}
    if os.environ.get("MW_REDIS_TLS_CERT"):
        options.update(ssl_certfile=os.environ["MW_REDIS_TLS_CERT"], ssl_keyfile=os.environ.get("MW_REDIS_TLS_KEY"))
    return options


def _hosts(netloc):
    credentials, _, hosts = netloc.rpartition("@")
    user, _, password = credentials.partition(":")
    seeds = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        seeds.append((name.strip("[]"), int(port)))
    return seeds, urllib.parse.unquote(user) or None, urllib.parse.unquote(password) or None


def connect(url):
    """A redis-py client for `url`: Redis, RedisCluster, or the sentinels' current master."""
    scheme, _, rest = url.partition("://")
    tls = scheme.startswith("rediss")
    if scheme in ("redis", "rediss", "unix"):
        return redis.Redis.from_url(url, **({k: v for k, v in _tls_options(tls).items() if k != "ssl"}))
    netloc, _, path = rest.partition("/")
    seeds, user, password = _hosts(netloc)
    if scheme.endswith("+cluster"):
        return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in seeds], username=user, password=password,
                            **_tls_options(tls))
    if scheme.endswith("+sentinel"):
        parts = [part for part in path.split("/") if part]
        if not parts:
            raise ValueError(f"{url}: a sentinel URL names its master: redis+sentinel://host:port/<master>")
        sentinels = Sentinel(seeds, sentinel_kwargs=_tls_options(tls), **_tls_options(tls))
        return sentinels.master_for(parts[0], db=int(parts[1]) if len(parts) > 1 else 0, username=user, password=password)
    raise ValueError(f"{url}: not a Redis URL this worker takes")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("queue")
    parser.add_argument("jobs")
    parser.add_argument("--wait-replicas", type=int, default=0)
    args = parser.parse_args()
    client = connect(args.url)
    inbox = f"mw:{{{args.queue}}}:inbox"
    # WAIT counts the replicas of the connection that made the push: on a cluster, the inbox's node.
    node = client.get_redis_connection(client.get_node_from_key(inbox)) if isinstance(client, RedisCluster) else client
    pushed = 0
    with open(args.jobs) as jobs:
        lines = jobs.readlines()
    for line in lines:
        if not line.strip():
            continue
        if args.wait_replicas:
            pipe = node.pipeline(transaction=False)
            pipe.rpush(inbox, line.strip())
            pipe.execute_command("WAIT", args.wait_replicas, 2000)
            _, acknowledged = pipe.execute()
            if acknowledged < args.wait_replicas:
                raise SystemExit(f"WAIT: {acknowledged} of {args.wait_replicas} replicas acknowledged a push")
        else:
            client.rpush(inbox, line.strip())
        pushed += 1
    print(pushed)


if __name__ == "__main__":
    main()
