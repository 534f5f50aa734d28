"""Schemathesis hooks for the bounded run of tests/e2e/schemathesis.rs.

`GET /checkpoint?min_size=N` is a long poll: for an N beyond the log it waits 10 s by design, which is documented
behaviour, not a fault, and would spend the run's time budget on waiting. Just before each request (in every
phase), a size the server would wait for is replaced by 1 (the log always holds entry 0), so every other value is
still sent and the answer comes at once.
"""

import schemathesis


def _waits(value):
    """Whether the server would read `value` as a size to wait for (a decimal beyond 1)."""
    text = str(value)
    return text.isascii() and text.isdigit() and int(text) > 1


@schemathesis.hook
def before_call(context, case, **kwargs):
    query = case.query
    if isinstance(query, dict) and _waits(query.get("min_size", "")):
        query["min_size"] = 1
