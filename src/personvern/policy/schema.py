"""The policy file's schema: what a company declares about its processing, as pydantic models."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a policy must not silently drop a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Localised(Strict):
    """A text in the languages the company publishes in (Norwegian first, English second)."""

    nb: Text
    en: Text

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.nb


class FieldType(StrEnum):
    TEXT = "text"
    NAME = "name"  # a person's name: text, and found by name through a blind index of its folded form
    PHONE = "phone"
    EMAIL = "email"
    ORGANISATION_NUMBER = "organisation_number"
    NATIONAL_ID = "national_id"
    ADDRESS = "address"


# Types whose normalised value can be looked up exactly (through a keyed blind index).
LOOKUP_TYPES = frozenset(
    {FieldType.PHONE, FieldType.EMAIL, FieldType.ORGANISATION_NUMBER, FieldType.NATIONAL_ID, FieldType.NAME}
)
# Of those, the types that can identify one person; namesakes share a name, so a name never can.
UNIQUE_TYPES = LOOKUP_TYPES - {FieldType.NAME}


class Collected(StrEnum):
    ALWAYS = "always"  # required for every listed kind
    WHEN_NEEDED = "when_needed"  # optional; storing it needs a stated reason (data minimisation, Art. 5(1)(c))
    CONTRACT = "contract"  # required for the listed kinds because they hold a contract


class LegalBasis(StrEnum):
    """Art. 6(1) points; the text is the point's letter."""

    CONSENT = "6(1)(a)"
    CONTRACT = "6(1)(b)"
    LEGAL_OBLIGATION = "6(1)(c)"
    VITAL_INTERESTS = "6(1)(d)"
    PUBLIC_TASK = "6(1)(e)"
    LEGITIMATE_INTERESTS = "6(1)(f)"


class RecipientCategory(StrEnum):
    INTERNAL = "internal"
    PROCESSOR = "processor"  # Art. 28: acts on the controller's instructions
    INDEPENDENT_CONTROLLER = "independent_controller"


class ExpiryAction(StrEnum):
    ARCHIVE = "archive"
    ERASE = "erase"


class RetentionStart(StrEnum):
    """The event a retention period counts from."""

    RECEIVED = "received"  # when the data was received
    RELATIONSHIP_END = "relationship_end"  # when the last customer relationship ended
    FINANCIAL_YEAR_END = "financial_year_end"  # end of the financial year of the last relationship


class RetentionWhile(StrEnum):
    """A condition the reason needs to hold at all."""

    RELATIONSHIP_ACTIVE = "relationship_active"
    CONSENT_ACTIVE = "consent_active"
    # No order, contract or consent yet: an offer asked for, a contract being drawn up. Art. 6(1)(b) covers
    # "steps at the request of the data subject prior to entering into a contract"; the period must end it.
    PROSPECT = "prospect"
    ALWAYS = "always"


class Controller(Strict):
    name: Text
    organisation_number: Annotated[str, StringConstraints(pattern=r"^\d{9}$")] | None = None
    address: Text
    postal_code: Text
    city: Text
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "NO"
    email: Text | None = None
    phone: Text | None = None
    website: Text | None = None
    # Where the controller is: the calendar day a request is received on, and so its deadline, is that
    # place's day (Art. 12(3) counts from receipt).
    timezone: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]+(/[A-Za-z_+-]+)*$")] = "Europe/Oslo"

    @model_validator(mode="after")
    def _known_timezone(self) -> Controller:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}; use an IANA name such as Europe/Oslo") from None
        return self


class PrivacyContact(Strict):
    role: Localised
    email: Text
    phone: Text | None = None


class SupervisoryAuthority(Strict):
    name: Text
    website: Text
    complaint_url: Text | None = None


class Kind(Strict):
    label: Localised
    description: Localised | None = None
    business: bool = False  # linked to an organisation through its organisation number
    source: Localised | None = None  # where the data comes from when not from the person (Art. 14(2)(f))


