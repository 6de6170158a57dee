"""Decodes OTLP request bodies with the official Python bindings.

Usage: decode.py DIR

Every file in DIR is named SIGNAL-N.pb (protobuf) or SIGNAL-N.json (the
OTLP JSON mapping), SIGNAL being traces, logs or metrics. Each is parsed
strictly (unknown JSON fields are errors) with the opentelemetry-proto
package from PyPI. Prints one JSON object: per signal, how many spans,
log records and metric data points were read, and the trace ids seen.
Exits non-zero, naming the file, when one does not parse.
"""

import base64
import json
import pathlib
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

REQUESTS = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}

# The OTLP JSON mapping writes these as hex; protobuf's JSON parser
# expects base64 for bytes.
ID_FIELDS = {"traceId", "spanId", "parentSpanId"}


def hex_ids_to_base64(value):
    if isinstance(value, dict):
        return {
            key: (
                base64.b64encode(bytes.fromhex(item)).decode()
                if key in ID_FIELDS and isinstance(item, str)
                else hex_ids_to_base64(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [hex_ids_to_base64(item) for item in value]
    return value


def points(metric):
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def count(signal, request, trace_ids):
    if signal == "traces":
        spans = [
            span
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]
        trace_ids.update(span.trace_id.hex() for span in spans)
        return len(spans)
    if signal == "logs":
        records = [
            record
            for resource in request.resource_logs
            for scope in resource.scope_logs
            for record in scope.log_records
        ]
        trace_ids.update(r.trace_id.hex() for r in records if r.trace_id)
        return len(records)
    return sum(
        points(metric)
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


def main():
    counts = {signal: 0 for signal in REQUESTS}
    trace_ids = set()
    for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):
        signal = path.name.split("-")[0]
        request = REQUESTS[signal]()
        try:
            if path.suffix == ".pb":
                request.ParseFromString(path.read_bytes())
            else:
                data = hex_ids_to_base64(json.loads(path.read_text()))
                json_format.ParseDict(data, request, ignore_unknown_fields=False)
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            sys.exit(f"{path.name}: {error}")
        counts[signal] += count(signal, request, trace_ids)
    print(json.dumps({"counts": counts, "trace_ids": sorted(trace_ids)}))


if __name__ == "__main__":
    main()
