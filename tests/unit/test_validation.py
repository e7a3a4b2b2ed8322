"""DESIGN §3 field rules for scripts: bad input → InvalidInput naming the field; boundaries pass."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_es.domain import CronMetadata, HTTPMetadata, Script, ScriptType
from tests.support import strategies as s
from tests.unit.helpers import call, exactly_n_bytes, rejects
from tests.unit.helpers import new_script as create

BIG = settings(max_examples=8, deadline=None)
MIB = 1024 * 1024  # DESIGN's numbers, not the code's constants
control_chars = st.characters(categories=["Cc"]).filter(lambda c: c != "\x00")
whitespace = st.text(st.sampled_from(" \t\n\r\u3000\u2003"), max_size=3)
solid_chars = s.printable_chars.filter(lambda c: not c.isspace())


def cron(expression: str, timezone: str = "UTC") -> CronMetadata:
    return CronMetadata(cron_expression=expression, timezone=timezone)


@given(pad=whitespace, char=solid_chars)
def test_a_name_of_255_characters_after_stripping_is_accepted_and_stored_stripped(
    pad: str, char: str
) -> None:
    assert create(name=pad + char * 255 + pad).name == char * 255
    rejects("name", lambda: create(name=pad + char * 256 + pad))


@given(blank=whitespace)
def test_a_blank_name_is_rejected(blank: str) -> None:
    rejects("name", lambda: create(name=blank))


@given(name=s.names, control=control_chars)
def test_a_name_with_a_control_character_inside_is_rejected(name: str, control: str) -> None:
    rejects("name", lambda: create(name=f"x{control}{name}x"))


@given(char=s.safe_chars)
def test_a_description_may_have_4000_characters_but_not_4001(char: str) -> None:
    assert create(description=char * 4000).description == char * 4000
    rejects("description", lambda: create(description=char * 4001))


@BIG
@given(char=s.safe_chars)
def test_content_of_exactly_one_mebibyte_of_utf8_is_accepted_and_one_byte_more_is_not(
    char: str,
) -> None:
    content = exactly_n_bytes(char, MIB)
    assert create(content=content).content == content
    rejects("content", lambda: create(content=content + "a"))
    rejects("content", lambda: create().update_content(content + "a", uuid4()))


@given(raw=st.lists(s.tags_one, max_size=40).filter(lambda t: len(s.normalise_tags(t)) <= 32))
def test_tags_are_stripped_lower_cased_and_deduplicated_in_first_seen_order(raw: list[str]) -> None:
    assert create(tags=raw).tags == s.normalise_tags(raw)
    assert create().change_details(by_user=uuid4(), tags=raw).tags == s.normalise_tags(raw)


@given(raw=st.lists(s.tags_one, min_size=33, max_size=40, unique_by=lambda t: t.strip().lower()))
def test_32_distinct_tags_are_accepted_and_33_are_not(raw: list[str]) -> None:
    assert len(create(tags=raw[:32]).tags) == 32
    rejects("tags", lambda: create(tags=raw))


@given(char=solid_chars.filter(lambda c: len(c.lower()) == 1), pad=whitespace)
def test_a_tag_may_have_64_characters_but_not_65(char: str, pad: str) -> None:
    assert create(tags=[pad + char * 64 + pad]).tags == (char.lower() * 64,)
    rejects("tags", lambda: create(tags=[char * 65]))


@given(tag=s.tags_one, control=control_chars, blank=whitespace)
def test_blank_tags_and_tags_with_control_characters_are_rejected(
    tag: str, control: str, blank: str
) -> None:
    rejects("tags", lambda: create(tags=[tag, blank]))
    rejects("tags", lambda: create(tags=[f"a{control}{tag}b"]))


@pytest.mark.parametrize("tags", ["one-string", [1], [None], 7])
def test_tags_must_be_a_list_of_strings(tags: Any) -> None:
    rejects("tags", lambda: create(tags=tags))


@given(expression=s.cron_expressions, timezone=s.timezones)
def test_valid_five_field_cron_expressions_in_known_zones_are_accepted(
    expression: str, timezone: str
) -> None:
    script = create(type="cron", metadata={"cron_expression": expression, "timezone": timezone})
    assert script.metadata == cron(expression, timezone)


@given(
    fields=st.lists(st.sampled_from(["*", "1", "*/5"]), max_size=8).filter(lambda f: len(f) != 5)
)
def test_a_cron_expression_without_exactly_five_fields_is_rejected(fields: list[str]) -> None:
    rejects("cron_expression", lambda: cron(" ".join(fields)))


@given(minute=st.integers(60, 999), hour=st.integers(24, 999), garbage=st.text(max_size=6))
def test_a_cron_expression_with_out_of_range_or_garbage_fields_is_rejected(
    minute: int, hour: int, garbage: str
) -> None:
    rejects("cron_expression", lambda: cron(f"{minute} * * * *"))
    rejects("cron_expression", lambda: cron(f"0 {hour} * * *"))
    rejects("cron_expression", lambda: cron(f"0 0 * * 1{garbage}x"))


@given(name=s.safe_text.filter(lambda n: n not in s.TIMEZONES and n != "UTC"))
def test_a_timezone_unknown_to_zoneinfo_is_rejected(name: str) -> None:
    rejects("timezone", lambda: cron("* * * * *", name))


@pytest.mark.parametrize("name", sorted(s.NOT_ZONES))
def test_tzdata_files_that_are_not_iana_zones_are_rejected(name: str) -> None:
    rejects("timezone", lambda: cron("* * * * *", name))


@given(path=s.http_paths, method=s.methods_any_case)
def test_http_methods_are_case_insensitive_and_stored_upper_case(path: str, method: str) -> None:
    script = create(type="http", metadata={"path": path, "method": method})
    assert script.metadata == HTTPMetadata(path=path, method=method.upper())
    assert script.metadata.method == method.upper()


@given(method=st.text(max_size=8).filter(lambda m: m.upper() not in s.METHODS))
def test_other_http_methods_are_rejected(method: str) -> None:
    rejects("method", lambda: HTTPMetadata(path="/", method=method))


@given(char=s.path_chars)
def test_a_path_may_have_2048_characters_but_not_2049(char: str) -> None:
    assert HTTPMetadata(path="/" + char * 2047).path == "/" + char * 2047
    rejects("path", lambda: HTTPMetadata(path="/" + char * 2048))


@given(path=s.http_paths, bad=st.characters(categories=["Cc", "Zs", "Zl", "Zp"]))
def test_a_path_must_start_with_a_slash_and_hold_no_whitespace_or_control_characters(
    path: str, bad: str
) -> None:
    rejects("path", lambda: HTTPMetadata(path=path.lstrip("/") or "x"))
    rejects("path", lambda: HTTPMetadata(path=path + bad + "x"))
    rejects("path", lambda: create(type="http", metadata={"path": f"/a{bad}b"}))


@given(data=st.data(), type_=s.script_types, other=s.script_types)
def test_metadata_that_does_not_match_the_type_is_rejected(
    data: Any, type_: Any, other: Any
) -> None:
    if type_ is other:
        return
    model = data.draw(s.metadata_models[other])
    rejects("metadata", lambda: create(type=type_, metadata=model))
    dumped = model.model_dump()
    rejects("metadata", lambda: create(type=type_, metadata=dumped))
    rejects("metadata", lambda: create(type=type_, metadata=["not", "an", "object"]))
    script = create(type=type_, metadata=data.draw(s.metadata_for(type_)))
    rejects("metadata", lambda: call(script, lambda: script.change_metadata(model, uuid4())))


@given(type_=st.text(max_size=10).filter(lambda t: t not in {m.value for m in ScriptType}))
def test_an_unknown_script_type_is_rejected(type_: str) -> None:
    rejects("type", lambda: create(type=type_))


@given(script=s.scripts(), text=s.safe_text, position=st.integers(0, 60))
def test_a_rejected_change_leaves_the_script_as_it_was(
    script: Script, text: str, position: int
) -> None:
    nul = text[:position] + "\x00" + text[position:]
    user = uuid4()
    rejects("content", lambda: call(script, lambda: script.update_content(nul, user)))
    rejects("name", lambda: call(script, lambda: script.change_details(by_user=user, name=nul)))
    rejects("tags", lambda: call(script, lambda: script.change_details(by_user=user, tags=[nul])))
    bad = {"description": nul}
    rejects("description", lambda: call(script, lambda: script.change_details(by_user=user, **bad)))
