"""The results of the server's operations as TypedDicts, for an integrator's type checker
(the typed facade, cti/clients/facade.py, returns them: ``client.calls.transfer(...)["to"]``).

Written from the result JSON Schemas of the registry (cti/server/registry.py; the schemas
beside each handler in cti/server/ops/, published as docs/contract/results.json): a
property the schema requires is a required key, any other is ``NotRequired``; a nullable
one is ``X | None``; an object the schema leaves open is ``dict[str, Any]``. A shape several
operations share is named after its constant in cti/server/ops/ (``AGENT_STATUS`` is
:class:`AgentStatus`). At run time the results are plain dicts, and like the schemas they
may carry more keys than named here. tests/clients/test_facade_types.py checks every key,
required or not, against the schemas, so these cannot drift from the server.

The module is about 930 lines and kept whole: declarations only, one TypedDict per result
shape in the order of the registry, which the drift test walks in one go.
"""
from typing import Any, NotRequired, TypedDict

__all__ = ["AgentStatus", "AgentForwardResult", "AgentListResult", "QueueStatusCallsItem",
           "QueueStatusAgentsItem", "QueueStatus", "QueueListResult", "BoardSummary",
           "BoardListResult", "SpanStatus", "PortStatus", "BoardShowResult", "Timeslot",
           "SpanShowResult", "SpanAlarmsResult", "SpanCountersResult", "SpanLoopbackResult",
           "SpanBertResult", "CallInfo", "CallListResult", "CallHangupResult", "CallTo",
           "CallSuperviseResult", "CallConsultResult", "CallAnswerResult",
           "CallPickupResult", "CallRecordResult", "CallMakeResult", "Campaign",
           "CampaignLoadResultRefusedItem", "CampaignLoadResult", "CampaignShowResult",
           "CampaignListResult", "CampaignNextResult", "CampaignDialResult",
           "CampaignSkipResult", "DncAddResult", "DncRemoveResult",
           "DncListResultNumbersItem", "DncListResult", "ChannelToneResult",
           "ChannelListenResult", "Period", "ReportLossesResult", "PingResult",
           "ServerStatsLatenessMs", "ServerStatsReplayRing", "ServerStats",
           "SnapshotResultIvrPorts", "SnapshotResult", "Event", "ReplayResult",
           "ServerSpeedResult", "ShutdownResult", "SpanBlockResult",
           "SpanR2traceResultCallsItem", "SpanR2traceResult", "PriListResultCallsItem",
           "PriListResultSpansItem", "PriListResult", "SpanCall", "PriAnswerResult",
           "SpanCallCause", "TraceStartResult", "TraceStopResult", "SimFaultResult",
           "SimLoopbackResult", "CablePair", "SimStatsResultCable", "SpanLine",
           "SimStatsResult", "SimCallResult", "SimHangupResult", "SimCallsResult",
           "SimTrafficResult", "SimDtmfResult", "SimPhoneResultCallerId", "SimPhoneResult",
           "AccountGroupsItem", "Account", "AdminAgentRemoveResult", "AdminAgentListResult",
           "GroupMembersItem", "Group", "AdminGroupRemoveResult", "AdminGroupListResult",
           "AuditRow", "AdminAuditResult", "AuthLoginResult", "ReloadSummaryAgents",
           "ReloadSummaryQueues", "ReloadSummaryFlows", "ReloadSummaryRouting",
           "ReloadSummarySettings", "ReloadSummary",
           "ClientKey", "KeyIssueResult", "KeyRevokeResult", "KeyListResult"]


class AgentStatus(TypedDict):
    agent: str
    state: str
    reason: str | None
    call: str | None
    extension: int | None


class AgentForwardResult(TypedDict):
    agent: str
    forward: str | None


class AgentListResult(TypedDict):
    agents: list[AgentStatus]


class QueueStatusCallsItem(TypedDict):
    call: str
    position: int
    waited: float
    priority: NotRequired[int]
    ringing: NotRequired[list[str]]
    ani: NotRequired[str | None]


class QueueStatusAgentsItem(TypedDict):
    agent: str
    state: str
    penalty: NotRequired[int]
    reason: NotRequired[str | None]
    call: NotRequired[str | None]
    busy_elsewhere: NotRequired[bool]


