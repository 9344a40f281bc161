"""Deterministic generator of realistic synthetic customers of 24 Center for demos, import files and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from math import gcd

from personvern.policy import load_policy

# The generator's rules below are written for the bundled 24 Center policy; which optional fields a kind may
# carry is still read from the policy itself, so a subject never holds a field its kind does not declare.

KINDS = ("one_time_customer", "contract_customer", "business_representative")
_KIND_SHARES = (0.60, 0.85)  # cumulative: 60 % one-time, 25 % contract, 15 % representatives

# Each optional ('when_needed') field: how often it is filled in when the policy declares it for the kind, and
# the reasons staff give for collecting it (the policy demands one for every such value).
_OPTIONAL = (
    (
        "postal_address",
        0.20,
        (
            "trengs for å sende nøkkelkort i posten",
            "kunden ønsker kontrakt og brev i posten",
            "trengs for utsending av adgangskort",
        ),
    ),
    (
        "company_name",
        0.12,
        (
            "kunden bestilte på vegne av et firma",
            "firmanavnet skal stå på fakturaen",
            "trengs for å skilte kontoret",
        ),
    ),
    (
        "national_id",
        0.02,  # rare on purpose: the policy allows it only when it is really needed
        (
            "trengs for kredittsjekk før leieavtalen",
            "trengs for å registrere forretningsadresse hos Posten",
        ),
    ),
    (
        "role",
        0.30,
        (
            "trengs for å vite hvem som kan bestille",
            "trengs for å vite hvem som kan signere",
            "kontaktperson for avtalen",
        ),
    ),
    (
        "billing_address",
        0.15,
        (
            "trengs for fakturering",
            "fakturaen skal til en annen adresse enn postadressen",
            "kunden vil ha papirfaktura",
        ),
    ),
    (
        "invoice_reference",
        0.25,
        (
            "kunden krever referanse på fakturaen",
            "trengs for fakturering hos kunden",
            "fakturaer uten referanse blir avvist av kunden",
        ),
    ),
)

FEMALE = (
    "Anne", "Inger", "Kari", "Marit", "Ingrid", "Liv", "Eva", "Berit", "Astrid", "Bjørg", "Hilde", "Anna",
    "Solveig", "Marianne", "Randi", "Ida", "Nina", "Maria", "Elisabeth", "Kristin", "Bente", "Heidi", "Silje",
    "Hanne", "Gro", "Tone", "Camilla", "Ingeborg", "Wenche", "Line", "Ragnhild", "Nora", "Emma", "Sara",
    "Thea", "Ingvild", "Julie", "Tuva", "Maja", "Sofie", "Hege", "Mette", "Grete", "Åse", "Sigrid", "Kjersti",
    "Tove", "Eli", "Unni", "Turid", "Ellen", "Linn", "Synnøve", "Siri", "Mari", "Vilde", "Frida", "Marte",
    "Anne-Lise", "Kari-Anne", "Torill", "Aud", "Fatima", "Renée",
)  # fmt: skip
MALE = (
    "Jan", "Per", "Bjørn", "Ole", "Lars", "Kjell", "Knut", "Arne", "Svein", "Thomas", "Hans", "Geir", "Tor",
    "Morten", "Terje", "Odd", "Martin", "Erik", "Andreas", "Rune", "Trond", "John", "Anders", "Tore", "Harald",
    "Jon", "Gunnar", "Olav", "Magnus", "Kristian", "Espen", "Øyvind", "Stian", "Henrik", "Jonas", "Sindre",
    "Sander", "Emil", "Mathias", "Jørgen", "Håkon", "Ståle", "Steinar", "Leif", "Nils", "Helge", "Jostein",
    "Eirik", "Fredrik", "Ketil", "Åsmund", "Sigurd", "Vegard", "Tobias", "Even", "Ivar", "Halvor", "Aksel",
    "Kåre", "Sverre", "Jan-Erik", "Tor-Arne", "Pål", "Frode", "Dag", "Einar", "André", "Mohammad",
)  # fmt: skip
SURNAMES = (
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen",
    "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen", "Johannessen", "Andreassen",
    "Jacobsen", "Dahl", "Jørgensen", "Halvorsen", "Henriksen", "Lund", "Sørensen", "Jakobsen", "Moen",
    "Gundersen", "Iversen", "Strand", "Solberg", "Svendsen", "Eide", "Knutsen", "Martinsen", "Paulsen",
    "Bakken", "Kristoffersen", "Mathisen", "Lie", "Amundsen", "Nguyen", "Rasmussen", "Ali", "Lunde",
    "Solheim", "Berntsen", "Moe", "Kristensen", "Bakke", "Sæther", "Ødegård", "Aas", "Aasen", "Haugland",
    "Holm", "Myhre", "Nygård", "Bø", "Sandvik", "Fjeld", "Fossum", "Hauge", "Næss", "Rønning", "Sæbø",
    "Løken", "Tveit", "Vik", "Wold", "Bjerke", "Bråthen", "Dalen", "Engen", "Foss", "Gulbrandsen", "Hovland",
    "Isaksen", "Kleven", "Langeland", "Mikkelsen", "Nordby", "Ottesen", "Rød", "Sletten", "Thorsen", "Vestby",
    "Øien", "Ås", "Grønli", "Brekke", "Bjørnstad", "Kvale", "Tangen", "Ruud", "Hoel", "Lien", "Strøm", "Haug",
    "Aune", "Ahmed", "Khan", "Stene", "Skaug",
)  # fmt: skip

# Street, postal code, place. Mostly Oslo, where 24 Center is, with some customers from elsewhere.
STREETS = (
    ("Storgata", "0184", "Oslo"), ("Karl Johans gate", "0154", "Oslo"), ("Bogstadveien", "0355", "Oslo"),
    ("Thereses gate", "0358", "Oslo"), ("Trondheimsveien", "0560", "Oslo"), ("Grønlandsleiret", "0190", "Oslo"),
    ("Torggata", "0181", "Oslo"), ("Markveien", "0554", "Oslo"), ("Thorvald Meyers gate", "0555", "Oslo"),
    ("Kirkeveien", "0368", "Oslo"), ("Ullevålsveien", "0165", "Oslo"), ("Pilestredet", "0164", "Oslo"),
    ("Hegdehaugsveien", "0352", "Oslo"), ("Østensjøveien", "0667", "Oslo"), ("Tvetenveien", "0666", "Oslo"),
    ("Strømsveien", "0668", "Oslo"), ("Brynsveien", "0667", "Oslo"), ("Ulvenveien", "0581", "Oslo"),
    ("Grenseveien", "0663", "Oslo"), ("Haakon VIIs gate", "0161", "Oslo"), ("Drammensveien", "0271", "Oslo"),
    ("Frognerveien", "0263", "Oslo"), ("Bygdøy allé", "0265", "Oslo"), ("Maridalsveien", "0178", "Oslo"),
    ("Ekebergveien", "1181", "Oslo"), ("Lambertseterveien", "1150", "Oslo"), ("Enebakkveien", "0657", "Oslo"),
    ("Helgesens gate", "0553", "Oslo"), ("Dronningens gate", "0152", "Oslo"), ("Sandakerveien", "0473", "Oslo"),
    ("Vækerøveien", "0282", "Oslo"), ("Ammerudveien", "0958", "Oslo"), ("Manglerudveien", "0678", "Oslo"),
    ("Bølerlia", "0689", "Oslo"), ("Skøyenåsen", "0686", "Oslo"), ("Oppsalstubben", "0685", "Oslo"),
    ("Storgata", "2000", "Lillestrøm"), ("Jernbaneveien", "1400", "Ski"), ("Solheimveien", "1473", "Lørenskog"),
    ("Kongens gate", "7011", "Trondheim"), ("Torgallmenningen", "5014", "Bergen"),
    ("Kirkegata", "4006", "Stavanger"), ("Bragernes torg", "3017", "Drammen"),
)  # fmt: skip
PLACES = (
    "Oslo", "Bergen", "Trondheim", "Stavanger", "Drammen", "Lillestrøm", "Ski", "Asker", "Bærum", "Lørenskog",
    "Fredrikstad", "Tønsberg", "Hamar", "Kristiansand", "Tromsø", "Bodø", "Ålesund", "Moss", "Sarpsborg",
)  # fmt: skip
# Post-office boxes: the billing address of many companies.
PO_BOXES = (
    ("Sentrum", "0101", "Oslo"), ("Bryn", "0611", "Oslo"), ("Majorstuen", "0301", "Oslo"),
    ("Økern", "0508", "Oslo"), ("Etterstad", "0601", "Oslo"), ("Skøyen", "0212", "Oslo"),
)  # fmt: skip

ORG_STEMS = (
    "Fjellheim", "Nordlys", "Vestvind", "Solberg", "Granli", "Furuly", "Bølgen", "Skogly", "Havblikk",
    "Elvebakken", "Lindheim", "Bjørkli", "Sjøstrand", "Østlandet", "Nordre", "Fossheim", "Haugland",
    "Berg", "Dahl", "Eide", "Lunde", "Moen", "Sæther", "Ødegård", "Bakken", "Strand", "Holm", "Vik",
    "Brekke", "Tangen", "Aune", "Lie", "Myhre", "Nygård", "Rønning", "Tveit", "Kvale", "Haug", "Bryn",
    "Ekeberg", "Bøler", "Oppsal", "Helsfyr", "Tveita", "Manglerud", "Alna", "Grorud", "Nydalen", "Vinderen",
)  # fmt: skip
# "{}" is the stem; the slug of the result (without the legal form) is the company's email domain.
ORG_PATTERNS = (
    "{} Regnskap", "{} Bygg", "{} Eiendom", "{} Rådgivning", "{} Consulting", "{} Design", "Advokatfirmaet {}",
    "{} Transport", "{} Elektro", "{} Rør", "{} IT", "{} Data", "{} Media", "{} Kommunikasjon",
    "{} Arkitekter", "{} Helse", "{} Fysioterapi", "{} Renhold", "{} Maling", "{} Tannhelse", "{} Invest",
    "{} Holding", "{} Økonomi", "{} Event", "{} Snekkeri", "{} Revisjon", "{} Prosjekt", "{} Service",
    "{} Utvikling", "{} Handel",
)  # fmt: skip
ROLES = (
    "daglig leder", "økonomiansvarlig", "kontorsjef", "innkjøpsansvarlig", "styreleder", "HR-ansvarlig",
    "regnskapsfører", "administrasjonssekretær", "prosjektleder", "IT-ansvarlig", "kontorleder", "partner",
)  # fmt: skip
# Public email providers Norwegians use, with how common each is. Each domain is listed once: a digit-free
# address is unique only because no (name, style, domain) combination repeats.
EMAIL_DOMAINS = (
    ("gmail.com", 4), ("hotmail.com", 2), ("online.no", 2), ("outlook.com", 2), ("icloud.com", 1),
    ("yahoo.no", 1), ("live.no", 1), ("altibox.no", 1),
)  # fmt: skip
# Norwegian mobile number blocks that phonenumbers classes as MOBILE in full (42-44 and 49 are not mobile,
# and part of 45 is not either, so those are left out rather than special-cased).
MOBILE_PREFIXES = ("40", "41", "46", "47", "48", "90", "91", "92", "93", "94", "95", "96", "97", "98", "99")
PHONE_CAPACITY = len(MOBILE_PREFIXES) * 1_000_000

DEPARTMENTS = ("Oslo", "Øst", "Bryn", "Vest", "Innkjøp", "Drift")
TRADES = ("Snekkeri", "Regnskap", "Design", "Foto", "Rådgivning", "Maling", "Frisør", "Catering")
ROOMS = ("Fjord", "Fjell", "Nordlys", "Østensjø", "Bryn", "Ekeberg", "Alna", "Vika")
OFFICE_SIZES = (9, 12, 15, 18, 20, 24, 30, 40, 55, 80, 120)
SITE = "Østensjøveien 43"

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_FNR_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_FNR_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_FNR_FIRST = date(1940, 1, 1).toordinal()
_FNR_DAYS = date(2005, 12, 31).toordinal() - _FNR_FIRST + 1
_ORG_SPACE = 20_000_000  # 8-digit bases 80000000-99999999; the ninth digit is the check digit
_POOL_SIZE = 64  # recent organisations that new representatives and contracts may join


@dataclass(frozen=True, slots=True)
class _Org:
    number: str
    name: str
    domain: str
    locals_used: set[str]  # email local parts handed out at this domain, so namesakes get a number


@dataclass(frozen=True, slots=True)
class SyntheticRelationship:
    type: str  # "order" or "contract"
    started_on: date
    ends_on: date | None  # contracts only; None while open-ended
    description: str


@dataclass(frozen=True, slots=True)
class SyntheticSubject:
    kind: str
    values: dict[str, str]  # field name -> raw value as a user would type it
    reasons: dict[str, str]  # for every 'when_needed' field present: why it was collected
    received_at: datetime  # aware, UTC
    relationships: tuple[SyntheticRelationship, ...]


def _ascii(s: str) -> str:
    """Lower-case ASCII form for email local parts and domains: æ→ae, ø→o, å→a, accents dropped."""
    s = s.lower()
    for a, b in (("æ", "ae"), ("ø", "o"), ("å", "a"), ("é", "e"), ("ü", "u"), ("ö", "o"), ("ä", "a")):
        s = s.replace(a, b)
    return s


def _slug(s: str) -> str:
    return "".join(ch for ch in _ascii(s) if ch.isascii() and ch.isalnum())


def _free_local(style: int, first: str, last: str) -> str:
    """The local part of a digit-free email; distinct (style, first, last) give distinct results (tested).

    Plain concatenation is left out here because it is ambiguous ("maria" + "as" = "mari" + "aas").
    """
    return (f"{first}.{last}", f"{first}_{last}", f"{last}.{first}")[style]


def _coprime_multiplier(n: int, r: float) -> int:
    """A multiplier in the middle third of [0, n) sharing no factor with n, so x -> a*x+b mod n permutes."""
    a = n // 3 + int(r * (n // 3))
    while gcd(a, n) != 1:
        a += 1
    return a


def _orgnr_check(base: int) -> int:
    """The mod-11 check digit of an 8-digit base (stdnum.no.orgnr), or 10 when no valid number exists."""
    s = sum(w * int(d) for w, d in zip(_ORG_WEIGHTS, str(base), strict=True))
    return (11 - s % 11) % 11


def _fnr_checks(nine: str) -> str | None:
    """The two check digits of a fødselsnummer's first nine digits, or None when the combination is invalid."""
    k1 = (11 - sum(w * int(d) for w, d in zip(_FNR_WEIGHTS_1, nine, strict=True)) % 11) % 11
    if k1 == 10:
        return None
    ten = nine + str(k1)
    k2 = (11 - sum(w * int(d) for w, d in zip(_FNR_WEIGHTS_2, ten, strict=True)) % 11) % 11
    return None if k2 == 10 else f"{k1}{k2}"


