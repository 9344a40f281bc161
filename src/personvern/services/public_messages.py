"""The messages the public side sends a visitor (codes, receipts, answer links), in their language.

No message says whether the person is a customer: a stranger gets the same words as anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from babel.dates import format_date

from personvern.domain import otp
from personvern.domain.otp import Via
from personvern.reports.environment import locale
from personvern.services import outbox
from personvern.services.context import Context
from personvern.services.ports import UnitOfWork

TYPE_NAMES = {
    "nb": {
        "access": "innsyn",
        "portability": "dataportabilitet",
        "rectification": "retting",
        "erasure": "sletting",
        "restriction": "begrensning",
        "objection": "protest",
    },
    "en": {
        "access": "access",
        "portability": "portability",
        "rectification": "rectification",
        "erasure": "erasure",
        "restriction": "restriction",
        "objection": "objection",
    },
}

# The messages a visitor gets, in their language. No message says whether the person is a customer.
TEXTS = {
    "nb": {
        "code_subject": "Koden din hos {controller}",
        "code": (
            "{code} er koden din for personvernforespørselen hos {controller}. Den gjelder i {minutes} minutter. "
            "Har du ikke bedt om den, kan du se bort fra meldingen."
        ),
        "fetch_code": (
            "{code} er koden din for å hente svaret fra {controller}. Den gjelder i {minutes} minutter. "
            "Har du ikke bedt om den, kan du se bort fra meldingen."
        ),
        "receipt_subject": "Vi har mottatt forespørselen din",
        "receipt": (
            "{controller} har mottatt forespørselen din om {type} {received}. Du får svar senest {due}. "
            "Referanse: {ref}."
        ),
        "consent_link_subject": "Samtykkene dine hos {controller}",
        "consent_link": (
            "Her ser og endrer du samtykkene dine til markedsføring fra {controller}: {url} "
            "Lenken er personlig; ikke del den."
        ),
        "consent_none_subject": "Samtykkene dine hos {controller}",
        "consent_none": (
            "Du ba om å se samtykkene dine til markedsføring fra {controller}. Vi har ingen samtykker knyttet til "
            "dette nummeret eller denne adressen. Har du ikke bedt om dette, kan du se bort fra meldingen."
        ),
        "answer_subject": "Svaret på forespørselen din",
        "answer": (
            "Svaret på forespørselen din om {type} hos {controller} er klart: {url} "
            "Lenken virker én gang og til {until}. Du får en ny kode når du åpner den."
        ),
    },
    "en": {
        "code_subject": "Your code from {controller}",
        "code": (
            "{code} is your code for the privacy request at {controller}. It is valid for {minutes} minutes. "
            "If you did not ask for it, ignore this message."
        ),
        "fetch_code": (
            "{code} is your code to fetch the answer from {controller}. It is valid for {minutes} minutes. "
            "If you did not ask for it, ignore this message."
        ),
        "receipt_subject": "We have received your request",
        "receipt": (
            "{controller} has received your {type} request on {received}. You will have the answer by {due} at "
            "the latest. Reference: {ref}."
        ),
        "consent_link_subject": "Your choices at {controller}",
        "consent_link": (
            "Here you see and change your marketing choices at {controller}: {url} The link is personal; do not "
            "share it."
        ),
        "consent_none_subject": "Your choices at {controller}",
        "consent_none": (
            "You asked to see your marketing choices at {controller}. We hold none for this number or address. "
            "If you did not ask, ignore this message."
        ),
        "answer_subject": "The answer to your request",
        "answer": (
            "The answer to your {type} request at {controller} is ready: {url} The link works once, until {until}. "
            "You get a fresh code when you open it."
        ),
    },
}


def day(lang: str, day: date) -> str:
    return format_date(day, "long", locale=locale(lang))


def send(
    ctx: Context,
    uow: UnitOfWork,
    via: Via,
    destination: str,
    lang: str,
    what: str,
    values: Mapping[str, str],
    about: str,
) -> None:
    """Queue one message to the visitor through the outbox (the worker is woken by the caller after commit)."""
    texts = TEXTS[lang if lang in TEXTS else "en"]
    words = {"controller": ctx.policy.controller.name, "minutes": str(int(otp.VALID.total_seconds() // 60)), **values}
    body = texts[what].format(**words)
    public = {"purpose": "service", "reason": f"public.{what}", "about": about}
    if via is Via.SMS:
        outbox.enqueue(ctx, uow, "sms", None, public, {"destination": destination, "text": body})
    else:
        subject_line = texts[f"{'code' if what == 'fetch_code' else what}_subject"].format(**words)
        outbox.enqueue(ctx, uow, "email", None, public, {"to": destination, "subject": subject_line, "body": body})
