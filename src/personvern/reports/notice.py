"""The privacy notice (GDPR Art. 13 and 14), built from the policy and rendered as Markdown or HTML, in nb or en.

The notice is built once as a document (sections of paragraphs, lists and terms) from the policy and the
fixed wording in `notice_text`; the templates `notice.md.j2` and `notice.html.j2` only lay it out. Both
languages go through the same builder, so they carry the same elements in the same order. The notice holds
no personal data: only the policy and the law.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from personvern.policy.loader import in_eea
from personvern.policy.schema import (
    Collected,
    ExpiryAction,
    FieldSpec,
    LegalBasis,
    Localised,
    Policy,
    RecipientCategory,
    RetentionRule,
    RetentionWhile,
)
from personvern.reports.environment import (
    LANGUAGES,
    ListStyle,
    capitalised,
    country_name,
    environment,
    join,
    month_name,
)
from personvern.reports.notice_text import PHRASES, phrase

FORMATS = ("md", "html")


@dataclass(frozen=True)
class Block:
    """A paragraph (`text`), a list (`items`) or a list of terms and their explanations (`terms`)."""

    text: str | None = None
    items: tuple[str, ...] = ()
    terms: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    language: str
    title: str
    intro: str
    sections: tuple[Section, ...]
    footer: str


@dataclass(frozen=True)
class Notice:
    """One rendering; its version is the sha256 of its text, which consent events refer to (Art. 7(1))."""

    language: str
    format: str
    text: str
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.text.encode("utf-8")).hexdigest())


class _Words:
    """The policy's names in one language: labels of fields, kinds, purposes and roles, joined as prose."""

    def __init__(self, policy: Policy, lang: str) -> None:
        self.policy = policy
        self.lang = lang

    def t(self, key: str, **values: str) -> str:
        return phrase(self.lang, key, **values)

    def loc(self, text: Localised | None) -> str:
        return "" if text is None else text.get(self.lang)

    def join(self, items: list[str], style: ListStyle = "standard") -> str:
        return join(items, self.lang, style)

    def fields(self, names: list[str] | None = None) -> str:
        chosen = self.policy.fields if names is None else {n: self.policy.fields[n] for n in names}
        return self.join([spec.label.get(self.lang) for spec in chosen.values()])

    def kinds(self, names: list[str], style: ListStyle = "standard") -> str:
        return self.join([self.policy.kinds[k].label.get(self.lang) for k in names], style)

    def purposes(self, names: list[str]) -> str:
        return self.join([self.policy.purposes[p].label.get(self.lang) for p in names])

    def roles(self, names: list[str]) -> str:
        return self.join([self.policy.roles[r].label.get(self.lang) for r in names if r in self.policy.roles])

    def contact(self) -> str:
        c = self.policy.privacy_contact
        return c.email if not c.phone else self.join([c.email, c.phone], "or")

    def field_item(self, spec: FieldSpec) -> str:
        label = capitalised(spec.label.get(self.lang))
        if set(spec.kinds) == set(self.policy.kinds):
            return label
        return self.t("only_for", field=label, kinds=self.kinds(spec.kinds))


def retention_words(rule: RetentionRule, lang: str) -> str:
    """A retention rule in plain words, e.g. «inntil 10 år fra vi mottok opplysningene, og bare så lenge …»."""
    condition = None if rule.holds_while is RetentionWhile.ALWAYS else phrase(lang, f"while_{rule.holds_while.value}")
    if rule.keep is None or rule.counts_from is None:
        assert condition is not None  # the schema: a rule that holds always has a period
        return condition
    start = phrase(lang, f"from_{rule.counts_from.value}")
    duration = rule.keep.describe(lang)
    if condition is None:
        return phrase(lang, "for_period", duration=duration, start=start)
    period = phrase(lang, "up_to", duration=duration, start=start)
    return phrase(lang, "and_while", period=period, condition=condition)


