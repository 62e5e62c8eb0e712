"""The BPMN expression evaluator computes what designers need and refuses everything else."""

import time

import pytest

from engine.workflow.expressions import (
    ExpressionError,
    UnsafeExpression,
    check_expression,
    evaluate_expression,
)

TASK_DATA = {
    "decision": "approve",
    "kind": "b",
    "amount": 1500,
    "approvers": ["alice", "bob", "carol"],
    "request": {"resource": {"name": "billing-db", "owner": "ops"}, "days": 3},
    "manager": None,
    "title": "URGENT: prod access",
}


def run(source, **extra):
    return evaluate_expression(source, {**TASK_DATA, **extra})


# --- what designers need ---------------------------------------------------------------


def test_gateway_condition_reads_task_data():
    assert run('decision == "approve"') is True
    assert run('decision == "reject"') is False


def test_membership_in_a_tuple_of_choices():
    assert run('kind in ("a", "b")') is True
    assert run('kind not in ("a", "b")') is False


def test_nested_dict_subscripts_reach_deep_values():
    assert run('request["resource"]["owner"]') == "ops"


def test_list_indexing_and_slicing_work_including_negative_indexes():
    assert run("approvers[0]") == "alice"
    assert run("approvers[-1]") == "carol"
    assert run("approvers[1:]") == ["bob", "carol"]
    assert run("approvers[::-1]") == ["carol", "bob", "alice"]


def test_allowed_functions_can_be_called_by_bare_name():
    assert run("len(approvers) > 2") is True
    assert run("max(amount, 2000) - min(1, 2)") == 1999
    assert run("sorted(approvers)[0]") == "alice"
    assert run("sum([1, 2.5]) + abs(-1) + round(2.5)") == 6.5
    assert run('int("42") + float("0.5")') == 42.5
    assert run("any([manager, 1]) and not all([manager, 1])") is True


def test_string_helpers_replace_methods():
    assert run('lower(title) == "urgent: prod access"') is True
    assert run("upper(decision)") == "APPROVE"
    assert run('startswith(title, "URGENT") and endswith(title, "access")') is True
    assert run('contains(lower(title), "prod")') is True


def test_string_helper_rejects_non_strings():
    with pytest.raises(ExpressionError, match="expected a string, got int"):
        run("lower(amount)")


def test_conditional_expression_picks_a_branch():
    assert run('"finance" if amount > 1000 else "team-lead"') == "finance"
    assert run('"finance" if amount > 9000 else "team-lead"') == "team-lead"


def test_arithmetic_follows_python_rules():
    assert run("amount * 2 + 1 - 3 / 2") == 2999.5
    assert run("amount // 7 % 10") == 4
    assert run('request["days"] ** 2') == 9
    assert run("-amount + +1") == -1499


def test_boolean_operators_short_circuit_and_return_operands():
    assert run("decision == 'approve' or no_such_name") is True
    assert run("manager and no_such_name") is None
    assert run("manager or 'fallback'") == "fallback"


def test_is_none_checks_work():
    assert run("manager is None") is True
    assert run("decision is not None") is True


def test_chained_comparison():
    assert run("1 < amount <= 1500") is True
    assert run("1 < amount < 1500") is False


def test_literal_containers_are_built():
    assert run('{"who": approvers[0], "n": 1}') == {"who": "alice", "n": 1}
    assert run("{1, 1, 2}") == {1, 2}
    assert run("(1, [2])") == (1, [2])


def test_timer_duration_is_just_a_string_literal():
    assert run('"P2D"') == "P2D"
    assert run('"PT1H" if decision == "approve" else "P2D"') == "PT1H"


def test_surrounding_whitespace_from_bpmn_text_is_ignored():
    assert run('\n   decision == "approve"\n  ') is True


def test_valid_expression_passes_check_without_any_data():
    assert check_expression('decision == "approve" and len(approvers) > 2') is None


# --- runtime errors --------------------------------------------------------------------


def test_unknown_name_error_names_the_name():
    with pytest.raises(ExpressionError, match="unknown name 'budget'") as caught:
        run("budget > 10")
    assert not isinstance(caught.value, UnsafeExpression)


def test_missing_key_and_index_are_reported():
    with pytest.raises(ExpressionError, match="key 'nope' not found"):
        run('request["nope"]')
    with pytest.raises(ExpressionError, match="index 10 is out of range"):
        run("approvers[10]")


