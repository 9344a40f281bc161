"""The record of processing's fixed wording in Norwegian and English: headings, and the names of roles' permissions."""

from __future__ import annotations

PHRASES: dict[str, tuple[str, str]] = {
    # (nb, en)
    "h_cookies": (
        "Informasjonskapsler på nettstedet (ekomloven § 2-7b)",
        "Cookies on the website (Electronic Communications Act § 2-7b)",
    ),
    "cookie_exempt": (
        "Strengt nødvendig: unntatt fra samtykke (ekomloven § 2-7b andre ledd)",
        "Strictly necessary: exempt from consent (Electronic Communications Act § 2-7b second paragraph)",
    ),
    "cookie_consent": (
        "Samtykke (ekomloven § 2-7b, personvernforordningen artikkel 6 nr. 1 bokstav a)",
        "Consent (Electronic Communications Act § 2-7b, GDPR Article 6(1)(a))",
    ),
    "cookie_names": ("Informasjonskapsler", "Cookies"),
    "choices_kept": ("Valgene lagres som bevis i", "Choices are kept as proof for"),
    "title": (
        "Protokoll over behandlingsaktiviteter for {controller}",
        "Record of processing activities of {controller}",
    ),
    "subtitle": (
        "Informasjonsregnskap etter personvernforordningen artikkel 30 nr. 1, laget {at} fra personvernreglene i "
        "versjon {version} og systemet slik det er nå.",
        "The record of processing under GDPR Article 30(1), generated {at} from version {version} of the privacy "
        "policy and the system as it is now.",
    ),
    "h_controller": ("Behandlingsansvarlig (artikkel 30 nr. 1 bokstav a)", "Controller (Article 30(1)(a))"),
    "privacy_contact": ("Kontakt for personvern", "Privacy contact"),
    "name": ("Navn", "Name"),
    "address": ("Adresse", "Address"),
    "organisation_number": ("Organisasjonsnummer", "Organisation number"),
    "email": ("E-post", "Email"),
    "phone": ("Telefon", "Phone"),
    "website": ("Nettsted", "Website"),
    "h_purposes": ("Formål (artikkel 30 nr. 1 bokstav b)", "Purposes (Article 30(1)(b))"),
    "purpose": ("Formål", "Purpose"),
    "legal_basis": ("Rettslig grunnlag", "Legal basis"),
    "channels": ("Kanaler", "Channels"),
    "h_subjects": (
        "Kategorier av registrerte (artikkel 30 nr. 1 bokstav c)",
        "Categories of data subjects (Article 30(1)(c))",
    ),
    "kind": ("Kategori", "Category"),
    "source": ("Kilde", "Source"),
    "count": ("Antall nå", "Number now"),
    "total": ("I alt", "Total"),
    "h_data": (
        "Kategorier av personopplysninger (artikkel 30 nr. 1 bokstav c)",
        "Categories of personal data (Article 30(1)(c))",
    ),
    "field": ("Opplysning", "Data"),
    "type": ("Type", "Type"),
    "collected": ("Samles inn", "Collected"),
    "kinds": ("Gjelder", "Applies to"),
    "purposes": ("Formål", "Purposes"),
    "collected_always": ("alltid", "always"),
    "collected_contract": ("for kunder med avtale", "for customers with an agreement"),
    "collected_when_needed": ("ved behov, med begrunnelse", "when needed, with a reason"),
    "h_recipients": ("Mottakere (artikkel 30 nr. 1 bokstav d)", "Recipients (Article 30(1)(d))"),
    "recipient": ("Mottaker", "Recipient"),
    "category": ("Rolle", "Role"),
    "country": ("Land", "Country"),
    "fields": ("Opplysninger", "Data"),
    "delivered": ("Leveranser", "Deliveries"),
    "last_delivered": ("Siste leveranse", "Last delivery"),
    "category_processor": ("databehandler", "processor"),
    "category_independent_controller": ("selvstendig behandlingsansvarlig", "independent controller"),
    "category_internal": ("intern", "internal"),
    "h_transfers": (
        "Overføringer til land utenfor EØS (artikkel 30 nr. 1 bokstav e)",
        "Transfers outside the EEA (Article 30(1)(e))",
    ),
    "basis": ("Grunnlag", "Basis"),
    "no_transfers": ("Ingen.", "None."),
    "h_retention": (
        "Lagringstid og sletting (artikkel 30 nr. 1 bokstav f)",
        "Time limits for erasure (Article 30(1)(f))",
    ),
    "rule": ("Regel", "Rule"),
    "period": ("Lagres", "Kept"),
    "description": ("Beskrivelse", "Description"),
    "all_fields": ("alle", "all"),
    "messages": ("Meldingstekster", "Message texts"),
    "undelivered": (
        "Meldinger og oppdrag som ikke kom fram, fra de ble lagt i kø (en SMS aldri lenger enn teksten)",
        "Messages and processor calls never delivered, from when queued (an SMS never longer than its text)",
    ),
    "undelivered_deletions": (
        "Slettebeskjeder til databehandlere som ikke kom fram; deretter slettes det for hånd",
        "Deletions a processor was never told of; then done by hand",
    ),
    "unmatched_requests": (
        "Identitet oppgitt i henvendelser fra personer vi ikke har opplysninger om, etter svaret",
        "Identity given with requests from people we hold nothing about, after the answer",
    ),
    "answers": (
        "Svar på henvendelser (brevet, og datafilene i et innsynssvar), etter svaret",
        "Answers to requests (the letter, and the data files of an access answer), after the answer",
    ),
    "after": ("Når ingen grunn gjelder", "When no reason holds"),
    "archive": ("arkiveres", "archived"),
    "erase": ("slettes", "erased"),
    "h_archive": ("Arkiv og årlig gjennomgang", "Archive and annual review"),
    "readable_by": ("Kan leses av", "Readable by"),
    "keeps": ("Beholder", "Keeps"),
    "review_by": (
        "Gjennomgås innen utgangen av {month}, godkjennes av {role}",
        "Reviewed by the end of {month}, signed by {role}",
    ),
    "h_security": (
        "Sikkerhetstiltak (artikkel 30 nr. 1 bokstav g og artikkel 32)",
        "Security measures (Article 30(1)(g) and Article 32)",
    ),
    "measures": ("Tiltak", "Measures"),
    "breach_handling": ("Sikkerhetsbrudd", "Breaches"),
    "not_described": ("Ikke beskrevet i personvernreglene.", "Not described in the privacy policy."),
    "h_roles": ("Interne roller og tilgang", "Internal roles and access"),
    "role": ("Rolle", "Role"),
    "may": ("Kan", "May"),
    "reaches": ("Ser av opplysningene", "Sees of the data"),
    "reaches_all": ("alle opplysninger i registeret", "every field in the register"),
    "reaches_none": ("ingen opplysninger i registeret", "no field of the register"),
    "reaches_audience": ("bare {fields} til dem som har samtykket", "only {fields} of those who consented"),
    "reaches_archive": ("også arkivet", "the archive too"),
    "h_risks": ("Risikovurdering", "Risk assessment"),
    "risk": ("Risiko", "Risk"),
    "likelihood": ("Sannsynlighet", "Likelihood"),
    "consequence": ("Konsekvens", "Consequence"),
    "level": ("Nivå", "Level"),
    "overall": (
        "Samlet risiko for de registrertes rettigheter og friheter: {level}.",
        "Overall risk to the data subjects' rights and freedoms: {level}.",
    ),
    "no_risks": ("Ingen risiko er vurdert i personvernreglene.", "No risk is assessed in the privacy policy."),
    "level_low": ("lav", "low"),
    "level_medium": ("middels", "medium"),
    "level_high": ("høy", "high"),
    "h_figures": ("Tall fra systemet", "Figures from the system"),
    "kind_of_row": ("Utsendingstype", "Kind of delivery"),
    "processors_used": (
        "Databehandlere som faktisk har fått opplysninger: {names}.",
        "Processors that have actually received data: {names}.",
    ),
    "none": ("ingen", "none"),
    # What each permission lets a role do (domain/access.py).
    "perm_register.read": ("lese kunderegisteret", "read the customer register"),
    "perm_register.write": ("registrere og endre kunder", "add and change customers"),
    "perm_policy.manage": ("laste inn personvernreglene", "load the privacy policy"),
    "perm_audit.verify": ("kontrollere revisjonsloggen", "verify the audit log"),
    "perm_audit.read": (
        "lese revisjonsloggen: hvem som leste eller endret hva",
        "read the audit log: who read or changed what",
    ),
    "perm_sms.send": ("sende SMS om avtalen", "send SMS about the agreement"),
    "perm_sms.marketing": (
        "sende markedsføring på SMS til dem som har samtykket",
        "send marketing SMS to those who consented",
    ),
    "perm_outbox.read": ("se utsendingskøen", "see the outbox"),
    "perm_outbox.manage": ("drive utsendingen", "run deliveries"),
    "perm_consent.read": ("lese samtykker, protester og begrensninger", "read consents, objections and restrictions"),
    "perm_consent.record": (
        "registrere samtykker, protester og begrensninger",
        "record consents, objections and restrictions",
    ),
    "perm_audience.read": ("se hvem markedsføring kan nå", "see who marketing may reach"),
    "perm_request.open": ("registrere en henvendelse om rettigheter", "register a request about rights"),
    "perm_request.handle": ("behandle henvendelser om rettigheter", "handle requests about rights"),
    "perm_archive.read": ("lese arkivet", "read the archive"),
    "perm_retention.run": ("arkivere og slette når lagringstiden er ute", "archive and erase when retention ends"),
    "perm_review.sign": ("gjennomføre og godkjenne den årlige gjennomgangen", "run and sign the annual review"),
    "perm_breach.manage": (
        "føre avviksregisteret og varsle om sikkerhetsbrudd",
        "keep the breach register and notify breaches",
    ),
    "perm_record.read": ("lese denne protokollen", "read this record"),
    "perm_users.manage": (
        "administrere brukerne av konsollet og API-et",
        "manage the users of the console and the API",
    ),
    "perm_accounting.export": (
        "hente ut kundenes stamdata til regnskapet (SAF-T, CSV)",
        "export customers' master data for the accounts (SAF-T, CSV)",
    ),
    "perm_processors.reconcile": (
        "avstemme det en databehandler har, mot registeret",
        "reconcile what a processor holds with the register",
    ),
    "perm_keys.manage": (
        "ta sikkerhetskopi av registeret, gjenopprette det og bytte hovednøkkelen",
        "back up and restore the register, and rotate its master key",
    ),
    "agreement": ("Databehandleravtale (artikkel 28)", "Processor agreement (Article 28)"),
    "agreement_none": ("ingen registrert", "none recorded"),
    "agreement_text": (
        "versjon {version}, inngått {signed_on}, referanse {reference}; neste gjennomgang {next_review}",
        "version {version}, signed {signed_on}, reference {reference}; next review {next_review}",
    ),
}


def phrase(lang: str, key: str, **values: str) -> str:
    nb, en = PHRASES[key]
    return (en if lang == "en" else nb).format(**values)
