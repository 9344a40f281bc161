"""SMS in the console: one customer's message previewed then sent, marketing to the audience, the message log."""

from __future__ import annotations

import re

from personvern.services import consent, register
from tests.e2e.support import ONE_TIME, count, values

TEXT = "Nøkkelkortet ditt er klart i resepsjonen."


def _add(console, n=1, order=True, consenting=False):
    ctx = console.runtime.context()
    sid = register.add_subject(ctx, ONE_TIME, values(n), {}).id
    if order:
        register.start_relationship(ctx, sid, "order")
    if consenting:
        consent.give_consent(ctx, sid, "marketing", "sms", "web")
    return sid


def _queued(console):
    return count(console.pv.db_url, "messages"), count(console.pv.db_url, "outbox")


def test_a_service_sms_is_previewed_then_sent_and_listed(console):
    kari = _add(console)
    page = console.signed_in("staff")
    assert f'href="/console/subjects/{kari}/sms"' in page.get(f"/console/subjects/{kari}").text
    form = page.get(f"/console/subjects/{kari}/sms")
    assert form.status_code == 200 and 'id="f-text"' in form.text and "Person 1 Nordmann" in form.text
    before = _queued(console)
    preview = page.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": TEXT, "step": "preview"})
    assert preview.status_code == 200 and "nothing is sent yet" in preview.text
    assert f"<pre>{TEXT}</pre>" in preview.text and "GSM-7" in preview.text and "1 SMS" in preview.text
    assert _queued(console) == before  # a preview stores nothing
    lines = page.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": "Hei\r\nKari", "step": "preview"})
    assert "<dt>Characters</dt><dd>8</dd>" in lines.text  # a line break is one character, as a browser sends it
    edit = page.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": TEXT, "step": "edit"})
    assert f">{TEXT}</textarea>" in edit.text
    sent = page.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": TEXT, "step": "send"})
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"/console/sms?subject={kari}")
    listed = page.follow(sent)
    assert "The SMS is queued" in listed.text and "waiting in the outbox" in listed.text
    assert f'href="/console/subjects/{kari}"' in listed.text and "+4741" not in listed.text and TEXT not in listed.text
    assert _queued(console) == (before[0] + 1, before[1] + 1)


def test_a_bad_text_or_a_rule_is_said_by_the_form_and_nothing_is_queued(console):
    kari = _add(console)
    nobody = _add(console, 2, order=False)
    page = console.signed_in("staff")
    before = _queued(console)
    empty = page.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": "  ", "step": "preview"})
    assert empty.status_code == 422 and 'id="f-text-error"' in empty.text
    long = page.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": "x" * 1601, "step": "send"})
    assert long.status_code == 422 and "at most 10" in long.text
    emoji = page.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": "Hei 🙂", "step": "send"})
    assert emoji.status_code == 422 and "emoji" in emoji.text
    no_order = page.post(f"/console/subjects/{nobody}/sms", {"purpose": "service", "text": TEXT, "step": "send"})
    assert no_order.status_code == 403 and "needs an active order or contract" in no_order.text
    assert 'id="f-text"' in no_order.text  # the form, not a refusal page: the rule is about the person
    no_consent = page.post(f"/console/subjects/{kari}/sms", {"purpose": "marketing", "text": TEXT, "step": "send"})
    assert no_consent.status_code == 403 and "no marketing SMS" in no_consent.text
    assert _queued(console) == before
    auditor = console.signed_in("auditor")
    refused = auditor.post(f"/console/subjects/{kari}/sms", {"purpose": "service", "text": TEXT, "step": "send"})
    assert refused.status_code == 403 and "may not send SMS" in refused.text and 'id="f-text"' not in refused.text
    assert auditor.get(f"/console/subjects/{kari}/sms").status_code == 403
    assert _queued(console) == before


def test_a_marketing_sms_to_the_audience_is_previewed_confirmed_and_sent(console):
    ones = [_add(console, n, order=False, consenting=True) for n in (1, 2, 3)]
    _add(console, 4)  # a customer without consent: not in the audience
    ctx = console.runtime.context()
    consent.restrict(ctx, ones[2])  # restricted: not in the audience either
    page = console.signed_in("marketing")
    assert 'href="/console/sms/marketing"' in page.get("/console/").text
    form = page.get("/console/sms/marketing")
    assert form.status_code == 200 and 'id="f-text"' in form.text
    before = _queued(console)
    preview = page.post("/console/sms/marketing", {"text": "Tilbud: 20 % i desember", "step": "preview"})
    assert preview.status_code == 200 and "Svar STOPP for å melde deg av" in preview.text
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", preview.text))
    assert figures["People it reaches now"] == "2" and figures["Billed as, in all"] == "2 SMS"
    unconfirmed = page.post("/console/sms/marketing", {"text": "Tilbud: 20 % i desember", "step": "send"})
    assert unconfirmed.status_code == 422 and 'id="f-confirm-error"' in unconfirmed.text
    bad = page.post("/console/sms/marketing", {"text": "", "step": "preview"})
    assert bad.status_code == 422 and 'id="f-text-error"' in bad.text
    assert _queued(console) == before
    sent = page.post("/console/sms/marketing", {"text": "Tilbud: 20 % i desember", "step": "send", "confirm": "yes"})
    assert sent.status_code == 303
    assert "2 marketing SMS are queued" in page.follow(sent).text
    assert _queued(console) == (before[0] + 2, before[1] + 2)
    staff = console.signed_in("staff")  # may send marketing SMS one by one, but may not read the audience
    assert staff.get("/console/sms/marketing").status_code == 403
    refused = staff.post("/console/sms/marketing", {"text": "Tilbud", "step": "send", "confirm": "yes"})
    assert refused.status_code == 403 and "may not read the marketing audience" in refused.text
    assert _queued(console) == (before[0] + 2, before[1] + 2)
    listed = console.signed_in("ceo").get("/console/sms", params={"status": "pending"})
    assert listed.text.count("Marketing") >= 2


def test_the_message_log_is_filtered_and_refused_to_marketing(console):
    kari = _add(console)
    ola = _add(console, 2)
    page = console.signed_in("staff")
    for sid in (kari, ola, kari):
        sent = page.post(f"/console/subjects/{sid}/sms", {"purpose": "service", "text": TEXT, "step": "send"})
        assert sent.status_code == 303
    everything = page.get("/console/sms")
    assert "3 of 3 messages" in everything.text
    mine = page.get("/console/sms", params={"subject": kari})
    assert "2 of 2 messages" in mine.text and f"/console/subjects/{ola}" not in mine.text
    assert "No message matches." in page.get("/console/sms", params={"status": "delivered"}).text
    assert "No message matches." in page.get("/console/sms", params={"since": "2026-11-26"}).text
    bad = page.get("/console/sms", params={"since": "tomorrow"})
    assert bad.status_code == 422 and 'id="f-since-error"' in bad.text
    unknown = page.get("/console/sms", params={"status": "lost"})
    assert unknown.status_code == 422 and 'id="f-status-error"' in unknown.text
    nobody = page.get("/console/sms", params={"subject": "0" * 32})
    assert nobody.status_code == 422 and 'id="f-subject-error"' in nobody.text
    assert console.signed_in("marketing").get("/console/sms").status_code == 403
