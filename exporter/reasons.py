"""Every value of the ``reason`` label, in one place (bounded by construction; documented in docs/metrics.md)."""

REASONS = {
    "timeout": "connected, but no complete answer within `timeout` (retried only on a device that answered "
               "something else this round)",
    "connect_timeout": "no connection within `connect_timeout`: the TCP or TLS handshake was not answered (a lost "
                       "site, a firewall dropping packets; stops the round, not retried)",
    "dns": "the device's name does not resolve (stops the round, not retried)",
    "connection": "connection refused, or the connection was lost (stops the round)",
    "tls": "the device's certificate is not trusted or the TLS handshake failed (not retried; stops the round)",
    "auth_failed": "xivo-auth refused the credentials or the backend (never retried; stops the round)",
    "auth_unavailable": "xivo-auth is down or unreachable (services answer 503): not the PBX itself",
    "ami_error": "amid answered an AMI error (Response: Error), e.g. a missing amid.action ACL",
    "http_400": "HTTP 400 `fail - ...`, also the device's answer to concurrent requests (retried)",
    "http_401": "HTTP 401: VSXi `User Not Authorized` (wrong credentials), or a XiVO token refused even after "
                "re-authenticating (missing ACL); never retried; stops the round",
    "http_402": "HTTP 402 `Load-Balance Slave mode`: HA standby node (stops the round; see vsxi_standby)",
    "http_429": "HTTP 429 Too Many Requests: with Retry-After, no request is sent to the device before then "
                "(at most 10 minutes; see vsxi_xivo_exporter_backoff_until_timestamp_seconds)",
    "http_4xx": "another 4xx status",
    "http_5xx": "a 5xx status (retried)",
    "http_other": "a redirect or other non-200 status",
    "json_jaxb": "HTTP 500 `convert xml2json failed(JAXB)`: the table is polled as XML from then on",
    "too_large": "the answer exceeds `max_response_bytes` (counted decompressed), or decompresses more than "
                 "200:1 (a decompression bomb)",
    "memory_budget": "the answers being read already hold `global.max_in_flight_bytes`: this one was dropped "
                     "part-way (other devices sending huge answers; retried next round)",
    "series_limit": "the answer would take the target over `max_series`: its series are dropped until it fits",
    "invalid_payload": "malformed XML or JSON (truncated body, not XML nor JSON)",
    "degenerate_payload": "a well-formed answer that holds no stats: `{}`, an empty database, an HTML page, "
                          "the wrong table",
    "parser_error": "a bug in the exporter's parser (logged with a traceback; please report)",
    "round_overrun": "not polled: the round already took the whole interval",
}
