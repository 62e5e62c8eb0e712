"""Hostile BPMN for issue 9: every place SpiffWorkflow evaluates an expression, and payloads that
try to run code (proof: a marker file appears) or to exhaust the server.

A place builds a small, otherwise valid process around one expression: start, a Manager user task
(lane `Manager`), the place itself, end. `PLACES[name].bpmn(key, expression)` is the file;
`harmless` is an expression that deploys and runs on today's code, for the sanity tests.
Payloads are templates: `{m}` is replaced by the marker file's path.
"""

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="{spiff}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs_{key}" targetNamespace="https://accessflow.dev/bpmn">
{definitions}
  <bpmn:process id="{key}" name="Attack {key}" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_manager" name="Manager">
        <bpmn:flowNodeRef>manager_approval</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>manager_review</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:endEvent id="end" />
{body}
  </bpmn:process>
</bpmn:definitions>
"""
MANAGER = '<bpmn:userTask id="manager_approval" name="Manager approval">{inner}</bpmn:userTask>'
# The expression's element id, so a refusal can be checked to name it.
ATTACKED = "attacked"


def flow(source: str, target: str, name: str | None = None, condition: str | None = None) -> str:
    name = name or f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{name}" sourceRef="{source}" targetRef="{target}" />'
    return (
        f'<bpmn:sequenceFlow id="{name}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )


def chain(*nodes: str) -> str:
    return "\n".join(flow(a, b) for a, b in zip(nodes, nodes[1:], strict=False))


def document(key: str, body: str, definitions: str = "") -> str:
    return _DOCUMENT.format(spiff=SPIFF_NS, key=key, body=body, definitions=definitions)


def _gateway(kind: str):
    def build(key, expr):
        gateway = f'<bpmn:{kind} id="gate" default="f_no" />'
        flows = [
            flow("start", "gate"),
            flow("gate", "manager_approval", ATTACKED, expr),
            flow("gate", "manager_approval", "f_no"),
            flow("manager_approval", "end"),
        ]
        return document(key, "\n".join([gateway, MANAGER.format(inner=""), *flows]))

    return build


def _timer(tag: str, boundary: bool):
    def build(key, expr):
        timer = (
            f'<bpmn:timerEventDefinition id="timer"><bpmn:{tag} xsi:type="bpmn:tFormalExpression">'
            f"{escape(expr)}</bpmn:{tag}></bpmn:timerEventDefinition>"
        )
        if boundary:
            body = [
                MANAGER.format(inner=""),
                f'<bpmn:boundaryEvent id="{ATTACKED}" attachedToRef="manager_approval">'
                f"{timer}</bpmn:boundaryEvent>",
                '<bpmn:endEvent id="expired" name="Rejected: no decision in time" />',
                chain("start", "manager_approval", "end"),
                flow(ATTACKED, "expired"),
            ]
        else:
            body = [
                f'<bpmn:intermediateCatchEvent id="{ATTACKED}">{timer}'
                "</bpmn:intermediateCatchEvent>",
                MANAGER.format(inner=""),
                chain("start", ATTACKED, "manager_approval", "end"),
            ]
        return document(key, "\n".join(body))

    return build


def _on_manager(inner_of):
    """The expression sits inside the Manager task itself (loops, extensions, data)."""

    def build(key, expr):
        task = MANAGER.format(inner=inner_of(expr))
        return document(key, "\n".join([task, chain("start", "manager_approval", "end")]))

    return build


def _multi_instance(cardinality: str, condition: str | None = None) -> str:
    done = "" if condition is None else f"<bpmn:completionCondition>{escape(condition)}"
    done += "" if condition is None else "</bpmn:completionCondition>"
    return (
        '<bpmn:multiInstanceLoopCharacteristics isSequential="false">'
        f"<bpmn:loopCardinality>{escape(cardinality)}</bpmn:loopCardinality>{done}"
        "</bpmn:multiInstanceLoopCharacteristics>"
    )


def _standard_loop(condition: str | None, maximum: str | None = "3") -> str:
    attribute = "" if maximum is None else f" loopMaximum={quoteattr(maximum)}"
    test = (
        "" if condition is None else f"<bpmn:loopCondition>{escape(condition)}</bpmn:loopCondition>"
    )
    return f"<bpmn:standardLoopCharacteristics{attribute}>{test}</bpmn:standardLoopCharacteristics>"


def _extension(tag: str, text: str) -> str:
    return (
        f"<bpmn:extensionElements><spiffworkflow:{tag}>{escape(text)}</spiffworkflow:{tag}>"
        "</bpmn:extensionElements>"
    )


def _ad_hoc(completion: str, loop_condition: str | None = None):
    """An ad-hoc sub-process around the Manager task; Spiff evaluates its conditions with its own
    environment, not through the workflow's script engine. A conditional loop task must sit next
    to an unconditional one, or Spiff finds no path to start."""
    if loop_condition is None:
        tasks = MANAGER.format(inner="")
    else:
        tasks = MANAGER.format(inner=_standard_loop(None, maximum="1")) + (
            '<bpmn:userTask id="manager_review" name="Manager review">'
            f"{_standard_loop(loop_condition, maximum='2')}</bpmn:userTask>"
        )
    return (
        f'<bpmn:adHocSubProcess id="{ATTACKED}">{tasks}'
        f"<bpmn:completionCondition>{escape(completion)}</bpmn:completionCondition>"
        "</bpmn:adHocSubProcess>"
    )


def _ad_hoc_place(which: str):
    def build(key, expr):
        sub = _ad_hoc(expr) if which == "completion" else _ad_hoc("False", loop_condition=expr)
        return document(key, "\n".join([sub, chain("start", ATTACKED, "end")]))

    return build


_MESSAGE = '<bpmn:message id="request_message" name="request_message" />'


def _correlation_property(retrieval: str) -> str:
    return (
        '<bpmn:correlationProperty id="request_id" name="request_id">'
        '<bpmn:correlationPropertyRetrievalExpression messageRef="request_message">'
        f"<bpmn:formalExpression>{escape(retrieval)}</bpmn:formalExpression>"
        "</bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>"
    )


def _message_throw(key, expr, payload: str, retrieval: str):
    event = (
        f'<bpmn:intermediateThrowEvent id="{ATTACKED}">'
        '<bpmn:messageEventDefinition messageRef="request_message">'
        f"{_extension('messagePayload', payload)}</bpmn:messageEventDefinition>"
        "</bpmn:intermediateThrowEvent>"
    )
    body = [event, MANAGER.format(inner=""), chain("start", ATTACKED, "manager_approval", "end")]
    return document(key, "\n".join(body), _MESSAGE + _correlation_property(retrieval))


def _message_catch(key, expr):
    correlation = (
        "<bpmn:extensionElements><spiffworkflow:processVariableCorrelation>"
        "<spiffworkflow:propertyId>request_id</spiffworkflow:propertyId>"
        f"<spiffworkflow:expression>{escape(expr)}</spiffworkflow:expression>"
        "</spiffworkflow:processVariableCorrelation></bpmn:extensionElements>"
    )
    event = (
        f'<bpmn:intermediateCatchEvent id="{ATTACKED}">'
        f'<bpmn:messageEventDefinition messageRef="request_message">{correlation}'
        "</bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>"
    )
    body = [MANAGER.format(inner=""), event, chain("start", "manager_approval", ATTACKED, "end")]
    return document(key, "\n".join(body), _MESSAGE + _correlation_property("item_id"))


def _conditional(key, expr):
    event = (
        f'<bpmn:intermediateCatchEvent id="{ATTACKED}"><bpmn:conditionalEventDefinition>'
        f'<bpmn:condition xsi:type="bpmn:tFormalExpression">{escape(expr)}</bpmn:condition>'
        "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>"
    )
    body = [event, MANAGER.format(inner=""), chain("start", ATTACKED, "manager_approval", "end")]
    return document(key, "\n".join(body))


def _item_aware(kind: str):
    """A signal or escalation thrown with a spiff payloadExpression, defined outside the process."""

    def build(key, expr):
        definition = (
            f'<bpmn:{kind} id="the_{kind}" name="the_{kind}">'
            f"{_extension('payloadExpression', expr)}</bpmn:{kind}>"
        )
        event = (
            f'<bpmn:intermediateThrowEvent id="{ATTACKED}">'
            f'<bpmn:{kind}EventDefinition {kind}Ref="the_{kind}" /></bpmn:intermediateThrowEvent>'
        )
        body = [
            event,
            MANAGER.format(inner=""),
            chain("start", ATTACKED, "manager_approval", "end"),
        ]
        return document(key, "\n".join(body), definition)

    return build


def _service_parameter(key, expr):
    task = (
        f'<bpmn:serviceTask id="{ATTACKED}"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator id="provision" resultVariable="provisioning">'
        "<spiffworkflow:parameters>"
        f'<spiffworkflow:parameter id="operation" type="str" value={quoteattr(expr)} />'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    body = [MANAGER.format(inner=""), task, chain("start", "manager_approval", ATTACKED, "end")]
    return document(key, "\n".join(body))


def _script_task(key, expr):
    task = (
        f'<bpmn:scriptTask id="{ATTACKED}" scriptFormat="python">'
        f"<bpmn:script>{escape(expr)}</bpmn:script></bpmn:scriptTask>"
    )
    body = [task, MANAGER.format(inner=""), chain("start", ATTACKED, "manager_approval", "end")]
    return document(key, "\n".join(body))


def _data_association(expr: str) -> str:
    return (
        '<bpmn:dataInputAssociation id="reads_note"><bpmn:sourceRef>note_ref</bpmn:sourceRef>'
        f"<bpmn:transformation>{escape(expr)}</bpmn:transformation>"
        f"<bpmn:assignment><bpmn:from>{escape(expr)}</bpmn:from><bpmn:to>note</bpmn:to>"
        "</bpmn:assignment></bpmn:dataInputAssociation>"
    )


def _data_place(key, expr):
    task = MANAGER.format(inner=_data_association(expr))
    body = [
        '<bpmn:dataObject id="note" />',
        '<bpmn:dataObjectReference id="note_ref" dataObjectRef="note" />',
        task,
        chain("start", "manager_approval", "end"),
    ]
    return document(key, "\n".join(body))


@dataclass(frozen=True)
class Place:
    bpmn: object  # (key, expression) -> BPMN text
    harmless: str | None  # None: the place is refused whatever it holds (scripts)
    # Ids a refusal may name: the flow, event or task holding the expression, or its definition.
    elements: tuple = (ATTACKED,)


ON_MANAGER = ("manager_approval",)
TIMER = (ATTACKED, "timer")


PLACES = {
    "exclusive-condition": Place(_gateway("exclusiveGateway"), "True"),
    "inclusive-condition": Place(_gateway("inclusiveGateway"), "True"),
    "catch-timeDuration": Place(_timer("timeDuration", boundary=False), '"PT0S"', TIMER),
    "catch-timeDate": Place(
        _timer("timeDate", boundary=False), '"2000-01-01T00:00:00+00:00"', TIMER
    ),
    "catch-timeCycle": Place(_timer("timeCycle", boundary=False), '"R1/PT0S"', TIMER),
    "boundary-timeDuration": Place(_timer("timeDuration", boundary=True), '"PT1H"', TIMER),
    "boundary-timeDate": Place(
        _timer("timeDate", boundary=True), '"2999-01-01T00:00:00+00:00"', TIMER
    ),
    "boundary-timeCycle": Place(_timer("timeCycle", boundary=True), '"R1/PT1H"', TIMER),
    "mi-loopCardinality": Place(_on_manager(_multi_instance), "2", ON_MANAGER),
    "mi-completionCondition": Place(
        _on_manager(lambda e: _multi_instance("2", e)), "False", ON_MANAGER
    ),
    "loop-loopMaximum": Place(
        _on_manager(lambda e: _standard_loop(None, maximum=e)), "2", ON_MANAGER
    ),
    "loop-loopCondition": Place(_on_manager(_standard_loop), "True", ON_MANAGER),
    "adhoc-completionCondition": Place(_ad_hoc_place("completion"), "True"),
    "adhoc-loopCondition": Place(_ad_hoc_place("loop"), "False", (ATTACKED, "manager_review")),
    "catch-processVariableCorrelation": Place(_message_catch, "item_id", (ATTACKED, "request_id")),
    "throw-correlationRetrieval": Place(
        lambda key, expr: _message_throw(key, expr, '{"item_id": item_id}', expr),
        "item_id",
        (ATTACKED, "request_id", "request_message"),
    ),
    "throw-messagePayload": Place(
        lambda key, expr: _message_throw(key, expr, expr, "item_id"), '{"item_id": item_id}'
    ),
    "conditional-event": Place(_conditional, "True"),
    "signal-payloadExpression": Place(_item_aware("signal"), "item_id", (ATTACKED, "the_signal")),
    "escalation-payloadExpression": Place(
        _item_aware("escalation"), "item_id", (ATTACKED, "the_escalation")
    ),
    "service-parameter": Place(_service_parameter, "account_mode", (ATTACKED, "provision")),
    "data-assignment": Place(_data_place, "note", ON_MANAGER),
    "preScript": Place(_on_manager(lambda e: _extension("preScript", e)), None, ON_MANAGER),
    "postScript": Place(_on_manager(lambda e: _extension("postScript", e)), None, ON_MANAGER),
    "instructionsForEndUser": Place(
        _on_manager(lambda e: _extension("instructionsForEndUser", "{{ " + e + " }}")),
        None,
        ON_MANAGER,
    ),
    "scriptTask": Place(_script_task, None),
}

# Each tries to create the marker file {m}; together they cover the usual ways out of an
# expression sandbox. Most need Python's eval to work; some also slip past an AST check.
PAYLOADS = {
    "import-system": "__import__('os').system('touch {m}')",
    "open-write": "open('{m}', 'w')",
    "pathlib-touch": "__import__('pathlib').Path('{m}').touch()",
    "popen-subclass": "[c for c in ().__class__.__mro__[1].__subclasses__() "
    "if c.__name__ == 'Popen'][0](['touch', '{m}']).wait()",
    "wrap-close-globals": "[c for c in ().__class__.__base__.__subclasses__() "
    "if c.__name__ == '_wrap_close'][0].__init__.__globals__['system']('touch {m}')",
    "catch-warnings-module": "[c for c in ().__class__.__base__.__subclasses__() "
    "if c.__name__ == 'catch_warnings'][0]()._module.__builtins__['open']('{m}', 'w')",
    "reduce-ex-globals": "().__reduce_ex__(2)[0].__globals__['__builtins__']['open']('{m}', 'w')",
    "getattr-os": "getattr(__import__('os'), 'system')('touch {m}')",
    "getattr-builtins": "getattr(len.__self__, 'open')('{m}', 'w')",
    "globals-builtins": "globals()['__builtins__']['open']('{m}', 'w')",
    "vars-module": "vars(__import__('os'))['system']('touch {m}')",
    "builtins-subscript": "__builtins__['open']('{m}', 'w')",
    "eval-string": "eval(\"open('{m}', 'w')\")",
    "exec-string": "exec(\"open('{m}', 'w')\")",
    "compile-exec": "exec(compile(\"open('{m}', 'w')\", 'x', 'exec'))",
    "lambda-call": "(lambda: __import__('os').system('touch {m}'))()",
    "lambda-default": "(lambda o=__import__('os'): o.system('touch {m}'))()",
    "lambda-key": "max([1, 2], key=lambda v: open('{m}', 'w') and v)",
    "format-method": "'{{0}}'.format(open('{m}', 'w'))",
    "format-attribute": "'{{0.__class__}}'.format(open('{m}', 'w'))",
    "f-string": "f\"{{__import__('os').system('touch {m}')}}\"",
    "f-string-spec": "f\"{{open('{m}', 'w')!r:>10}}\"",
    "breakpoint-self": "breakpoint.__self__.open('{m}', 'w')",
    "help-globals": "help.__class__.__init__.__globals__['sys'].modules['os'].system('touch {m}')",
    "license-globals": "license.__class__.__init__.__globals__['os'].system('touch {m}')",
    "len-self": "len.__self__.open('{m}', 'w')",
    "sorted-self-exec": "sorted.__self__.exec(\"open('{m}', 'w')\")",
    "walrus": "(o := __import__('os')) and o.system('touch {m}')",
    "generator-frame-builtins": "(x for x in ()).gi_frame.f_builtins['open']('{m}', 'w')",
    "generator-frame-globals": "[f for f in [(x for x in ()).gi_frame]][0]"
    ".f_globals['__builtins__']['open']('{m}', 'w')",
    "unicode-eval": "\uff45val(\"open('{m}', 'w')\")",
    "unicode-import": "__\uff49mport__('os').system('touch {m}')",
    "unicode-open": "\uff4f\uff50\uff45\uff4e('{m}', 'w')",
    "unicode-attribute": "len.__\uff53elf__.open('{m}', 'w')",
    "chr-import": "__import__(chr(111) + chr(115)).system('touch {m}')",
    "bytes-import": "__import__(b'\\x6fs'.decode()).system('touch {m}')",
    "kwargs-unpack": "dict(**{{'x': open('{m}', 'w')}})",
    "starred-call": "print(*[open('{m}', 'w')], file=open('{m}', 'w'))",
    "set-comprehension": "{{open('{m}', 'w') for _ in [1]}}",
    "dict-comprehension": "{{1: open('{m}', 'w') for _ in [1]}}",
    "hidden-in-ifexp": "True if open('{m}', 'w') else False",
    "hidden-in-boolop": "False or open('{m}', 'w')",
    "hidden-in-compare": "1 < len(str(open('{m}', 'w')))",
    "hidden-in-subscript": "[1, 2][__import__('os').system('touch {m}')]",
    "deeply-nested": "[" * 80 + "open('{m}', 'w')" + "]" * 80,
    "very-long": "0 + " * 1500 + "len(str(open('{m}', 'w')))",
    "class-attribute-chain": "str.__class__.__subclasses__(str.__class__)[0]"
    ".__init__.__globals__['__builtins__']['open']('{m}', 'w')",
}

# Constants and loops that would eat the CPU or memory if evaluated or run.
EXHAUSTION = {
    "power-tower": "10**10**10",
    "huge-string": "'a' * 10**10",
    "huge-list": "[0] * 10**9",
    "long-sum": "sum(range(10**12))",
    "huge-repeat-len": "len('ab' * 10**9)",
}


def attack(payload: str, marker) -> str:
    return payload.format(m=marker)
