"""The consent page of a marketing message's personal link, through the app on each database (no server)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from personvern.bootstrap import FixedClock
from personvern.domain import links
from personvern.domain.sms import OPT_OUT_LINE
from personvern.services import consent, erasure, selfservice
from tests.e2e.support import ONE_TIME, count, e164, values

CALM = "This link no longer works"
CALM_NB = "Denne lenken virker ikke lenger"
USER, PASSWORD = "linkmobility", "a-long-hook-password-0123"


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_USER", USER)
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_PASSWORD", PASSWORD)


def consenting(api, n: int = 1) -> str:
    sid = api.post("/api/v1/subjects", json={"kind": ONE_TIME, "values": values(n)}).json()["id"]
    assert api.post(f"/api/v1/subjects/{sid}/consents/give", json={"channel": "sms", "method": "phone"}).is_success
    return sid


def path_of(api, sid: str, lang: str = "nb") -> str:
    url = selfservice.link_for(api.runtime.context(), sid, lang)
    assert url is not None
    return url.removeprefix("http://127.0.0.1:8000")


def open_page(api, path: str):
    page = api.client.get(path)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(form_token|notice)" value="([^"]*)"', page.text))
    return page, fields


def ledger(api, sid: str):
    return consent.consent_ledger(api.runtime.context(), sid)


def published_notice(api, lang: str) -> str:
    from personvern.store.notice_repo import current_notice_sha256

    sha = current_notice_sha256(api.runtime.engine, api.runtime.policy.sha256, lang)
    assert sha is not None
    return sha


def test_the_person_withdraws_gives_and_objects_from_their_link(api):
    sid = consenting(api)
    path = path_of(api, sid)
    page, form = open_page(api, path)
    assert page.headers["cache-control"] == "no-store" and "noindex" in page.headers["x-robots-tag"]
    assert '<html lang="nb">' in page.text and 'href="/privacy/consent/' in page.text  # the English page
    assert sid not in page.text and "Nordmann" not in page.text and e164(1) not in page.text
    assert form["notice"] == published_notice(api, "nb")
    for action, channel, said in (
        ("withdraw", "sms", "markedsføring på sms er trukket tilbake"),
        ("give", "email", "samtykket ditt til markedsføring på e-post er registrert"),
        ("object", None, "protesten din er registrert"),
    ):
        data = {**form, "action": action} | ({"channel": channel} if channel else {})
        changed = api.client.post(path, data=data, follow_redirects=False)
        assert changed.status_code == 303, changed.text
        assert changed.headers["location"].startswith(path + "?done=")
        assert said in api.client.get(changed.headers["location"]).text.lower()
    state = ledger(api, sid)
    web = [e for e in state.events if e.method.value == "web"]
    assert [(e.channel, e.action.value) for e in web] == [("sms", "withdrawn"), ("email", "given")]
    assert {(e.notice_sha256, e.recorded_by, e.role) for e in web} == {
        (published_notice(api, "nb"), "web:self-service", "subject")
    }
    assert [b.kind.value for b in state.active_blocks] == ["objection"]
    # In English the page shows, and records, the English notice; giving again ends the objection.
    en = path_of(api, sid, "en")
    page, form = open_page(api, en)
    assert "You have objected to marketing since" in page.text
    assert form["notice"] == published_notice(api, "en")
    api.runtime.clock = FixedClock(api.runtime.clock.now() + timedelta(minutes=1))  # a consent after it
    again = api.client.post(en, data={**form, "action": "give", "channel": "sms"}, follow_redirects=False)
    assert again.status_code == 303
    state = ledger(api, sid)
    assert state.active_blocks == [] and state.marketing["sms"] is None
    assert state.events[-1].notice_sha256 == published_notice(api, "en")


def test_the_receipt_downloads_as_kantara_and_only_the_persons_own(api):
    sid = consenting(api, 1)
    other = consenting(api, 2)
    path = path_of(api, sid, "en")
    page, _form = open_page(api, path)
    [event_id] = re.findall(rf'href="{re.escape(path)}/receipt/([0-9a-f]+)"', page.text)
    got = api.client.get(f"{path}/receipt/{event_id}")
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert got.headers["content-disposition"] == f'attachment; filename="consent-receipt-{event_id}.json"'
    receipt = json.loads(got.text)
    assert receipt["version"] == "KI-CR-v1.1.0" and receipt["consentReceiptID"] == event_id
    assert receipt["piiPrincipalId"] == sid and receipt["language"] == "en"
    assert receipt["personvern"]["channel"] == "sms" and receipt["personvern"]["action"] == "given"
    others = ledger(api, other).events[0].id
    for bad in (others, "nope", "x" * 65):
        refused = api.client.get(f"{path}/receipt/{bad}")
        assert refused.status_code == 404 and CALM in refused.text


def test_tampered_expired_and_erased_links_get_the_calm_page_and_change_nothing(api):
    sid = consenting(api)
    path = path_of(api, sid)
    _page, form = open_page(api, path)
    token = path.rsplit("/", 1)[1]
    tampered = path[: -len(token)] + token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    key = api.runtime.uow.vault.link_key
    expired = path[: -len(token)] + links.make_token(key, sid, api.runtime.clock.now() - timedelta(seconds=1))
    before = count(api.pv.db_url, "consent_events"), count(api.pv.db_url, "subject_blocks")
    for where, status in ((tampered, 404), (expired, 410), ("/personvern/samtykke/" + "A" * 200, 404)):
        shown = api.client.get(where)
        assert shown.status_code == status and CALM_NB in shown.text and "/personvern" in shown.text
        assert shown.headers["cache-control"] == "no-store"
        posted = api.client.post(where, data={**form, "action": "withdraw", "channel": "sms"})
        assert posted.status_code == status and CALM_NB in posted.text
        assert api.client.get(f"{where}/receipt/{ledger(api, sid).events[0].id}").status_code == status
    assert (count(api.pv.db_url, "consent_events"), count(api.pv.db_url, "subject_blocks")) == before
    with api.runtime.uow() as uow:
        erasure.erase_subject(api.runtime.context(), uow, sid, cause=erasure.ErasureCause.REQUEST)
        uow.commit()
    gone = api.client.get(path)
    assert gone.status_code == 404 and CALM_NB in gone.text


def test_a_form_without_the_pages_key_is_refused_and_changes_nothing(api):
    sid = consenting(api, 1)
    path = path_of(api, sid)
    other_path = path_of(api, consenting(api, 2))
    _page, form = open_page(api, path)
    _other, other_form = open_page(api, other_path)
    before = count(api.pv.db_url, "consent_events"), count(api.pv.db_url, "subject_blocks")
    for data in (
        {"notice": form["notice"], "action": "withdraw", "channel": "sms"},  # a cross-site form: no key
        {**other_form, "action": "object"},  # another page's key
        {**form, "form_token": "", "action": "object"},
    ):
        refused = api.client.post(path, data=data, follow_redirects=False)
        assert refused.status_code == 403 and "Ingenting ble endret" in refused.text
    bad = api.client.post(path, data={**form, "action": "give", "channel": "fax"})
    assert bad.status_code == 422
    assert (count(api.pv.db_url, "consent_events"), count(api.pv.db_url, "subject_blocks")) == before


def test_stopp_by_sms_keeps_working_beside_the_link(api, hooks):
    sid = consenting(api)
    path = path_of(api, sid)
    body = json.dumps({"source": e164(1), "content": {"userData": "STOPP"}}).encode()
    stop = api.client.post(
        "/hooks/linkmobility/inbound",
        content=body,
        auth=(USER, PASSWORD),
        headers={"Content-Type": "application/json"},
    )
    assert stop.status_code == 200, stop.text
    assert ledger(api, sid).events[-1].method.value == "sms_reply"
    page, form = open_page(api, path)
    assert "Withdraw my consent to marketing by SMS" not in page.text
    assert api.client.post(path, data={**form, "action": "give", "channel": "sms"}).status_code == 200
    assert ledger(api, sid).marketing["sms"] is None


def test_a_marketing_sms_preview_counts_the_link_as_sent(api):
    sid = consenting(api)
    body = {"subject_id": sid, "purpose": "marketing", "text": "Tilbud!"}
    preview = api.post("/api/v1/sms/preview", json=body).json()
    sent = api.post("/api/v1/sms", json=body)
    assert sent.status_code == 201
    link = f"http://127.0.0.1:8000/personvern/samtykke/{'x' * links.token_length()}"
    assert preview["text"] == f"Tilbud!\n{link}\n{OPT_OUT_LINE}"  # the stand-in: each person's link when sent
    assert preview["characters"] == sent.json()["characters"] == len(preview["text"])
    assert preview["segments"] == sent.json()["segments"] == 1
