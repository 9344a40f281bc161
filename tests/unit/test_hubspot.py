"""The HubSpot connector against the fake HubSpot (httpx.MockTransport): its requests and every class of answer."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.connectors.hubspot import DAILY_WAIT, HubSpot, HubSpotConfig, merged_basis, split_name
from personvern.domain.outbox import OutboxRow, OutboxState
from tests.fakes_hubspot import TOKEN, FakeHubSpot, Reply
from tests.unit.conftest import NOW
from tests.unit.fakes import FixedClock

EMAIL = "kari.nordmann@example.no"
PHONE = "+4741234567"
VALUES = {"full_name": "Kari Hansen Nordmann", "phone": PHONE, "email": EMAIL}
CONFIG = HubSpotConfig("http://127.0.0.1:9", TOKEN)
SECRETS = (EMAIL, PHONE, "Nordmann", "Kari", TOKEN)


def row(kind: str = "hubspot.upsert", personal: dict[str, Any] | None = None, **public: Any) -> OutboxRow:
    base: dict[str, Any] = {"purpose": "marketing", "legal_basis": "6(1)(a)", "fields": list(VALUES)}
    if kind != "hubspot.upsert":
        base = {"fields": ["email"]}
    return OutboxRow(
        "0190a1b2c3d4e5f60718293a4b5c6d7e",
        kind,
        "s1",
        OutboxState.PENDING,
        0,
        NOW,
        NOW,
        base | public,
        dict(VALUES) if personal is None else personal,
    )


def connector(fake: FakeHubSpot, config: HubSpotConfig = CONFIG, clock: FixedClock | None = None) -> HubSpot:
    return HubSpot(fake.client(), config, clock or FixedClock(NOW))


def assert_quiet(exc: BaseException) -> None:
    for secret in SECRETS:
        assert secret not in str(exc)


# ---------------------------------------------------------------- hubspot.upsert


def test_a_new_contact_is_searched_for_then_created() -> None:
    seen: list[httpx.Request] = []
    fake = FakeHubSpot()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fake.handler(request)

    hub = HubSpot(httpx.Client(transport=httpx.MockTransport(handler)), CONFIG, FixedClock(NOW))
    assert hub.deliver(row()) == {"hubspot_id": "1001", "created": True}
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/crm/v3/objects/contacts/search"),
        ("POST", "/crm/v3/objects/contacts"),
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)
    assert json.loads(seen[0].content) == {
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": EMAIL}]}],
        "properties": ["email", "hs_legal_basis"],
        "limit": 1,
    }
    assert fake.contacts["1001"] == {
        "firstname": "Kari Hansen",
        "lastname": "Nordmann",
        "phone": PHONE,
        "mobilephone": PHONE,
        "email": EMAIL,
        "hs_legal_basis": "Freely given consent from contact",
    }


def test_an_existing_contact_is_updated_and_keeps_its_other_legal_bases() -> None:
    fake = FakeHubSpot()
    cid = fake.add(email=EMAIL.upper(), firstname="K.", hs_legal_basis="Performance of a contract")
    result = connector(fake).deliver(row(personal=VALUES | {"organisation_name": "Firma AS"}))
    assert result == {"hubspot_id": cid, "created": False}
    assert [m for m, _ in fake.requests] == ["POST", "PATCH"]
    held = fake.contacts[cid]
    assert (held["firstname"], held["lastname"], held["company"]) == ("Kari Hansen", "Nordmann", "Firma AS")
    assert held["hs_legal_basis"] == "Performance of a contract;Freely given consent from contact"
    assert len(fake.contacts) == 1


def test_a_known_hubspot_id_finds_the_contact_whose_email_changed() -> None:
    fake = FakeHubSpot()
    cid = fake.add(email="old@example.no", firstname="Kari")
    update = row(personal={"email": EMAIL}, hubspot_id=cid, update_only=True, fields=["email"])
    update = replace(update, public={k: v for k, v in update.public.items() if k != "legal_basis"})
    assert connector(fake).deliver(update) == {"hubspot_id": cid, "created": False}
    assert [(m, p.rsplit("/", 1)[-1]) for m, p in fake.requests] == [("GET", cid), ("PATCH", cid)]
    assert fake.contacts[cid] == {"email": EMAIL, "firstname": "Kari"}  # only the changed field; no basis touched


def test_a_stale_hubspot_id_falls_back_to_the_email() -> None:
    fake = FakeHubSpot()
    cid = fake.add(email=EMAIL)
    assert connector(fake).deliver(row(hubspot_id="999999")) == {"hubspot_id": cid, "created": False}
    assert [m for m, _ in fake.requests] == ["GET", "POST", "PATCH"]


def test_a_contact_the_search_index_has_not_seen_yet_is_updated_not_duplicated() -> None:
    fake = FakeHubSpot()
    cid = fake.add(email=EMAIL)
    fake.unindexed.add(cid)  # created seconds ago: search does not find it yet, create says it exists
    assert connector(fake).deliver(row()) == {"hubspot_id": cid, "created": False}
    assert [m for m, _ in fake.requests] == ["POST", "POST", "PATCH"]
    assert len(fake.contacts) == 1 and fake.contacts[cid]["lastname"] == "Nordmann"


def test_a_correction_never_creates_a_contact() -> None:
    fake = FakeHubSpot()
    update = row(personal={"full_name": "Kari Berg", "email": EMAIL}, update_only=True)
    assert connector(fake).deliver(update) == {"hubspot_id": None, "found": False}
    assert fake.contacts == {}


def test_a_removed_field_is_cleared_and_names_are_split_sensibly() -> None:
    fake = FakeHubSpot()
    cid = fake.add(email=EMAIL, company="Firma AS", firstname="Jan", lastname="Berg")
    connector(fake).deliver(row(personal={"email": EMAIL, "organisation_name": "", "full_name": "Jan van der Berg"}))
    assert fake.contacts[cid] == {
        "email": EMAIL,
        "firstname": "Jan",
        "lastname": "van der Berg",
        "hs_legal_basis": "Freely given consent from contact",
    }


@pytest.mark.parametrize(
    ("full", "split"),
    [
        ("Kari Nordmann", ("Kari", "Nordmann")),
        ("  Kari   Hansen  Nordmann ", ("Kari Hansen", "Nordmann")),
        ("Cher", ("Cher", "")),
        ("", ("", "")),
        ("Ludwig von Beethoven", ("Ludwig", "von Beethoven")),
        ("Anne-Lise Haugen-Dahl", ("Anne-Lise", "Haugen-Dahl")),
        ("de Vries", ("de", "Vries")),  # the first word always stays the first name
    ],
)
def test_split_name(full: str, split: tuple[str, str]) -> None:
    assert split_name(full) == split


def test_merged_basis() -> None:
    ours = "Freely given consent from contact"
    assert merged_basis(None, ours) == ours
    assert merged_basis("Not applicable", ours) == ours
    assert merged_basis(f"Performance of a contract;{ours}", ours) == f"Performance of a contract;{ours}"


def test_a_field_hubspot_has_no_property_for_is_refused_by_name() -> None:
    with pytest.raises(PermanentFailure, match="no HubSpot property for the field 'national_id'") as exc:
        connector(FakeHubSpot()).deliver(row(personal=VALUES | {"national_id": "01019010046"}))
    assert "01019010046" not in str(exc.value)


def test_a_row_without_email_cannot_be_upserted() -> None:
    with pytest.raises(PermanentFailure, match="no email address"):
        connector(FakeHubSpot()).deliver(row(personal={"full_name": "Kari Nordmann"}))


# ---------------------------------------------------------------- hubspot.unsubscribe and hubspot.delete


def test_unsubscribe_from_all_email() -> None:
    fake = FakeHubSpot()
    odd = "kari+nyheter/1@example.no"
    result = connector(fake).deliver(row("hubspot.unsubscribe", {"email": odd}))
    assert result == {"status": "COMPLETE", "unsubscribed": 1}
    assert fake.unsubscribed == [odd]
    assert fake.requests == [
        ("POST", "/communication-preferences/v4/statuses/kari%2Bnyheter%2F1@example.no/unsubscribe-all")
    ]


def test_gdpr_delete_by_id_and_email_is_idempotent() -> None:
    fake = FakeHubSpot()
    cid = fake.add(email=EMAIL)
    other = fake.add(email="old@example.no")
    delete = row("hubspot.delete", {"email": EMAIL}, hubspot_ids=[other, "not-an-id"], subject="s1")
    hub = connector(fake)
    assert hub.deliver(delete) == {"gdpr_deleted": 2, "requests": 2}
    assert fake.contacts == {} and fake.deleted == [other, cid]
    assert fake.bodies[-1] == {"objectId": EMAIL, "idProperty": "email"}
    # Again (a worker killed before recording): the id is gone (404), the email is blocked (204). Both fine.
    assert hub.deliver(delete) == {"gdpr_deleted": 1, "requests": 2}
    assert fake.blocked == {EMAIL, "old@example.no"}


def test_gdpr_delete_of_an_unknown_email_succeeds_and_blocks_it() -> None:
    fake = FakeHubSpot()
    assert connector(fake).deliver(row("hubspot.delete", {"email": EMAIL})) == {"gdpr_deleted": 1, "requests": 1}
    assert fake.blocked == {EMAIL}


def test_a_404_that_is_not_hubspots_never_counts_as_erased() -> None:
    hub = connector(FakeHubSpot().then(Reply(404, None, raw=b"<html>Not Found</html>")))
    with pytest.raises(PermanentFailure, match="check PERSONVERN_HUBSPOT_URL"):
        hub.deliver(row("hubspot.delete", {"email": EMAIL}, hubspot_ids=["1001"]))


def test_a_deletion_needs_something_to_find_the_contact_by() -> None:
    with pytest.raises(PermanentFailure, match="neither a HubSpot id nor an email"):
        connector(FakeHubSpot()).deliver(row("hubspot.delete", {}, hubspot_ids=[]))


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(PermanentFailure, match="does not deliver 'sms' rows"):
        connector(FakeHubSpot()).deliver(row("sms"))


# ---------------------------------------------------------------- credentials, refusals and throttling


@pytest.mark.parametrize("token", [None, "", "pat eu1"])
def test_without_a_usable_token_rows_wait(token: str | None) -> None:
    fake = FakeHubSpot()
    with pytest.raises(WaitingForCredentials, match="PERSONVERN_HUBSPOT_TOKEN"):
        connector(fake, HubSpotConfig(CONFIG.url, token)).deliver(row())
    assert fake.requests == []


def test_a_refused_token_is_permanent() -> None:
    with pytest.raises(PermanentFailure) as exc:
        connector(FakeHubSpot(token="another")).deliver(row())
    assert str(exc.value) == (
        "HubSpot refused the token: check PERSONVERN_HUBSPOT_TOKEN "
        "(HTTP 401, INVALID_AUTHENTICATION, correlation id 3f1c2a9e-7b6d-4e5f-8a9b-0c1d2e3f4a5b)"
    )
    assert_quiet(exc.value)


def test_a_missing_scope_is_permanent() -> None:
    body = {
        "status": "error",
        "message": "This app hasn't been granted all required scopes",
        "category": "MISSING_SCOPES",
    }
    with pytest.raises(PermanentFailure, match="lacks a scope it needs \\(HTTP 403, MISSING_SCOPES\\)"):
        connector(FakeHubSpot().then(Reply(403, body))).deliver(row("hubspot.unsubscribe", {"email": EMAIL}))


def test_a_validation_error_names_codes_never_the_values_hubspot_quotes() -> None:
    with pytest.raises(PermanentFailure) as exc:
        connector(FakeHubSpot()).deliver(row(personal=VALUES | {"email": "kari-at-example.no"}))
    assert "HTTP 400, VALIDATION_ERROR, INVALID_EMAIL" in str(exc.value)
    assert "kari-at-example.no" not in str(exc.value)
    assert_quiet(exc.value)


def test_429_waits_as_long_as_retry_after_says() -> None:
    hub = connector(
        FakeHubSpot().then(Reply(429, {"status": "error", "errorType": "RATE_LIMIT"}, {"Retry-After": "7"}))
    )
    with pytest.raises(TemporaryFailure) as exc:
        hub.deliver(row())
    assert (exc.value.retry_after, str(exc.value)) == (7.0, "HubSpot answered HTTP 429 to searching contacts")


def test_429_without_retry_after_waits_for_the_window_the_headers_name() -> None:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}  # fmt: skip
    with pytest.raises(TemporaryFailure) as exc:
        connector(FakeHubSpot().then(Reply(429, body, headers))).deliver(row())
    assert exc.value.retry_after == 10.0


def test_429_of_the_daily_limit_waits_longer() -> None:
    body = {"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT",
            "policyName": "DAILY"}  # fmt: skip
    with pytest.raises(TemporaryFailure) as exc:
        connector(FakeHubSpot().then(Reply(429, body))).deliver(row())
    assert exc.value.retry_after == DAILY_WAIT


def test_a_used_up_window_holds_the_next_rows_back_without_a_request() -> None:
    clock = FixedClock(NOW)
    fake = FakeHubSpot()
    hub = connector(fake, clock=clock)
    unsubscribe = row("hubspot.unsubscribe", {"email": EMAIL})
    fake.headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Remaining": "0"}
    assert hub.deliver(unsubscribe)["unsubscribed"] == 1  # done, but HubSpot says the 10-second window is used up
    fake.headers = {}
    clock.advance(seconds=4)
    with pytest.raises(TemporaryFailure, match="rate limit is used up") as exc:
        hub.deliver(row())
    assert exc.value.retry_after == pytest.approx(6.0)
    assert len(fake.requests) == 1  # not one request spent on a certain 429
    clock.advance(seconds=6)
    assert hub.deliver(row())["created"] is True


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 423])
def test_server_errors_are_temporary_with_retry_after(status: int) -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    hub = connector(FakeHubSpot().then(Reply(status, {"status": "error"}, {"Retry-After": later})))
    with pytest.raises(TemporaryFailure) as exc:
        hub.deliver(row())
    assert exc.value.retry_after == 90.0


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectError("refused"), "cannot reach HubSpot (ConnectError)"),
        (httpx.ReadTimeout("slow"), "HubSpot did not answer in time"),
    ],
)
def test_network_failures_are_temporary(exc: Exception, reason: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    hub = HubSpot(httpx.Client(transport=httpx.MockTransport(handler)), CONFIG, FixedClock(NOW))
    with pytest.raises(TemporaryFailure, match=re.escape(reason)) as raised:
        hub.deliver(row())
    assert raised.value.retry_after is None


def test_an_answer_without_a_contact_id_is_refused() -> None:
    with pytest.raises(PermanentFailure, match="names no contact id"):
        connector(FakeHubSpot().then(Reply(200, {"results": []}), Reply(201, {"ok": True}))).deliver(row())


def test_a_share_for_email_marketing_carries_the_consent_link_when_the_account_has_the_property() -> None:
    fake = FakeHubSpot(custom_properties={"personvern_consent_url"})
    config = HubSpotConfig("http://127.0.0.1:9", TOKEN, consent_property="personvern_consent_url")
    links = {"s1": "https://24center.no/personvern/samtykke/TOKEN"}
    hub = HubSpot(fake.client(), config, FixedClock(NOW), links.get)
    cid = hub.deliver(row(reason="share"))["hubspot_id"]
    assert fake.contacts[cid]["personvern_consent_url"] == links["s1"]
    # A correction (not a share for marketing) leaves the link as it is; so does an account without the property.
    fake.contacts[cid]["personvern_consent_url"] = "kept"
    hub.deliver(row(reason="update", update_only=True, hubspot_id=cid))
    assert fake.contacts[cid]["personvern_consent_url"] == "kept"
    plain = FakeHubSpot()
    created = HubSpot(plain.client(), CONFIG, FixedClock(NOW), links.get).deliver(row(reason="share"))
    assert "personvern_consent_url" not in plain.contacts[created["hubspot_id"]]


def test_a_consent_property_that_is_not_a_property_name_makes_rows_wait_saying_why() -> None:
    bad = HubSpotConfig("http://127.0.0.1:9", TOKEN, consent_property="Consent URL")
    with pytest.raises(WaitingForCredentials) as waiting:
        HubSpot(FakeHubSpot().client(), bad, FixedClock(NOW), lambda _sid: "x").deliver(row(reason="share"))
    assert "PERSONVERN_HUBSPOT_CONSENT_PROPERTY" in waiting.value.reason
