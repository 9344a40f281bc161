"""The consent use cases on the in-memory unit of work: ledger, objection, restriction, receipts, the audience."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personvern.domain.access import Actor
from personvern.domain.consent import BlockKind, ConsentAction, ConsentMethod
from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.policy.schema import Policy
from personvern.services import consent, register
from personvern.services.context import Context
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

NOTICE = "5" * 64
PEOPLE = [
    {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "kari@example.no"},
    {"full_name": "Ola Hansen", "phone": "+4748213390", "email": "ola@example.no"},
    {"full_name": "Siri Berg", "phone": "+4792345678", "email": "siri@example.no"},
]
SECRETS = ["Kari", "Nordmann", "91234567", "kari@", "Ola", "48213390", "ola@", "asked by phone", "moving"]


@pytest.fixture
def role(policy: Policy, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> Callable[[str], Context]:
    def make(name: str) -> Context:
        return Context(policy, factory, clock, Actor(f"{name}-user", name), policy_sha256=NOTICE)

    return make


@pytest.fixture
def ceo(role: Callable[[str], Context]) -> Context:
    return role("ceo")


@pytest.fixture
def people(ceo: Context) -> list[str]:
    return [register.add_subject(ceo, "one_time_customer", p, {}).id for p in PEOPLE]


def audit_text(factory: FakeUnitOfWorkFactory) -> str:
    return json.dumps([(e.action, e.purpose, dict(e.details)) for e in factory.audit_entries()], ensure_ascii=False)


# ---------------------------------------------------------------- the ledger


def test_give_and_withdraw_append_to_the_ledger(ceo: Context, people: list[str], clock: FixedClock) -> None:
    sid = people[0]
    given_ = consent.give_consent(ceo, sid, "marketing", "sms", "phone")
    assert given_.event.action is ConsentAction.GIVEN
    assert (given_.event.method, given_.event.notice_sha256, given_.event.at) == (ConsentMethod.PHONE, NOTICE, NOW)
    assert (given_.event.recorded_by, given_.event.role) == ("ceo-user", "ceo")
    clock.advance(days=1)
    withdrawn = consent.withdraw_consent(ceo, sid, "marketing", "sms", "web", notice_sha256="AB" * 32)
    assert withdrawn.event.notice_sha256 == "ab" * 32
    ledger = consent.consent_ledger(ceo, sid)
    assert [e.id for e in ledger.events] == [given_.event.id, withdrawn.event.id]
    assert ledger.state == {("marketing", "sms"): withdrawn.event}
    assert ledger.marketing == {
        "sms": "consent to marketing by sms was withdrawn on 2026-11-26",
        "email": "no consent to marketing by email",
    }


def test_events_at_the_same_instant_keep_the_order_they_were_recorded_in(ceo: Context, people: list[str]) -> None:
    # The clock does not move: the ids must order the events, or the state would be a coin toss.
    for _ in range(20):
        consent.give_consent(ceo, people[0], "marketing", "sms", "web")
        assert consent.marketing_audience(ceo, "sms", count_only=True) == 1
        consent.withdraw_consent(ceo, people[0], "marketing", "sms", "web")
        assert consent.marketing_audience(ceo, "sms", count_only=True) == 0
    events = consent.consent_ledger(ceo, people[0]).events
    assert [e.action.value for e in events] == ["given", "withdrawn"] * 20


def test_withdrawing_what_is_not_given_is_refused_and_nothing_is_stored(
    ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory
) -> None:
    before = factory.commits
    with pytest.raises(Conflict, match=r"has no consent to marketing by sms to withdraw \(Art. 7\(3\)"):
        consent.withdraw_consent(ceo, people[0], "marketing", "sms", "web")
    consent.give_consent(ceo, people[0], "marketing", "email", "web")
    consent.withdraw_consent(ceo, people[0], "marketing", "email", "web")
    with pytest.raises(Conflict, match="no consent to marketing by email to withdraw"):
        consent.withdraw_consent(ceo, people[0], "marketing", "email", "web")
    assert factory.commits == before + 2
    assert len(factory.state.consents) == 2


def test_an_event_dated_before_the_latest_is_refused(ceo: Context, people: list[str], clock: FixedClock) -> None:
    consent.give_consent(ceo, people[0], "marketing", "sms", "web")
    clock.advance(days=-1)
    with pytest.raises(Conflict, match="has a later event for marketing by sms"):
        consent.withdraw_consent(ceo, people[0], "marketing", "sms", "web")


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"purpose": "newsletter"}, InvalidInput, "unknown purpose"),
        ({"purpose": "service"}, InvalidInput, "not on consent"),
        ({"channel": "fax"}, InvalidInput, "not a channel of marketing"),
        ({"method": "telepathy"}, InvalidInput, "method: must be one of"),
        ({"notice_sha256": "abc"}, InvalidInput, "notice: must be the sha256"),
        ({"subject_id": "f" * 32}, NotFound, "no subject with id " + "f" * 32),
    ],
)
def test_bad_input_is_refused_before_anything_is_stored(
    ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory, kwargs: dict[str, str], error: type, needle: str
) -> None:
    args = {"subject_id": people[0], "purpose": "marketing", "channel": "sms", "method": "web"} | kwargs
    before = (factory.commits, len(factory.state.audit))
    for use_case in (consent.give_consent, consent.withdraw_consent):
        with pytest.raises(error, match=needle):
            use_case(ceo, **args)
    assert (factory.commits, len(factory.state.audit)) == before


def test_a_consent_needs_a_known_notice(ceo: Context, people: list[str]) -> None:
    with pytest.raises(InvalidInput, match="no privacy notice is known"):
        consent.give_consent(replace(ceo, policy_sha256=""), people[0], "marketing", "sms", "web")


def test_audit_entries_name_events_never_personal_values(
    ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    sid = people[0]
    consent.give_consent(ceo, sid, "marketing", "sms", "web")
    consent.object_to(ceo, sid, "marketing", "asked by phone, moving")
    clock.advance(days=1)
    consent.give_consent(ceo, sid, "marketing", "email", "web")
    consent.restrict(ceo, sid, reason="moving to Bergen")
    consent.restrict(ceo, sid, lift=True, reason="moving done")
    consent.marketing_audience(ceo, "email")
    consent.consent_ledger(ceo, sid)
    actions = [e.action for e in factory.audit_entries()][len(PEOPLE) :]
    assert actions == [
        "consent.give",
        "objection.set",
        "consent.give",
        "objection.lift",
        "processor.share",  # consent to email marketing: HubSpot receives the person
        "restriction.set",
        "outbox.cancel",  # Art. 18(2): the share not yet delivered does not go
        "restriction.lift",
        "subject.read",
        "consent.read",
    ]
    text = audit_text(factory)
    for secret in [*SECRETS, "Bergen"]:
        assert secret not in text
    assert factory.verify().ok


# ---------------------------------------------------------------- objection and restriction


def test_an_objection_stops_marketing_until_a_fresh_consent_after_it(
    ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    sid = people[0]
    consent.give_consent(ceo, sid, "marketing", "sms", "web")
    consent.give_consent(ceo, sid, "marketing", "email", "web")
    block = consent.object_to(ceo, sid, "marketing", "asked by phone")
    assert (block.kind, block.purpose, block.active, block.reason) == (
        BlockKind.OBJECTION,
        "marketing",
        True,
        "asked by phone",
    )
    with factory() as uow:
        assert consent.marketing_block_reason_for(uow, sid, "sms", ceo.policy) == (
            "the person objected to marketing on 2026-11-25 (Art. 21(3): absolute for direct marketing)"
        )
    assert consent.marketing_audience(ceo, "sms", count_only=True) == 0
    with pytest.raises(Conflict, match="already objects to marketing"):
        consent.object_to(ceo, sid)

    # A consent at the same instant cannot be shown to come after the objection: it does not lift it.
    same_instant = consent.give_consent(ceo, sid, "marketing", "sms", "web")
    assert same_instant.lifted == []
    assert consent.marketing_audience(ceo, "sms", count_only=True) == 0

    clock.advance(hours=1)
    fresh = consent.give_consent(ceo, sid, "marketing", "sms", "sms_reply")
    assert [b.id for b in fresh.lifted] == [block.id]
    lifted = fresh.lifted[0]
    assert (lifted.lifted_at, lifted.lifted_by) == (clock.now(), "ceo-user")
    assert lifted.lift_reason is not None and fresh.event.id in lifted.lift_reason
    ledger = consent.consent_ledger(ceo, sid)
    assert ledger.active_blocks == []
    assert ledger.marketing["sms"] is None
    # The email consent predates the objection: it stays void until the person consents by email again.
    assert ledger.marketing["email"] is not None and "before the objection" in ledger.marketing["email"]
    assert consent.marketing_audience(ceo, "sms", count_only=True) == 1
    assert consent.marketing_audience(ceo, "email", count_only=True) == 0


def test_objection_purposes_follow_article_21(ceo: Context, people: list[str]) -> None:
    consent.object_to(ceo, people[0], "b2b_contact")
    with pytest.raises(InvalidInput, match=r"Art\. 21 gives a right to object only"):
        consent.object_to(ceo, people[0], "service")
    with pytest.raises(NotFound):
        consent.object_to(ceo, "f" * 32)
    with pytest.raises(InvalidInput, match="reason: must be at most 500"):
        consent.object_to(ceo, people[0], "marketing", "x" * 501)
    with pytest.raises(InvalidInput, match="reason: must not contain control"):
        consent.object_to(ceo, people[0], "marketing", "a\x00b")


def test_a_restriction_stops_marketing_and_is_lifted(
    ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    sid = people[0]
    consent.give_consent(ceo, sid, "marketing", "sms", "web")
    with pytest.raises(Conflict, match="is not restricted; there is nothing to lift"):
        consent.restrict(ceo, sid, lift=True)
    block = consent.restrict(ceo, sid, reason="disputes the data")
    assert (block.kind, block.purpose, block.reason) == (BlockKind.RESTRICTION, None, "disputes the data")
    with factory() as uow:
        assert consent.is_restricted(uow, sid)
        assert not consent.is_restricted(uow, people[1])
        assert consent.marketing_block_reason_for(uow, sid, "sms", ceo.policy) == (
            "processing is restricted (Art. 18) since 2026-11-25"
        )
    with pytest.raises(Conflict, match="already restricted"):
        consent.restrict(ceo, sid)
    clock.advance(days=2)
    lifted = consent.restrict(ceo, sid, lift=True, reason="resolved")
    assert (lifted.id, lifted.lifted_at, lifted.lift_reason) == (block.id, clock.now(), "resolved")
    with factory() as uow:
        assert not consent.is_restricted(uow, sid)
        assert consent.marketing_block_reason_for(uow, sid, "sms", ceo.policy) is None
        with pytest.raises(InvalidInput, match="not a channel"):
            consent.marketing_block_reason_for(uow, sid, "fax", ceo.policy)


def test_a_reply_withdraws_only_a_consent_in_force(ceo: Context, people: list[str]) -> None:
    assert consent.withdraw_by_reply(ceo, people[0]) is None
    consent.give_consent(ceo, people[0], "marketing", "sms", "web")
    done = consent.withdraw_by_reply(ceo, people[0])
    assert done is not None
    assert (done.event.action, done.event.method) == (ConsentAction.WITHDRAWN, ConsentMethod.SMS_REPLY)
    assert consent.withdraw_by_reply(ceo, people[0]) is None


# ---------------------------------------------------------------- roles


def test_roles(role: Callable[[str], Context], people: list[str]) -> None:
    staff, marketing, auditor = role("staff"), role("marketing"), role("auditor")
    sid = people[0]
    consent.give_consent(staff, sid, "marketing", "sms", "web")
    consent.object_to(staff, sid)
    consent.restrict(staff, sid)
    consent.consent_ledger(staff, sid)
    assert consent.marketing_audience(marketing, "sms", count_only=True) == 0
    denied: list[tuple[Context, Callable[[Context], object]]] = [
        (who, call)
        for who in (marketing, auditor)
        for call in (
            lambda c: consent.give_consent(c, sid, "marketing", "sms", "web"),
            lambda c: consent.withdraw_consent(c, sid, "marketing", "sms", "web"),
            lambda c: consent.object_to(c, sid),
            lambda c: consent.restrict(c, sid, lift=True),
            lambda c: consent.consent_ledger(c, sid),
            lambda c: consent.receipt(c, "x"),
        )
    ]
    denied += [
        (staff, lambda c: consent.marketing_audience(c, "sms")),
        (auditor, lambda c: consent.marketing_audience(c, "sms")),
    ]
    for who, call in denied:
        with pytest.raises(Forbidden, match=f"role '{who.actor.role}' may not"):
            call(who)


# ---------------------------------------------------------------- receipts


def test_a_receipt_in_the_kantara_layout(ceo: Context, people: list[str]) -> None:
    event = consent.give_consent(ceo, people[0], "marketing", "sms", "paper").event
    doc = consent.receipt(ceo, event.id)
    assert doc["version"] == "KI-CR-v1.1.0"
    assert doc["jurisdiction"] == "NO"
    assert doc["consentTimestamp"] == int(NOW.timestamp())
    assert doc["collectionMethod"] == "signed paper form"
    assert doc["consentReceiptID"] == event.id
    assert doc["language"] == "nb"
    assert doc["piiPrincipalId"] == people[0]
    [controller] = doc["piiControllers"]
    assert controller["piiController"] == "24 Center AS"
    assert controller["email"] == "personvern@24center.no"
    assert controller["address"]["addressLocality"] == "Oslo"
    assert doc["policyUrl"] == "https://24center.no"
    [service] = doc["services"]
    [purpose] = service["purposes"]
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["purposeCategory"] == ["marketing"]
    assert purpose["piiCategory"] == ["full_name", "phone", "email"]
    assert purpose["primaryPurpose"] is False
    assert "10 år" in purpose["termination"]
    assert purpose["thirdPartyDisclosure"] is True
    assert purpose["thirdPartyName"] == "HubSpot, LINK Mobility Oy"
    assert (doc["sensitive"], doc["spiCat"]) == (False, [])
    assert doc["personvern"]["noticeSha256"] == NOTICE
    english = consent.receipt(ceo, event.id, "en")
    assert english["services"][0]["purposes"][0]["purpose"].startswith("Sending offers")
    # Nothing in it names the person: the principal is the pseudonymous id.
    text = json.dumps(doc, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text


def test_receipt_refusals(ceo: Context, people: list[str]) -> None:
    event = consent.give_consent(ceo, people[0], "marketing", "sms", "web").event
    with pytest.raises(NotFound, match="no consent event with id nope"):
        consent.receipt(ceo, "nope")
    with pytest.raises(NotFound, match=f"of subject {people[1]}"):
        consent.receipt(ceo, event.id, subject_id=people[1])
    with pytest.raises(InvalidInput, match="lang"):
        consent.receipt(ceo, event.id, "de")


# ---------------------------------------------------------------- the audience


def test_the_audience_lists_ids_and_the_channel_address_page_by_page(
    ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory
) -> None:
    for sid in people:
        consent.give_consent(ceo, sid, "marketing", "sms", "web")
    consent.give_consent(ceo, people[1], "marketing", "email", "web")
    page = consent.marketing_audience(ceo, "sms", limit=2)
    assert isinstance(page, list)
    phones = {sid: p["phone"] for sid, p in zip(people, PEOPLE, strict=True)}
    assert [(m.subject_id, m.address) for m in page] == [(sid, phones[sid]) for sid in sorted(people)[:2]]
    rest = consent.marketing_audience(ceo, "sms", limit=2, offset=2)
    assert [m.subject_id for m in rest] == sorted(people)[2:]
    email = consent.marketing_audience(ceo, "email")
    assert [(m.subject_id, m.address) for m in email] == [(people[1], "ola@example.no")]
    reads = [e for e in factory.audit_entries() if e.action == "subject.read"]
    assert [(e.subject_id, e.details["fields"]) for e in reads[-4:]] == [
        *((sid, ["phone"]) for sid in sorted(people)),
        (people[1], ["email"]),
    ]
    counted = consent.marketing_audience(ceo, "sms", count_only=True)
    assert counted == 3
    assert factory.audit_entries()[-1].details == {"channel": "sms", "count": 3}


def test_an_erased_subject_leaves_the_audience(ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory) -> None:
    consent.give_consent(ceo, people[0], "marketing", "sms", "web")
    with factory() as uow:
        uow.subjects.erase(people[0])
        uow.commit()
    assert consent.marketing_audience(ceo, "sms", count_only=True) == 0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"channel": "fax"}, "not a channel"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_audience_refusals(ceo: Context, kwargs: dict[str, object], needle: str) -> None:
    args: dict[str, object] = {"channel": "sms"} | kwargs
    with pytest.raises(InvalidInput, match=needle):
        consent.marketing_audience(ceo, **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- random sequences of use cases

OPS = st.lists(
    st.tuples(
        st.sampled_from(["give", "withdraw", "object", "restrict", "lift"]),
        st.integers(0, 2),  # whom
        st.sampled_from(["sms", "email"]),
        st.sampled_from([0, 0, 1]),  # days the clock moves first: ties are common
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPS)
def test_random_histories_through_the_services(policy: Policy, ops: list[tuple[str, int, str, int]]) -> None:
    """A model with the issue's rules in plain words agrees with the services after every step."""
    factory = FakeUnitOfWorkFactory(policy)
    clock = FixedClock(NOW)
    ctx = Context(policy, factory, clock, Actor("u", "ceo"), policy_sha256=NOTICE)
    sids = [register.add_subject(ctx, "one_time_customer", p, {}).id for p in PEOPLE]
    consented: dict[tuple[int, str], object] = {}  # when the consent in force was given
    objected: dict[int, bool] = {}
    objected_at: dict[int, object] = {}  # the latest objection, lifted or not
    restricted: dict[int, bool] = {}
    for op, who, channel, step in ops:
        clock.advance(days=step)
        sid = sids[who]
        now = clock.now()
        try:
            if op == "give":
                consent.give_consent(ctx, sid, "marketing", channel, "web")
                consented[(who, channel)] = now
                if objected.get(who) and objected_at[who] < now:
                    objected[who] = False
            elif op == "withdraw":
                consent.withdraw_consent(ctx, sid, "marketing", channel, "web")
                assert consented.get((who, channel)), "a withdrawal without a consent was accepted"
                consented[(who, channel)] = None
            elif op == "object":
                consent.object_to(ctx, sid)
                assert not objected.get(who)
                objected[who], objected_at[who] = True, now
            elif op == "restrict":
                consent.restrict(ctx, sid)
                assert not restricted.get(who)
                restricted[who] = True
            else:
                consent.restrict(ctx, sid, lift=True)
                assert restricted.get(who)
                restricted[who] = False
        except Conflict:
            pass

        def allowed(w: int, ch: str) -> bool:
            since = consented.get((w, ch))
            after_objection = w not in objected_at or (since is not None and since > objected_at[w])
            return since is not None and after_objection and not objected.get(w) and not restricted.get(w)

        for channel_ in ("sms", "email"):
            expected = sorted(sids[w] for w in range(len(sids)) if allowed(w, channel_))
            members = consent.marketing_audience(ctx, channel_)
            assert isinstance(members, list)
            assert [m.subject_id for m in members] == expected


def test_an_audience_page_says_whether_more_follow_and_reads_only_those_shown(
    ceo: Context, people: list[str], factory: FakeUnitOfWorkFactory
) -> None:
    for sid in people:
        consent.give_consent(ceo, sid, "marketing", "sms", "web", NOTICE)
    reads = len([e for e in factory.audit_entries() if e.action == "subject.read"])
    first = consent.audience_page(ceo, "sms", limit=2)
    shown = ([m.subject_id for m in first.members], first.more, first.address_field)
    assert shown == (sorted(people)[:2], True, "phone")
    # The one id selected past the page is neither decrypted nor recorded as read (Art. 5(1)(c)).
    assert len([e for e in factory.audit_entries() if e.action == "subject.read"]) == reads + 2
    last = consent.audience_page(ceo, "sms", limit=2, offset=2)
    assert ([m.subject_id for m in last.members], last.more) == (sorted(people)[2:], False)
    exact = consent.audience_page(ceo, "sms", limit=3)
    assert (len(exact.members), exact.more) == (3, False)