def build(policy: Policy, lang: str) -> Document:
    """The notice's content in one language: every element of Art. 13(1)-(2), and Art. 14's source and categories."""
    if lang not in LANGUAGES:
        raise ValueError(f"no notice in {lang!r}; languages: {', '.join(LANGUAGES)}")
    w = _Words(policy, lang)
    name = policy.controller.name
    sections = (
        _controller(w),
        _data(w),
        _purposes(w),
        _recipients(w),
        _transfers(w),
        _retention(w),
        Section(
            w.t("h_archive"),
            (
                Block(w.loc(policy.archive.description)),
                Block(
                    w.t("archive", roles=w.roles(policy.archive.readable_by), fields=w.fields(policy.archive.fields))
                ),
            ),
        ),
        Section(
            w.t("h_review"),
            (
                Block(w.loc(policy.review.description)),
                Block(
                    w.t("review", month=month_name(policy.review.month, lang), role=w.roles([policy.review.signed_by]))
                ),
            ),
        ),
        _rights(w),
        _complaint(w),
        Section(w.t("h_mandatory"), (Block(w.loc(policy.mandatory) or w.t("mandatory")),)),
        Section(w.t("h_automated"), (Block(w.loc(policy.automated_decisions) or w.t("no_automated")),)),
        _security(w),
        *_cookies(w),
    )
    kinds = w.kinds(list(policy.kinds), "or")
    return Document(
        lang,
        w.t("title", controller=name),
        w.t("intro", controller=name, kinds=kinds),
        sections,
        w.t("version", version=policy.version),
    )


def _controller(w: _Words) -> Section:
    c = w.policy.controller
    items = [w.t("address", address=f"{c.address}, {c.postal_code} {c.city}")]
    if c.organisation_number:
        items.append(w.t("organisation_number", number=c.organisation_number))
    if c.email:
        items.append(w.t("email", email=c.email))
    if c.phone:
        items.append(w.t("phone", phone=c.phone))
    if c.website:
        items.append(w.t("website", website=c.website))
    contact = w.t("contact", role=w.loc(w.policy.privacy_contact.role), contact=w.contact())
    return Section(
        w.t("h_controller"), (Block(w.t("controller", controller=c.name)), Block(items=tuple(items)), Block(contact))
    )


def _data(w: _Words) -> Section:
    p = w.policy
    kinds = tuple(
        capitalised(k.label.get(w.lang)) + (f": {k.description.get(w.lang)}" if k.description else "")
        for k in p.kinds.values()
    )
    blocks = [Block(w.t("kinds")), Block(items=kinds)]
    for collected, key in (
        (Collected.ALWAYS, "always"),
        (Collected.CONTRACT, "contract"),
        (Collected.WHEN_NEEDED, "when_needed"),
    ):
        specs = [spec for spec in p.fields.values() if spec.collected is collected]
        if specs:
            blocks += [Block(w.t(key)), Block(items=tuple(w.field_item(spec) for spec in specs))]
    blocks.append(Block(w.t("relationships")))
    # Art. 14(2)(f): where data does not come from the person, say where it comes from.
    if any(k.source for k in p.kinds.values()):
        sources = tuple(
            f"{capitalised(k.label.get(w.lang))}: {w.loc(k.source) or w.t('source_from_you')}" for k in p.kinds.values()
        )
        blocks += [Block(w.t("sources")), Block(items=sources)]
    else:
        blocks.append(Block(w.t("source_you")))
    return Section(w.t("h_data"), tuple(blocks))