class FieldSpec(Strict):
    type: FieldType
    collected: Collected
    kinds: list[Name] = Field(min_length=1)
    purposes: list[Name] = Field(min_length=1)
    label: Localised
    unique: bool = False  # two subjects may not share the value (identifies the same person)

    @model_validator(mode="after")
    def _unique_needs_lookup(self) -> FieldSpec:
        if self.unique and self.type not in UNIQUE_TYPES:
            raise ValueError(f"unique is only possible for types {sorted(UNIQUE_TYPES)}")
        return self

    @property
    def lookup(self) -> bool:
        return self.type in LOOKUP_TYPES

    @property
    def required(self) -> bool:
        return self.collected is not Collected.WHEN_NEEDED


class Purpose(Strict):
    label: Localised
    description: Localised
    legal_basis: LegalBasis
    legal_basis_detail: Localised | None = None  # e.g. the law behind a legal obligation
    channels: list[Name] = Field(default_factory=list)
    kinds: list[Name] = Field(min_length=1)


class ProcessorAgreement(Strict):
    """The data processing agreement with a processor (Art. 28(3)): when signed, which version, where it is kept,
    and when it is next looked at (a processor's sub-processors and measures change)."""

    signed_on: date
    version: Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True)]
    reference: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    next_review: date

    @model_validator(mode="after")
    def _review_after_signing(self) -> ProcessorAgreement:
        if self.next_review <= self.signed_on:
            raise ValueError("next_review must come after signed_on")
        return self


class Recipient(Strict):
    name: Text
    category: RecipientCategory
    description: Localised
    purposes: list[Name] = Field(min_length=1)
    fields: list[Name] = Field(min_length=1)
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "NO"
    transfer_basis: Localised | None = None  # required outside the EEA (Art. 44-49)
    agreement: ProcessorAgreement | None = None  # a processor's (Art. 28(3)); `policy check` warns without one


class Duration(Strict):
    years: int = Field(default=0, ge=0, le=100)
    months: int = Field(default=0, ge=0, le=1200)
    days: int = Field(default=0, ge=0, le=36500)

    def describe(self, lang: str = "en") -> str:
        parts = []
        for n, nb, en in (
            (self.years, "år", "years"),
            (self.months, "måneder", "months"),
            (self.days, "dager", "days"),
        ):
            if n:
                parts.append(f"{n} {nb if lang == 'nb' else en}")
        return " ".join(parts) or ("0 dager" if lang == "nb" else "0 days")

    def before(self, at: datetime) -> datetime:
        """The instant this long before `at`, in calendar months and years (Regulation 1182/71 Art. 3)."""
        return at - relativedelta(years=self.years, months=self.months, days=self.days)

    def after(self, at: datetime) -> datetime:
        """The instant this long after `at`, counted the same way."""
        return at + relativedelta(years=self.years, months=self.months, days=self.days)


CONSENT_LINK_DAYS = 60  # the default life of a self-service link, also without a [messages] section


class MessageRetention(Strict):
    """How long the text of a message sent to a subject is kept; its metadata stays with the subject."""

    keep_text: Duration
    description: Localised
    # How long the personal link in a marketing message works (days): where the person sees and changes their
    # consent and objects (Art. 7(3), 21(3)). Short enough that an old, forwarded message stops opening it.
    consent_link_days: int = Field(default=CONSENT_LINK_DAYS, ge=1, le=366)


class UndeliveredRetention(Strict):
    """How long an outbox row that was given up on (dead) keeps the personal part it was to deliver.

    Counted from when the row was queued. Until then `outbox retry` can still send it once the cause is
    fixed; after that the part and its key are destroyed and the row stays dead without it (Art. 5(1)(e)).
    An SMS's number and text never outlive `[messages] keep_text` either. A deletion a processor was to
    carry out (Art. 17(2)) gets its own, longer time: forgetting the address means it can never be retried,
    so the CEO is told to do it by hand.
    """

    keep: Duration = Field(default_factory=lambda: Duration(days=30))
    keep_deletion: Duration = Field(default_factory=lambda: Duration(days=90))