def _six_years_before(today: date) -> date:
    try:
        return today.replace(year=today.year - 6)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 6, day=28)


def generate(count: int, *, seed: int = 24, today: date = date(2026, 11, 25)) -> Iterator[SyntheticSubject]:
    """Yield `count` synthetic subjects, the same ones for the same seed and today, each valid by construction.

    Output is prefix-stable: the first n subjects do not depend on count. Memory stays flat however many
    are asked for, since unique values (phones, emails, organisation and national identity numbers) come
    from permutations of counters rather than from sets of values already handed out.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if count > PHONE_CAPACITY:
        raise ValueError(f"at most {PHONE_CAPACITY} subjects have distinct mobile numbers")
    return _subjects(count, seed, today)


def _subjects(count: int, seed: int, today: date) -> Iterator[SyntheticSubject]:
    rng = random.Random(seed)
    rnd = rng.random

    policy = load_policy().policy
    optional: dict[str, tuple[tuple[str, float, tuple[str, ...]], ...]] = {}
    for kind in KINDS:
        declared = policy.fields_for(kind)
        optional[kind] = tuple(
            (name, share, why) for name, share, why in _OPTIONAL if name in declared and not declared[name].required
        )

    # Affine permutations of fixed-size spaces: unique values without remembering them, independent of count.
    phone_a = _coprime_multiplier(PHONE_CAPACITY, rnd())
    phone_b = int(rnd() * PHONE_CAPACITY)
    org_a = _coprime_multiplier(_ORG_SPACE, rnd())
    org_b = int(rnd() * _ORG_SPACE)
    fnr_space = _FNR_DAYS * 500
    fnr_a = _coprime_multiplier(fnr_space, rnd())
    fnr_b = int(rnd() * fnr_space)

    firsts = tuple((n, _ascii(n).replace("-", ""), True) for n in FEMALE) + tuple(
        (n, _ascii(n).replace("-", ""), False) for n in MALE
    )
    n_firsts = len(firsts)
    lasts = tuple((n, _ascii(n)) for n in SURNAMES)
    n_lasts = len(lasts)
    domains = tuple(domain for domain, _ in EMAIL_DOMAINS)
    n_domains = len(domains)
    weighted_domains = tuple(domain for domain, weight in EMAIL_DOMAINS for _ in range(weight))
    n_weighted = len(weighted_domains)
    # Emails without digits: every (first, last, style, domain) combination is handed out at most once, in
    # the order of a permutation, so the few digit-free addresses are unique without a set of used ones.
    free_space = n_firsts * n_lasts * 3 * n_domains
    free_a = _coprime_multiplier(free_space, rnd())
    free_b = int(rnd() * free_space)
    # Emails with digits: the suffix is a permutation of the subject's index inside its decade band
    # [10^k, 10^(k+1)), so early subjects get short numbers and no two subjects the same one.
    bands: list[tuple[int, int, int, int]] = []  # (low, size, a, b); always the same, to keep prefixes stable
    low, size = 0, 100
    while low < PHONE_CAPACITY:
        bands.append((low, size, _coprime_multiplier(size, rnd()), int(rnd() * size)))
        low, size = low + size, (low + size) * 9
    org_combos = len(ORG_STEMS) * len(ORG_PATTERNS)
    combo_a = _coprime_multiplier(org_combos, rnd())
    combo_b = int(rnd() * org_combos)

    start = _six_years_before(today)
    span_days = (today - start).days
    base = datetime(start.year, start.month, start.day, tzinfo=UTC)
    today_ord = today.toordinal()

    pool: list[_Org] = []  # a ring of the _POOL_SIZE newest organisations
    pool_next = 0
    orgs_made = 0
    org_counter = 0
    fnr_counter = 0
    free_counter = 0

    def pick(seq: tuple[str, ...]) -> str:
        return seq[int(rnd() * len(seq))]

    def new_org() -> _Org:
        nonlocal orgs_made, org_counter, pool_next
        while True:  # walk the permutation past bases whose check digit would be 10
            b = 80_000_000 + (org_a * org_counter + org_b) % _ORG_SPACE
            org_counter += 1
            check = _orgnr_check(b)
            if check != 10:
                break
        # The j-th organisation gets a distinct (stem, pattern) combination; later rounds add a place
        # to the name and a number to the domain, which keeps every domain unique.
        j = orgs_made
        orgs_made += 1
        rounds, combo = divmod(j, org_combos)
        combo = (combo_a * combo + combo_b) % org_combos
        stem = ORG_STEMS[combo % len(ORG_STEMS)]
        name = ORG_PATTERNS[combo // len(ORG_STEMS)].format(stem)
        domain = _slug(name)
        if rounds:
            place = PLACES[(rounds - 1) % len(PLACES)]
            name = f"{name} {place}"
            domain = f"{domain}{_slug(place)}{rounds}"
        form = "AS" if rnd() < 0.93 else "DA"
        org = _Org(f"{b}{check}", f"{name} {form}", f"{domain}.no", set())
        if len(pool) < _POOL_SIZE:
            pool.append(org)
        else:
            pool[pool_next] = org
            pool_next = (pool_next + 1) % _POOL_SIZE
        return org

    def phone(i: int) -> str:
        v = (phone_a * i + phone_b) % PHONE_CAPACITY
        block, rest = divmod(v, 1_000_000)
        d = f"{MOBILE_PREFIXES[block]}{rest:06d}"
        r = rnd()
        if r < 0.45:
            return d
        if r < 0.70:
            return f"{d[:3]} {d[3:5]} {d[5:]}"
        if r < 0.85:
            return f"+47 {d[:3]} {d[3:5]} {d[5:]}"
        if r < 0.93:
            return f"+47{d}"
        if r < 0.97:
            return f"{d[:2]} {d[2:4]} {d[4:6]} {d[6:]}"
        return f"0047 {d}"

    def suffix(i: int) -> int:
        for lo, sz, a, b in bands:
            if i < lo + sz:
                return lo + (a * (i - lo) + b) % sz
        raise AssertionError("bands cover every index below count")

    def cased(local: str) -> str:
        # People type their address as they like; the register must not treat case as a new address.
        r = rnd()
        if r < 0.08:
            return ".".join(part.capitalize() for part in local.split("."))
        if r < 0.10:
            return local.upper()
        return local

    def address(street: tuple[str, str, str]) -> str:
        number = 1 + int(rnd() * 120)
        letter = "ABCD"[int(rnd() * 4)] if rnd() < 0.15 else ""
        road, code, place = street
        r = rnd()
        if r < 0.15:
            return f"{road} {number}{letter} H0{1 + int(rnd() * 6)}0{1 + int(rnd() * 4)}, {code} {place}"
        if r < 0.30:
            return f"{road} {number}{letter}\n{code} {place}"
        return f"{road} {number}{letter}, {code} {place}"

    def national_id(female: bool) -> str:
        nonlocal fnr_counter
        while True:  # walk past invalid check digits and the other sex's individual numbers
            v = (fnr_a * fnr_counter + fnr_b) % fnr_space
            fnr_counter += 1
            day, ind = divmod(v, 500)
            born = date.fromordinal(_FNR_FIRST + day)
            if born.year >= 2000:
                ind += 500  # 2000-2039 use individual numbers 500-999
            if (ind % 2 == 0) != female:
                continue
            nine = f"{born.day:02d}{born.month:02d}{born.year % 100:02d}{ind:03d}"
            checks = _fnr_checks(nine)
            if checks is not None:
                return f"{nine[:6]} {nine[6:]}{checks}" if rnd() < 0.2 else f"{nine}{checks}"

    def order_description() -> str:
        r = rnd()
        if r < 0.35:
            return (
                f"Møterom {pick(ROOMS)} ({(2, 4, 6, 8, 10, 12)[int(rnd() * 6)]} personer), {1 + int(rnd() * 6)} timer"
            )
        if r < 0.50:
            return f"Møterom {pick(ROOMS)}, heldag med lunsj for {4 + int(rnd() * 12)} personer"
        if r < 0.58:
            return f"Konferanserom ({(20, 30, 40)[int(rnd() * 3)]} personer), halv dag"
        if r < 0.72:
            days = 1 + int(rnd() * 10)
            return "Dagkontor, 1 dag" if days == 1 else f"Dagkontor, {days} dager"
        if r < 0.80:
            return "Kontorplass i åpent landskap, dagpass"
        if r < 0.88:
            return f"Parkering i garasjen, {1 + int(rnd() * 14)} døgn"
        if r < 0.94:
            return f"Kaffe og lunsj til møte for {4 + int(rnd() * 20)} personer"
        return f"Utskrift og innbinding, {(50, 100, 200, 500)[int(rnd() * 4)]} sider"

    def contract_description() -> str:
        r = rnd()
        if r < 0.35:
            m2 = OFFICE_SIZES[int(rnd() * len(OFFICE_SIZES))]
            if m2 <= 20:
                return f"Cellekontor {m2} m², {1 + int(rnd() * 4)}. etasje, {SITE}"
            return f"Kontorlokaler {m2} m², {SITE}"
        if r < 0.45:
            return "Fast kontorplass i åpent landskap"
        if r < 0.55:
            return f"Fleksibel kontorplass, {(5, 10, 15)[int(rnd() * 3)]} dager per måned"
        if r < 0.70:
            return pick(
                (
                    "Virtuelt kontor med forretningsadresse og postmottak",
                    "Virtuelt kontor med forretningsadresse, postmottak og telefonsvar",
                )
            )
        if r < 0.80:
            spots = 1 + int(rnd() * 3)
            return "Parkeringsplass i garasjen" if spots == 1 else f"{spots} parkeringsplasser i garasjen"
        if r < 0.88:
            return f"Lagerbod {(3, 4, 6, 8, 10)[int(rnd() * 5)]} m² i kjelleren"
        if r < 0.94:
            return "Resepsjonstjenester: telefonsvar, postmottak og gjestemottak"
        return f"Møteromsavtale, {(5, 10, 20)[int(rnd() * 3)]} timer per måned"

    def invoice_reference(first: str, last: str) -> str:
        r = rnd()
        if r < 0.30:
            return f"PO-{10000 + int(rnd() * 90000)}"
        if r < 0.50:
            return f"Ressursnr. {1000 + int(rnd() * 9000)}"
        if r < 0.65:
            return f"Kostnadssted {100 + int(rnd() * 900)}"
        if r < 0.80:
            return f"Prosjekt {today.year - int(rnd() * 5)}-{1 + int(rnd() * 300):03d}"
        return f"Att. {first} {last}"

    for i in range(count):
        r = rnd()
        kind = KINDS[0] if r < _KIND_SHARES[0] else KINDS[1] if r < _KIND_SHARES[1] else KINDS[2]
        business = kind != "one_time_customer"

        org: _Org | None = None
        if business:
            if pool and rnd() < (0.85 if kind == "business_representative" else 0.15):
                org = pool[int(rnd() * len(pool))]
            else:
                org = new_org()
        company_email = org is not None and rnd() < (0.75 if kind == "business_representative" else 0.6)

        if not company_email and rnd() < 0.35 and free_counter < free_space:  # until every combination is used
            # Decode the name, style and domain of a digit-free address from the next unused combination.
            combo = (free_a * free_counter + free_b) % free_space
            free_counter += 1
            combo, fi = divmod(combo, n_firsts)
            combo, li = divmod(combo, n_lasts)
            style, di = divmod(combo, n_domains)
            first, first_a, female = firsts[fi]
            last, last_a = lasts[li]
            email = f"{cased(_free_local(style, first_a, last_a))}@{domains[di]}"
        else:
            first, first_a, female = firsts[int(rnd() * n_firsts)]
            last, last_a = lasts[int(rnd() * n_lasts)]
            if company_email:
                assert org is not None
                used = org.locals_used
                s = rnd()
                local = f"{first_a}.{last_a}" if s < 0.6 else f"{first_a[0]}{last_a}" if s < 0.8 else first_a
                if local in used:  # a namesake at the same company gets a number, as mail systems do
                    n = 2
                    while f"{local}{n}" in used:
                        n += 1
                    local = f"{local}{n}"
                used.add(local)
                email = f"{cased(local)}@{org.domain}"
            else:
                # Any local part will do here: the suffix alone is unique, and no local part ends in a digit.
                s = rnd()
                if s < 0.45:
                    local = f"{first_a}.{last_a}"
                elif s < 0.6:
                    local = f"{first_a}{last_a}"
                elif s < 0.75:
                    local = f"{first_a[0]}{last_a}"
                elif s < 0.85:
                    local = f"{last_a}.{first_a}"
                else:
                    local = first_a
                email = f"{cased(local)}{suffix(i)}@{weighted_domains[int(rnd() * n_weighted)]}"

        m = rnd()
        if m < 0.07:
            middle = firsts[int(rnd() * n_firsts)]
            full_name = (
                f"{first} {middle[0]} {last}" if middle[2] == female and middle[0] != first else f"{first} {last}"
            )
        elif m < 0.14:
            full_name = f"{first} {lasts[int(rnd() * n_lasts)][0]} {last}"
        else:
            full_name = f"{first} {last}"

        values = {"full_name": full_name, "phone": phone(i), "email": email}
        if org is not None:
            number = org.number
            values["organisation_number"] = number if rnd() < 0.75 else f"{number[:3]} {number[3:6]} {number[6:]}"
            values["organisation_name"] = org.name

        reasons: dict[str, str] = {}
        for name, share, why in optional[kind]:
            if rnd() >= share:
                continue
            if name == "postal_address":
                value = address(STREETS[int(rnd() * len(STREETS))])
            elif name == "company_name":
                if org is not None:  # the department the customer orders for; [:-3] drops " AS" / " DA"
                    value = f"{org.name[:-3]}, avdeling {pick(DEPARTMENTS)}"
                else:  # a sole proprietorship ordering in its own name
                    value = f"{last} {pick(TRADES)} ENK"
            elif name == "national_id":
                value = national_id(female)
            elif name == "role":
                value = pick(ROLES)
            elif name == "billing_address":
                if org is not None and rnd() < 0.5:
                    area, postcode, place = PO_BOXES[int(rnd() * len(PO_BOXES))]
                    value = f"Postboks {1 + int(rnd() * 9000)} {area}, {postcode} {place}"
                else:
                    value = address(STREETS[int(rnd() * len(STREETS))])
            elif name == "invoice_reference":
                value = invoice_reference(first, last)
            else:  # a field the generator has no rule for stays absent
                continue
            values[name] = value
            reasons[name] = pick(why)

        day = int(rnd() * span_days)
        received_at = base + timedelta(days=day, seconds=18_000 + int(rnd() * 54_000))  # 05-20 UTC
        received_ord = base.toordinal() + day
        if kind == "one_time_customer":
            first_ord = min(received_ord + int(rnd() * 15), today_ord)
            rels: tuple[SyntheticRelationship, ...] = (
                SyntheticRelationship("order", date.fromordinal(first_ord), None, order_description()),
            )
            if rnd() < 0.3:
                later = first_ord + int(rnd() * (today_ord - first_ord + 1))
                rels += (SyntheticRelationship("order", date.fromordinal(later), None, order_description()),)
        elif kind == "contract_customer":
            start_ord = min(received_ord + int(rnd() * 46), today_ord)
            e = rnd()
            ends_on: date | None = None
            if e < 0.35 and today_ord - start_ord > 90:  # ended: lasted at least three months
                ends_on = date.fromordinal(start_ord + 90 + int(rnd() * (today_ord - start_ord - 90)))
            elif e >= 0.7:  # running with an agreed end
                ends_on = date.fromordinal(today_ord + 30 + int(rnd() * 700))
            rels = (SyntheticRelationship("contract", date.fromordinal(start_ord), ends_on, contract_description()),)
        else:
            rels = ()

        yield SyntheticSubject(kind, values, reasons, received_at, rels)


# Marketing choices of the demo customers: about two in five consent on some channel (a share customer
# registers with an opt-in at checkout commonly report), a few withdraw later, and a few object (Art. 21).
_CONSENT_SHARE = 0.42
_CHANNEL_SHARES = (0.4, 0.7)  # cumulative, among consenters: both channels, SMS only; the rest email only
_WITHDRAW_SHARE = 0.08  # of each consented channel
_OBJECTION_SHARE = 0.03  # of consenters: they objected to marketing after consenting
_METHODS = (("web", 0.6), ("phone", 0.85), ("paper", 1.0))  # how consent was given, cumulative


@dataclass(frozen=True, slots=True)
class SyntheticMarketing:
    """One demo customer's choices about marketing: where they consented, how, and what they took back."""

    channels: tuple[str, ...]  # consented on, in this order: "sms", "email"
    method: str  # web | phone | paper
    withdrawn: tuple[str, ...]  # of those channels, withdrawn later
    objected: bool  # objected to marketing after all that (Art. 21(2)): none reaches them any more


