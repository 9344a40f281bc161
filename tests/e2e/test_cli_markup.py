"""Every value is printed as text, never as terminal markup: names like `Kari [/x] Nordmann` print as typed."""

from __future__ import annotations

from tests.e2e.support import NOW, assert_ok, person

BROKEN = "Kari [/x] Nordmann"  # a closing tag with nothing open: Rich raised MarkupError on it
STYLED = "[bold red]Ola[/]"  # was printed as a styled «Ola»


def test_names_and_free_text_print_as_typed_in_every_command(pv_ready, tmp_path):
    kari = pv_ready.json("subject", "add", *person(1, full_name=BROKEN), "--now", NOW)["id"]
    ola = pv_ready.json("subject", "add", *person(2, full_name=STYLED), "--now", NOW)["id"]
    assert_ok(pv_ready("relationship", "start", kari, "--type", "order", "--description", STYLED, "--now", NOW))
    outputs = {}
    for name, args in {
        "subject show kari": ["subject", "show", kari],
        "subject show ola": ["subject", "show", ola],
        "subject list": ["subject", "list"],
    }.items():
        result = pv_ready(*args, "--now", NOW)
        assert_ok(result)
        outputs[name] = result.stdout
    assert BROKEN in outputs["subject show kari"] and STYLED in outputs["subject show kari"]
    assert STYLED in outputs["subject show ola"]
    assert BROKEN in outputs["subject list"] and STYLED in outputs["subject list"]

    assert_ok(pv_ready("object", kari, "--purpose", "marketing", "--reason", BROKEN, "--now", NOW))
    consent = pv_ready("consent", "show", kari, "--now", NOW)
    assert_ok(consent)

    breach = pv_ready.json(
        "breach", "add", "--description", BROKEN, "--discovered", NOW, "--cause", STYLED, "--now", NOW
    )
    for args in (["breach", "list"], ["breach", "show", breach["id"]]):
        result = pv_ready(*args, "--now", NOW)
        assert_ok(result)
        if args[1] == "show":
            assert BROKEN in result.stdout and STYLED in result.stdout

    request = pv_ready.json("request", "open", "--type", "access", "--subject", ola, "--now", NOW)
    out = tmp_path / "answer"
    assert_ok(pv_ready("request", "reject", request["id"], "--reason", BROKEN, "--out", str(out), "--now", NOW))
    shown = pv_ready("request", "show", request["id"], "--now", NOW)
    assert_ok(shown)
    assert BROKEN in shown.stdout
    assert_ok(pv_ready("request", "list", "--all", "--now", NOW))