class QueueStatus(TypedDict):
    queue: str
    strategy: str
    calls: list[QueueStatusCallsItem]
    agents: list[QueueStatusAgentsItem]
    talking: list[str]
    waiting: int
    longest_wait: float
    counters: dict[str, Any]
    weight: NotRequired[float]
    ewt: NotRequired[float | None]
    aht: NotRequired[float | None]
    asa: NotRequired[float | None]


class QueueListResult(TypedDict):
    queues: list[QueueStatus]


class BoardSummary(TypedDict):
    name: str
    backend: str
    tick_ms: float
    spans: list[int]
    ports: list[str]
    alarms: dict[str, Any]
    simulated: bool


class BoardListResult(TypedDict):
    boards: list[BoardSummary]


class SpanStatus(TypedDict):
    span: int
    signalling: str
    law: str
    alarms: list[str]
    in_sync: bool
    counters: dict[str, Any]
    board: NotRequired[str]
    framing: NotRequired[str]
    coding: NotRequired[str]
    loopback: NotRequired[str | None]
    tx_ais: NotRequired[bool]
    crc4: bool


class PortStatus(TypedDict):
    port: int
    channel: str
    kind: str
    hook: NotRequired[str]
    ringing: NotRequired[bool]
    polarity: NotRequired[str]
    battery: NotRequired[bool]
    connected: NotRequired[bool]


class BoardShowResult(TypedDict):
    name: str
    backend: str
    tick_ms: float
    spans: list[int]
    ports: list[str]
    alarms: dict[str, Any]
    simulated: bool
    tick_count: int
    line_time: float
    span_status: list[SpanStatus]
    port_status: list[PortStatus]
    board: NotRequired[str]
    ticks: NotRequired[int]
    line_seconds: NotRequired[float]


class Timeslot(TypedDict):
    channel: str
    span: int
    timeslot: int
    kind: str
    signalling: str
    cas_rx: NotRequired[str]


class SpanShowResult(SpanStatus):
    """A span's status and its channels."""
    channels: list[Timeslot]


class SpanAlarmsResult(TypedDict):
    span: int
    alarms: list[str]
    in_sync: bool | None
    loopback: str | None


class SpanCountersResult(TypedDict):
    span: int
    counters: dict[str, Any]
    reset: bool


class SpanLoopbackResult(TypedDict):
    span: int
    loopback: str


class SpanBertResult(TypedDict):
    span: int
    pattern: str
    running: bool
    sync: bool
    bits: int
    errors: int
    ber: float | None
    sync_losses: int
    seconds: float


class CallInfo(TypedDict):
    call_id: str
    state: str
    trunk: str | None
    ani: str | None
    dnis: str | None
    queue: str | None
    agent: str | None
    data: dict[str, Any]
    start: float


class CallListResult(TypedDict):
    calls: list[CallInfo]
    counters: dict[str, Any]


class CallHangupResult(TypedDict):
    call_id: str
    state: str


class CallTo(TypedDict):
    call_id: str
    to: str | None
    data: dict[str, Any]


class CallSuperviseResult(TypedDict):
    call_id: str
    supervisor: str
    mode: str
    ringing: NotRequired[int | None]


class CallConsultResult(TypedDict):
    call_id: str
    consult: str
    to: str


class CallAnswerResult(TypedDict):
    call_id: str
    extension: int


class CallPickupResult(TypedDict):
    call_id: str
    agent: str


class CallRecordResult(TypedDict):
    call_id: str
    recording: bool


class CallMakeResult(TypedDict):
    call_id: str
    agent: str
    to: str


class Campaign(TypedDict):
    campaign: str
    mode: str
    state: str
    records: int
    by_state: dict[str, Any]
    attempts: int
    calls: list[str]
    config: dict[str, Any]


class CampaignLoadResultRefusedItem(TypedDict):
    index: int
    message: str
    field: NotRequired[str | None]


class CampaignLoadResult(TypedDict):
    campaign: str
    loaded: int
    records: list[int]
    refused: list[CampaignLoadResultRefusedItem]
    refused_count: int


