"""Counters the web processes share, so limits hold across every process and machine."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Model


class LoginFailure(Model):
    """Sign-in attempts counted for one account name or one client address in a time window."""

    __tablename__ = "login_failures"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)  # "account" | "address"
    key: Mapped[str] = mapped_column(String(150), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
