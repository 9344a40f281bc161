"""Customers' master data for the accounts: a SAF-T Financial 1.30 file (MasterFiles/Customers) and a CSV file.

The SAF-T file follows Skatteetaten's schema (Norwegian_SAF-T_Financial_Schema_v_1.30.xsd, namespace
urn:StandardAuditFile-Taxation-Financial:NO): the header names the company (organisation number, a contact
person with a telephone), and each customer is one `Customer` with the register's id as `CustomerID`. Only the
fields the caller gives are written, which are those the policy gives the recipient (Art. 5(1)(c), 28(3)(a)).
SAF-T has no national identity number, and none is ever written. Text longer than the schema allows is cut to
fit, and an email address too long for it is left out, both counted.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from personvern import __version__
from personvern.policy.schema import Policy
from personvern.reports.spreadsheet import cell as safe_cell

NS = "urn:StandardAuditFile-Taxation-Financial:NO"
VERSION = "1.30"
CURRENCY = "NOK"

# The schema's text types: SAFshorttextType 18, SAFmiddle1textType 35, SAFmiddle2textType 70, SAFlongtextType 256.
SHORT, MIDDLE1, MIDDLE2, LONG = 18, 35, 70, 256

# "Postboks 12, 0601 Oslo" or "Storgata 1\n0155 Oslo": the street part, a Norwegian postal code, the town.
ADDRESS = re.compile(r"^(?P<street>.+?)\s*[,\n]\s*(?P<code>\d{4})\s+(?P<city>\S.*)$", re.DOTALL)
STREET_NUMBER = re.compile(r"^(?P<name>.*\D)\s+(?P<number>\d+\s?[A-Za-z]?)$")


@dataclass(frozen=True)
class Customer:
    """One customer as the accounts see it: the register's id and the fields the recipient may have."""

    id: str
    values: Mapping[str, str]
    active: bool  # an order or contract in force today


@dataclass(frozen=True)
class Company:
    """The SAF-T header's company: the controller, as the policy's [controller] and [accounting] give it."""

    organisation_number: str
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    contact_name: str
    phone: str
    email: str | None = None
    website: str | None = None

    @classmethod
    def of(cls, policy: Policy) -> Company:
        c, a = policy.controller, policy.accounting
        assert a is not None, "the caller checks that the policy has [accounting]"
        return cls(
            a.organisation_number, c.name, c.address, c.postal_code, c.city, c.country, a.contact_name, a.phone,
            c.email, c.website,
        )  # fmt: skip


@dataclass
class Fitted:
    """What had to change to fit the schema: counted, so the command can say so."""

    shortened: int = 0
    emails_left_out: int = 0
    names: set[str] = field(default_factory=set)  # which fields were shortened

    def cut(self, name: str, value: str, limit: int) -> str:
        if len(value) <= limit:
            return value
        self.shortened += 1
        self.names.add(name)
        return value[:limit]


def split_name(full_name: str) -> tuple[str, str]:
    """First and last name: the last word is the family name (SAF-T's PersonNameStructure wants both)."""
    words = full_name.split()
    if len(words) < 2:
        return (words[0] if words else ""), ""
    return " ".join(words[:-1]), words[-1]


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        node.text = text
    return node


def _address(parent: ET.Element, text: str, kind: str, fit: Fitted) -> None:
    node = _sub(parent, "Address")
    found = ADDRESS.match(text.strip())
    street = found.group("street") if found else " ".join(text.split())
    numbered = STREET_NUMBER.match(street)
    if numbered:
        _sub(node, "StreetName", fit.cut("address", numbered.group("name").strip(), LONG))
        _sub(node, "Number", fit.cut("address", numbered.group("number"), MIDDLE2))
    else:
        _sub(node, "StreetName", fit.cut("address", street, LONG))
    if found:
        _sub(node, "City", fit.cut("address", " ".join(found.group("city").split()), LONG))
        _sub(node, "PostalCode", found.group("code"))
        _sub(node, "Country", "NO")  # four digits and a town: a Norwegian address
    _sub(node, "AddressType", kind)


def _person(parent: ET.Element, full_name: str, fit: Fitted) -> None:
    first, last = split_name(full_name)
    person = _sub(parent, "ContactPerson")
    _sub(person, "FirstName", fit.cut("full_name", first, MIDDLE1))
    _sub(person, "LastName", fit.cut("full_name", last, MIDDLE2))