def test_type_and_zero_division_problems_become_expression_errors():
    with pytest.raises(ExpressionError, match="TypeError"):
        run("amount + 'x'")
    with pytest.raises(ExpressionError, match="ZeroDivisionError"):
        run("amount / 0")
    with pytest.raises(ExpressionError, match="ValueError"):
        run('int("twelve")')


def test_errors_are_value_errors_and_unsafe_is_an_expression_error():
    assert issubclass(ExpressionError, ValueError)
    assert issubclass(UnsafeExpression, ExpressionError)


def test_task_data_cannot_replace_an_allowed_function():
    assert evaluate_expression("len(x)", {"len": print, "x": [1, 2]}) == 2


def test_function_found_in_task_data_cannot_be_called():
    with pytest.raises(UnsafeExpression, match="calling 'f' is not allowed"):
        evaluate_expression("f(1)", {"f": print})


def test_foreign_objects_in_data_cannot_be_subscripted_or_used_in_arithmetic():
    with pytest.raises(ExpressionError, match="cannot subscript a object"):
        evaluate_expression("o[0]", {"o": object()})
    with pytest.raises(ExpressionError, match="unsupported operand type object"):
        evaluate_expression("o + 1", {"o": object()})


# --- escape attempts -------------------------------------------------------------------


def test_dunder_attribute_walk_is_refused_at_check_time():
    with pytest.raises(
        UnsafeExpression, match=r"attribute access is not allowed \('__subclasses__'\)"
    ):
        check_expression("().__class__.__bases__[0].__subclasses__()")


def test_dunder_attribute_walk_is_refused_at_evaluation_too():
    with pytest.raises(UnsafeExpression, match="attribute access is not allowed"):
        run("().__class__")


def test_dunder_import_is_refused():
    with pytest.raises(UnsafeExpression, match=r"attribute access is not allowed \('system'\)"):
        check_expression("__import__('os').system('id')")
    with pytest.raises(UnsafeExpression, match="names starting with '_' are not allowed"):
        check_expression("__import__('os')")


def test_underscore_names_are_refused_even_when_present_in_data():
    with pytest.raises(UnsafeExpression, match="'_secret'"):
        evaluate_expression("_secret", {"_secret": 1})
    with pytest.raises(UnsafeExpression, match="'__builtins__'"):
        check_expression("__builtins__")


def test_lambda_is_refused():
    with pytest.raises(UnsafeExpression, match="lambda is not allowed"):
        check_expression("(lambda: 1)()")


def test_comprehensions_and_generators_are_refused():
    with pytest.raises(UnsafeExpression, match="list comprehension is not allowed"):
        check_expression("[x for x in ().__class__.__mro__]")
    with pytest.raises(UnsafeExpression, match="dict comprehension is not allowed"):
        check_expression("{k: v for k, v in []}")
    with pytest.raises(UnsafeExpression, match="set comprehension is not allowed"):
        check_expression("{x for x in []}")
    with pytest.raises(UnsafeExpression, match="generator expression is not allowed"):
        check_expression("any(x for x in [])")


def test_walrus_is_refused():
    with pytest.raises(UnsafeExpression, match="assignment expression"):
        check_expression("(x := 1)")


@pytest.mark.parametrize(
    "source, culprit",
    [
        ("open('/etc/passwd')", "open"),
        ("eval('1')", "eval"),
        ("getattr(1, 'real')", "getattr"),
        ("type(1)", "type"),
        ("globals()", "globals"),
        ("vars()", "vars"),
        ("exec('1')", "exec"),
        ("print(1)", "print"),
    ],
)
def test_builtins_outside_the_allow_list_cannot_be_called(source, culprit):
    with pytest.raises(UnsafeExpression, match=f"calling '{culprit}' is not allowed"):
        check_expression(source)


def test_calling_anything_but_a_bare_name_is_refused():
    with pytest.raises(UnsafeExpression, match="only allowed functions can be called"):
        check_expression("approvers[0]()")


def test_keyword_and_star_arguments_are_refused():
    with pytest.raises(UnsafeExpression, match="keyword arguments are not allowed"):
        check_expression("sorted(approvers, key=len)")
    with pytest.raises(UnsafeExpression, match=r"\*\* unpacking is not allowed"):
        check_expression("max(**request)")
    with pytest.raises(UnsafeExpression, match="starred unpacking"):
        check_expression("max(*approvers)")
    with pytest.raises(UnsafeExpression, match=r"\*\* unpacking is not allowed"):
        check_expression("{**request}")


def test_fstrings_are_refused():
    with pytest.raises(UnsafeExpression, match="f-string is not allowed"):
        check_expression('f"{().__class__}"')
    with pytest.raises(UnsafeExpression, match="f-string is not allowed"):
        check_expression('f"{amount:>999999999}"')


