"""Writes per caller (SPEC 2.2's hostile input): each token subject's commands drawn from a
bucket that refills at a steady rate, so that one runaway client or stolen token cannot flood a
service. Per process: with n replicas a caller gets at most n times the rate. Pure: time in,
yes or no."""
import threading
import time


class WriteLimiter:
    def __init__(self, per_second, burst, clock=time.monotonic):
        self.per_second, self.burst, self.clock = per_second, max(burst, 1), clock
        self._buckets, self._lock = {}, threading.Lock()

    def take(self, caller):
        """0 when the caller may write now, else the seconds until they may."""
        if self.per_second <= 0:  # no limit configured
            return 0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.per_second)
            if tokens >= 1:
                self._buckets[caller] = (tokens - 1, now)
                return 0
            self._buckets[caller] = (tokens, now)
            return (1 - tokens) / self.per_second
