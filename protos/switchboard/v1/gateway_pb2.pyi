import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchConversationsRequest(_message.Message):
    __slots__ = ("work_stream_ids",)
    WORK_STREAM_IDS_FIELD_NUMBER: _ClassVar[int]
    work_stream_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, work_stream_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchConversationsResponse(_message.Message):
    __slots__ = ("conversation_id", "work_stream_id", "state", "kind", "reason", "detail", "at", "queue_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    WORK_STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    work_stream_id: str
    state: _common_pb2.ConversationState
    kind: str
    reason: str
    detail: str
    at: _timestamp_pb2.Timestamp
    queue_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., work_stream_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.ConversationState, str]] = ..., kind: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., queue_id: _Optional[str] = ...) -> None: ...

class SubmitWorkRequest(_message.Message):
    __slots__ = ("work_stream_id", "customer", "context", "priority", "required_skills", "preferred_agent_ids", "client_key")
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
    WORK_STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_KEY_FIELD_NUMBER: _ClassVar[int]
    work_stream_id: str
    customer: _common_pb2.Customer
    context: _containers.ScalarMap[str, str]
    priority: int
    required_skills: _containers.ScalarMap[str, int]
    preferred_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    client_key: str
    def __init__(self, work_stream_id: _Optional[str] = ..., customer: _Optional[_Union[_common_pb2.Customer, _Mapping]] = ..., context: _Optional[_Mapping[str, str]] = ..., priority: _Optional[int] = ..., required_skills: _Optional[_Mapping[str, int]] = ..., preferred_agent_ids: _Optional[_Iterable[str]] = ..., client_key: _Optional[str] = ...) -> None: ...

class SubmitWorkResponse(_message.Message):
    __slots__ = ("conversation_id", "queue_id", "state")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    queue_id: str
    state: _common_pb2.ConversationState
    def __init__(self, conversation_id: _Optional[str] = ..., queue_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...

class GetConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class GetConversationResponse(_message.Message):
    __slots__ = ("conversation",)
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ...) -> None: ...

class AbandonConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "reason")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    reason: str
    def __init__(self, conversation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AbandonConversationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...

class GatewayEndConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class GatewayEndConversationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...

class RecordCustomerMessageRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class RecordCustomerMessageResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...
# generated from gateway.proto, sha256 70d13e63288d1af35eda008a54047ec54628cf15965a1259c119f8f1b9e0b2a7
