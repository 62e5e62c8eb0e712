"""Allow-listed evaluator for the expressions inside BPMN files.

BPMN files come from workflow designers, so gateway conditions, timer expressions and
service-task parameters are untrusted. SpiffWorkflow would run them with ``eval`` and full
builtins; we parse them with :mod:`ast`, refuse everything not on an allow-list, and walk the
tree ourselves. Source text never reaches ``eval``, ``exec`` or ``compile``.

Choices: f-strings are refused (``str()`` and ``+`` cover the need, and a format spec such as
``{x:>999999999}`` is a memory bomb); ``**`` is allowed with |exponent| <= 64 and
|base| <= 10**100; bytes literals are refused outright (task data is JSON, bytes have no use);
any checked expression may be used as a subscript index, so ``items[-1]`` works.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from functools import lru_cache

MAX_SOURCE_CHARS = 2_000
MAX_NODES = 500  # expression nodes, so a huge literal list cannot be used to burn CPU
MAX_DEPTH = 50  # keeps our recursive walk far below Python's recursion limit
MAX_SEQUENCE_LEN = 10_000
MAX_INT = 10**100
MAX_EXPONENT = 64
MAX_ROUND_DIGITS = 100  # round(5, -10**9) would compute 10**(10**9)


class ExpressionError(ValueError):
    """An expression could not be evaluated: unknown name, wrong type, result too large."""


class UnsafeExpression(ExpressionError):
    """The expression uses something the evaluator does not allow; str(err) says what."""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"expected a string, got {type(value).__name__}")
    return value


def _round(number, ndigits=None):
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS):
        raise ExpressionError(f"round() digits must be an integer of at most {MAX_ROUND_DIGITS}")
    return round(number, ndigits)


def _sum(values, start=0):
    items = [*values, start]
    # sum() of lists or tuples is quadratic, so only numbers may be added
    if not all(isinstance(item, int | float) for item in items):
        raise ExpressionError("sum() only adds numbers")
    return sum(items)


_SAFE_BUILTINS = (len, str, int, float, bool, min, max, abs, any, all, sorted)
ALLOWED_FUNCTIONS = {function.__name__: function for function in _SAFE_BUILTINS} | {
    "round": _round,
    "sum": _sum,
    "lower": lambda s: _text(s).lower(),
    "upper": lambda s: _text(s).upper(),
    "startswith": lambda s, prefix: _text(s).startswith(_text(prefix)),
    "endswith": lambda s, suffix: _text(s).endswith(_text(suffix)),
    "contains": lambda s, sub: _text(sub) in _text(s),
}

# fmt: off
_BIN_OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY_OPS = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
_CMP_OPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_REFUSED = {  # FormattedValue only occurs inside a JoinedStr, which is refused first
    ast.Lambda: "lambda", ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.NamedExpr: "assignment expression (:=)", ast.Starred: "starred unpacking (*)",
    ast.JoinedStr: "f-string", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield from",
}
_PLAIN = (ast.Expression, ast.BoolOp, ast.IfExp, ast.Subscript, ast.Slice, ast.Tuple, ast.List,
          ast.Set)
# fmt: on
_OPERATOR_NODES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_OPERAND_TYPES = (int, float, str, list, tuple)  # arithmetic never reaches foreign objects
_SEQUENCES = (str, list, tuple)


def _measure(tree: ast.AST) -> None:
    """Refuse trees too deep or too large; iterative, so it is safe on any parsed input."""
    count, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnsafeExpression(f"expression is nested too deeply (over {MAX_DEPTH} levels)")
        count += isinstance(node, ast.expr)
        if count > MAX_NODES:
            raise UnsafeExpression(f"expression is too large (over {MAX_NODES} nodes)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check(node: ast.AST) -> None:
    """Raise UnsafeExpression for the first node that is not on the allow-list."""
    kind = type(node)
    if isinstance(node, _OPERATOR_NODES):
        return  # validated by the parent node
    if kind in _REFUSED:
        raise UnsafeExpression(f"{_REFUSED[kind]} is not allowed")
    if isinstance(node, ast.Attribute):
        raise UnsafeExpression(f"attribute access is not allowed ({node.attr!r})")
    if isinstance(node, ast.Constant):
        if type(node.value) not in _CONSTANT_TYPES:
            raise UnsafeExpression(f"{type(node.value).__name__} literals are not allowed")
        if isinstance(node.value, int) and abs(node.value) >= MAX_INT:
            raise UnsafeExpression("integer literal is too large")
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise UnsafeExpression(f"names starting with '_' are not allowed ({node.id!r})")
    elif isinstance(node, ast.Call):
        if any(kw.arg is None for kw in node.keywords):
            raise UnsafeExpression("** unpacking is not allowed")
        if node.keywords:
            raise UnsafeExpression("keyword arguments are not allowed")
        _check(node.func)  # names the real culprit, e.g. the attribute in x.__class__()
        if not isinstance(node.func, ast.Name):
            raise UnsafeExpression("only allowed functions can be called, by bare name")
        if node.func.id not in ALLOWED_FUNCTIONS:
            raise UnsafeExpression(f"calling {node.func.id!r} is not allowed")
        for arg in node.args:
            _check(arg)
        return
    elif isinstance(node, ast.BinOp | ast.UnaryOp):
        if type(node.op) not in _BIN_OPS and type(node.op) not in _UNARY_OPS:
            raise UnsafeExpression(f"operator {type(node.op).__name__} is not allowed")
    elif isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _CMP_OPS:
                raise UnsafeExpression(f"comparison {type(op).__name__} is not allowed")
            is_none = isinstance(right, ast.Constant) and right.value is None
            if isinstance(op, ast.Is | ast.IsNot) and not is_none:
                raise UnsafeExpression("'is' / 'is not' may only compare with None")
    elif isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise UnsafeExpression("** unpacking is not allowed")
    elif not isinstance(node, _PLAIN):
        raise UnsafeExpression(f"{kind.__name__} is not allowed")
    for child in ast.iter_child_nodes(node):
        _check(child)


@lru_cache(maxsize=1024)
def _parse_checked(source: str) -> ast.Expression:
    source = source.strip()  # BPMN text nodes often carry surrounding whitespace
    if len(source) > MAX_SOURCE_CHARS:
        raise UnsafeExpression(f"expression is too long (over {MAX_SOURCE_CHARS} characters)")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise UnsafeExpression(f"syntax error: {err.msg}") from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise UnsafeExpression(f"expression cannot be parsed: {err}") from None
    _measure(tree)
    _check(tree)
    return tree  # cached and shared: nothing below mutates it


def check_expression(source: str) -> None:
    """Raise UnsafeExpression if `source` is not a syntactically valid, allowed expression."""
    if not isinstance(source, str):
        raise UnsafeExpression(f"expression must be a string, not {type(source).__name__}")
    _parse_checked(source)


def _weight(value: object) -> int:
    """Count items through nested containers (characters for strings), stopping past the limit.

    Counting through nesting matters: [[[1] * 100] * 100] * 100 has only 100 items at the top
    but str() of it is three megabytes.
    """
    total, stack = 0, [value]
    while stack and total <= MAX_SEQUENCE_LEN:
        item = stack.pop()
        if isinstance(item, str | list | tuple | set | dict):
            total += len(item)
            if not isinstance(item, str) and total <= MAX_SEQUENCE_LEN:
                stack.extend(item.items() if isinstance(item, dict) else item)
    return total


def _bounded(value: object, sequences: bool = True) -> object:
    if isinstance(value, int) and abs(value) >= MAX_INT:
        raise ExpressionError("integer result is too large")
    if sequences and isinstance(value, _SEQUENCES) and _weight(value) > MAX_SEQUENCE_LEN:
        raise ExpressionError(f"result is too large (over {MAX_SEQUENCE_LEN} items)")
    return value


def _binop(op: ast.operator, left: object, right: object) -> object:
    for value in (left, right):
        if not isinstance(value, _OPERAND_TYPES):
            raise ExpressionError(f"unsupported operand type {type(value).__name__}")
    if isinstance(op, ast.Mult):
        seq, count = (left, right) if isinstance(left, _SEQUENCES) else (right, left)
        if isinstance(seq, _SEQUENCES) and isinstance(count, int):
            if _weight(seq) * count > MAX_SEQUENCE_LEN:  # checked before Python allocates it
                raise ExpressionError(f"result is too large (over {MAX_SEQUENCE_LEN} items)")
    elif isinstance(op, ast.Pow):
        if not isinstance(right, int | float) or not abs(right) <= MAX_EXPONENT:
            raise ExpressionError(f"exponent must be a number of at most {MAX_EXPONENT}")
        if isinstance(left, int | float) and abs(left) > MAX_INT:
            raise ExpressionError("base of ** is too large")
    elif isinstance(op, ast.Mod) and isinstance(left, str):
        raise UnsafeExpression("string formatting with % is not allowed")  # '%*d' width bomb
    result = _BIN_OPS[type(op)](left, right)
    if isinstance(result, complex):
        raise ExpressionError("result is a complex number")
    return _bounded(result)


def _eval(node: ast.AST, names: Mapping) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ExpressionError(f"unknown name {node.id!r}")
        return names[node.id]
    if isinstance(node, ast.BoolOp):
        stop_when = isinstance(node.op, ast.Or)  # 'or' stops at a truthy value, 'and' at falsy
        for part in node.values:
            value = _eval(part, names)
            if bool(value) is stop_when:
                return value
        return value
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, names)
        if not isinstance(node.op, ast.Not) and not isinstance(operand, int | float):
            raise ExpressionError(f"unsupported operand type {type(operand).__name__}")
        return _bounded(_UNARY_OPS[type(node.op)](operand))
    if isinstance(node, ast.BinOp):
        return _binop(node.op, _eval(node.left, names), _eval(node.right, names))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, names)
            if not _CMP_OPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, names) else node.orelse
        return _eval(branch, names)
    if isinstance(node, ast.Subscript):
        return _subscript(_eval(node.value, names), node.slice, names)
    if isinstance(node, ast.Call):
        args = [_eval(arg, names) for arg in node.args]
        return _bounded(ALLOWED_FUNCTIONS[node.func.id](*args), sequences=False)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = [_eval(item, names) for item in node.elts]
        return {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        return {_eval(key, names): _eval(value, names) for key, value in pairs}
    raise UnsafeExpression(f"{type(node).__name__} is not allowed")  # unreachable after _check


def _subscript(value: object, index: ast.expr, names: Mapping) -> object:
    if not isinstance(value, dict | list | tuple | str):
        raise ExpressionError(f"cannot subscript a {type(value).__name__}")
    if isinstance(index, ast.Slice):
        parts = (index.lower, index.upper, index.step)
        key = slice(*(None if part is None else _eval(part, names) for part in parts))
    else:
        key = _eval(index, names)
    try:
        return value[key]
    except KeyError:
        raise ExpressionError(f"key {key!r} not found") from None
    except IndexError:
        raise ExpressionError(f"index {key!r} is out of range") from None


def evaluate_expression(source: str, names: dict) -> object:
    """Check `source`, then compute it using only `names` and ALLOWED_FUNCTIONS.

    Raises UnsafeExpression for a disallowed construct and ExpressionError for a runtime
    problem (unknown name, type error, division by zero, result too large).
    """
    check_expression(source)
    tree = _parse_checked(source)  # cached, so the check above did not parse twice
    try:
        return _eval(tree.body, names)
    except ExpressionError:
        raise
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as err:
        raise ExpressionError(f"{type(err).__name__}: {err}") from err


def _free_names(node: ast.AST) -> bool:
    """Whether the subtree reads any name (a called function's name does not count)."""
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return any(isinstance(n, ast.Name) and id(n) not in called for n in ast.walk(node))


def constant_value(source: str) -> tuple[bool, object]:
    """Compute every part of `source` that reads no name, as deploy time can.

    Returns (True, value) when the whole expression is constant, else (False, None). Raises
    ExpressionError when a constant part can only fail when it runs (``x and 10**10**10``).
    """
    check_expression(source)
    tree = _parse_checked(source)
    stack = [tree.body]
    while stack:
        node = stack.pop()
        if not isinstance(node, ast.expr):
            continue
        if _free_names(node):
            stack.extend(ast.iter_child_nodes(node))
            continue
        try:
            value = _eval(node, {})
        except (ExpressionError, TypeError, ValueError, ArithmeticError, LookupError) as err:
            raise ExpressionError(f"{ast.unparse(node)!r} always fails: {err}") from None
        if node is tree.body:
            return True, value
    return False, None
