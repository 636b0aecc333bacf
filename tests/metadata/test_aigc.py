"""The AIGC label model: strict writing, tolerant reading that names every deviation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.metadata.aigc import FIELD_NAMES, LABEL_MEANINGS, AigcLabel, parse_aigc_json


def test_to_dict_has_the_standard_keys_in_order(label: AigcLabel) -> None:
    assert list(label.to_dict()) == [
        "Label",
        "ContentProducer",
        "ProduceID",
        "ReservedCode1",
        "ContentPropagator",
        "PropagateID",
        "ReservedCode2",
    ]
    assert tuple(label.to_dict()) == FIELD_NAMES
    assert all(isinstance(value, str) for value in label.to_dict().values())


def test_to_json_is_compact_and_keeps_non_ascii() -> None:
    label = AigcLabel(label="1", content_producer="某某科技", produce_id="x")
    text = label.to_json()
    assert text.startswith('{"Label":"1","ContentProducer":"某某科技","ProduceID":"x",')
    assert " " not in text and "\\u" not in text
    assert json.loads(text) == label.to_dict()


def test_with_propagator_keeps_the_producer_fields(label: AigcLabel) -> None:
    propagated = label.with_propagator("platform-co", "post-9", "sig")
    assert propagated.content_producer == label.content_producer and propagated.produce_id == label.produce_id
    assert (propagated.content_propagator, propagated.propagate_id, propagated.reserved_code2) == (
        "platform-co",
        "post-9",
        "sig",
    )
    assert label.content_propagator == ""  # frozen: the original is unchanged


def test_label_meanings() -> None:
    assert LABEL_MEANINGS == {"1": "AI-generated", "2": "possibly AI-generated", "3": "suspected AI-generated"}
    assert AigcLabel("3", "p", "i").meaning == "suspected AI-generated"
    assert AigcLabel("9", "p", "i").meaning is None


def test_parse_a_compliant_label(label: AigcLabel) -> None:
    parsed = parse_aigc_json(label.to_json())
    assert parsed.label == label and parsed.problems == () and parsed.compliant
    assert parsed.raw == label.to_dict()


def test_numbers_and_casing_are_tolerated_and_reported() -> None:
    parsed = parse_aigc_json('{"label": 1, "contentProducer": "p", "Produce_ID": 12.0, "reservedcode1": null}')
    assert parsed.label is not None
    assert (parsed.label.label, parsed.label.content_producer, parsed.label.produce_id) == ("1", "p", "12")
    assert parsed.label.reserved_code1 == ""
    problems = " | ".join(parsed.problems)
    assert "'label' should be spelled 'Label'" in problems
    assert "Label is a number" in problems and "ProduceID is a number" in problems
    assert "ReservedCode1 is null" in problems
    assert "ContentPropagator is missing" in problems
    assert not parsed.compliant


def test_missing_optional_keys_are_listed_but_parsed() -> None:
    parsed = parse_aigc_json('{"Label":"1","ContentProducer":"doubao","ProduceID":"private-id"}')
    assert parsed.label == AigcLabel("1", "doubao", "private-id")
    assert len(parsed.problems) == 4
    assert all("missing" in problem for problem in parsed.problems)


@pytest.mark.parametrize(
    "text",
    [
        '\ufeff {"Label":"2","ContentProducer":"a","ProduceID":"b"}\n',
        b'\xef\xbb\xbf{"Label":"2","ContentProducer":"a","ProduceID":"b"}',
        '  {"Label":"2","ContentProducer":"a","ProduceID":"b"}\x00\x00',
    ],
)
def test_bom_whitespace_and_padding(text: str | bytes) -> None:
    parsed = parse_aigc_json(text)
    assert parsed.label is not None and parsed.label.label == "2" and parsed.label.produce_id == "b"


def test_utf16_bytes_are_decoded_and_reported() -> None:
    parsed = parse_aigc_json('{"Label":"1","ContentProducer":"a","ProduceID":"b"}'.encode("utf-16"))
    assert parsed.label is not None and any("UTF-16" in p for p in parsed.problems)


def test_escaped_and_double_encoded_json() -> None:
    escaped = parse_aigc_json("{&quot;Label&quot;:&quot;1&quot;,&quot;ContentProducer&quot;:&quot;x&quot;}")
    assert escaped.label is not None and escaped.label.content_producer == "x"
    assert any("escaped" in p for p in escaped.problems)
    wrapped = parse_aigc_json(json.dumps('{"Label":"3","ContentProducer":"y","ProduceID":"z"}'))
    assert wrapped.label is not None and wrapped.label.label == "3"
    assert any("encoded twice" in p for p in wrapped.problems)


def test_unexpected_and_duplicate_keys_and_bad_codes() -> None:
    parsed = parse_aigc_json(
        '{"Label":" 4 ","label":"1","ContentProducer":"","ProduceID":["a"],"Model":"x",'
        '"ReservedCode1":"","ContentPropagator":"","PropagateID":"","ReservedCode2":{"k":true}}'
    )
    assert parsed.label is not None and parsed.label.label == "4"
    assert parsed.label.produce_id == '["a"]' and parsed.label.reserved_code2 == '{"k":true}'
    problems = " | ".join(parsed.problems)
    assert "surrounding whitespace" in problems
    assert "not one of the standard's codes" in problems
    assert "Label appears more than once" in problems
    assert "unexpected key 'Model'" in problems
    assert "ContentProducer is empty" in problems
    assert "ProduceID is a JSON array" in problems and "ReservedCode2 is a JSON object" in problems


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object (it is a JSON array)"),
        ('"just a string"', "not a JSON object (it is a JSON string)"),
        ("42", "not a JSON object (it is a JSON number)"),
        ('{"ContentProducer":"x"}', "no Label key"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_unusable_texts_give_no_label(text: str, reason: str) -> None:
    parsed = parse_aigc_json(text)
    assert parsed.label is None
    assert any(reason in problem for problem in parsed.problems)


def test_no_label_keeps_the_raw_object() -> None:
    parsed = parse_aigc_json('{"ContentProducer":"x"}')
    assert parsed.raw == {"ContentProducer": "x"}


_text = st.text(max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["1", "2", "3"]), _text, _text, _text, _text, _text, _text)
def test_json_round_trip(label: str, producer: str, pid: str, r1: str, prop: str, prop_id: str, r2: str) -> None:
    original = AigcLabel(label, producer, pid, r1, prop, prop_id, r2)
    parsed = parse_aigc_json(original.to_json())
    assert parsed.label == original
    if producer.strip() and pid.strip():
        assert parsed.problems == ()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_parse_never_raises_on_arbitrary_input(text: str | bytes) -> None:
    parsed = parse_aigc_json(text)
    assert parsed.label is None or isinstance(parsed.label, AigcLabel)
    assert all(isinstance(problem, str) for problem in parsed.problems)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["Label", "label", "LABEL", "ContentProducer", "ProduceID", "X", "PropagateID"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.lists(st.integers())),
    )
)
def test_parse_never_raises_on_odd_objects(obj: dict[str, object]) -> None:
    parse_aigc_json(json.dumps(obj))


def test_object_wrapped_in_an_aigc_key_is_unwrapped() -> None:
    parsed = parse_aigc_json('{"AIGC":{"Label":"1","ContentProducer":"p","ProduceID":"i"}}')
    assert parsed.label is not None and parsed.label.produce_id == "i"
    assert any("wrapped in a 'AIGC' key" in p for p in parsed.problems)
    as_string = parse_aigc_json(json.dumps({"aigc": '{"Label":"2","ContentProducer":"p","ProduceID":"i"}'}))
    assert as_string.label is not None and as_string.label.label == "2"
    assert parse_aigc_json('{"AIGC":"yes"}').label is None