class CampaignShowResult(TypedDict):
    campaign: str
    mode: str
    state: str
    records: int
    by_state: dict[str, Any]
    attempts: int
    calls: list[str]
    config: dict[str, Any]
    records_list: list[dict[str, Any]]
    attempts_list: list[dict[str, Any]]
    arrival_rate: NotRequired[float | None]


class CampaignListResult(TypedDict):
    campaigns: list[Campaign]
    reserved: dict[str, Any]


class CampaignNextResult(TypedDict):
    campaign: str
    agent: str
    record: dict[str, Any]


class CampaignDialResult(TypedDict):
    agent: str
    dialled: bool
    reason: NotRequired[str]
    campaign: NotRequired[str]
    record: NotRequired[int]
    number: NotRequired[str]
    call_id: NotRequired[str | None]


class CampaignSkipResult(TypedDict):
    agent: str
    skipped: bool


class DncAddResult(TypedDict):
    number: str
    added: bool


class DncRemoveResult(TypedDict):
    number: str
    removed: bool


class DncListResultNumbersItem(TypedDict):
    number: str
    added: NotRequired[float]
    reason: NotRequired[str | None]


class DncListResult(TypedDict):
    numbers: list[DncListResultNumbersItem]


class ChannelToneResult(TypedDict):
    channel: str
    dtmf: NotRequired[str]
    tone: NotRequired[str]
    freq: NotRequired[float]
    freq2: NotRequired[float]
    level: NotRequired[float]
    ms: NotRequired[int]
    law: NotRequired[str]
    rate: NotRequired[int]
    seconds: NotRequired[float]
    direction: NotRequired[str]
    complete: NotRequired[bool]
    ended: NotRequired[bool]
    audio: NotRequired[str]


class ChannelListenResult(TypedDict):
    channel: str
    law: str
    rate: int
    seconds: float
    direction: str
    complete: bool
    ended: bool
    audio: str


class Period(TypedDict):
    start: float
    end: float
    offered: int
    answered: int
    lost: dict[str, Any]
    lost_total: int
    arrived: NotRequired[int]
    trunk: NotRequired[dict[str, Any]]
    ivr: NotRequired[dict[str, Any]]
    advice: NotRequired[dict[str, Any] | None]


class ReportLossesResult(TypedDict):
    start: float
    end: float
    interval: float
    sla_seconds: float
    intervals: list[Period]
    totals: Period
    patience: NotRequired[dict[str, Any]]
    ivr_holding_time: NotRequired[float | None]
    peak: NotRequired[dict[str, Any] | None]
    advice: NotRequired[dict[str, Any] | None]
    targets: NotRequired[dict[str, Any]]


class PingResult(TypedDict):
    pong: bool
    protocol: int
    instance: str
    server: str | None
    boot: int | None
    pid: int
    board: str
    seq: int
    line_time: float
    tick_count: int
    ts: float
    starting: list[int]


class ServerStatsLatenessMs(TypedDict):
    p50: float | None
    p99: float | None
    max: float
    max_at_tick: int | None
    mean: float | None
    histogram: dict[str, Any]


class ServerStatsReplayRing(TypedDict):
    events: int
    bytes: int
    first_seq: int
    truncated_events: int


class ServerStats(TypedDict):
    ticks: int
    lateness_ms: ServerStatsLatenessMs
    overrun_ms: float
    overruns: int
    speed: float
    line_time: float
    listens: int
    replay_ring: ServerStatsReplayRing
    requests: NotRequired[int]
    busy: NotRequired[int]
    replies_dropped: NotRequired[int]
    listens_refused: NotRequired[int]
    reports_done: NotRequired[int]
    pending_requests: NotRequired[int]
    replies_waiting: NotRequired[int]
    reports_running: NotRequired[int]
    events_held: NotRequired[int]
    store: NotRequired[dict[str, Any]]
    gc_max_ms: NotRequired[float]
    tick_max_ms: NotRequired[float]


class SnapshotResultIvrPorts(TypedDict):
    total: int
    in_use: int


class SnapshotResult(TypedDict):
    seq: int
    ts: float
    line_time: float
    instance: str
    board: BoardSummary
    spans: list[SpanStatus]
    ports: list[PortStatus]
    channels: list[dict[str, Any]]
    server_errors: int
    server: ServerStats
    calls: NotRequired[list[dict[str, Any]]]
    agents: NotRequired[list[dict[str, Any]]]
    queues: NotRequired[list[dict[str, Any]]]
    ivr_ports: NotRequired[SnapshotResultIvrPorts]
    counters: NotRequired[dict[str, Any]]


