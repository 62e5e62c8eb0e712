"""What a worker read about a provisioning job before calling the target, and what came of it."""

from dataclasses import dataclass, field


@dataclass
class Attempt:
    """What a worker read about a job before calling the target (plain values, no ORM rows)."""

    job_id: str
    worker_id: str
    number: int
    operation: str
    instance_id: str
    spiff_task_id: str
    item_id: str
    app_id: str
    app_key: str
    app_name: str
    settings: dict
    user: dict
    notification_email: str | None
    started: float = 0.0
    outcome: str = ""
    external_id: str | None = None
    linked: bool = False
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    http_status: int | None = None
    duration_ms: int = 0
    mail: list = field(default_factory=list)
    open_incident: bool = True  # unknown until prefetched: look
    looked_up: bool = False  # the batch lookup found no account: create without asking again
    found: dict | None = None  # the batch lookup found this account: link it
    on_record: str | None = None  # a removal: the external id of the account on record
