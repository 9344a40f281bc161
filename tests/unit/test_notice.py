"""The privacy notice: every element of Art. 13(1)-(2) for 24 Center, in Norwegian and in English, saying the same."""

from __future__ import annotations

import hashlib
import string

import pytest

from personvern.policy.loader import load_policy, parse_policy
from personvern.policy.schema import Policy
from personvern.reports.notice import Document, build, render_all, render_notice, retention_words
from personvern.reports.notice_text import PHRASES

BUNDLED = load_policy().text

# For each element of Art. 13(1)-(2) (and Art. 14's categories and source), what a reader finds in each language.
ELEMENTS: dict[str, dict[str, list[str]]] = {
    "13(1)(a) controller and contact details": {
        "nb": ["24 Center AS er behandlingsansvarlig", "Østensjøveien 43, 0667 Oslo", "post@24center.no"],
        "en": ["24 Center AS is the controller", "Østensjøveien 43, 0667 Oslo", "post@24center.no"],
    },
    "13(1)(b) the privacy contact": {
        "nb": ["går til administrerende direktør: personvern@24center.no"],
        "en": ["go to our Chief Executive Officer: personvern@24center.no"],
    },
    "14(1)(d) categories of data: always, for contract customers, when needed": {
        "nb": [
            "Dette samler vi alltid inn:",
            "- Fullt navn",
            "- Mobilnummer",
            "- E-postadresse",
            "fra kunder med avtale:",
            "- Organisasjonsnummer (gjelder avtalekunde",
            "bare inn når det trengs",
            "- Fødselsnummer (gjelder engangskunde og avtalekunde)",
        ],
        "en": [
            "We always collect:",
            "- Full name",
            "- Mobile phone number",
            "- Email address",
            "From customers with an agreement",
            "- Organisation number (applies to contract customer",
            "only when it is needed",
            "- National identity number (applies to one-time customer and contract",
        ],
    },
    "14(2)(f) the source": {
        "nb": ["Representant for bedriftskunde: Fra deg, eller fra bedriften du representerer."],
        "en": ["Representative of a business customer: From you, or from the business you represent."],
    },
    "13(1)(c) purposes and legal basis": {
        "nb": [
            "**Gjennomføre avtalen**",
            "avtale med deg (personvernforordningen artikkel 6 nr. 1 bokstav b)",
            "**Markedsføring**",
            "samtykke (personvernforordningen artikkel 6 nr. 1 bokstav a)",
            "**Bokføring**",
            "rettslig forpliktelse (personvernforordningen artikkel 6 nr. 1 bokstav c)",
            "Rettslig forpliktelse etter bokføringsloven.",
        ],
        "en": [
            "**Performing the agreement**",
            "a contract with you (GDPR Article 6(1)(b))",
            "**Marketing**",
            "consent (GDPR Article 6(1)(a))",
            "**Bookkeeping**",
            "a legal obligation (GDPR Article 6(1)(c))",
            "Legal obligation under the Norwegian Bookkeeping Act.",
        ],
    },
    "13(1)(d) the legitimate interests": {
        "nb": [
            "berettiget interesse (personvernforordningen artikkel 6 nr. 1 bokstav f)",
            "Den berettigede interessen: Berettiget interesse i å kunne kommunisere med bedriftskunden.",
        ],
        "en": [
            "legitimate interests (GDPR Article 6(1)(f))",
            "The legitimate interest: Legitimate interest in being able to communicate with the business",
        ],
    },
    "13(1)(e) recipients": {
        "nb": [
            "**Revisor (selvstendig behandlingsansvarlig)**",
            "**Accountor Finago (databehandler)**",
            "**HubSpot (databehandler)**",
            "**LINK Mobility Oy (databehandler)**",
            "Får: mobilnummer.",
            "administrerende direktør, ansatt, markedsføring og revisor",
            "databehandleravtale",
        ],
        "en": [
            "**Revisor (independent controller)**",
            "**Accountor Finago (processor)**",
            "**HubSpot (processor)**",
            "**LINK Mobility Oy (processor)**",
            "Receives: mobile phone number.",
            "chief executive officer, staff, marketing and auditor",
            "data processing agreement",
        ],
    },
    "13(1)(f) transfers outside the EEA and their basis": {
        "nb": [
            "## Overføring til land utenfor EØS",
            "- HubSpot (USA): EUs beslutning om tilstrekkelig "
            "beskyttelsesnivå for EU-US Data Privacy Framework (2023/1795)",
        ],
        "en": [
            "## Transfers outside the EEA",
            "- HubSpot (United States): The EU adequacy decision for the EU-US Data Privacy Framework (2023/1795)",
        ],
    },
    "13(2)(a) retention in plain words": {
        "nb": [
            "Gjennomføre avtalen: så lenge kundeforholdet eller avtalen varer.",
            "Markedsføring: inntil 10 år fra vi mottok opplysningene, og bare så lenge samtykket gjelder.",
            "Bokføring: 5 år etter utgangen av regnskapsåret.",
            "lagres i 90 dager",
            "Representant for bedriftskunde: slettes",
        ],
        "en": [
            "Performing the agreement: as long as the customer relationship or the agreement lasts.",
            "Marketing: up to 10 years from when we received the data, and only as long as the consent lasts.",
            "Bookkeeping: 5 years after the end of the financial year.",
            "kept for 90 days",
            "Representative of a business customer: erased",
        ],
    },
    "the archive": {
        "nb": ["## Arkivet", "Bare administrerende direktør kan lese arkivet"],
        "en": ["## The archive", "Only the chief executive officer can read the archive"],
    },
    "the annual review": {
        "nb": ["## Årlig gjennomgang", "innen utgangen av desember hvert år"],
        "en": ["## Annual review", "by the end of December each year"],
    },
    "13(2)(b) every right, and how to use it": {
        "nb": [
            "- Innsyn:",
            "(artikkel 15)",
            "- Retting:",
            "(artikkel 16)",
            "- Sletting:",
            "(artikkel 17)",
            "- Begrensning:",
            "(artikkel 18)",
            "- Dataportabilitet:",
            "(artikkel 20)",
            "- Protest mot markedsføring:",
            "(artikkel 21 nr. 2 og 3)",
            "(artikkel 21 nr. 1)",
            "send en henvendelse til administrerende direktør, personvern@24center.no",
            "senest innen én måned",
        ],
        "en": [
            "- Access:",
            "(Article 15)",
            "- Rectification:",
            "(Article 16)",
            "- Erasure:",
            "(Article 17)",
            "- Restriction:",
            "(Article 18)",
            "- Data portability:",
            "(Article 20)",
            "- Object to marketing:",
            "(Article 21(2) and (3))",
            "(Article 21(1))",
            "send a request to our Chief Executive Officer, personvern@24center.no",
            "within one month",
        ],
    },
    "13(2)(c) withdrawing consent": {
        "nb": ["- Trekke tilbake samtykke: når som helst", "(artikkel 7 nr. 3)", "Svarer du STOPP"],
        "en": ["- Withdraw consent: at any time", "(Article 7(3))", "Replying STOPP"],
    },
    "13(2)(d) complaint to Datatilsynet": {
        "nb": [
            "## Klage til Datatilsynet",
            "har du rett til å klage til Datatilsynet, https://www.datatilsynet.no",
            "(artikkel 77)",
            "https://www.datatilsynet.no/om-datatilsynet/kontakt-oss/klage-til-datatilsynet/",
        ],
        "en": [
            "## Complaints to Datatilsynet",
            "you have the right to complain to Datatilsynet, https://www.datatilsynet.no",
            "(Article 77)",
            "https://www.datatilsynet.no/om-datatilsynet/kontakt-oss/klage-til-datatilsynet/",
        ],
    },
    "13(2)(e) which data is mandatory and why": {
        "nb": [
            "## Må du gi oss opplysningene?",
            "nødvendige for å inngå og gjennomføre avtalen",
            "Det er frivillig å samtykke til markedsføring",
        ],
        "en": [
            "## Must you give us the data?",
            "needed to enter into and perform the agreement",
            "Consenting to marketing is voluntary",
        ],
    },
    "13(2)(f) automated decisions": {
        "nb": ["## Automatiserte avgjørelser", "(artikkel 22)"],
        "en": ["## Automated decisions", "(Article 22)"],
    },
    "how breaches are handled": {
        "nb": [
            "## Sikkerhet og sikkerhetsbrudd",
            "innen 72 timer",
            "(artikkel 33)",
            "(artikkel 34)",
            "Hvert brudd dokumenteres",
        ],
        "en": [
            "## Security and breaches",
            "within 72 hours",
            "(Article 33)",
            "(Article 34)",
            "Every breach is documented",
        ],
    },
}