class Event(TypedDict):
    seq: int
    ts: float
    type: str
    span: NotRequired[int | None]
    channel: NotRequired[str | None]
    data: NotRequired[Any]


class ReplayResult(TypedDict):
    events: list[Event]
    last_seq: int
    first_seq: int


class ServerSpeedResult(TypedDict):
    speed: float
    line_time: float


class ShutdownResult(TypedDict):
    stopping: bool
    seq: int


class SpanBlockResult(TypedDict):
    span: int
    timeslot: int | None
    blocked: bool


class SpanR2traceResultCallsItem(TypedDict):
    call: int
    trace: list[list[Any]]


class SpanR2traceResult(TypedDict):
    span: int
    calls: list[SpanR2traceResultCallsItem]


class PriListResultCallsItem(TypedDict):
    span: int
    call: int
    timeslot: int | None
    state: str


class PriListResultSpansItem(TypedDict):
    span: int
    side: str
    dchannel: str
    link_up: bool
    calls: int
    free_channels: int
    q921: dict[str, Any]
    q931: dict[str, Any]


class PriListResult(TypedDict):
    calls: list[PriListResultCallsItem]
    spans: list[PriListResultSpansItem]


class SpanCall(TypedDict):
    span: int
    call: int


class PriAnswerResult(TypedDict):
    span: int
    call: int
    answered: bool


class SpanCallCause(TypedDict):
    span: int
    call: int
    cause: int


class TraceStartResult(TypedDict):
    span: int
    until: float
    network_side: bool
    seq: int


class TraceStopResult(TypedDict):
    span: int
    stopped: bool
    seq: int


class SimFaultResult(TypedDict):
    span: int
    direction: str
    cleared: bool
    faults: dict[str, Any]
    active: dict[str, Any]


class SimLoopbackResult(TypedDict):
    span: int
    far_loopback: str


class CablePair(TypedDict):
    bits: int
    bit_errors: int
    code_errors: int
    frames_skew: int


class SimStatsResultCable(TypedDict):
    faults: dict[str, Any]
    to_exchange: CablePair
    to_board: CablePair


class SpanLine(TypedDict):
    span: int
    signalling: str
    law: str
    alarms: list[str]
    in_sync: bool
    counters: dict[str, Any]
    board: NotRequired[str]
    framing: NotRequired[str]
    coding: NotRequired[str]
    loopback: NotRequired[str | None]
    tx_ais: NotRequired[bool]


class SimStatsResult(TypedDict):
    span: int
    cable: SimStatsResultCable
    far_end: SpanLine


class SimCallResult(TypedDict):
    span: int
    exchange_call: int | None
    congested: bool
    state: str


class SimHangupResult(TypedDict):
    span: int
    exchange_call: int
    cause: int


class SimCallsResult(TypedDict):
    offered: int
    congested: int
    answered: int
    from_board: int
    cleared: dict[str, Any]
    calls: list[dict[str, Any]]


class SimTrafficResult(TypedDict):
    stopped: NotRequired[bool]
    profile: NotRequired[str]
    rate: NotRequired[float]
    peak: NotRequired[float]
    seconds: NotRequired[float]
    spans: NotRequired[list[int]]


class SimDtmfResult(TypedDict):
    channel: str
    digits: str


class SimPhoneResultCallerId(TypedDict):
    number: str | None
    name: str | None


class SimPhoneResult(TypedDict):
    port: int
    action: str
    ringing: bool
    off_hook: bool
    caller_id: SimPhoneResultCallerId | None


class AccountGroupsItem(TypedDict):
    group: str
    kind: str
    level: int


class Account(TypedDict):
    name: str
    role: str
    display_name: str
    agent: str | None
    extension: int | None
    disabled: bool
    password_set: bool
    pin_set: bool
    failed: int
    locked_until: float | None
    created: float
    changed: float
    groups: list[AccountGroupsItem]
    live: NotRequired[AgentStatus | None]


class AdminAgentRemoveResult(TypedDict):
    name: str
    removed: bool


class AdminAgentListResult(TypedDict):
    accounts: list[Account]


