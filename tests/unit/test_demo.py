"""The synthetic customer generator: deterministic, valid by construction, unique where the policy says so."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from stdnum.no import fodselsnummer

from personvern import demo
from personvern.demo import SyntheticSubject, csv_rows, generate
from personvern.domain.values import lookup_key, normalise
from personvern.policy import load_policy
from personvern.policy.schema import Collected

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def policy():
    return load_policy().policy


@pytest.fixture(scope="module")
def subjects() -> list[SyntheticSubject]:
    return list(generate(5_000))


@pytest.fixture(scope="module")
def many() -> list[SyntheticSubject]:
    return list(generate(50_000))


def test_same_seed_same_subjects_other_seed_others():
    assert list(generate(2_000, seed=7)) == list(generate(2_000, seed=7))
    assert list(generate(200, seed=7)) != list(generate(200, seed=8))


def test_first_subjects_do_not_depend_on_count():
    assert list(generate(300)) == list(itertools.islice(generate(3_000), 300))


def test_streams_without_building_the_whole_run():
    it = generate(1_000_000)
    assert isinstance(next(it), SyntheticSubject)


def test_count_out_of_range_refused():
    with pytest.raises(ValueError):
        generate(-1)
    with pytest.raises(ValueError):
        generate(demo.PHONE_CAPACITY + 1)
    assert list(generate(0)) == []


def test_every_value_passes_validation(policy, subjects):
    for s in subjects:
        for name, value in s.values.items():
            normalise(policy.fields[name].type, value, "NO")  # raises BadValue when invalid


def test_fields_match_the_kind_and_when_needed_fields_have_reasons(policy, subjects):
    for s in subjects:
        declared = policy.fields_for(s.kind)
        assert set(s.values) <= set(declared), s
        assert {n for n, spec in declared.items() if spec.required} <= set(s.values), s
        when_needed = {n for n in s.values if declared[n].collected is Collected.WHEN_NEEDED}
        assert set(s.reasons) == when_needed, s
        assert all(reason.strip() for reason in s.reasons.values())
        assert list(s.values) == [n for n in declared if n in s.values]  # policy order


def test_every_optional_field_appears_for_every_kind_that_declares_it(policy, subjects):
    seen = {(s.kind, name) for s in subjects for name in s.values}
    for kind in demo.KINDS:
        for name in policy.fields_for(kind):
            assert (kind, name) in seen, (kind, name)


def test_optional_fields_appear_sometimes_national_id_rarely(policy, subjects):
    shares = {}
    for kind in demo.KINDS:
        of_kind = [s for s in subjects if s.kind == kind]
        for name, spec in policy.fields_for(kind).items():
            if not spec.required:
                shares[kind, name] = sum(name in s.values for s in of_kind) / len(of_kind)
    for (_kind, name), share in shares.items():
        if name == "national_id":
            assert 0.005 < share < 0.04
        else:
            assert 0.08 < share < 0.35, (name, share)


def test_unique_fields_are_unique_after_normalisation(policy, many):
    unique = {name: spec.type for name, spec in policy.fields.items() if spec.unique}
    assert set(unique) == {"phone", "email", "national_id"}
    for name, field_type in unique.items():
        keys = [lookup_key(field_type, normalise(field_type, s.values[name])) for s in many if name in s.values]
        assert len(keys) == len(set(keys)), name
        assert keys


def test_kind_mix(many):
    shares = Counter(s.kind for s in many)
    assert abs(shares["one_time_customer"] / len(many) - 0.60) < 0.02
    assert abs(shares["contract_customer"] / len(many) - 0.25) < 0.02
    assert abs(shares["business_representative"] / len(many) - 0.15) < 0.02


def test_names_are_norwegian_with_special_letters(subjects):
    names = [s.values["full_name"] for s in subjects]
    assert any(ch in name for name in names for ch in "æøå")
    assert any(ch in name for name in names for ch in "ÆØÅ")
    assert any(len(name.split()) == 3 for name in names)  # middle names occur
    assert len(set(names)) > 2_000


def test_emails_are_ascii_and_varied(subjects):
    emails = [s.values["email"] for s in subjects]
    assert all(e.split("@")[0].isascii() for e in emails)
    domains = Counter(e.rsplit("@", 1)[1].lower() for e in emails)
    assert {"gmail.com", "online.no", "hotmail.com", "outlook.com"} <= set(domains)
    assert any(not re.search(r"\d", e) for e in emails)
    assert any(re.search(r"\d@", e) for e in emails)
    assert any(e != e.lower() for e in emails)
    reps = [s.values["email"].rsplit("@", 1)[1].lower() for s in subjects if s.kind == "business_representative"]
    public = {domain for domain, _ in demo.EMAIL_DOMAINS}
    at_company = sum(domain not in public for domain in reps)
    assert 0.5 < at_company / len(reps) < 0.95  # most representatives write from their company's domain


def test_phones_come_in_several_user_formats(subjects):
    shapes = Counter(re.sub(r"\d", "9", s.values["phone"]) for s in subjects)
    assert {"99999999", "999 99 999", "+99 999 99 999"} <= set(shapes)
    assert all(s.values["phone"].replace(" ", "").removeprefix("+47").removeprefix("0047")[0] in "49" for s in subjects)


def test_organisations_are_shared_and_consistent(subjects):
    business = [s for s in subjects if s.kind != "one_time_customer"]
    assert all(s.values["organisation_number"][0] in "89" for s in business)
    names: dict[str, set[str]] = {}
    for s in business:
        names.setdefault(s.values["organisation_number"].replace(" ", ""), set()).add(s.values["organisation_name"])
    assert all(len(n) == 1 for n in names.values())  # one number, one name
    assert len({frozenset(n) for n in names.values()}) == len(names)  # and no two organisations share a name
    contract_orgs = {
        s.values["organisation_number"].replace(" ", "") for s in business if s.kind == "contract_customer"
    }
    reps = Counter(
        s.values["organisation_number"].replace(" ", "") for s in business if s.kind == "business_representative"
    )
    linked = [org for org in reps if org in contract_orgs]
    assert len(linked) > 100
    assert any(reps[org] >= 2 for org in linked)  # several representatives of one contract customer


def test_national_ids_are_real_birth_dates(subjects):
    ids = [s.values["national_id"] for s in subjects if "national_id" in s.values]
    assert ids
    for value in ids:
        born = fodselsnummer.get_birth_date(value)
        assert 1940 <= born.year <= 2005
        assert int(value.replace(" ", "")[2:4]) <= 12  # no synthetic (+80) months


def test_received_at_within_six_years(subjects):
    earliest = datetime(2020, 11, 25, tzinfo=UTC)
    latest = datetime(2026, 11, 25, tzinfo=UTC)
    for s in subjects:
        assert s.received_at.tzinfo is UTC
        assert earliest <= s.received_at < latest


def test_relationships_follow_the_kind(subjects):
    ended = running = open_ended = 0
    for s in subjects:
        rels = s.relationships
        if s.kind == "one_time_customer":
            assert 1 <= len(rels) <= 2
            assert all(r.type == "order" and r.ends_on is None for r in rels)
            assert all(s.received_at.date() <= r.started_on <= TODAY for r in rels)
        elif s.kind == "contract_customer":
            (contract,) = rels
            assert contract.type == "contract"
            assert s.received_at.date() <= contract.started_on <= TODAY
            if contract.ends_on is None:
                open_ended += 1
            else:
                assert contract.ends_on > contract.started_on
                if contract.ends_on < TODAY:
                    ended += 1
                else:
                    running += 1
        else:
            assert rels == ()
        assert all(r.description.strip() for r in rels)
    assert ended and running and open_ended
    assert any(r.description.startswith("Kontorlokaler") for s in subjects for r in s.relationships)


def test_digit_free_email_local_parts_never_coincide():
    firsts = [demo._ascii(n).replace("-", "") for n in demo.FEMALE + demo.MALE]
    lasts = [demo._ascii(n) for n in demo.SURNAMES]
    assert len(set(firsts)) == len(firsts)
    assert len(set(lasts)) == len(lasts)
    locals_ = [demo._free_local(style, f, last) for style in range(3) for f in firsts for last in lasts]
    assert len(locals_) == len(set(locals_))


def test_company_domains_are_distinct_and_not_public_ones():
    domains = [demo._slug(p.format(stem)) + ".no" for stem in demo.ORG_STEMS for p in demo.ORG_PATTERNS]
    assert len(domains) == len(set(domains))
    public = [domain for domain, _ in demo.EMAIL_DOMAINS]
    assert len(public) == len(set(public))  # digit-free addresses rely on every public domain being listed once
    assert not set(domains) & set(public)


def test_csv_rows_header_and_rows(policy, subjects):
    for kind in demo.KINDS:
        header, rows = csv_rows(subjects, kind)
        assert header == list(policy.fields_for(kind))
        of_kind = [s for s in subjects if s.kind == kind]
        rows_list = list(rows)
        assert len(rows_list) == len(of_kind)
        for row, s in zip(rows_list, of_kind, strict=True):
            assert list(row) == header
            assert row == {name: s.values.get(name, "") for name in header}
    with pytest.raises(ValueError):
        csv_rows(subjects, "no_such_kind")


def test_csv_rows_streams():
    header, rows = csv_rows(generate(1_000_000), "business_representative")
    assert header[:3] == ["full_name", "phone", "email"]
    assert next(rows)["organisation_number"]


def test_today_on_a_leap_day():
    today = date(2028, 2, 29)
    for s in generate(500, today=today):
        assert datetime(2022, 2, 28, tzinfo=UTC) <= s.received_at < datetime(2028, 2, 29, tzinfo=UTC)
        assert all(r.started_on <= today for r in s.relationships)


# ------------------------------------------------------------------ marketing choices


def test_marketing_choices_are_deterministic_and_prefix_stable():
    assert list(demo.marketing_choices(2_000, seed=7)) == list(demo.marketing_choices(2_000, seed=7))
    assert list(demo.marketing_choices(300)) == list(itertools.islice(demo.marketing_choices(3_000), 300))
    assert list(demo.marketing_choices(300, seed=7)) != list(demo.marketing_choices(300, seed=8))
    with pytest.raises(ValueError):
        demo.marketing_choices(-1)


def test_a_realistic_share_consents_and_a_few_withdraw_or_object():
    choices = list(demo.marketing_choices(20_000))
    consenting = [c for c in choices if c.channels]
    assert 0.38 < len(consenting) / len(choices) < 0.46
    by_channel = Counter(ch for c in consenting for ch in c.channels)
    assert by_channel["sms"] > 0.6 * len(consenting) and by_channel["email"] > 0.6 * len(consenting)
    withdrawn = sum(len(c.withdrawn) for c in consenting) / sum(len(c.channels) for c in consenting)
    assert 0.05 < withdrawn < 0.11
    assert 0.01 < sum(c.objected for c in consenting) / len(consenting) < 0.05
    assert {c.method for c in consenting} == {"web", "phone", "paper"}
    for c in choices:
        assert set(c.withdrawn) <= set(c.channels)
        assert not c.objected or c.channels  # only someone who consented objects in the demo


def test_marketing_choices_leave_the_customers_as_they_were():
    # The customers (and so every import file and benchmark register made from them) do not change.
    assert list(generate(500)) == list(itertools.islice(generate(5_000), 500))
    first = next(generate(1))
    assert first.values["full_name"] and first.kind in demo.KINDS


def test_the_default_demo_shows_an_objection_or_two():
    # `make run` loads 200 customers with seed 24: the marketing examples should meet an objection (Art. 21).
    assert 1 <= sum(c.objected for c in demo.marketing_choices(200, seed=24)) <= 8