def _purposes(w: _Words) -> Section:
    terms = []
    for key, purpose in w.policy.purposes.items():
        parts = [w.loc(purpose.description), w.t("basis", basis=w.t(f"basis_{purpose.legal_basis.value}"))]
        if purpose.legal_basis_detail is not None:
            detail = w.loc(purpose.legal_basis_detail)
            # Art. 13(1)(d): the legitimate interests pursued are named as such.
            parts.append(
                w.t("interest", detail=detail) if purpose.legal_basis is LegalBasis.LEGITIMATE_INTERESTS else detail
            )
        if purpose.channels:
            parts.append(w.t("channels", channels=w.join([_channel(w, c) for c in purpose.channels])))
        used = [n for n, spec in w.policy.fields.items() if key in spec.purposes]
        if used:
            parts.append(w.t("uses", fields=w.fields(used)))
        terms.append((capitalised(w.loc(purpose.label)), " ".join(parts)))
    return Section(w.t("h_purposes"), (Block(w.t("purposes")), Block(terms=tuple(terms))))


def _channel(w: _Words, channel: str) -> str:
    """A channel's name in the language; one the wording does not know is shown as the policy names it."""
    key = f"channel_{channel}"
    return w.t(key) if key in PHRASES else channel


def _recipients(w: _Words) -> Section:
    p = w.policy
    blocks = [Block(w.t("internal", roles=w.roles(list(p.roles))))]
    external = {n: r for n, r in p.recipients.items() if r.category is not RecipientCategory.INTERNAL}
    if not external:
        blocks.append(Block(w.t("no_recipients")))
        return Section(w.t("h_recipients"), tuple(blocks))
    terms = []
    for recipient in external.values():
        gets = w.t(
            "recipient_gets",
            fields=w.fields(recipient.fields),
            purposes=w.purposes(recipient.purposes),
            country=country_name(recipient.country, w.lang),
        )
        term = f"{recipient.name} ({w.t(f'category_{recipient.category.value}')})"
        terms.append((term, f"{w.loc(recipient.description)} {gets}"))
    blocks += [Block(w.t("recipients")), Block(terms=tuple(terms))]
    if any(r.category is RecipientCategory.PROCESSOR for r in external.values()):
        blocks.append(Block(w.t("processors")))
    return Section(w.t("h_recipients"), tuple(blocks))


def _transfers(w: _Words) -> Section:
    outside = [r for r in w.policy.recipients.values() if not in_eea(r.country)]
    if not outside:
        return Section(w.t("h_transfers"), (Block(w.t("no_transfers")),))
    items = tuple(
        w.t("transfer", recipient=r.name, country=country_name(r.country, w.lang), basis=w.loc(r.transfer_basis))
        for r in outside
    )
    return Section(w.t("h_transfers"), (Block(w.t("transfers")), Block(items=items)))


def _retention(w: _Words) -> Section:
    p = w.policy
    items = []
    for rule in p.retention.values():
        purpose = capitalised(w.loc(p.purposes[rule.purpose].label))
        words = retention_words(rule, w.lang)
        if set(rule.kinds) == set(p.kinds):
            item = w.t("rule", purpose=purpose, words=words)
        else:
            item = w.t("rule_kinds", purpose=purpose, kinds=w.kinds(rule.kinds), words=words)
        if rule.fields is not None:
            item += " " + w.t("rule_fields", fields=w.fields(rule.fields))
        items.append(item)
    blocks = [Block(w.t("retention")), Block(items=tuple(items))]
    if p.messages is not None:
        blocks.append(Block(w.t("messages", duration=p.messages.keep_text.describe(w.lang))))
    undelivered = p.undelivered
    blocks.append(
        Block(
            w.t(
                "undelivered",
                duration=undelivered.keep.describe(w.lang),
                deletion=undelivered.keep_deletion.describe(w.lang),
            )
        )
    )
    blocks.append(Block(w.t("unmatched", duration=p.requests.keep_unmatched.describe(w.lang))))
    blocks.append(Block(w.t("answers", duration=p.requests.keep_answer.describe(w.lang))))
    after = tuple(
        w.t(
            "after_archive" if action is ExpiryAction.ARCHIVE else "after_erase",
            kind=capitalised(p.kinds[kind].label.get(w.lang)),
        )
        for kind, action in p.archive.on_expiry.items()
        if kind in p.kinds
    )
    blocks += [Block(w.t("after")), Block(items=after)]
    return Section(w.t("h_retention"), tuple(blocks))


