"""Consent self-service on the in-memory unit of work: the page, each change through the ledger, receipts, SMS links."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from personvern.domain import links
from personvern.domain.access import Actor
from personvern.domain.consent import BlockKind, ConsentAction, ConsentMethod, ConsentStatus
from personvern.domain.erasure import ErasureCause
from personvern.domain.errors import Forbidden, InvalidInput, NotFound
from personvern.domain.links import LinkExpired, LinkUnknown
from personvern.domain.sms import OPT_OUT_LINE
from personvern.policy.schema import Policy
from personvern.services import consent, erasure, messaging, register, selfservice
from personvern.services.context import Context
from personvern.services.selfservice import Outcome
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

NOTICE = "7" * 64
KEY = bytes(range(32))
BASE = "https://24center.no"
KARI = {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "kari@example.no"}
OLA = {"full_name": "Ola Hansen", "phone": "+4748213390", "email": "ola@example.no"}


@pytest.fixture
def ceo(policy: Policy, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> Context:
    return Context(
        policy, factory, clock, Actor("ceo-user", "ceo"), notice_sha256=NOTICE, public_url=BASE, link_key=KEY
    )


@pytest.fixture
def person(ceo: Context) -> Context:
    return replace(ceo, actor=selfservice.ACTOR)


@pytest.fixture
def kari(ceo: Context) -> str:
    sid = register.add_subject(ceo, "one_time_customer", KARI, {}).id
    consent.give_consent(ceo, sid, "marketing", "sms", "phone")
    return sid


def token_of(ctx: Context, sid: str) -> str:
    url = selfservice.link_for(ctx, sid)
    assert url is not None and url.startswith(f"{BASE}/personvern/samtykke/")
    return url.rsplit("/", 1)[1]


def test_the_page_shows_each_marketing_channel_and_records_the_reading(
    person: Context, ceo: Context, kari: str, factory: FakeUnitOfWorkFactory
) -> None:
    token = token_of(ceo, kari)
    page = selfservice.page(person, token, "nb")
    assert page.expires == NOW + timedelta(days=60)  # the bundled policy's consent_link_days
    sms, email = page.channels
    assert (sms.channel, sms.state.status, sms.may_give, sms.may_withdraw) == (
        "sms",
        ConsentStatus.IN_FORCE,
        False,
        True,
    )
    assert [e.method for e in sms.events] == [ConsentMethod.PHONE]
    assert (email.channel, email.state.status, email.may_give, email.may_withdraw) == (
        "email",
        ConsentStatus.NEVER_GIVEN,
        True,
        False,
    )
    assert page.objection is None and not page.restricted
    assert page.notice.sha256 == NOTICE  # nothing published in the fake: the notice in force stands for it
    read = factory.audit_entries()[-1]
    assert (read.action, read.subject_id, read.actor, read.role) == (
        "consent.read",
        kari,
        "web:self-service",
        "subject",
    )
    assert token not in str(read.details)


def test_each_change_goes_into_the_ledger_by_web_with_the_notice_shown(
    person: Context, ceo: Context, kari: str, clock: FixedClock
) -> None:
    token = token_of(ceo, kari)
    clock.advance(minutes=1)
    assert selfservice.change(person, token, "withdraw", "sms", NOTICE) is Outcome.WITHDRAWN
    assert selfservice.change(person, token, "withdraw", "sms", NOTICE) is Outcome.UNCHANGED  # sent twice
    clock.advance(minutes=1)
    assert selfservice.change(person, token, "give", "email", NOTICE) is Outcome.GIVEN
    assert selfservice.change(person, token, "give", "email", NOTICE) is Outcome.UNCHANGED
    clock.advance(minutes=1)
    assert selfservice.change(person, token, "object", None, NOTICE) is Outcome.OBJECTED
    assert selfservice.change(person, token, "object", None, NOTICE) is Outcome.UNCHANGED
    page = selfservice.page(person, token, "en")
    assert page.objection is not None and page.objection.kind is BlockKind.OBJECTION
    assert page.channels[1].state.status is ConsentStatus.VOID and page.channels[1].may_give
    clock.advance(minutes=1)
    # A fresh consent ends the objection (Art. 21(3) as services/consent.py rules it).
    assert selfservice.change(person, token, "give", "sms", NOTICE) is Outcome.GIVEN
    ledger = consent.consent_ledger(ceo, kari)
    assert not [b for b in ledger.blocks if b.active]
    web = [e for e in ledger.events if e.method is ConsentMethod.WEB]
    assert [(e.channel, e.action) for e in web] == [
        ("sms", ConsentAction.WITHDRAWN),
        ("email", ConsentAction.GIVEN),
        ("sms", ConsentAction.GIVEN),
    ]
    assert {(e.notice_sha256, e.recorded_by, e.role) for e in web} == {(NOTICE, "web:self-service", "subject")}


def test_bad_changes_are_refused_and_change_nothing(person: Context, ceo: Context, kari: str) -> None:
    token = token_of(ceo, kari)
    before = consent.consent_ledger(ceo, kari).events
    for action, channel, notice, field in (
        ("erase", "sms", NOTICE, "action"),
        ("give", "fax", NOTICE, "channel"),
        ("give", None, NOTICE, "channel"),
        ("withdraw", "sms", None, "notice"),
        ("withdraw", "sms", "8" * 64, "notice"),  # a notice this register never published
    ):
        with pytest.raises(InvalidInput) as refused:
            selfservice.change(person, token, action, channel, notice)
        assert refused.value.problems[0].field == field
    assert consent.consent_ledger(ceo, kari).events == before


def test_a_published_notice_in_the_persons_language_is_shown_and_accepted(
    person: Context, ceo: Context, kari: str
) -> None:
    from personvern.services.notices import publish_notices

    published = replace(ceo, policy_sha256="p" * 64)
    versions = {(v.language, v.format): v.sha256 for v in publish_notices(published)}
    viewer = replace(person, policy_sha256="p" * 64)
    token = token_of(ceo, kari)
    shown = selfservice.page(viewer, token, "en").notice
    assert shown.sha256 == versions[("en", "md")] and shown.published == NOW
    assert selfservice.change(viewer, token, "withdraw", "sms", shown.sha256) is Outcome.WITHDRAWN
    assert consent.consent_ledger(ceo, kari).events[-1].notice_sha256 == versions[("en", "md")]


def test_links_that_do_not_work(person: Context, ceo: Context, kari: str, clock: FixedClock) -> None:
    token = token_of(ceo, kari)
    with pytest.raises(LinkUnknown):
        selfservice.page(person, token[:-1] + ("A" if token[-1] != "A" else "B"), "nb")
    with pytest.raises(LinkUnknown):  # made under another key
        selfservice.page(replace(person, link_key=bytes(32)), token, "nb")
    with pytest.raises(LinkUnknown):  # a register that makes no links opens none
        selfservice.page(replace(person, link_key=None), token, "nb")
    clock.advance(days=60)
    for call in (
        lambda: selfservice.page(person, token, "nb"),
        lambda: selfservice.change(person, token, "withdraw", "sms", NOTICE),
    ):
        with pytest.raises(LinkExpired):
            call()
    assert consent.consent_ledger(ceo, kari).events[-1].action is ConsentAction.GIVEN


def test_an_erased_persons_link_works_no_more(
    person: Context, ceo: Context, kari: str, factory: FakeUnitOfWorkFactory
) -> None:
    token = token_of(ceo, kari)
    with factory() as uow:
        erasure.erase_subject(ceo, uow, kari, cause=ErasureCause.REQUEST)
        uow.commit()
    with pytest.raises(LinkUnknown):
        selfservice.page(person, token, "nb")


def test_a_receipt_is_the_persons_own_kantara_receipt(person: Context, ceo: Context, kari: str) -> None:
    ola = register.add_subject(ceo, "one_time_customer", OLA, {}).id
    olas = consent.give_consent(ceo, ola, "marketing", "sms", "phone").event.id
    token = token_of(ceo, kari)
    [event] = selfservice.page(person, token, "en").channels[0].events
    receipt = selfservice.receipt(person, token, event.id, "en")
    assert receipt == consent.receipt(ceo, event.id, "en")
    assert receipt["version"] == "KI-CR-v1.1.0" and receipt["piiPrincipalId"] == kari
    with pytest.raises(NotFound):  # another person's event is not on this page
        selfservice.receipt(person, token, olas, "en")


def test_only_the_subject_role_or_staff_may_use_the_page(person: Context, ceo: Context, kari: str) -> None:
    token = token_of(ceo, kari)
    with pytest.raises(Forbidden):
        selfservice.page(replace(person, actor=Actor("m", "marketing")), token, "nb")


# ---------------------------------------------------------------- the link in marketing SMS


def test_a_marketing_sms_carries_the_persons_own_link_above_the_opt_out_line(ceo: Context, kari: str) -> None:
    ola = register.add_subject(ceo, "one_time_customer", OLA, {}).id
    consent.give_consent(ceo, ola, "marketing", "sms", "phone")
    draft = messaging.draft_sms(ceo, kari, "marketing", "Tilbud!")
    sent = messaging.send_sms(ceo, kari, "marketing", "Tilbud!")
    text, link_line, stop = sent.draft.text.split("\n")
    assert (text, stop) == ("Tilbud!", OPT_OUT_LINE)
    assert links.read_token(KEY, link_line.rsplit("/", 1)[1], NOW).subject_id == kari
    # The preview counts a stand-in of the link's exact length: what is billed is what was shown.
    assert draft.text != sent.draft.text and draft.length == sent.draft.length
    assert messaging.preview_audience(ceo, "Tilbud!").length == sent.draft.length
    other = messaging.send_sms(ceo, ola, "marketing", "Tilbud!").draft.text
    assert other.split("\n")[1] != link_line  # one link per person


def test_the_link_counts_towards_the_segments_and_a_service_sms_has_none(ceo: Context, kari: str) -> None:
    base = len(f"{BASE}/personvern/samtykke/") + 50
    _text, length = messaging.compose("marketing", "x" * 100, "y" * base)
    assert length.characters == 100 + 1 + base + 1 + len(OPT_OUT_LINE)
    assert messaging.compose("service", "Hei", "y" * base)[0] == "Hei"
    assert messaging.compose("marketing", "Hei")[0] == f"Hei\n{OPT_OUT_LINE}"  # no key, no link
