"""When sealed parts that outlive their use end: a dead outbox row's personal part, a stranger's request identity,
an answer's files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from personvern.domain.outbox import OutboxRow, OutboxState
from personvern.domain.requests import Request, RequestState
from personvern.policy.schema import Policy

SMS = "sms"
# Rows telling a processor to erase someone (Art. 17(2)), and the recipient each tells: not delivered means not done.
DELETIONS = {"hubspot.delete": "hubspot"}
ANSWERED = frozenset({RequestState.COMPLETED, RequestState.REJECTED})

# The policy rule behind each end, as `retention plan` and the audit log name it.
RULE_UNDELIVERED = "undelivered.keep"
RULE_DELETION = "undelivered.keep_deletion"
RULE_TEXT = "messages.keep_text"
RULE_UNMATCHED = "requests.keep_unmatched"
RULE_ANSWER = "requests.keep_answer"

# Set in a request's outcome while the answer's files are kept sealed to be fetched (`answer_end`).
ANSWER_KEPT = "answer_kept"

# Set in a row's public part when its personal part was forgotten: the row can no longer be retried.
FORGOTTEN = "personal_forgotten_on"


@dataclass(frozen=True)
class End:
    """The instant a sealed part goes, and the rule that says so."""

    at: datetime
    rule: str


def undelivered_end(policy: Policy, row: OutboxRow) -> End | None:
    """When a dead row's personal part goes; None for a row that is not dead (pending rows go on trying).

    Counted from when the row was queued: a retry does not make the part any younger. An SMS's number and
    text go no later than the message log forgets its text (Art. 5(1)(e)): the copy waiting in the outbox
    may not outlive the original.
    """
    if row.state is not OutboxState.DEAD:
        return None
    rule = policy.undelivered
    if row.kind in DELETIONS:
        return End(rule.keep_deletion.after(row.created_at), RULE_DELETION)
    end = End(rule.keep.after(row.created_at), RULE_UNDELIVERED)
    if row.kind == SMS and policy.messages is not None:
        text = policy.messages.keep_text.after(row.created_at)
        if text < end.at:
            end = End(text, RULE_TEXT)
    return end


def unmatched_end(policy: Policy, request: Request) -> End | None:
    """When the identity given with a request that matched nobody goes; None while it is open or if it matched.

    Counted from the answer (completed or rejected): the person may complain of it to the supervisory
    authority (Art. 77), and the company keeps what it needs to show what it was asked and answered for the
    policy's time (Art. 5(2)), no longer. A request about someone in the register ends with that person.
    """
    if request.subject_id is not None or request.state not in ANSWERED or request.closed_at is None:
        return None
    return End(policy.requests.keep_unmatched.after(request.closed_at), RULE_UNMATCHED)


def answer_end(policy: Policy, request: Request) -> End | None:
    """When the files of an answer (letter, data.json, data.csv) go; None while none are kept.

    Counted from the answer: long enough for the CEO to fetch and send it, no longer, since an access answer
    is a second copy of the person's data (Art. 5(1)(c), (e)). What it held stays provable by the sha256 of
    each file in the outcome.
    """
    if not request.outcome.get(ANSWER_KEPT) or request.state not in ANSWERED or request.closed_at is None:
        return None
    return End(policy.requests.keep_answer.after(request.closed_at), RULE_ANSWER)


def describe_rule(policy: Policy, rule: str) -> str:
    """The rule as the policy file writes it, with its period: `[undelivered] keep = 30 days`."""
    periods = {
        RULE_UNDELIVERED: policy.undelivered.keep,
        RULE_DELETION: policy.undelivered.keep_deletion,
        RULE_UNMATCHED: policy.requests.keep_unmatched,
        RULE_ANSWER: policy.requests.keep_answer,
    }
    if policy.messages is not None:
        periods[RULE_TEXT] = policy.messages.keep_text
    section, _, key = rule.partition(".")
    period = periods.get(rule)
    return f"[{section}] {key}" + ("" if period is None else f" = {period.describe()}")