def _rights(w: _Words) -> Section:
    p = w.policy
    kept = [n for n, purpose in p.purposes.items() if purpose.legal_basis is LegalBasis.LEGAL_OBLIGATION]
    items = [
        w.t("right_access"),
        w.t("right_rectification"),
        w.t("right_erasure_kept", purposes=w.purposes(kept)) if kept else w.t("right_erasure"),
        w.t("right_restriction"),
        w.t("right_portability"),
    ]
    if any(purpose.channels for purpose in p.purposes.values()):
        items.append(w.t("right_object_marketing"))
    interests = [
        n
        for n, purpose in p.purposes.items()
        if purpose.legal_basis in {LegalBasis.LEGITIMATE_INTERESTS, LegalBasis.PUBLIC_TASK}
    ]
    if interests:
        items.append(w.t("right_object_interest", purposes=w.purposes(interests)))
    consented = [n for n, purpose in p.purposes.items() if purpose.legal_basis is LegalBasis.CONSENT]
    if consented:
        items.append(w.t("right_withdraw", purposes=w.purposes(consented)))
    blocks = [Block(w.t("rights")), Block(items=tuple(capitalised(i) for i in items))]
    # «STOPP» works because the system acts on it (services/messaging.handle_inbound), not because we say so.
    if any("sms" in p.purposes[n].channels for n in consented):
        blocks.append(Block(w.t("stop_reply")))
    how = w.t("how_to", role=w.loc(p.privacy_contact.role), contact=w.contact())
    blocks.append(Block(how))
    return Section(w.t("h_rights"), tuple(blocks))


def _complaint(w: _Words) -> Section:
    authority = w.policy.supervisory_authority
    blocks = [Block(w.t("complaint", authority=authority.name, website=authority.website))]
    if authority.complaint_url:
        blocks.append(Block(w.t("complaint_url", url=authority.complaint_url)))
    return Section(w.t("h_complaint", authority=authority.name), tuple(blocks))


def _security(w: _Words) -> Section:
    security = w.policy.security
    blocks = []
    if security is not None:
        blocks += [Block(w.loc(security.measures)), Block(w.loc(security.breach_handling))]
    blocks.append(Block(w.t("breaches", authority=w.policy.supervisory_authority.name)))
    return Section(w.t("h_security"), tuple(blocks))


def _cookies(w: _Words) -> tuple[Section, ...]:
    """The website's cookies by category (ekomloven § 2-7b); none when the policy declares no website."""
    cookies = w.policy.cookies
    if cookies is None:
        return ()
    blocks = [Block(w.t("cookies", controller=w.policy.controller.name))]
    for category in cookies.categories.values():
        basis = w.t("cookie_necessary") if category.necessary else w.t("cookie_consent")
        blocks.append(Block(f"{capitalised(w.loc(category.label))}: {w.loc(category.description)} {basis}"))
        items = tuple(
            w.t("cookie_item", name=k.name, provider=k.provider, purpose=w.loc(k.purpose), expiry=w.loc(k.expiry))
            for k in category.cookies
        )
        blocks.append(Block(items=items))
    blocks.append(Block(w.t("cookies_change", keep=cookies.keep.describe(w.lang))))
    return (Section(w.t("h_cookies"), tuple(blocks)),)


def render(document: Document, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"no notice as {fmt!r}; formats: {', '.join(FORMATS)}")
    return environment().get_template(f"notice.{fmt}.j2").render(doc=document)


def render_notice(policy: Policy, lang: str, fmt: str = "md") -> Notice:
    """The notice in one language and format, with its version hash."""
    return Notice(lang, fmt, render(build(policy, lang), fmt))


def render_all(policy: Policy) -> list[Notice]:
    """Every rendering the policy publishes: each of its languages, as Markdown and as HTML."""
    return [render_notice(policy, lang, fmt) for lang in policy.languages if lang in LANGUAGES for fmt in FORMATS]
