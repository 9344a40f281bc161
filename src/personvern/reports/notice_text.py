"""The privacy notice's fixed wording in Norwegian and English, phrase by phrase, with the same placeholders in both.

Everything company-specific comes from the policy; these phrases carry what the GDPR itself says (the
rights, the deadlines, the articles). Keeping both languages side by side, key by key, is what makes the
two renderings say the same thing (a test checks that every phrase has both, with the same placeholders).
"""

from __future__ import annotations

PHRASES: dict[str, tuple[str, str]] = {
    # (nb, en)
    "title": ("Personvernerklæring for {controller}", "Privacy notice of {controller}"),
    "intro": (
        "Denne erklæringen forteller hvilke personopplysninger {controller} behandler om deg som {kinds}, hvorfor, "
        "hvor lenge, hvem som får dem, og hvilke rettigheter du har (personvernforordningen artikkel 13 og 14).",
        "This notice tells which personal data {controller} processes about you as a {kinds}, why, for how long, "
        "who receives it, and what rights you have (GDPR Articles 13 and 14).",
    ),
    "or": ("eller", "or"),
    # -- the controller (Art. 13(1)(a)-(b))
    "h_controller": ("Behandlingsansvarlig", "Controller"),
    "controller": (
        "{controller} er behandlingsansvarlig for opplysningene.",
        "{controller} is the controller of the data.",
    ),
    "address": ("Adresse: {address}", "Address: {address}"),
    "organisation_number": ("Organisasjonsnummer: {number}", "Organisation number: {number}"),
    "email": ("E-post: {email}", "Email: {email}"),
    "phone": ("Telefon: {phone}", "Phone: {phone}"),
    "website": ("Nettsted: {website}", "Website: {website}"),
    "contact": (
        "Spørsmål om personvern, og alle henvendelser om rettighetene dine, går til {role}: {contact}.",
        "Questions about privacy, and every request about your rights, go to our {role}: {contact}.",
    ),
    # -- the data (Art. 14(1)(d), 14(2)(f))
    "h_data": ("Opplysninger vi behandler", "The data we process"),
    "kinds": ("Vi behandler opplysninger om disse gruppene:", "We process data about these groups:"),
    "always": ("Dette samler vi alltid inn:", "We always collect:"),
    "contract": (
        "Dette samler vi i tillegg inn fra kunder med avtale:",
        "From customers with an agreement we also collect:",
    ),
    "when_needed": (
        "Dette samler vi bare inn når det trengs, og vi noterer hvorfor:",
        "We collect the following only when it is needed, and we note why:",
    ),
    "only_for": ("{field} (gjelder {kinds})", "{field} (applies to {kinds})"),
    "relationships": (
        "Vi registrerer også hva du har bestilt og når, og når en avtale begynner og slutter.",
        "We also record what you ordered and when, and when an agreement begins and ends.",
    ),
    "source_you": ("Opplysningene får vi fra deg.", "We get the data from you."),
    "sources": ("Her kommer opplysningene fra:", "This is where the data comes from:"),
    "source_from_you": ("Fra deg.", "From you."),
    # -- purposes and legal bases (Art. 13(1)(c)-(d))
    "h_purposes": ("Formål og rettslig grunnlag", "Purposes and legal basis"),
    "purposes": (
        "Vi bruker opplysningene bare til disse formålene:",
        "We use the data only for these purposes:",
    ),
    "basis": ("Rettslig grunnlag: {basis}.", "Legal basis: {basis}."),
    "interest": ("Den berettigede interessen: {detail}", "The legitimate interest: {detail}"),
    "uses": ("Opplysninger: {fields}.", "Data: {fields}."),
    "channels": ("Kanaler: {channels}.", "Channels: {channels}."),
    "basis_6(1)(a)": (
        "samtykke (personvernforordningen artikkel 6 nr. 1 bokstav a)",
        "consent (GDPR Article 6(1)(a))",
    ),
    "basis_6(1)(b)": (
        "avtale med deg (personvernforordningen artikkel 6 nr. 1 bokstav b)",
        "a contract with you (GDPR Article 6(1)(b))",
    ),
    "basis_6(1)(c)": (
        "rettslig forpliktelse (personvernforordningen artikkel 6 nr. 1 bokstav c)",
        "a legal obligation (GDPR Article 6(1)(c))",
    ),
    "basis_6(1)(d)": (
        "vitale interesser (personvernforordningen artikkel 6 nr. 1 bokstav d)",
        "vital interests (GDPR Article 6(1)(d))",
    ),
    "basis_6(1)(e)": (
        "oppgave i allmennhetens interesse eller offentlig myndighet "
        "(personvernforordningen artikkel 6 nr. 1 bokstav e)",
        "a task in the public interest or official authority (GDPR Article 6(1)(e))",
    ),
    "basis_6(1)(f)": (
        "berettiget interesse (personvernforordningen artikkel 6 nr. 1 bokstav f)",
        "legitimate interests (GDPR Article 6(1)(f))",
    ),
    "channel_sms": ("SMS", "SMS"),
    "channel_email": ("e-post", "email"),
    # -- recipients (Art. 13(1)(e))
    "h_recipients": ("Hvem som får opplysningene", "Who receives the data"),
    "internal": (
        "I bedriften har bare rollene som trenger det, tilgang, og bare til det rollen trenger: {roles}.",
        "Inside the company only the roles that need it have access, and only to what the role needs: {roles}.",
    ),
    "recipients": ("Utenfor bedriften får disse opplysninger:", "Outside the company these receive data:"),
    "no_recipients": ("Ingen utenfor bedriften får opplysningene.", "Nobody outside the company receives the data."),
    "category_processor": ("databehandler", "processor"),
    "category_independent_controller": ("selvstendig behandlingsansvarlig", "independent controller"),
    "category_internal": ("intern", "internal"),
    "recipient_gets": (
        "Får: {fields}. Til: {purposes}. Behandlingsland: {country}.",
        "Receives: {fields}. For: {purposes}. Country of processing: {country}.",
    ),
    "processors": (
        "Databehandlerne behandler opplysningene bare etter våre instrukser, under en databehandleravtale "
        "(personvernforordningen artikkel 28).",
        "Processors process the data only on our instructions, under a data processing agreement (GDPR Article 28).",
    ),
    # -- transfers (Art. 13(1)(f))
    "h_transfers": ("Overføring til land utenfor EØS", "Transfers outside the EEA"),
    "transfers": (
        "Disse mottakerne behandler opplysninger utenfor EØS, på dette grunnlaget (personvernforordningen kapittel V):",
        "These recipients process data outside the EEA, on this basis (GDPR Chapter V):",
    ),
    "transfer": ("{recipient} ({country}): {basis}", "{recipient} ({country}): {basis}"),
    "no_transfers": (
        "Vi overfører ikke personopplysninger til land utenfor EØS.",
        "We do not transfer personal data to countries outside the EEA.",
    ),
    # -- retention (Art. 13(2)(a))
    "h_retention": ("Hvor lenge vi lagrer opplysningene", "How long we keep the data"),
    "retention": (
        "Vi lagrer opplysningene bare så lenge en av disse grunnene gjelder:",
        "We keep the data only as long as one of these reasons holds:",
    ),
    "rule": ("{purpose}: {words}.", "{purpose}: {words}."),
    "rule_kinds": ("{purpose} ({kinds}): {words}.", "{purpose} ({kinds}): {words}."),
    "rule_fields": ("Gjelder bare {fields}.", "Only {fields}."),
    "while_relationship_active": (
        "så lenge kundeforholdet eller avtalen varer",
        "as long as the customer relationship or the agreement lasts",
    ),
    "while_consent_active": ("så lenge samtykket gjelder", "as long as the consent lasts"),
    "while_prospect": (
        "så lenge vi ennå ikke har en bestilling, en avtale eller et samtykke fra deg",
        "as long as there is no order, agreement or consent from you yet",
    ),
    "from_received": ("fra vi mottok opplysningene", "from when we received the data"),
    "from_relationship_end": ("etter at kundeforholdet tok slutt", "after the customer relationship ended"),
    "from_financial_year_end": ("etter utgangen av regnskapsåret", "after the end of the financial year"),
    "up_to": ("inntil {duration} {start}", "up to {duration} {start}"),
    "for_period": ("{duration} {start}", "{duration} {start}"),
    "and_while": ("{period}, og bare {condition}", "{period}, and only {condition}"),
    "messages": (
        "Teksten i meldinger vi sender deg, lagres i {duration}; deretter lagrer vi bare når og hvorfor de ble sendt.",
        "The text of messages we send you is kept for {duration}; after that we keep only when and why they were sent.",
    ),
    "undelivered": (
        "En melding eller et oppdrag til en databehandler som ikke kom fram, beholdes i inntil {duration} fra det "
        "ble lagt i kø, så vi kan prøve igjen (en SMS aldri lenger enn teksten). En beskjed til en databehandler om "
        "å slette opplysninger om deg beholdes i inntil {deletion}; kommer den ikke fram, sletter vi hos "
        "databehandleren for hånd.",
        "A message or a call to a processor that could not be delivered is kept for up to {duration} from when it "
        "was queued, so that we can try again (an SMS never longer than its text). A request to a processor to "
        "erase your data is kept for up to {deletion}; if it cannot be delivered, we have the data erased there by "
        "hand.",
    ),
    "unmatched": (
        "Ber du om noe og vi ikke har opplysninger om deg, lagrer vi e-postadressen eller telefonnummeret du oppga, "
        "i {duration} etter svaret, så vi kan vise hva vi svarte om du klager; deretter slettes det.",
        "If you ask us something and we hold nothing about you, we keep the email address or phone number you gave "
        "for {duration} after our answer, so that we can show what we answered if you complain; then it is erased.",
    ),
    "answers": (
        "Svaret vi gir på en henvendelse fra deg (brevet, og opplysningene om deg i et svar om innsyn), lagrer vi i "
        "{duration} etter at det er gitt, så vi kan sende det til deg; deretter slettes det.",
        "The answer we give to a request of yours (the letter, and the data about you in an answer to a request for "
        "access) is kept for {duration} after it is given, so that we can send it to you; then it is erased.",
    ),
    "after": (
        "Når ingen av grunnene gjelder lenger, blir opplysningene arkivert eller slettet:",
        "When none of the reasons holds any longer, the data is archived or erased:",
    ),
    "after_archive": ("{kind}: arkiveres", "{kind}: archived"),
    "after_erase": ("{kind}: slettes", "{kind}: erased"),
    # -- the archive and the review
    "h_archive": ("Arkivet", "The archive"),
    "archive": (
        "Bare {roles} kan lese arkivet, og det beholder bare {fields}. Ber du om sletting, sletter vi deg også fra "
        "arkivet.",
        "Only the {roles} can read the archive, and it keeps only {fields}. If you ask for erasure, we erase you from "
        "the archive too.",
    ),
    "h_review": ("Årlig gjennomgang", "Annual review"),
    "review": (
        "Gjennomgangen er ferdig innen utgangen av {month} hvert år og godkjennes av {role}.",
        "The review is completed by the end of {month} each year and signed by the {role}.",
    ),
    # -- rights (Art. 13(2)(b)-(c), 15-22)
    "h_rights": ("Rettighetene dine", "Your rights"),
    "rights": ("Du har rett til:", "You have the right to:"),
    "right_access": (
        "innsyn: å få vite hvilke opplysninger vi har om deg, og få en kopi (artikkel 15)",
        "access: to learn what data we hold about you, and get a copy (Article 15)",
    ),
    "right_rectification": (
        "retting: å få rettet uriktige opplysninger og fullført ufullstendige (artikkel 16)",
        "rectification: to have wrong data corrected and incomplete data completed (Article 16)",
    ),
    "right_erasure": (
        "sletting: å få opplysningene slettet, bortsett fra det en rettslig forpliktelse pålegger oss å "
        "oppbevare (artikkel 17)",
        "erasure: to have the data erased, except what a legal obligation requires us to keep (Article 17)",
    ),
    "right_erasure_kept": (
        "sletting: å få opplysningene slettet, bortsett fra det en rettslig forpliktelse pålegger oss å "
        "oppbevare, her {purposes} (artikkel 17)",
        "erasure: to have the data erased, except what a legal obligation requires us to keep, here {purposes} "
        "(Article 17)",
    ),
    "right_restriction": (
        "begrensning: å få behandlingen begrenset, slik at opplysningene bare lagres (artikkel 18)",
        "restriction: to have the processing restricted, so that the data is only stored (Article 18)",
    ),
    "right_portability": (
        "dataportabilitet: å få opplysningene du har gitt oss på grunnlag av samtykke eller avtale, i et "
        "maskinlesbart format (JSON og CSV), og få dem overført til en annen (artikkel 20)",
        "data portability: to get the data you gave us on the basis of consent or a contract in a machine-readable "
        "format (JSON and CSV), and have it passed on to another controller (Article 20)",
    ),
    "right_object_marketing": (
        "protest mot markedsføring: når som helst, og da stanser vi den (artikkel 21 nr. 2 og 3)",
        "object to marketing: at any time, and we then stop it (Article 21(2) and (3))",
    ),
    "right_object_interest": (
        "protest mot behandling som bygger på berettiget interesse, her {purposes}, på grunn av din særlige "
        "situasjon (artikkel 21 nr. 1)",
        "object to processing based on legitimate interests, here {purposes}, on grounds relating to your "
        "particular situation (Article 21(1))",
    ),
    "right_withdraw": (
        "trekke tilbake samtykke: når som helst og like enkelt som du ga det, her til {purposes}; det som ble gjort "
        "før du trakk det tilbake, er fortsatt lovlig (artikkel 7 nr. 3)",
        "withdraw consent: at any time and as easily as you gave it, here to {purposes}; what was done before you "
        "withdrew it remains lawful (Article 7(3))",
    ),
    "stop_reply": (
        "Svarer du STOPP på en SMS fra oss, trekker du tilbake samtykket til markedsføring på SMS.",
        "Replying STOPP to an SMS from us withdraws your consent to marketing by SMS.",
    ),
    "how_to": (
        "Slik bruker du rettighetene: send en henvendelse til {role}, {contact}. Vi kan be deg bekrefte hvem du er "
        "før vi gir ut eller endrer noe. Vi svarer uten ugrunnet opphold og senest innen én måned. Er henvendelsen "
        "sammensatt, eller kommer det mange, kan fristen forlenges med to måneder; da får du vite hvorfor innen den "
        "første måneden (artikkel 12 nr. 3). Det koster ingenting (artikkel 12 nr. 5).",
        "To use your rights, send a request to our {role}, {contact}. We may ask you to confirm who you are before "
        "we disclose or change anything. We answer without undue delay and within one month at the latest. If the "
        "request is complex, or there are many, the time may be extended by two months; you are then told why "
        "within the first month (Article 12(3)). It is free of charge (Article 12(5)).",
    ),
    "h_complaint": ("Klage til {authority}", "Complaints to {authority}"),
    "complaint": (
        "Mener du at vi behandler opplysningene om deg i strid med personvernforordningen, har du rett til å klage "
        "til {authority}, {website} (artikkel 77).",
        "If you believe we process your data in breach of the GDPR, you have the right to complain to {authority}, "
        "{website} (Article 77).",
    ),
    "complaint_url": ("Slik klager du: {url}", "How to complain: {url}"),
    # -- mandatory data (Art. 13(2)(e)) and automated decisions (Art. 13(2)(f))
    "h_mandatory": ("Må du gi oss opplysningene?", "Must you give us the data?"),
    "mandatory": (
        "Opplysningene vi alltid samler inn, er nødvendige for å inngå og gjennomføre avtalen; uten dem kan vi ikke "
        "levere tjenesten. Opplysninger du gir på grunnlag av samtykke, er frivillige.",
        "The data we always collect is needed to enter into and perform the agreement; without it we cannot deliver "
        "the service. Data you give on the basis of consent is voluntary.",
    ),
    "h_automated": ("Automatiserte avgjørelser", "Automated decisions"),
    "no_automated": (
        "Vi treffer ingen avgjørelser om deg som bare bygger på automatisert behandling, og vi driver ikke "
        "profilering (artikkel 22).",
        "We make no decision about you based solely on automated processing, and we do no profiling (Article 22).",
    ),
    # -- the website's cookies (ekomloven § 2-7b, in force 1 January 2025)
    "h_cookies": ("Informasjonskapsler på nettstedet", "Cookies on the website"),
    "cookies": (
        "Nettstedet til {controller} lagrer informasjonskapsler i nettleseren din. Bare de som er strengt nødvendige "
        "for tjenesten du ber om, lagres uten samtykke; de andre bare med samtykke du gir i banneret "
        "(ekomloven § 2-7b og personvernforordningen artikkel 6 nr. 1 bokstav a).",
        "The website of {controller} stores cookies in your browser. Only those strictly necessary for the "
        "service you ask for are stored without consent; the others only with the consent you give in the banner "
        "(the Norwegian Electronic Communications Act § 2-7b and GDPR Article 6(1)(a)).",
    ),
    "cookie_necessary": ("Krever ikke samtykke.", "They need no consent."),
    "cookie_consent": ("Bare med samtykke.", "Only with your consent."),
    "cookie_item": (
        "{name}, satt av {provider}: {purpose} Varighet: {expiry}.",
        "{name}, set by {provider}: {purpose} Expires: {expiry}.",
    ),
    "cookies_change": (
        "Du kan godta alle, avvise alle eller velge selv, like enkelt, og endre eller trekke tilbake valget når som "
        "helst med lenken «Endre cookievalg» på nettstedet. Sender nettleseren din Global Privacy Control, regnes det "
        "som et nei til alle valgfrie informasjonskapsler. Hvert valg lagres med tidspunkt, kategorier og en "
        "tilfeldig besøks-ID, som bevis på samtykket, i {keep}.",
        "You can accept all, reject all or choose yourself, as easily, and change or withdraw your choice at any "
        "time with the link “Change cookie choices” on the website. If your browser sends Global Privacy Control, "
        "it counts as a no to every optional cookie. Each choice is kept with its time, categories and a random "
        "visitor id, as proof of the consent, for {keep}.",
    ),
    # -- security and breaches (Art. 32-34)
    "h_security": ("Sikkerhet og sikkerhetsbrudd", "Security and breaches"),
    "breaches": (
        "Rammes opplysninger om deg av et sikkerhetsbrudd, melder vi det til {authority} innen 72 timer etter at vi "
        "ble kjent med det, med mindre det er usannsynlig at bruddet medfører en risiko for deg (artikkel 33). "
        "Er risikoen høy, varsler vi deg uten ugrunnet opphold (artikkel 34). Hvert brudd dokumenteres, også når "
        "det ikke meldes.",
        "If a security breach affects data about you, we notify {authority} within 72 hours of becoming aware of "
        "it, unless the breach is unlikely to result in a risk to you (Article 33). If the risk is high, we tell "
        "you without undue delay (Article 34). Every breach is documented, also when it is not notified.",
    ),
    "version": (
        "Denne erklæringen er laget fra personvernreglene i versjon {version}.",
        "This notice is generated from version {version} of the privacy policy.",
    ),
}


def phrase(lang: str, key: str, **values: str) -> str:
    """The phrase `key` in `lang` (nb or en) with its placeholders filled."""
    nb, en = PHRASES[key]
    return (en if lang == "en" else nb).format(**values)
