"""A first walk through the CLI on both databases: init, add, show, duplicate refused."""

from __future__ import annotations

KARI = ["--set", "full_name=Kari Nordmann", "--set", "phone=912 34 567", "--set", "email=Kari@Example.no"]


def test_add_show_and_refuse_duplicate(pv_ready):
    created = pv_ready.json("subject", "add", "--kind", "one_time_customer", *KARI)
    shown = pv_ready.json("subject", "show", "--email", "KARI@example.no")
    assert shown["id"] == created["id"]
    assert shown["values"]["phone"] == "+4791234567"
    again = pv_ready("subject", "add", "--kind", "one_time_customer", *KARI)
    assert again.exit_code == 5
    assert created["id"] in again.stderr
    assert "Traceback" not in again.stderr
