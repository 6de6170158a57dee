"""Decodes OTLP JSON Lines with the official Python bindings.

Usage: decode_lines.py FILE

FILE holds what a portable guest wrote, among other output. Each line
that starts with `{"resource` must be one TracesData, LogsData or
MetricsData object in the OTLP JSON mapping; it is parsed strictly
(unknown fields are errors) with the opentelemetry-proto package from
PyPI. Other lines are counted and skipped. Prints one JSON object with
the spans, log records and metric names read. Exits non-zero, naming the
line, when one does not parse.
"""

import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
from opentelemetry.proto.metrics.v1.metrics_pb2 import MetricsData
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from decode import hex_ids_to_base64

SIGNALS = {
    "resourceSpans": TracesData,
    "resourceLogs": LogsData,
    "resourceMetrics": MetricsData,
}


def value(any_value):
    """An AnyValue as [kind, plain JSON value]."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return ["array", [value(v)[1] for v in any_value.array_value.values]]
    names = {
        "string_value": "string",
        "bool_value": "bool",
        "int_value": "int",
        "double_value": "double",
    }
    return [names.get(kind, kind), getattr(any_value, kind) if kind else None]


def attributes(key_values):
    return sorted([kv.key, *value(kv.value)] for kv in key_values)


def spans(data):
    for resource in data.resource_spans:
        for scope in resource.scope_spans:
            for span in scope.spans:
                yield {
                    "scope": scope.scope.name,
                    "name": span.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "attributes": attributes(span.attributes),
                    "events": [
                        [event.name, attributes(event.attributes)]
                        for event in span.events
                    ],
                    "status": span.status.code,
                }


def logs(data):
    for resource in data.resource_logs:
        for scope in resource.scope_logs:
            for record in scope.log_records:
                yield {
                    "scope": scope.scope.name,
                    "body": value(record.body),
                    "severity_number": record.severity_number,
                    "trace_id": record.trace_id.hex(),
                    "span_id": record.span_id.hex(),
                }


def metrics(data):
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                yield metric.name


def main():
    out = {"spans": [], "logs": [], "metrics": [], "other_lines": 0}
    with open(sys.argv[1], encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.startswith('{"resource'):
                out["other_lines"] += 1
                continue
            try:
                raw = json.loads(line)
                (signal,) = raw.keys()
                data = SIGNALS[signal]()
                json_format.ParseDict(
                    hex_ids_to_base64(raw), data, ignore_unknown_fields=False
                )
            except Exception as error:  # noqa: BLE001 - any failure is the answer
                sys.exit(f"line {number}: {error}")
            read = {"resourceSpans": ("spans", spans),
                    "resourceLogs": ("logs", logs),
                    "resourceMetrics": ("metrics", metrics)}
            key, items = read[signal]
            out[key].extend(items(data))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
