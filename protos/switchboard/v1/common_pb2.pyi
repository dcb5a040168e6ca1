import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_CHAT: _ClassVar[Channel]
    CHANNEL_VOICE: _ClassVar[Channel]
    CHANNEL_SMS: _ClassVar[Channel]
    CHANNEL_SOCIAL: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_RECORD: _ClassVar[Channel]
    CHANNEL_CUSTOM: _ClassVar[Channel]

class Presence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESENCE_UNSPECIFIED: _ClassVar[Presence]
    PRESENCE_AVAILABLE: _ClassVar[Presence]
    PRESENCE_BUSY: _ClassVar[Presence]
    PRESENCE_BUSY_DND: _ClassVar[Presence]
    PRESENCE_AWAY: _ClassVar[Presence]
    PRESENCE_OFFLINE: _ClassVar[Presence]
    PRESENCE_INACTIVE: _ClassVar[Presence]

class ConversationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_STATE_UNSPECIFIED: _ClassVar[ConversationState]
    CONVERSATION_STATE_OPEN: _ClassVar[ConversationState]
    CONVERSATION_STATE_ACTIVE: _ClassVar[ConversationState]
    CONVERSATION_STATE_WAITING: _ClassVar[ConversationState]
    CONVERSATION_STATE_WRAP_UP: _ClassVar[ConversationState]
    CONVERSATION_STATE_CLOSED: _ClassVar[ConversationState]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_CHAT: Channel
CHANNEL_VOICE: Channel
CHANNEL_SMS: Channel
CHANNEL_SOCIAL: Channel
CHANNEL_EMAIL: Channel
CHANNEL_RECORD: Channel
CHANNEL_CUSTOM: Channel
PRESENCE_UNSPECIFIED: Presence
PRESENCE_AVAILABLE: Presence
PRESENCE_BUSY: Presence
PRESENCE_BUSY_DND: Presence
PRESENCE_AWAY: Presence
PRESENCE_OFFLINE: Presence
PRESENCE_INACTIVE: Presence
CONVERSATION_STATE_UNSPECIFIED: ConversationState
CONVERSATION_STATE_OPEN: ConversationState
CONVERSATION_STATE_ACTIVE: ConversationState
CONVERSATION_STATE_WAITING: ConversationState
CONVERSATION_STATE_WRAP_UP: ConversationState
CONVERSATION_STATE_CLOSED: ConversationState

class Customer(_message.Message):
    __slots__ = ("id", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TimelineEntry(_message.Message):
    __slots__ = ("at", "kind", "detail", "queue_id", "agent_id", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    kind: str
    detail: str
    queue_id: str
    agent_id: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., detail: _Optional[str] = ..., queue_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("id", "work_stream_id", "channel", "customer", "context", "priority", "required_skills", "queue_id", "state", "agent_id", "offer_pending", "created_at", "timeline", "close_reason", "attributes", "severity")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class RequiredSkillsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    WORK_STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    OFFER_PENDING_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    work_stream_id: str
    channel: Channel
    customer: Customer
    context: _containers.ScalarMap[str, str]
    priority: int
    required_skills: _containers.ScalarMap[str, int]
    queue_id: str
    state: ConversationState
    agent_id: str
    offer_pending: bool
    created_at: _timestamp_pb2.Timestamp
    timeline: _containers.RepeatedCompositeFieldContainer[TimelineEntry]
    close_reason: str
    attributes: _containers.ScalarMap[str, str]
    severity: int
    def __init__(self, id: _Optional[str] = ..., work_stream_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., customer: _Optional[_Union[Customer, _Mapping]] = ..., context: _Optional[_Mapping[str, str]] = ..., priority: _Optional[int] = ..., required_skills: _Optional[_Mapping[str, int]] = ..., queue_id: _Optional[str] = ..., state: _Optional[_Union[ConversationState, str]] = ..., agent_id: _Optional[str] = ..., offer_pending: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeline: _Optional[_Iterable[_Union[TimelineEntry, _Mapping]]] = ..., close_reason: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., severity: _Optional[int] = ...) -> None: ...
# generated from common.proto, sha256 eece92780bbe230f1db51c50acc56b344a12d83358fd6358add7697b7662c2d0
