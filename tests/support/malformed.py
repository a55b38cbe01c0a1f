"""A corpus of malformed prediction messages, each with the reject reason it must get."""

from __future__ import annotations

import time

_OK = b'"model":"m","timestamp":1000'
FUTURE_MS = int(time.time() * 1000) + 10 * 86_400_000

CORPUS: list[tuple[bytes, str]] = [
    (b"", "invalid_json"),
    (b"{", "invalid_json"),
    (b'{"model": "m"} trailing', "invalid_json"),
    (b"\xff\xfe\x00binary", "invalid_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b"42", "not_an_object"),
    (b'"text"', "not_an_object"),
    (b"null", "not_an_object"),
    (b"{" + _OK + b',"features":{"x":NaN}}', "non_finite_number"),
    (b"{" + _OK + b',"features":{"x":Infinity}}', "non_finite_number"),
    (b"{" + _OK + b',"features":"x=1"}', "wrong_type"),
    (b"{" + _OK + b',"features":{"x":{"nested":1}}}', "wrong_type"),
    (b"{" + _OK + b',"features":{"x":[1,2]}}', "wrong_type"),
    (b'{"model":"m","timestamp":true,"features":{}}', "wrong_type"),
    (b'{"model":7,"timestamp":1000,"features":{}}', "wrong_type"),
    (b"{" + _OK + b',"segments":["ios"]}', "wrong_type"),
    (b"{" + _OK + b',"prediction":[0.1]}', "wrong_type"),
    (b'{"model":"other","timestamp":1000}', "unknown_model"),
    (b'{"timestamp":1000,"features":{}}', "missing_model"),
    (b'{"model":"m","features":{}}', "missing_timestamp"),
    (b'{"model":"m","timestamp":"yesterday"}', "invalid_timestamp"),
    (b'{"model":"m","timestamp":"2500-01-01T00:00:00Z"}', "invalid_timestamp"),
    (b'{"model":"m","timestamp":%d}' % FUTURE_MS, "future_timestamp"),
    (b"{" + _OK + b',"schema_version":2}', "unknown_schema_version"),
    (b"{" + _OK + b',"pad":"' + b"x" * 20_000 + b'"}', "oversize"),
]
