"""Domain dates -> ``contra.v1.Date`` at their precision (a month or a year leaves the smaller fields 0).

Its own module so that the CLI's client path (``cli.py``) can build request dates without importing
``convert`` and, through it, the pipeline and the models.
"""

from __future__ import annotations

import datetime as dt

from contra.domain import DatePrecision
from contra.v1 import contra_pb2 as pb


def date_to_pb(value: dt.date | None, precision: DatePrecision = DatePrecision.DAY) -> pb.Date | None:
    if value is None:
        return None
    if precision is DatePrecision.YEAR:
        return pb.Date(year=value.year)
    if precision is DatePrecision.MONTH:
        return pb.Date(year=value.year, month=value.month)
    return pb.Date(year=value.year, month=value.month, day=value.day)