class RequestRetention(Strict):
    """How long the identity given with a request that matched nobody is kept once the request is answered,
    and how long the answer itself is kept to be fetched.

    The time in which the person may complain of the answer (Art. 77), so that the company can show what it
    was asked and answered; after it the identity and its key go. The request itself (type, dates, outcome)
    stays, without anything that names the person. The answer's files are kept `keep_answer` after the answer
    (their sha256 stay in the outcome for good).
    """

    keep_unmatched: Duration = Field(default_factory=lambda: Duration(months=3))
    # The answer as it was given (letter and data files), sealed under the request's key, for the CEO to fetch
    # and send (the API's download): an access answer is a copy of the person's data, so it has an end too.
    keep_answer: Duration = Field(default_factory=lambda: Duration(days=30))
    # A request made on the public page is answered by a single-use link sent to the number or address it came
    # from (never an attachment): how long that link works. The answer is deleted once fetched, or when it ends.
    answer_link: Duration = Field(default_factory=lambda: Duration(days=7))


class RetentionRule(Strict):
    """One reason to keep a subject's data, and how long it lasts."""

    purpose: Name
    kinds: list[Name] = Field(min_length=1)
    description: Localised
    holds_while: RetentionWhile = RetentionWhile.ALWAYS
    counts_from: RetentionStart | None = None
    keep: Duration | None = None  # how long after counts_from; none: exactly as long as holds_while
    fields: list[Name] | None = None  # none: every field of the subject

    @model_validator(mode="after")
    def _period_complete(self) -> RetentionRule:
        if (self.counts_from is None) != (self.keep is None):
            raise ValueError("counts_from and keep go together: give both or neither")
        if self.holds_while is RetentionWhile.ALWAYS and self.keep is None:
            raise ValueError("a rule that holds always needs counts_from and keep, or it never ends")
        if self.holds_while is RetentionWhile.PROSPECT and self.counts_from is not RetentionStart.RECEIVED:
            raise ValueError(
                'a rule for prospects counts from when the data was received (counts_from = "received", '
                "with keep), or someone who never orders is kept for ever"
            )
        return self


class Unattended(Strict):
    """What the worker's daily sweep may archive or erase on its own in one day; more waits for the CEO.

    Both limits hold: at most `max_percent` of the subjects in the register (rounded up) and at most
    `max_subjects`. Above either, the worker does nothing and says so until the CEO has looked at the plan and
    run `personvern retention run`: a mistaken policy or import must not empty the register in one night.
    """

    max_percent: float = Field(default=2.0, gt=0, le=100)
    max_subjects: int = Field(default=1000, ge=1)

    def allowed(self, register: int) -> int:
        """The most subjects the worker may archive or erase on its own in a register of this size."""
        share = -(-register * round(self.max_percent * 1000) // 100_000)  # ceiling, in whole numbers
        return min(self.max_subjects, share)


class Archive(Strict):
    description: Localised
    readable_by: list[Name] = Field(min_length=1)
    fields: list[Name] = Field(min_length=1)  # what an archived record keeps (minimised)
    on_expiry: dict[Name, ExpiryAction]  # per subject kind


class Review(Strict):
    description: Localised
    month: int = Field(ge=1, le=12)  # the month the yearly review is due by
    signed_by: Name


class Role(Strict):
    label: Localised
    description: Localised


class Risk(Strict):
    description: Localised
    likelihood: Annotated[str, StringConstraints(pattern=r"^(low|medium|high)$")]
    consequence: Annotated[str, StringConstraints(pattern=r"^(low|medium|high)$")]
    measures: Localised


class Security(Strict):
    """How the data is protected and how breaches are handled: the record's Art. 30(1)(g) and the notice."""

    measures: Localised  # technical and organisational measures (Art. 32(1))
    breach_handling: Localised  # who notifies the authority and the people, and how (Art. 33-34)


class Accounting(Strict):
    """What the header of a SAF-T file names besides the controller (Skatteetaten's SAF-T Financial 1.30): the
    company's organisation number and a contact person with a telephone number. Kept apart from `[controller]`
    so that the privacy notice shows only what the company chose to publish there."""

    organisation_number: Annotated[str, StringConstraints(pattern=r"^\d{9}$")]
    contact_name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    phone: Annotated[str, StringConstraints(min_length=1, max_length=18, strip_whitespace=True)]


class Cookie(Strict):
    """One cookie (or other storage on the visitor's device) the website sets, as the banner and notice list it."""

    name: Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")]  # RFC 6265 token
    provider: Text  # who sets it: the site itself, or a third party (an analytics or ad vendor)
    purpose: Localised
    expiry: Localised  # how long it stays on the device, in words ("12 months", "until the browser closes")


class CookieCategory(Strict):
    """A group of cookies the visitor accepts or refuses together (ekomloven § 2-7b: consent per purpose)."""

    label: Localised
    description: Localised
    # Strictly necessary for the service the visitor asked for: set without consent (§ 2-7b second paragraph).
    necessary: bool = False
    cookies: list[Cookie] = Field(min_length=1)


class Cookies(Strict):
    """The company website's cookies and its consent banner (ekomloven § 2-7b, GDPR-level consent from 2025)."""

    banner_text: Localised
    # Origins of the company's own pages that embed the banner (scheme://host[:port]): they may call the public
    # cookie endpoints from their pages (CORS). Pages served by personvern itself need not be listed.
    origins: list[Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]] = Field(
        default_factory=list
    )
    remember: Duration = Field(default_factory=lambda: Duration(months=12))  # the choice cookie's life
    keep: Duration = Field(default_factory=lambda: Duration(months=15))  # the records of choices (proof)
    categories: dict[Name, CookieCategory] = Field(min_length=1)

    def optional(self) -> list[str]:
        return [name for name, c in self.categories.items() if not c.necessary]


