"""Why a message did not become an event: the reject reasons, each named once.

A reason is a plain string: it labels the ``driftwarden_events_rejected`` counter and the
dead-letter headers, so its text is part of the contracts (docs/contracts.md). The reason of a
message whose decoding raised, ``INTERNAL_ERROR``, belongs to :mod:`monitor.decode.isolate`.
"""

OVERSIZE = "oversize"
INVALID_JSON = "invalid_json"
NON_FINITE_NUMBER = "non_finite_number"
NOT_AN_OBJECT = "not_an_object"
WRONG_TYPE = "wrong_type"
MISSING_MODEL = "missing_model"
UNKNOWN_MODEL = "unknown_model"
MISSING_TIMESTAMP = "missing_timestamp"
INVALID_TIMESTAMP = "invalid_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"

#: The reasons of messages that break the event contract, in the order they are judged.
REJECT_REASONS = (
    OVERSIZE,
    INVALID_JSON,
    NON_FINITE_NUMBER,
    NOT_AN_OBJECT,
    WRONG_TYPE,
    MISSING_MODEL,
    UNKNOWN_MODEL,
    MISSING_TIMESTAMP,
    INVALID_TIMESTAMP,
    FUTURE_TIMESTAMP,
    UNKNOWN_SCHEMA_VERSION,
)