@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("element", sorted(ELEMENTS))
def test_a_reader_finds_every_element_of_article_13(policy: Policy, element: str, lang: str) -> None:
    text = render_notice(policy, lang, "md").text
    for needle in ELEMENTS[element][lang]:
        assert needle in text, f"{element}: {needle!r} is not in the {lang} notice"


def _shape(doc: Document) -> list[tuple[int, list[tuple[bool, int, int]]]]:
    return [
        (len(section.blocks), [(b.text is not None, len(b.items), len(b.terms)) for b in section.blocks])
        for section in doc.sections
    ]


def test_norwegian_and_english_say_the_same_thing(policy: Policy) -> None:
    nb, en = build(policy, "nb"), build(policy, "en")
    assert _shape(nb) == _shape(en)
    assert len(nb.sections) == 14  # the thirteen of Art. 13-14, and the website's cookies (ekomloven § 2-7b)
    nb_text, en_text = render_notice(policy, "nb").text, render_notice(policy, "en").text
    for shared in ("https://www.datatilsynet.no", "personvern@24center.no", "2026.1", "AES-256-GCM", "(2023/1795)"):
        assert nb_text.count(shared) == en_text.count(shared), shared


def test_every_phrase_has_both_languages_with_the_same_placeholders() -> None:
    fields = string.Formatter()
    for key, (nb, en) in PHRASES.items():
        assert nb.strip() and en.strip(), key
        assert {f for _, f, _, _ in fields.parse(nb) if f} == {f for _, f, _, _ in fields.parse(en) if f}, key


