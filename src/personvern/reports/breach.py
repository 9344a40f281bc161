"""The breach report ready to paste into Datatilsynet's form (Art. 33(3)), in nb or en, in the form's own order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from personvern.domain.breaches import Breach, Phase, Risk, hours
from personvern.policy.schema import Policy
from personvern.reports.environment import LANGUAGES, join

# (nb, en) — the questions of Datatilsynet's notification form, and the report's fixed words.
LABELS: dict[str, tuple[str, str]] = {
    "title": (
        "Melding om brudd på personopplysningssikkerheten (personvernforordningen artikkel 33)",
        "Notification of a personal data breach (GDPR Article 33)",
    ),
    "breach": ("Avvik", "Breach"),
    "kind": ("Type melding", "Kind of notification"),
    "controller": ("Behandlingsansvarlig", "Controller"),
    "contact": ("Kontaktperson", "Contact person"),
    "cause": ("Hovedårsak", "Main cause"),
    "occurred": ("Når skjedde bruddet, og over hvilken periode", "When did the breach happen, and over what period"),
    "discovered": ("Når ble bruddet oppdaget", "When was the breach discovered"),
    "deadline": (
        "Frist for melding, 72 timer etter oppdagelsen",
        "Deadline for notification, 72 hours after discovery",
    ),
    "people": ("Omtrent hvor mange personer er berørt", "Approximately how many people are affected"),
    "records": ("Omtrent hvor mange registreringer er berørt", "Approximately how many records are affected"),
    "description": ("Hva har skjedd, og hvordan", "What happened, and how"),
    "categories": ("Hvilke typer personopplysninger er berørt", "Which types of personal data are affected"),
    "relation": ("De berørtes forhold til virksomheten", "The affected people's relation to the company"),
    "data_location": ("Hvor er opplysningene nå", "Where is the data now"),
    "consequences": ("Sannsynlige konsekvenser for de berørte", "Likely consequences for the people affected"),
    "risk": ("Vurdering av risiko", "Risk assessment"),
    "measures_taken": ("Tiltak som er gjennomført", "Measures taken"),
    "measures_planned": ("Tiltak som er planlagt", "Measures planned"),
    "told": ("Er de berørte varslet, og hvordan", "Have the people affected been told, and how"),
    "late": ("Grunn til at meldingen kommer senere enn 72 timer", "Why the notification comes later than 72 hours"),
    "earlier": ("Tidligere meldinger til tilsynsmyndigheten", "Earlier notifications to the supervisory authority"),
    "unknown": (
        "ikke kjent ennå (gis i en senere melding, artikkel 33 nr. 4)",
        "not known yet (given in a later notification, Article 33(4))",
    ),
    "late_needed": (
        "må oppgis: meldingen kommer {hours} etter at bruddet ble oppdaget",
        "must be given: the notification comes {hours} after the breach was discovered",
    ),
    "phase_initial": ("Foreløpig melding", "Initial notification"),
    "phase_follow_up": ("Oppfølgende melding", "Follow-up notification"),
    "phase_final": ("Endelig melding", "Final notification"),
    "closed": ("Endelig melding er gitt", "The final notification was given"),
    "at_least": ("minst {n} (oppført i avviksregisteret)", "at least {n} (listed in the breach register)"),
    "from_until": ("fra {start} til {end}", "from {start} to {end}"),
    "from": ("fra {start}", "from {start}"),
    "told_sms": ("Ja, på SMS {at} til {queued} person(er)", "Yes, by SMS {at} to {queued} person(s)"),
    "not_reached": ("{n} kunne ikke nås på SMS", "{n} could not be reached by SMS"),
    "not_told": ("Nei", "No"),
    "risk_unlikely": (
        "Lite sannsynlig at bruddet medfører risiko for de registrerte",
        "Unlikely to result in a risk to the data subjects",
    ),
    "risk_likely": ("Bruddet kan medføre risiko for de registrerte", "Likely to result in a risk to the data subjects"),
    "risk_high": (
        "Bruddet kan medføre høy risiko; de registrerte skal varsles (artikkel 34)",
        "Likely to result in a high risk; the data subjects are to be told (Article 34)",
    ),
    "earlier_one": ("{phase} {at}, referanse {reference}", "{phase} {at}, reference {reference}"),
}


def _t(lang: str, key: str, **values: str) -> str:
    nb, en = LABELS[key]
    return (en if lang == "en" else nb).format(**values)


def local_instant(at: datetime, timezone: str) -> str:
    """A time on the controller's clock with its offset, as people there read it: «2026-11-25 10:00 (UTC+01:00)».

    The offset keeps it unambiguous (the form and the authority may read it elsewhere, and summer time moves it).
    """
    return format_datetime(at, "yyyy-MM-dd HH:mm '(UTC'xxx')'", tzinfo=ZoneInfo(timezone), locale="en_GB")


def authority_report(policy: Policy, breach: Breach, lang: str, now: datetime, phase: Phase | None = None) -> str:
    """Every question of the form with the register's answer; what is not known yet is said to come later.

    `phase` is the notification this report goes with; without one, the next phase, or that the case is closed.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"no report in {lang!r}")
    unknown = _t(lang, "unknown")
    zone = policy.controller.timezone

    def instant(at: datetime) -> str:
        return local_instant(at, zone)

    def text(value: str | None) -> str:
        return value if value else unknown

    c = policy.controller
    contact = breach.contact or f"{policy.privacy_contact.role.get(lang)}, {policy.privacy_contact.email}"
    if phase is not None:
        kind = _t(lang, f"phase_{phase.value}")
    else:
        kind = _t(lang, "closed") if breach.closed else _t(lang, f"phase_{breach.next_phase().value}")
    if breach.occurred_at is None:
        occurred = unknown
    elif breach.occurred_until is None:
        occurred = _t(lang, "from", start=instant(breach.occurred_at))
    else:
        occurred = _t(lang, "from_until", start=instant(breach.occurred_at), end=instant(breach.occurred_until))
    if breach.people is not None:
        people = str(breach.people)
    elif breach.subject_ids:
        people = _t(lang, "at_least", n=str(len(breach.subject_ids)))
    else:
        people = unknown
    risk = unknown if breach.risk is None else _t(lang, f"risk_{breach.risk.value}")
    if breach.risk is not None and breach.risk_reason:
        risk += f". {breach.risk_reason}"
    lines = [
        _t(lang, "title"),
        f"{_t(lang, 'breach')} {breach.id} · {_t(lang, 'kind')}: {kind}",
        "",
        f"{_t(lang, 'controller')}: {c.name}, {c.address}, {c.postal_code} {c.city}",
        f"{_t(lang, 'contact')}: {contact}",
        f"{_t(lang, 'cause')}: {text(breach.cause)}",
        f"{_t(lang, 'occurred')}: {occurred}",
        f"{_t(lang, 'discovered')}: {instant(breach.discovered_at)}",
        f"{_t(lang, 'deadline')}: {instant(breach.deadline)}",
        f"{_t(lang, 'people')}: {people}",
        f"{_t(lang, 'records')}: {text(None if breach.records is None else str(breach.records))}",
        f"{_t(lang, 'description')}: {breach.description}",
        f"{_t(lang, 'categories')}: {text(join(list(breach.categories), lang))}",
        f"{_t(lang, 'relation')}: {text(breach.relation)}",
        f"{_t(lang, 'data_location')}: {text(breach.data_location)}",
        f"{_t(lang, 'consequences')}: {text(breach.consequences)}",
        f"{_t(lang, 'risk')}: {risk}",
        f"{_t(lang, 'measures_taken')}: {text(breach.measures_taken)}",
        f"{_t(lang, 'measures_planned')}: {text(breach.measures_planned)}",
        f"{_t(lang, 'told')}: {_told(breach, lang, instant)}",
    ]
    told = breach.to_authority
    if told and told[0].late_reason:
        lines.append(f"{_t(lang, 'late')}: {told[0].late_reason}")
    elif not told and now > breach.deadline and breach.risk is not Risk.UNLIKELY:
        lines.append(f"{_t(lang, 'late')}: {_t(lang, 'late_needed', hours=hours(now - breach.discovered_at))}")
    if told:
        earlier = "; ".join(
            _t(
                lang,
                "earlier_one",
                phase=_t(lang, f"phase_{(n.phase or Phase.INITIAL).value}"),
                at=instant(n.at),
                reference=n.reference or "",
            )
            for n in told
        )
        lines.append(f"{_t(lang, 'earlier')}: {earlier}")
    return "\n".join(lines) + "\n"


def _told(breach: Breach, lang: str, instant: Callable[[datetime], str]) -> str:
    sent = breach.to_subjects
    if not sent:
        return _t(lang, "not_told")
    parts = []
    for n in sent:
        part = _t(lang, "told_sms", at=instant(n.at), queued=str(n.outcome.get("queued", 0)))
        missed = sum(len(n.outcome.get(k, [])) for k in ("no_phone", "not_in_register", "restricted"))
        if missed:
            part += "; " + _t(lang, "not_reached", n=str(missed))
        parts.append(part)
    return "; ".join(parts)