class GroupMembersItem(TypedDict):
    account: str
    level: int


class Group(TypedDict):
    name: str
    kind: str
    members: list[GroupMembersItem]


class AdminGroupRemoveResult(TypedDict):
    name: str
    removed: bool


class AdminGroupListResult(TypedDict):
    groups: list[Group]


class AuditRow(TypedDict):
    id: int
    ts: float
    name: str
    role: str
    source: str
    op: str
    args: dict[str, Any]
    refused: str | None


class AdminAuditResult(TypedDict):
    rows: list[AuditRow]


class AuthLoginResult(TypedDict):
    name: str
    role: str
    display_name: str
    agent: str | None
    extension: int | None
    groups: list[AccountGroupsItem]


class ReloadSummaryAgents(TypedDict):
    added: list[str]
    removed: list[str]
    changed: list[str]
    leaving: list[str]


class ReloadSummaryQueues(TypedDict):
    added: list[str]
    removed: list[str]
    changed: list[str]
    draining: list[str]


class ReloadSummaryFlows(TypedDict):
    added: list[str]
    removed: list[str]
    changed: list[str]


class ReloadSummaryRouting(TypedDict):
    added: list[str]
    removed: list[str]
    changed: list[str]


class ReloadSummarySettings(TypedDict):
    changed: list[str]


class ReloadSummary(TypedDict):
    source: str
    needs_restart: list[str]
    changed: bool
    agents: NotRequired[ReloadSummaryAgents]
    queues: NotRequired[ReloadSummaryQueues]
    flows: NotRequired[ReloadSummaryFlows]
    routing: NotRequired[ReloadSummaryRouting]
    settings: NotRequired[ReloadSummarySettings]


class ClientKey(TypedDict):
    """A client's CurveZMQ key as the store records it (``key.*``)."""
    public: str
    name: str
    role: str
    agent: str | None
    scopes: list[str]
    issued: float
    revoked: float | None


class KeyIssueResult(TypedDict):
    key: ClientKey
    server_key: str
    requests: NotRequired[str | None]
    events: NotRequired[str | None]


class KeyRevokeResult(TypedDict):
    key: ClientKey


class KeyListResult(TypedDict):
    keys: list[ClientKey]


# ---- the desk's data (cti/server/ops/desk.py) --------------------------------------------

class Message(TypedDict):
    id: int
    time: float
    sender: str
    recipient: str
    text: str
    read: float | None


class MsgSendResult(TypedDict):
    message: Message


class MsgListResult(TypedDict):
    agent: str
    messages: list[Message]
    unread: int


class BookEntry(TypedDict):
    id: int
    name: str
    number: str
    notes: str | None
    speed: str | None
    shared: bool


class BookEntryResult(TypedDict):
    entry: BookEntry


class BookListResult(TypedDict):
    agent: str
    entries: list[BookEntry]


class BookDialResult(TypedDict):
    call_id: str
    agent: str
    to: str
    name: str


class AgentHistoryCall(TypedDict):
    call_id: str
    start: float
    direction: str
    ani: str | None
    dnis: str | None
    outcome: str
    duration: float
    billsec: float
    queue: str | None
    wrapup_code: str | None
    wrapup_note: str | None


class AgentHistoryResult(TypedDict):
    agent: str
    calls: list[AgentHistoryCall]


class Customer(TypedDict):
    id: int
    name: str
    phone: str | None
    points: int
    email: str | None
    area: str | None
    notes: str | None


class Contact(TypedDict):
    call_id: str
    start: float
    direction: str
    agent: str | None
    queue: str | None
    outcome: str
    billsec: float
    wrapup_code: str | None
    wrapup_note: str | None


class CustomerShowResult(TypedDict):
    customer: Customer | None
    contacts: list[Contact]


class CustomerResult(TypedDict):
    customer: Customer


class CallWrapupResult(TypedDict):
    call_id: str
    code: str
    note: str | None


__all__ += ["Message", "MsgSendResult", "MsgListResult", "BookEntry", "BookEntryResult",
            "BookListResult", "BookDialResult", "AgentHistoryCall", "AgentHistoryResult",
            "Customer", "Contact", "CustomerShowResult", "CustomerResult", "CallWrapupResult"]
