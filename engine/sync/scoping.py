"""Scoping filters: which people an application's sync provisions, as attribute rules.

    department eq "Sales" and title ne "Contractor"
    department sw "Sal" or active eq true

A filter is a chain of `field op value` rules joined by `and` / `or` (`and` binds first);
`op` is eq, ne, co (contains), sw (starts with), ew (ends with) or pr (has a value, no
operand); values are JSON strings, true, false or null. Comparison of text ignores case.
Parsed here, never evaluated by Python: a filter is data an admin types.
"""

import json
import re
from collections.abc import Callable

from engine.errors import Invalid

FIELDS = ("username", "email", "display_name", "first_name", "last_name", "department", "title",
          "active")  # fmt: skip
OPERATORS = ("eq", "ne", "co", "sw", "ew", "pr")
MAX_FILTER_CHARS = 2000
_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[A-Za-z_]+)')

Rule = Callable[[dict], bool]


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise Invalid(f"scoping filter: cannot read {text[position:position + 20]!r}",
                          field="scoping_filter")  # fmt: skip
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _value(token: str):
    if token.startswith('"'):
        return json.loads(token)
    if token in ("true", "false", "null"):
        return json.loads(token)
    raise Invalid(f"scoping filter: {token!r} is not a value (quote text)", field="scoping_filter")


def _text(value) -> str:
    return "" if value is None else str(value).casefold()


def _rule(field: str, op: str, operand) -> Rule:
    def test(person: dict) -> bool:
        value = person.get(field)
        if op == "pr":
            return value not in (None, "")
        if isinstance(operand, bool) or operand is None or isinstance(value, bool):
            equal = value == operand
        else:
            equal = _text(value) == _text(operand)
        if op in ("eq", "ne"):
            return equal if op == "eq" else not equal
        checks = {"co": str.__contains__, "sw": str.startswith, "ew": str.endswith}
        return checks[op](_text(value), _text(operand))

    return test


def parse(text: str | None) -> Rule | None:
    """The filter as a test of a directory entry; None for no filter (everyone is in scope).

    :raises Invalid: naming what could not be read."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise Invalid(f"scoping filter: at most {MAX_FILTER_CHARS} characters",
                      field="scoping_filter")  # fmt: skip
    tokens = _tokens(text)
    alternatives: list[list[Rule]] = [[]]
    position = 0
    while True:
        if position + 1 >= len(tokens):
            raise Invalid("scoping filter: a rule is `field op value`", field="scoping_filter")
        field, op = tokens[position], tokens[position + 1].lower()
        if field not in FIELDS:
            raise Invalid(f"scoping filter: unknown field {field[:50]!r}; one of "
                          f"{', '.join(FIELDS)}", field="scoping_filter")  # fmt: skip
        if op not in OPERATORS:
            raise Invalid(f"scoping filter: unknown operator {op[:20]!r}; one of "
                          f"{', '.join(OPERATORS)}", field="scoping_filter")  # fmt: skip
        position += 2
        operand = None
        if op != "pr":
            if position >= len(tokens):
                raise Invalid(f"scoping filter: {field} {op} needs a value",
                              field="scoping_filter")  # fmt: skip
            operand = _value(tokens[position])
            position += 1
        alternatives[-1].append(_rule(field, op, operand))
        if position == len(tokens):
            break
        joiner = tokens[position].lower()
        if joiner == "or":
            alternatives.append([])
        elif joiner != "and":
            raise Invalid(f"scoping filter: expected and/or, got {joiner[:20]!r}",
                          field="scoping_filter")  # fmt: skip
        position += 1

    def in_scope(person: dict) -> bool:
        return any(all(rule(person) for rule in rules) for rules in alternatives)

    return in_scope
