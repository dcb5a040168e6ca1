import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueueStatus(_message.Message):
    __slots__ = ("queue_id", "priority", "assignment_method", "member_ids", "waiting_ids", "longest_wait", "members_by_presence")
    class MembersByPresenceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    WAITING_IDS_FIELD_NUMBER: _ClassVar[int]
    LONGEST_WAIT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_BY_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    queue_id: str
    priority: int
    assignment_method: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    waiting_ids: _containers.RepeatedScalarFieldContainer[str]
    longest_wait: _duration_pb2.Duration
    members_by_presence: _containers.ScalarMap[str, int]
    def __init__(self, queue_id: _Optional[str] = ..., priority: _Optional[int] = ..., assignment_method: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ..., waiting_ids: _Optional[_Iterable[str]] = ..., longest_wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., members_by_presence: _Optional[_Mapping[str, int]] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("agent_id", "name", "presence", "capacity_used", "capacity_total", "conversation_ids", "offered_ids", "queue_ids", "skills", "connected", "custom_presence", "capacity_profiles_used", "capacity_profile_limits", "over_capacity")
    class SkillsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class CapacityProfilesUsedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class CapacityProfileLimitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_USED_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    OFFERED_IDS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_IDS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROFILES_USED_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROFILE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    OVER_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    name: str
    presence: _common_pb2.Presence
    capacity_used: int
    capacity_total: int
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    offered_ids: _containers.RepeatedScalarFieldContainer[str]
    queue_ids: _containers.RepeatedScalarFieldContainer[str]
    skills: _containers.ScalarMap[str, int]
    connected: bool
    custom_presence: str
    capacity_profiles_used: _containers.ScalarMap[str, int]
    capacity_profile_limits: _containers.ScalarMap[str, int]
    over_capacity: bool
    def __init__(self, agent_id: _Optional[str] = ..., name: _Optional[str] = ..., presence: _Optional[_Union[_common_pb2.Presence, str]] = ..., capacity_used: _Optional[int] = ..., capacity_total: _Optional[int] = ..., conversation_ids: _Optional[_Iterable[str]] = ..., offered_ids: _Optional[_Iterable[str]] = ..., queue_ids: _Optional[_Iterable[str]] = ..., skills: _Optional[_Mapping[str, int]] = ..., connected: _Optional[bool] = ..., custom_presence: _Optional[str] = ..., capacity_profiles_used: _Optional[_Mapping[str, int]] = ..., capacity_profile_limits: _Optional[_Mapping[str, int]] = ..., over_capacity: _Optional[bool] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[QueueStatus]
    def __init__(self, queues: _Optional[_Iterable[_Union[QueueStatus, _Mapping]]] = ...) -> None: ...

class GetQueueRequest(_message.Message):
    __slots__ = ("queue_id",)
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    queue_id: str
    def __init__(self, queue_id: _Optional[str] = ...) -> None: ...

class GetQueueResponse(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: QueueStatus
    def __init__(self, queue: _Optional[_Union[QueueStatus, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentStatus]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentStatus, _Mapping]]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class GetAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: AgentStatus
    def __init__(self, agent: _Optional[_Union[AgentStatus, _Mapping]] = ...) -> None: ...

class AssignConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "agent_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    agent_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class AssignConversationResponse(_message.Message):
    __slots__ = ("conversation", "over_capacity")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    OVER_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    over_capacity: str
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ..., over_capacity: _Optional[str] = ...) -> None: ...
# generated from supervisor.proto, sha256 836134b5b76c2c0814b232751de005b07046803f1716e51fe0206e29bee5bace
