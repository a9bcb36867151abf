"""The job functions RQ runs in the queue benchmark (RQ imports them by module path)."""
import time

import redis

_connection = None


def noop():
    return None


def record_start(enqueued_at, key, port):
    """Records enqueue-to-start latency (seconds) in a Redis list."""
    global _connection
    started = time.time()
    if _connection is None:
        _connection = redis.Redis(port=port)
    _connection.rpush(key, started - enqueued_at)