def marketing_choices(count: int, *, seed: int = 24) -> Iterator[SyntheticMarketing]:
    """The marketing choices of the first `count` customers `generate` yields for the same seed, one each.

    A random stream of its own, so the customers themselves (and every import file and benchmark register
    made from them) stay exactly what they were; prefix-stable like `generate`.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    return _marketing(count, seed)


def _marketing(count: int, seed: int) -> Iterator[SyntheticMarketing]:
    rng = random.Random(f"marketing-{seed}")  # a string seed is hashed (SHA-512): the same stream on every run
    for _ in range(count):
        # Six draws for everyone, so each customer's choices depend on its index only.
        consents, c, m, w_sms, w_email, o = (rng.random() for _ in range(6))
        if consents >= _CONSENT_SHARE:
            yield SyntheticMarketing((), "web", (), False)
            continue
        channels = ("sms", "email") if c < _CHANNEL_SHARES[0] else ("sms",) if c < _CHANNEL_SHARES[1] else ("email",)
        method = next(name for name, upto in _METHODS if m < upto)
        draws = {"sms": w_sms, "email": w_email}
        withdrawn = tuple(ch for ch in channels if draws[ch] < _WITHDRAW_SHARE)
        yield SyntheticMarketing(channels, method, withdrawn, o < _OBJECTION_SHARE)


def csv_rows(subjects: Iterable[SyntheticSubject], kind: str) -> tuple[list[str], Iterator[dict[str, str]]]:
    """Header (the fields `kind` can have, in policy order) and one row per subject of that kind.

    Absent fields are empty strings. Rows are produced lazily, so an import file of any size streams.
    """
    declared = load_policy().policy.fields_for(kind)
    if not declared:
        raise ValueError(f"the policy declares no fields for kind {kind!r}")
    header = list(declared)

    def rows() -> Iterator[dict[str, str]]:
        for subject in subjects:
            if subject.kind == kind:
                yield {name: subject.values.get(name, "") for name in header}

    return header, rows()