def test_the_version_is_the_sha256_of_the_rendered_text(policy: Policy) -> None:
    notice = render_notice(policy, "nb", "md")
    assert notice.sha256 == hashlib.sha256(notice.text.encode("utf-8")).hexdigest()
    assert render_notice(policy, "nb", "md").sha256 == notice.sha256  # the same policy, the same version
    others = {render_notice(policy, lang, fmt).sha256 for lang in ("nb", "en") for fmt in ("md", "html")}
    assert len(others) == 4


def test_render_all_gives_each_language_in_each_format(policy: Policy) -> None:
    assert [(n.language, n.format) for n in render_all(policy)] == [
        ("nb", "md"),
        ("nb", "html"),
        ("en", "md"),
        ("en", "html"),
    ]


def test_html_is_a_page_with_links_and_escaped_policy_text() -> None:
    text = BUNDLED.replace('nb = "Regnskapssystem (databehandler)."', 'nb = "Regnskap <script>x</script> & lønn."')
    notice = render_notice(parse_policy(text).policy, "nb", "html")
    assert notice.text.startswith('<!DOCTYPE html>\n<html lang="nb">')
    assert "Regnskap &lt;script&gt;x&lt;/script&gt; &amp; lønn." in notice.text
    assert "<script>" not in notice.text
    assert '<a href="mailto:personvern@24center.no">personvern@24center.no</a>' in notice.text
    assert '<a href="https://www.datatilsynet.no">https://www.datatilsynet.no</a>' in notice.text


def test_a_policy_without_transfers_or_optional_texts_still_says_every_element() -> None:
    text = BUNDLED.replace('country = "US"', 'country = "IE"')
    text = text[: text.index("# ---------------------------------------------------------------- the privacy notice")]
    policy = parse_policy(text).policy
    assert policy.mandatory is None and policy.security is None
    nb = render_notice(policy, "nb").text
    assert "Vi overfører ikke personopplysninger til land utenfor EØS." in nb
    assert "Opplysningene vi alltid samler inn, er nødvendige" in nb  # Art. 13(2)(e) from the fields
    assert "innen 72 timer" in nb
    en = render_notice(policy, "en").text
    assert "We do not transfer personal data to countries outside the EEA." in en
    assert "HubSpot (processor)" in en and "Country of processing: Ireland." in en


def test_retention_in_plain_words(policy: Policy) -> None:
    rules = policy.retention
    assert retention_words(rules["marketing_consent"], "nb") == (
        "inntil 10 år fra vi mottok opplysningene, og bare så lenge samtykket gjelder"
    )
    assert retention_words(rules["bookkeeping"], "en") == "5 years after the end of the financial year"
    assert retention_words(rules["agreement"], "en") == "as long as the customer relationship or the agreement lasts"


def test_an_unknown_language_or_format_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="no notice in 'de'"):
        render_notice(policy, "de")
    with pytest.raises(ValueError, match="no notice as 'pdf'"):
        render_notice(policy, "nb", "pdf")
