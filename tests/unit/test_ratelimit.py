"""Writes per token (fengqiao/ratelimit.py): a burst, then the steady rate, each caller apart."""
from fengqiao.ratelimit import WriteLimiter


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_burst_then_the_rate_and_each_caller_has_their_own_bucket():
    clock = Clock()
    limiter = WriteLimiter(per_second=2, burst=3, clock=clock)
    assert [limiter.take("QS-WUXY") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("QS-WUXY") == 0.5  # empty: the next token in half a second
    assert limiter.take("BY-LIUCL") == 0  # another caller is not held back
    clock.now += 0.5
    assert limiter.take("QS-WUXY") == 0 and limiter.take("QS-WUXY") > 0
    clock.now += 60
    assert [limiter.take("QS-WUXY") for _ in range(4)][-1] > 0  # refilled to the burst, not beyond


def test_no_rate_configured_is_no_limit():
    limiter = WriteLimiter(per_second=0, burst=0)
    assert all(limiter.take("x") == 0 for _ in range(1000))