CONSENT_COOKIE = "pv_consent"  # the cookie consent.js stores the visitor's choice in


class Policy(Strict):
    version: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,40}$")]
    languages: list[Annotated[str, StringConstraints(pattern=r"^(nb|en)$")]] = Field(min_length=1)
    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "NO"
    controller: Controller
    privacy_contact: PrivacyContact
    supervisory_authority: SupervisoryAuthority
    kinds: dict[Name, Kind] = Field(min_length=1)
    fields: dict[Name, FieldSpec] = Field(min_length=1)
    purposes: dict[Name, Purpose] = Field(min_length=1)
    recipients: dict[Name, Recipient] = Field(default_factory=dict)
    roles: dict[Name, Role] = Field(min_length=1)
    retention: dict[Name, RetentionRule] = Field(min_length=1)
    archive: Archive
    review: Review
    risks: dict[Name, Risk] = Field(default_factory=dict)
    messages: MessageRetention | None = None  # None: message texts are kept as long as their subject
    # Sealed parts that outlive their use: a dead outbox row's personal part, and a stranger's identity.
    undelivered: UndeliveredRetention = Field(default_factory=UndeliveredRetention)
    requests: RequestRetention = Field(default_factory=RequestRetention)
    unattended: Unattended = Field(default_factory=Unattended)
    # Whether giving the data is required and what follows if it is not given (Art. 13(2)(e)); None: the
    # notice derives it from which fields are always collected and which purposes rest on consent.
    mandatory: Localised | None = None
    # Decisions based solely on automated processing, with their logic (Art. 13(2)(f), 22); None: there are none.
    automated_decisions: Localised | None = None
    security: Security | None = None
    accounting: Accounting | None = None  # None: `export saft` refuses (its header needs these)
    cookies: Cookies | None = None  # the website's cookies and consent banner; None: no banner is served

    def fields_for(self, kind: str) -> dict[str, FieldSpec]:
        return {name: spec for name, spec in self.fields.items() if kind in spec.kinds}

    def lookup_fields(self) -> dict[str, FieldSpec]:
        return {name: spec for name, spec in self.fields.items() if spec.lookup}


def key_path(parts: tuple[str | int, ...]) -> str:
    """Render a location as a TOML-ish dotted key path: fields.phone.kinds[2]."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", p):
            out += ("." if out else "") + p
        else:
            out += ("." if out else "") + f'"{p}"'
    return out