def _header(root: ET.Element, company: Company, created: date, fit: Fitted) -> None:
    header = _sub(root, "Header")
    _sub(header, "AuditFileVersion", VERSION)
    _sub(header, "AuditFileCountry", "NO")
    _sub(header, "AuditFileDateCreated", created.isoformat())
    _sub(header, "SoftwareCompanyName", "personvern")
    _sub(header, "SoftwareID", "personvern")
    _sub(header, "SoftwareVersion", __version__[:SHORT])
    node = _sub(header, "Company")
    _sub(node, "RegistrationNumber", company.organisation_number)
    _sub(node, "Name", fit.cut("controller", company.name, LONG))
    address = _sub(node, "Address")
    _sub(address, "StreetName", fit.cut("controller", company.street, LONG))
    _sub(address, "City", fit.cut("controller", company.city, LONG))
    _sub(address, "PostalCode", fit.cut("controller", company.postal_code, MIDDLE2))
    _sub(address, "Country", company.country)
    contact = _sub(node, "Contact")
    _person(contact, company.contact_name, fit)
    _sub(contact, "Telephone", fit.cut("accounting", company.phone, SHORT))
    if company.email and len(company.email) <= MIDDLE2:
        _sub(contact, "Email", company.email)
    _sub(header, "DefaultCurrencyCode", CURRENCY)
    criteria = _sub(header, "SelectionCriteria")
    _sub(criteria, "SelectionStartDate", date(created.year, 1, 1).isoformat())
    _sub(criteria, "SelectionEndDate", created.isoformat())
    _sub(header, "HeaderComment", "MasterFiles/Customers")
    _sub(header, "TaxAccountingBasis", "A")


def _customer(parent: ET.Element, customer: Customer, labels: Mapping[str, str], fit: Fitted) -> None:
    v = customer.values
    node = _sub(parent, "Customer")
    organisation = v.get("organisation_name") or v.get("company_name")
    company = bool(v.get("organisation_number") or organisation)
    if v.get("organisation_number"):
        _sub(node, "RegistrationNumber", v["organisation_number"])
    name = (organisation if company else None) or v.get("full_name") or customer.id
    _sub(node, "Name", fit.cut("name", name, LONG))
    if v.get("billing_address"):
        _address(node, v["billing_address"], "BillingAddress", fit)
    if v.get("full_name"):
        contact = _sub(node, "Contact")
        _person(contact, v["full_name"], fit)
        email = v.get("email")
        if email and len(email) <= MIDDLE2:
            _sub(contact, "Email", email)
        elif email:
            fit.emails_left_out += 1  # cutting an address would write a wrong one
    _sub(node, "CustomerID", customer.id)
    party = _sub(node, "PartyInfo")
    _sub(party, "CurrencyCode", CURRENCY)
    _sub(party, "Type", "Company" if company else "Private")
    _sub(party, "Status", "Active" if customer.active else "Passive")
    if v.get("invoice_reference"):
        _sub(party, "Notes", f"{labels.get('invoice_reference', 'invoice_reference')}: {v['invoice_reference']}")


def saft_customers(
    customers: Sequence[Customer], company: Company, created: date, labels: Mapping[str, str]
) -> tuple[bytes, Fitted]:
    """The SAF-T file (UTF-8 XML) with the header and MasterFiles/Customers; `labels`: field names in words."""
    ET.register_namespace("", NS)
    fit = Fitted()
    root = ET.Element(f"{{{NS}}}AuditFile")
    _header(root, company, created, fit)
    masters = _sub(root, "MasterFiles")
    if customers:
        listed = _sub(masters, "Customers")
        for customer in customers:
            _customer(listed, customer, labels, fit)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n", fit


def customers_csv(customers: Sequence[Customer], fields: Sequence[str]) -> bytes:
    """One customer per line: id, type, status, then the fields in the policy's order. UTF-8 with a byte order
    mark, so that a spreadsheet reads Norwegian letters right; no cell is ever run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["customer_id", "type", "status", *fields])
    for c in customers:
        company = bool(c.values.get("organisation_number") or c.values.get("organisation_name"))
        company = company or bool(c.values.get("company_name"))
        row = [c.id, "company" if company else "private", "active" if c.active else "passive"]
        writer.writerow([safe_cell(cell) for cell in [*row, *(c.values.get(f, "") for f in fields)]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
