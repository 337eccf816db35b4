"""What a caller is told about their tenant's request limit: the ``X-RateLimit-*`` headers.

The same three numbers on every answer (and on the 429 that refuses a request over the limit), so a
client can slow down before it is refused: the limit per minute, what is left of it in the current
window, and the seconds until the window turns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitStatus:
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(max(1, self.reset_s)),
        }
