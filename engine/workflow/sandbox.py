"""The only way BPMN content is evaluated: accessflow's allow-listed evaluator, within limits.

SpiffWorkflow evaluates expressions through two doors: the script engine
(`script_engine.evaluate`, used by gateways, timers, cardinalities, service parameters) and the
script engine's *environment* (`script_engine.environment.evaluate`, used directly by message
correlations and ad-hoc completion conditions). Both doors lead here. As a last line, Spiff's
stock `TaskDataEnvironment`, the one any `PythonScriptEngine()` gets by default, is disarmed at
import: an evaluation path nobody thought of, or a workflow built without our engine, fails
instead of reaching Python's `eval`.
"""

from datetime import timedelta

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
    TaskDataEnvironment,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.exceptions import WorkflowException

from engine.workflow.expressions import ExpressionError, check_expression, evaluate_expression

MAX_INSTANCES = 100  # multi-instance cardinality, loop maximum, timer cycles
MAX_TIMER = timedelta(days=3650)  # a longer timer is a typo, and past year 9999 Python overflows


class ScriptsDisabled(WorkflowException):
    """Raised for any attempt to run a script or call a service from inside the engine."""


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff's environment door: the allow-listed evaluator, no scripts, no services."""

    def evaluate(self, expression, context, external_context=None):
        names = dict(context or {})
        names.update(external_context or {})
        return evaluate_expression(expression, names)

    def execute(self, script, context, external_context=None):
        raise ScriptsDisabled("script execution is disabled in accessflow")

    def call_service(self, context, **kwargs):
        raise ScriptsDisabled("service tasks run as provisioning jobs")


class SafeScriptEngine(PythonScriptEngine):
    """Spiff's script-engine door: checked evaluation, bounded results, no scripts."""

    def __init__(self):
        super().__init__(environment=SafeEnvironment())

    def validate(self, expression):
        check_expression(expression)

    def evaluate(self, task, expression, external_context=None):
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
            check_result(task.task_spec, expression, value)
        except ExpressionError as err:
            raise WorkflowTaskException(f"expression {expression!r}: {err}", task=task) from err
        return value

    def execute(self, task, script, external_context=None):
        raise WorkflowTaskException("script execution is disabled in accessflow", task=task)

    def call_service(self, task, **kwargs):
        # Spiff's own version has a NameError in its error path; service calls are jobs here.
        raise WorkflowTaskException("service tasks run as provisioning jobs", task=task)


def check_result(spec, expression: str, value: object) -> None:
    """Refuse a value that would make the engine do unbounded work: raise ExpressionError."""
    if isinstance(spec, MultiInstanceTask) and expression == spec.cardinality:
        check_instance_count(value, "loop cardinality")
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition) and expression == definition.expression:
        check_timer_value(_TIMER_KINDS.get(type(definition), "date"), value)


def check_instance_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExpressionError(f"{what} must be a whole number, not {type(value).__name__}")
    if not 0 <= value <= MAX_INSTANCES:
        raise ExpressionError(f"{what} must be between 0 and {MAX_INSTANCES}, not {value}")
    return value


_TIMER_KINDS = {
    DurationTimerEventDefinition: "duration",
    CycleTimerEventDefinition: "cycle",
    TimeDateEventDefinition: "date",
}


def check_timer_value(kind: str, value: object) -> None:
    """A timer's value (kind "duration", "date" or "cycle") is ISO-8601 and within MAX_TIMER."""
    if not isinstance(value, str):
        raise ExpressionError(f"a timer needs an ISO-8601 string, not {type(value).__name__}")
    try:
        if kind == "duration":
            span = TimerEventDefinition.get_timedelta_from_start(
                TimerEventDefinition.parse_iso_duration(value)
            )
        elif kind == "cycle":
            cycles, _start, span = TimerEventDefinition.parse_iso_recurring_interval(value)
            if not 0 <= cycles <= MAX_INSTANCES:
                raise ExpressionError(
                    f"a timer cycle must repeat between 0 and {MAX_INSTANCES} times ('R3/PT1H')"
                )
        else:
            TimerEventDefinition.parse_time_or_duration(value)
            return
    except ExpressionError:
        raise
    except Exception as err:  # Spiff's ISO parsers raise bare Exception for a bad value
        raise ExpressionError(f"{value!r} is not an ISO-8601 timer value ({err})") from None
    if not timedelta(0) <= span <= MAX_TIMER:
        raise ExpressionError(f"timer {value!r} is outside 0 to {MAX_TIMER.days} days")


def _python_eval_refused(*_args, **_kwargs):
    raise ScriptsDisabled("accessflow never evaluates BPMN content with Python's eval or exec")


# The backstop described above: Spiff's default environment can no longer run anything.
TaskDataEnvironment.evaluate = _python_eval_refused
TaskDataEnvironment.execute = _python_eval_refused

SCRIPT_ENGINE = SafeScriptEngine()
