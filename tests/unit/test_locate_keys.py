"""locate_keys: recovering the line of each key path from TOML text that tomllib parses without positions."""

from __future__ import annotations

import tomllib

from personvern.policy.loader import load_policy, locate_keys


def test_top_level_keys_and_table_headers() -> None:
    text = 'version = "1"\n\n[controller]\nname = "x"\n  city = "Oslo"\n'
    assert locate_keys(text) == {
        ("version",): 1,
        ("controller",): 3,
        ("controller", "name"): 4,
        ("controller", "city"): 5,
    }


def test_dotted_header_and_keys_below_it() -> None:
    text = "[fields.phone]\ntype = 'phone'\n[ fields . email ]\ntype = 'email'\n"
    lines = locate_keys(text)
    assert lines[("fields", "phone")] == 1
    assert lines[("fields", "phone", "type")] == 2
    assert lines[("fields", "email")] == 3
    assert lines[("fields", "email", "type")] == 4


def test_dotted_keys_with_spaces_and_quotes() -> None:
    text = '[a]\nlabel.nb = "x"\nlabel . en = "y"\n"odd key".sub = 1\n\'lit.eral\' = 2\n'
    lines = locate_keys(text)
    assert lines[("a", "label", "nb")] == 2
    assert lines[("a", "label", "en")] == 3
    assert lines[("a", "odd key", "sub")] == 4
    assert lines[("a", "lit.eral")] == 5


def test_quoted_header_with_a_dot_inside_is_one_key() -> None:
    lines = locate_keys('["quoted.key".z]\nw = 4\n')
    assert lines == {("quoted.key", "z"): 1, ("quoted.key", "z", "w"): 2}


def test_arrays_of_tables_get_their_index() -> None:
    text = "[[risk]]\nname = 'a'\n\n[[risk]]\nname = 'b'\n[[other.list]]\nk = 1\n[[risk]]\nname = 'c'\n"
    assert locate_keys(text) == {
        ("risk", 0): 1,
        ("risk", 0, "name"): 2,
        ("risk", 1): 4,
        ("risk", 1, "name"): 5,
        ("other", "list", 0): 6,
        ("other", "list", 0, "k"): 7,
        ("risk", 2): 8,
        ("risk", 2, "name"): 9,
    }


def test_subtable_of_an_array_of_tables_belongs_to_the_last_element() -> None:
    text = "[[x]]\na = 1\n[[x]]\na = 2\n[x.sub]\nb = 3\n"
    assert tomllib.loads(text)["x"][1]["sub"] == {"b": 3}
    lines = locate_keys(text)
    assert lines[("x", 1, "sub")] == 5
    assert lines[("x", 1, "sub", "b")] == 6


def test_inline_table_is_located_at_its_key() -> None:
    text = "[retention.r]\nkeep = { years = 10 }\nlabel = { nb = 'a', en = 'b' }\n"
    lines = locate_keys(text)
    assert lines[("retention", "r", "keep")] == 2
    assert lines[("retention", "r", "label")] == 3
    # The keys inside an inline table are not spelled on lines of their own: no entry of their own.
    assert ("retention", "r", "keep", "years") not in lines


def test_comments_and_hashes_inside_strings_do_not_confuse_it() -> None:
    text = '# a = 1\n[a] # [b]\nurl = "http://x#y = 2" # c = 3\nn = 1 # m = 2\n'
    assert locate_keys(text) == {("a",): 2, ("a", "url"): 3, ("a", "n"): 4}


def test_values_and_array_lines_are_not_keys() -> None:
    text = 'kinds = [\n  "one",\n  "two",\n]\nnext = 1\n'
    assert locate_keys(text) == {("kinds",): 1, ("next",): 5}


def test_first_occurrence_wins() -> None:
    lines = locate_keys("[a]\nx = 1\n[b]\n[a.c]\n")
    assert lines[("a",)] == 1


def test_lines_inside_a_multiline_string_are_not_keys() -> None:
    text = '[a]\ntext = """\nSee:\n[1] the law\nb = not a key\n"""\nb = 1\n'
    assert tomllib.loads(text)["a"]["b"] == 1
    assert locate_keys(text) == {("a",): 1, ("a", "text"): 2, ("a", "b"): 7}


def test_every_key_of_the_bundled_policy_is_located() -> None:
    text = load_policy().text
    lines = locate_keys(text)
    source = text.splitlines()

    def walk(table: dict[str, object], prefix: tuple[str, ...]) -> None:
        for key, value in table.items():
            path = (*prefix, key)
            if path not in lines and isinstance(value, dict):
                walk(value, path)  # a table only implied by [kinds.x] headers has no line of its own
                continue
            assert path in lines, path
            assert key in source[lines[path] - 1]
            # Inline tables are one line; their inner keys are found through the key that holds them.
            if isinstance(value, dict) and not source[lines[path] - 1].lstrip().startswith(f"{key} ="):
                walk(value, path)

    walk(tomllib.loads(text), ())
