"""`accessflow worker`: takes due provisioning jobs and runs them, on a schedule; applies the
queued group access changes (engine.access.changes), fires due BPMN timers, ends expired
assignments and queues the reminders before an end (engine.access.expiry, .reminders).

APScheduler is started here and nowhere else (a scheduler fires in every process that starts
one); correctness across many workers comes from row locks and leases in engine.provisioning.jobs.
"""

import logging
import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from engine import durations
from engine.access import changes, expiry
from engine.access import reminders as expiry_reminders
from engine.audit import digests, notices
from engine.audit.notifications import Mailer
from engine.db import db
from engine.errors import Conflict
from engine.provisioning import jobs
from engine.provisioning.calls import run_jobs
from engine.sync import runner as sync_runner
from engine.tasks import reminders
from engine.unit_of_work import unit_of_work
from engine.workflow.timers import fire_due_timers

log = logging.getLogger("accessflow.worker")
QUIET_LIBRARIES = ("apscheduler", "spiff")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs jobs with `threads` loops, each taking up to `batch` due jobs at a time under a
    lease and calling targets `http_concurrency` at a time."""

    def __init__(
        self,
        app,
        worker_id=None,
        threads=1,
        lease_seconds=jobs.DEFAULT_LEASE_SECONDS,
        batch=20,
        http_concurrency=8,
    ):
        self.app = app
        self.worker_id = worker_id or default_worker_id()
        self.threads = max(1, threads)
        self.lease_seconds = lease_seconds
        self.batch = max(1, batch)
        self.http_concurrency = max(1, http_concurrency)
        self.mailer = Mailer.from_config(app.config)
        self.reminder_days = expiry_reminders.parse_days(
            app.config.get("EXPIRY_REMINDER_DAYS") or expiry_reminders.DEFAULT_DAYS
        )
        interval = app.config.get("DIGEST_INTERVAL") or "PT5M"
        try:
            self.digest_interval = durations.parse(interval)
        except (ValueError, OverflowError) as err:
            raise ValueError(f"ACCESSFLOW_DIGEST_INTERVAL: {err}") from None
        self._stopping = threading.Event()

    def drain(self) -> int:
        """Apply the queued access changes, then run every job that is due now (and those that
        become due meanwhile); returns the jobs run. An idle poll is silent."""
        self.apply_changes()  # the items a change starts may queue provisioning jobs
        return self.run_jobs()

    def run_jobs(self) -> int:
        """Run every job that is due now (and those that become due meanwhile); returns count.
        Logs a line only when it ran something: an idle poll is silent."""
        done = self._loop() if self.threads == 1 else self._drain_in_threads()
        if done:
            log.info("worker %s: %d provisioning jobs run", self.worker_id, done)
        return done

    def _drain_in_threads(self) -> int:
        counts = [0] * self.threads

        def loop(index):
            counts[index] = self._loop()

        pool = [threading.Thread(target=loop, args=(i,)) for i in range(self.threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return sum(counts)

    def _loop(self) -> int:
        done = 0
        with self.app.app_context(), ThreadPoolExecutor(self.http_concurrency) as pool:
            try:
                while not self._stopping.is_set():
                    claimed = jobs.claim_due_jobs(self.worker_id, self.batch, self.lease_seconds)
                    if not claimed:
                        return done
                    run_jobs(claimed, self.worker_id, self.mailer, pool)
                    done += len(claimed)
            except Exception:  # a database outage: logged, the next poll tries again
                log.exception("worker %s: polling failed", self.worker_id)
            finally:
                db.session.remove()
        return done

    def _guarded(self, what: str, scan, failed=0):
        """Run one scan in an app context: a failure (a database outage) is logged and the next
        poll tries again; the session is given back either way."""
        with self.app.app_context():
            try:
                return scan()
            except Exception:
                log.exception("worker %s: %s failed", self.worker_id, what)
                return failed
            finally:
                db.session.remove()

    def fire_timers(self) -> int:
        """Fire the BPMN timers that are due (approval deadlines); returns instances moved."""

        def fire() -> int:
            moved = fire_due_timers(mailer=self.mailer)
            if moved:
                log.info("worker %s: due timers fired on %d instances", self.worker_id, moved)
            return moved

        return self._guarded("firing timers", fire)

    def apply_changes(self) -> int:
        """Apply the queued group access changes, one transaction each; returns how many.
        engine.access.changes logs one line per change applied; nothing when idle."""
        return self._guarded("applying access changes", lambda: changes.run_due(self.worker_id))

    def expire_access(self, now=None) -> tuple[int, int]:
        """The expiry scan: end the assignments past their end date (and start the removals),
        then queue the reminders due; one unit of work per batch. Returns (ended, reminded)."""

        def scan() -> tuple[int, int]:
            ended = self._batches(lambda: expiry.expire_due(now, expiry.BATCH), expiry.BATCH)
            reminded = self._batches(
                lambda: expiry_reminders.remind_due(
                    self.mailer.base_url, self.reminder_days, now, expiry_reminders.BATCH
                ),
                expiry_reminders.BATCH,
            )
            if ended or reminded:
                log.info(
                    "worker %s: %d assignments expired, %d reminded",
                    self.worker_id,
                    ended,
                    reminded,
                )
            return ended, reminded

        return self._guarded("the expiry scan", scan, failed=(0, 0))

    def _batches(self, scan, batch: int) -> int:
        """Run `scan` (one batch) in a unit of work each until a batch comes back short."""
        total = 0
        while not self._stopping.is_set():
            try:
                with unit_of_work():
                    done = scan()
            except Conflict as err:  # another worker took the same rows: the next poll goes on
                log.info("worker %s: a batch lost a race (%s)", self.worker_id, err.detail)
                break
            total += done
            if done < batch:
                break
        return total

    def remind_and_escalate(self) -> int:
        """Remind the candidates of tasks coming due and escalate the tasks waiting too long
        (engine.tasks.reminders), a batch per unit of work; returns how many tasks moved."""

        def scan() -> int:
            return sum(
                self._batches(step, reminders.BATCH)
                for step in (reminders.remind_due, reminders.escalate_due)
            )

        return self._guarded("task reminders", scan)

    def write_digests(self) -> int:
        """Mark who is owed a digest by the tasks opened since the last scan, then write the
        digests now due to the outbox; returns how many people got one written."""

        def scan() -> int:
            self._batches(digests.scan_new_tasks, digests.SCAN_BATCH)
            return digests.send_due_digests(self.mailer, self.digest_interval)

        # A race on the digest cursor between two workers fails here too: the next poll goes on.
        return self._guarded("writing task digests", scan)

    def run_syncs(self) -> int:
        """Carry out due sync runs, one application at a time (queued or abandoned runs first,
        then applications whose next scheduled sync is due); returns how many runs."""

        def scan() -> int:
            done = 0
            while not self._stopping.is_set():
                if sync_runner.run_due(self.worker_id, self.mailer) is None:
                    break
                done += 1
            return done

        return self._guarded("running syncs", scan)

    def send_notices(self) -> int:
        """Send the due notices of the outbox (mail to people about their access); returns how
        many were taken. A notice that fails waits for its backoff, not for this loop."""

        def scan() -> int:
            taken = 0
            while not self._stopping.is_set():
                batch = notices.send_due(self.mailer, self.batch)
                if not batch:
                    break
                taken += batch
            if taken:
                log.info("worker %s: %d notices handled", self.worker_id, taken)
            return taken

        return self._guarded("sending notices", scan)

    def run_until_idle(self, timeout: float | None = None) -> int:
        """Drain (queued access changes, then due jobs), wait for retries coming due, drain
        again, until no job is left to run; the notices due after each drain are sent (their
        retries are left to the schedule). Returns the provisioning jobs run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done = 0
        while not self._stopping.is_set():
            done += self.drain()
            self.send_notices()
            with self.app.app_context():
                wait = jobs.next_due_in()
                db.session.remove()
            if wait is None or (deadline is not None and time.monotonic() + wait > deadline):
                return done
            time.sleep(min(wait, 1.0) + 0.01)
        return done

    def serve(self, interval: float = 1.0) -> None:
        """Poll every `interval` seconds until SIGTERM or SIGINT; a running job is finished."""
        scheduler = self.scheduler(interval)

        def stop(signum, _frame):
            log.info("worker %s: stopping (signal %s)", self.worker_id, signum)
            self._stopping.set()
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("worker %s: polling every %ss", self.worker_id, interval)
        scheduler.start()

    def scheduler(self, interval: float):
        """The blocking scheduler that polls for jobs and timers, not yet started."""
        from apscheduler.schedulers.blocking import BlockingScheduler

        # APScheduler logs every poll at INFO ("Running job", "executed successfully") and
        # SpiffWorkflow every task's state: the worker's own lines say what it did; the
        # libraries speak only of trouble.
        for library in QUIET_LIBRARIES:
            logging.getLogger(library).setLevel(logging.WARNING)
        scheduler = BlockingScheduler()
        # Every scan each poll, but a sync: a run reads a whole target, once in 5 s is enough.
        scans = {
            "provisioning": (self.run_jobs, interval),
            "access_changes": (self.apply_changes, interval),
            "timers": (self.fire_timers, interval),
            "expiry": (self.expire_access, interval),
            "reminders": (self.remind_and_escalate, interval),
            "digests": (self.write_digests, interval),
            "syncs": (self.run_syncs, max(interval, 5.0)),
            "notices": (self.send_notices, interval),
        }
        for job_id, (scan, seconds) in scans.items():
            scheduler.add_job(
                scan,
                "interval",
                seconds=seconds,
                id=job_id,
                max_instances=1,
                coalesce=True,
                next_run_time=_now(),
            )
        return scheduler


def _now():
    from datetime import datetime

    return datetime.now().astimezone()
