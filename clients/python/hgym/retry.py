"""When and how long to wait before trying a request again."""

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, and the server's ``Retry-After`` when it sends one.

    ``attempts`` counts every try, the first included (1 turns retrying off). A retry is
    skipped when its wait would end past ``deadline`` seconds after the first try.
    ``sleep`` is how the client waits; tests pass a recorder.
    """

    attempts: int = 6
    backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    deadline: float = 120.0
    jitter: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, retry: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        base = min(self.max_backoff, self.backoff * (2 ** (retry - 1)))
        # Full jitter: many trainers' workers refused at once do not come back at once.
        return random.uniform(base / 2, base) if self.jitter else base


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date. None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
