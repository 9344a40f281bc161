"""The services speak of fields; the command line says the same refusals with its options (cli/words.py)."""

from __future__ import annotations

from personvern.cli.words import in_shell_words
from personvern.domain import breaches as breach_rules
from personvern.domain.breaches import BreachClosed
from personvern.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound, Throttled, invalid
from personvern.domain.requests import NotVerified
from personvern.domain.subjects import NEEDS_REASON
from personvern.services import breaches, register, rights


def test_a_problem_about_a_reason_names_the_option_and_keeps_its_line_and_summary() -> None:
    exc = InvalidInput([FieldProblem("postal_address", NEEDS_REASON, 7)], "nothing was imported: 1 problem(s)")
    said = in_shell_words(exc)
    assert isinstance(said, InvalidInput)
    [problem] = said.problems
    assert (problem.field, problem.line) == ("postal_address", 7)
    assert problem.message == f"{NEEDS_REASON} (--reason FIELD=TEXT)"
    assert str(said).splitlines()[0] == "nothing was imported: 1 problem(s)"


def test_the_services_words_name_no_option() -> None:
    for phrase in (
        NEEDS_REASON,
        register.NOTHING_TO_CHANGE,
        register.ONE_OF_ID_EMAIL_PHONE,
        register.ONE_OF_ID_EMAIL_PHONE_NAME,
        register.NAMESAKES_HINT,
        rights.ONE_IDENTITY,
        rights.NEEDS_CORRECTIONS,
        breach_rules.BEFORE_IT_BEGAN,
        breach_rules.NEEDS_BEGINNING,
        breach_rules.A_FOLLOW_UP,
        breaches.NOTHING_TO_CHANGE,
        breaches.NOBODY_AFFECTED,
    ):
        assert "--" not in phrase and "`" not in phrase, phrase
        assert "--" in str(in_shell_words(invalid("x", phrase))) or "`" in str(in_shell_words(invalid("x", phrase)))


def test_other_errors_keep_their_class_and_what_needs_no_rewording_is_the_same_error() -> None:
    namesakes = in_shell_words(Conflict(f"2 subjects in the register have that name: a, b; {register.NAMESAKES_HINT}"))
    assert type(namesakes) is Conflict and "`subject list --name` shows them" in str(namesakes)
    plain = NotFound("no subject with id x in the register")
    assert in_shell_words(plain) is plain
    throttled = Throttled("wait", 30)
    assert in_shell_words(throttled) is throttled
    unrelated = invalid("email", "is not an email address")
    assert in_shell_words(unrelated) is unrelated


def test_a_breach_field_is_named_as_its_option_and_a_step_that_needs_another_says_which() -> None:
    said = in_shell_words(invalid("occurred_until", breach_rules.NEEDS_BEGINNING))
    assert str(said) == "occurred-until: needs --occurred: when the breach began"
    early = in_shell_words(NotVerified("r1", "fulfilled"))
    assert type(early) is NotVerified and early.exit_code == 5
    assert str(early).endswith("verified (Art. 12(6)): run `request verify r1 --method ...` first")
    closed = in_shell_words(BreachClosed("b1", f"breach b1 is closed. Later facts go as {breach_rules.A_FOLLOW_UP}"))
    assert "(--phase follow_up): breach notify b1 --authority --phase follow_up --reference REF" in str(closed)