def test_str_format_is_refused_because_it_is_an_attribute():
    with pytest.raises(UnsafeExpression, match=r"attribute access is not allowed \('format'\)"):
        check_expression('"{0.__class__}".format(1)')


def test_percent_string_formatting_is_refused():
    with pytest.raises(UnsafeExpression, match="string formatting with % is not allowed"):
        run('"%s" % decision')
    assert run("amount % 7") == 2


def test_await_and_yield_are_refused():
    with pytest.raises(UnsafeExpression, match="await is not allowed"):
        check_expression("await x")
    with pytest.raises(UnsafeExpression, match="syntax error"):
        check_expression("yield 1")


@pytest.mark.parametrize(
    "source, reason",
    [
        ('b"x"', "bytes literals are not allowed"),
        ("1j", "complex literals are not allowed"),
        ("...", "ellipsis literals are not allowed"),
        ("1 << 3", "operator LShift is not allowed"),
        ("~1", "operator Invert is not allowed"),
        ("[1] @ [2]", "operator MatMult is not allowed"),
        ("amount is 1", "may only compare with None"),
        ("decision ==", "syntax error"),
        ("x = 1", "syntax error"),
    ],
)
def test_other_constructs_are_refused_with_a_reason(source, reason):
    with pytest.raises(UnsafeExpression, match=reason):
        check_expression(source)


def test_non_string_expression_is_refused():
    with pytest.raises(UnsafeExpression, match="must be a string"):
        check_expression(42)


# --- resource guards -------------------------------------------------------------------


def test_power_tower_is_refused():
    start = time.monotonic()
    with pytest.raises(ExpressionError, match="exponent must be a number of at most 64"):
        run("10 ** 10 ** 10")
    assert time.monotonic() - start < 1


def test_power_result_is_bounded_and_complex_results_rejected():
    with pytest.raises(ExpressionError, match="integer result is too large"):
        run("10 ** 64 * 10 ** 64")
    with pytest.raises(ExpressionError, match="complex"):
        run("(-8) ** 0.5")
    assert run("2 ** 10") == 1024


def test_string_repetition_bomb_is_refused():
    with pytest.raises(ExpressionError, match="result is too large"):
        run("'a' * 10**9")
    assert run("'ab' * 3") == "ababab"


def test_list_repetition_bomb_is_refused_in_either_order():
    with pytest.raises(ExpressionError, match="result is too large"):
        run("[1] * 10**9")
    with pytest.raises(ExpressionError, match="result is too large"):
        run("10**9 * (1,)")


def test_nested_repetition_cannot_multiply_its_way_past_the_limit():
    with pytest.raises(ExpressionError, match="result is too large"):
        run("str([[[[1] * 100] * 100] * 100] * 100)")
    assert run("len([[1] * 10] * 10)") == 10


def test_concatenation_beyond_the_length_limit_is_refused():
    with pytest.raises(ExpressionError, match="result is too large"):
        run("'a' * 10000 + 'b'")


def test_huge_integer_literal_and_conversion_are_refused():
    with pytest.raises(UnsafeExpression, match="integer literal is too large"):
        check_expression("1" + "0" * 100)
    with pytest.raises(ExpressionError, match="integer result is too large"):
        run("int('9' * 200)")


def test_round_and_sum_cannot_be_used_to_burn_cpu():
    with pytest.raises(ExpressionError, match="round"):
        run("round(5, -1000)")
    with pytest.raises(ExpressionError, match="sum\\(\\) only adds numbers"):
        run("sum([[1], [2]], [])")


def test_overlong_source_is_refused():
    with pytest.raises(UnsafeExpression, match="too long"):
        check_expression("1 + " * 600 + "1")


@pytest.mark.parametrize(
    "source",
    ["(" * 10_000 + "1" + ")" * 10_000, "not " * 10_000 + "x", "[" * 10_000 + "]" * 10_000],
)
def test_ten_thousand_deep_nesting_is_refused(source):
    with pytest.raises(UnsafeExpression):
        check_expression(source)


@pytest.mark.parametrize("source", ["not " * 450 + "x", "-" * 1_500 + "1", "[" * 150 + "]" * 150])
def test_deep_nesting_within_the_length_limit_is_refused(source):
    with pytest.raises(UnsafeExpression, match="nested too deeply"):
        check_expression(source)


def test_huge_flat_expression_is_refused():
    with pytest.raises(UnsafeExpression, match="too large"):
        check_expression("[" + "1," * 900 + "]")
