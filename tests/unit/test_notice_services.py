"""The notice's use cases on the in-memory unit of work: publishing, rendering, finding a version, consent's default."""

from __future__ import annotations

from dataclasses import replace

import pytest

from personvern.domain.errors import Forbidden, InvalidInput, NotFound
from personvern.services import consent, notices, register
from personvern.services.context import Context
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY_SHA = "b" * 64


@pytest.fixture
def ctx(ceo: Context) -> Context:
    return replace(ceo, policy_sha256=POLICY_SHA)


def test_publishing_stores_each_rendering_once(ctx: Context, factory: FakeUnitOfWorkFactory) -> None:
    published = notices.publish_notices(ctx)
    assert [(v.language, v.format) for v in published] == [("nb", "md"), ("nb", "html"), ("en", "md"), ("en", "html")]
    notices.publish_notices(ctx)
    assert len(factory.state.accountability.notices) == 4
    assert all(v.policy_sha256 == POLICY_SHA for v in factory.state.accountability.notices)
    assert factory.state.audit == []  # a notice holds no personal data; the policy load is what is audited


def test_only_a_role_that_manages_the_policy_publishes(as_role) -> None:
    with pytest.raises(Forbidden):
        notices.publish_notices(replace(as_role("staff"), policy_sha256=POLICY_SHA))


def test_render_says_whether_the_text_was_published(ctx: Context) -> None:
    assert notices.render(ctx, "en", "html").published is False
    notices.publish_notices(ctx)
    rendered = notices.render(ctx)
    assert (rendered.notice.language, rendered.notice.format, rendered.published) == ("nb", "md", True)


def test_find_a_version_by_a_prefix(ctx: Context) -> None:
    published = notices.publish_notices(ctx)
    wanted = published[2]
    assert notices.find_version(ctx, wanted.sha256[:8].upper()) == wanted
    with pytest.raises(NotFound):
        notices.find_version(ctx, "0123456789abcdef")
    with pytest.raises(InvalidInput, match="version"):
        notices.find_version(ctx, "xyz")
    with pytest.raises(InvalidInput, match="lang"):
        notices.find_version(ctx, wanted.sha256, lang="sv")


def test_consent_refers_to_the_notice_in_force_and_to_the_policy_without_one(ctx: Context) -> None:
    values = {"full_name": "Kari Nordmann", "phone": "+4741000001", "email": "kari@example.no"}
    sid = register.add_subject(ctx, "one_time_customer", values, {}).id
    event = consent.give_consent(ctx, sid, "marketing", "sms", "web").event
    assert event.notice_sha256 == POLICY_SHA  # no notice published: the policy is what the person was shown
    notice = notices.publish_notices(ctx)[0].sha256
    later = replace(ctx, notice_sha256=notice)
    assert consent.withdraw_consent(later, sid, "marketing", "sms", "web").event.notice_sha256 == notice
