import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectRequest(_message.Message):
    __slots__ = ("agent_id", "presence", "custom_presence", "resume_after_sequence")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    presence: _common_pb2.Presence
    custom_presence: str
    resume_after_sequence: int
    def __init__(self, agent_id: _Optional[str] = ..., presence: _Optional[_Union[_common_pb2.Presence, str]] = ..., custom_presence: _Optional[str] = ..., resume_after_sequence: _Optional[int] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("sequence", "at", "offer", "assignment", "offer_withdrawn", "conversation_update", "agent_update", "agent")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    OFFER_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_UPDATE_FIELD_NUMBER: _ClassVar[int]
    AGENT_UPDATE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    at: _timestamp_pb2.Timestamp
    offer: Offer
    assignment: Assignment
    offer_withdrawn: OfferWithdrawn
    conversation_update: ConversationUpdate
    agent_update: AgentUpdate
    agent: AgentUpdate
    def __init__(self, sequence: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., offer: _Optional[_Union[Offer, _Mapping]] = ..., assignment: _Optional[_Union[Assignment, _Mapping]] = ..., offer_withdrawn: _Optional[_Union[OfferWithdrawn, _Mapping]] = ..., conversation_update: _Optional[_Union[ConversationUpdate, _Mapping]] = ..., agent_update: _Optional[_Union[AgentUpdate, _Mapping]] = ..., agent: _Optional[_Union[AgentUpdate, _Mapping]] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("conversation", "expires_at")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("conversation",)
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ...) -> None: ...

class OfferWithdrawn(_message.Message):
    __slots__ = ("conversation_id", "reason")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    reason: str
    def __init__(self, conversation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ConversationUpdate(_message.Message):
    __slots__ = ("conversation_id", "state", "reason")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    state: _common_pb2.ConversationState
    reason: str
    def __init__(self, conversation_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.ConversationState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class AgentUpdate(_message.Message):
    __slots__ = ("presence", "capacity_used", "capacity_total", "conversation_ids", "custom_presence")
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_USED_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    presence: _common_pb2.Presence
    capacity_used: int
    capacity_total: int
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    custom_presence: str
    def __init__(self, presence: _Optional[_Union[_common_pb2.Presence, str]] = ..., capacity_used: _Optional[int] = ..., capacity_total: _Optional[int] = ..., conversation_ids: _Optional[_Iterable[str]] = ..., custom_presence: _Optional[str] = ...) -> None: ...

class SetPresenceRequest(_message.Message):
    __slots__ = ("agent_id", "presence", "custom_presence")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    presence: _common_pb2.Presence
    custom_presence: str
    def __init__(self, agent_id: _Optional[str] = ..., presence: _Optional[_Union[_common_pb2.Presence, str]] = ..., custom_presence: _Optional[str] = ...) -> None: ...

class SetPresenceResponse(_message.Message):
    __slots__ = ("presence", "custom_presence")
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    presence: _common_pb2.Presence
    custom_presence: str
    def __init__(self, presence: _Optional[_Union[_common_pb2.Presence, str]] = ..., custom_presence: _Optional[str] = ...) -> None: ...

class AcceptOfferRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class AcceptOfferResponse(_message.Message):
    __slots__ = ("conversation",)
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ...) -> None: ...

class RejectOfferRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class RejectOfferResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DesktopEndConversationRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id", "close")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    close: bool
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., close: _Optional[bool] = ...) -> None: ...

class DesktopEndConversationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...

class CloseConversationRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class CloseConversationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPickableWorkRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class ListPickableWorkResponse(_message.Message):
    __slots__ = ("conversations",)
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Conversation]
    def __init__(self, conversations: _Optional[_Iterable[_Union[_common_pb2.Conversation, _Mapping]]] = ...) -> None: ...

class TakeWorkRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class TakeWorkResponse(_message.Message):
    __slots__ = ("conversation",)
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ...) -> None: ...

class ReleaseConversationRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class ReleaseConversationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...

class TransferConversationRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id", "to_agent_id", "to_queue_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TO_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    to_agent_id: str
    to_queue_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., to_agent_id: _Optional[str] = ..., to_queue_id: _Optional[str] = ...) -> None: ...

class TransferConversationResponse(_message.Message):
    __slots__ = ("state", "agent_id", "queue_id")
    STATE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    agent_id: str
    queue_id: str
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ..., agent_id: _Optional[str] = ..., queue_id: _Optional[str] = ...) -> None: ...

class ParkConversationRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class ParkConversationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...

class ResumeConversationRequest(_message.Message):
    __slots__ = ("agent_id", "conversation_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    conversation_id: str
    def __init__(self, agent_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class ResumeConversationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ConversationState
    def __init__(self, state: _Optional[_Union[_common_pb2.ConversationState, str]] = ...) -> None: ...
# generated from desktop.proto, sha256 0a100adec1d12d9c2ae9bd5f71dcc4c3346bee2611b95db1fb13de70534246c5
