"""ISO-8601 durations ("P14D", "PT12H", "PT0S") as the directory file and settings write them."""

import re
from datetime import timedelta

PATTERN = re.compile(
    r"P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)
MAX_LENGTH = 40


def parse(text: str) -> timedelta:
    """The duration as a timedelta (a year counts 365 days, a month 31: an upper bound).

    :raises ValueError: not an ISO-8601 duration, or longer than MAX_LENGTH characters.
    :raises OverflowError: a duration longer than a timedelta holds."""
    match = PATTERN.fullmatch(text) if isinstance(text, str) and len(text) <= MAX_LENGTH else None
    if match is None:
        raise ValueError(f"{str(text)[:MAX_LENGTH]!r} is not an ISO-8601 duration such as P14D")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    days += years * 365 + months * 31 + weeks * 7
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
