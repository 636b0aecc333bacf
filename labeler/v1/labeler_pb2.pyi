from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Corner(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CORNER_UNSPECIFIED: _ClassVar[Corner]
    CORNER_TOP_LEFT: _ClassVar[Corner]
    CORNER_TOP_RIGHT: _ClassVar[Corner]
    CORNER_BOTTOM_LEFT: _ClassVar[Corner]
    CORNER_BOTTOM_RIGHT: _ClassVar[Corner]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_CONFIRMED: _ClassVar[Verdict]
    VERDICT_POSSIBLE: _ClassVar[Verdict]
    VERDICT_SUSPECTED: _ClassVar[Verdict]
    VERDICT_NONE: _ClassVar[Verdict]
CORNER_UNSPECIFIED: Corner
CORNER_TOP_LEFT: Corner
CORNER_TOP_RIGHT: Corner
CORNER_BOTTOM_LEFT: Corner
CORNER_BOTTOM_RIGHT: Corner
VERDICT_UNSPECIFIED: Verdict
VERDICT_CONFIRMED: Verdict
VERDICT_POSSIBLE: Verdict
VERDICT_SUSPECTED: Verdict
VERDICT_NONE: Verdict

class LabelConfig(_message.Message):
    __slots__ = ("content_producer", "produce_id", "no_visible", "no_metadata", "no_watermark", "label_text", "position", "watermark_id", "filename")
    CONTENT_PRODUCER_FIELD_NUMBER: _ClassVar[int]
    PRODUCE_ID_FIELD_NUMBER: _ClassVar[int]
    NO_VISIBLE_FIELD_NUMBER: _ClassVar[int]
    NO_METADATA_FIELD_NUMBER: _ClassVar[int]
    NO_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    LABEL_TEXT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    content_producer: str
    produce_id: str
    no_visible: bool
    no_metadata: bool
    no_watermark: bool
    label_text: str
    position: Corner
    watermark_id: int
    filename: str
    def __init__(self, content_producer: _Optional[str] = ..., produce_id: _Optional[str] = ..., no_visible: _Optional[bool] = ..., no_metadata: _Optional[bool] = ..., no_watermark: _Optional[bool] = ..., label_text: _Optional[str] = ..., position: _Optional[_Union[Corner, str]] = ..., watermark_id: _Optional[int] = ..., filename: _Optional[str] = ...) -> None: ...

class LabelRequest(_message.Message):
    __slots__ = ("config", "chunk")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    config: LabelConfig
    chunk: bytes
    def __init__(self, config: _Optional[_Union[LabelConfig, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class LabelResult(_message.Message):
    __slots__ = ("format", "width", "height", "content_producer", "produce_id", "watermark_id", "output_sha256", "output_bytes", "recorded", "result_json")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_PRODUCER_FIELD_NUMBER: _ClassVar[int]
    PRODUCE_ID_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHA256_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    format: str
    width: int
    height: int
    content_producer: str
    produce_id: str
    watermark_id: str
    output_sha256: str
    output_bytes: int
    recorded: bool
    result_json: str
    def __init__(self, format: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., content_producer: _Optional[str] = ..., produce_id: _Optional[str] = ..., watermark_id: _Optional[str] = ..., output_sha256: _Optional[str] = ..., output_bytes: _Optional[int] = ..., recorded: _Optional[bool] = ..., result_json: _Optional[str] = ...) -> None: ...

class LabelResponse(_message.Message):
    __slots__ = ("result", "chunk")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    result: LabelResult
    chunk: bytes
    def __init__(self, result: _Optional[_Union[LabelResult, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class VerifyConfig(_message.Message):
    __slots__ = ("user_declared", "filename")
    USER_DECLARED_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    user_declared: bool
    filename: str
    def __init__(self, user_declared: _Optional[bool] = ..., filename: _Optional[str] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("config", "chunk")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    config: VerifyConfig
    chunk: bytes
    def __init__(self, config: _Optional[_Union[VerifyConfig, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class WatermarkEvidence(_message.Message):
    __slots__ = ("checked", "detected", "watermark_id", "score", "false_positive_probability", "scale", "rotation_degrees", "mirrored", "right_angle_turns")
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    DETECTED_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    ROTATION_DEGREES_FIELD_NUMBER: _ClassVar[int]
    MIRRORED_FIELD_NUMBER: _ClassVar[int]
    RIGHT_ANGLE_TURNS_FIELD_NUMBER: _ClassVar[int]
    checked: bool
    detected: bool
    watermark_id: str
    score: float
    false_positive_probability: float
    scale: float
    rotation_degrees: float
    mirrored: bool
    right_angle_turns: int
    def __init__(self, checked: _Optional[bool] = ..., detected: _Optional[bool] = ..., watermark_id: _Optional[str] = ..., score: _Optional[float] = ..., false_positive_probability: _Optional[float] = ..., scale: _Optional[float] = ..., rotation_degrees: _Optional[float] = ..., mirrored: _Optional[bool] = ..., right_angle_turns: _Optional[int] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("verdict", "reason", "evidence", "metadata_present", "aigc_json", "watermark", "report_json")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_PRESENT_FIELD_NUMBER: _ClassVar[int]
    AIGC_JSON_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    reason: str
    evidence: _containers.RepeatedScalarFieldContainer[str]
    metadata_present: bool
    aigc_json: str
    watermark: WatermarkEvidence
    report_json: str
    def __init__(self, verdict: _Optional[_Union[Verdict, str]] = ..., reason: _Optional[str] = ..., evidence: _Optional[_Iterable[str]] = ..., metadata_present: _Optional[bool] = ..., aigc_json: _Optional[str] = ..., watermark: _Optional[_Union[WatermarkEvidence, _Mapping]] = ..., report_json: _Optional[str] = ...) -> None: ...

class PropagateConfig(_message.Message):
    __slots__ = ("content_propagator", "propagate_id", "user_declared", "position", "filename")
    CONTENT_PROPAGATOR_FIELD_NUMBER: _ClassVar[int]
    PROPAGATE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_DECLARED_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    content_propagator: str
    propagate_id: str
    user_declared: bool
    position: Corner
    filename: str
    def __init__(self, content_propagator: _Optional[str] = ..., propagate_id: _Optional[str] = ..., user_declared: _Optional[bool] = ..., position: _Optional[_Union[Corner, str]] = ..., filename: _Optional[str] = ...) -> None: ...

class PropagateRequest(_message.Message):
    __slots__ = ("config", "chunk")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    config: PropagateConfig
    chunk: bytes
    def __init__(self, config: _Optional[_Union[PropagateConfig, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class PropagateResult(_message.Message):
    __slots__ = ("verdict", "reason", "label_text", "media_changed", "aigc_json", "report_json", "output_bytes", "output_sha256")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LABEL_TEXT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_CHANGED_FIELD_NUMBER: _ClassVar[int]
    AIGC_JSON_FIELD_NUMBER: _ClassVar[int]
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHA256_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    reason: str
    label_text: str
    media_changed: bool
    aigc_json: str
    report_json: str
    output_bytes: int
    output_sha256: str
    def __init__(self, verdict: _Optional[_Union[Verdict, str]] = ..., reason: _Optional[str] = ..., label_text: _Optional[str] = ..., media_changed: _Optional[bool] = ..., aigc_json: _Optional[str] = ..., report_json: _Optional[str] = ..., output_bytes: _Optional[int] = ..., output_sha256: _Optional[str] = ...) -> None: ...

class PropagateResponse(_message.Message):
    __slots__ = ("result", "chunk")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    result: PropagateResult
    chunk: bytes
    def __init__(self, result: _Optional[_Union[PropagateResult, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...
