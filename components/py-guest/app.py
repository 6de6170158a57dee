"""A Python guest: prices one order in two nested spans, sent through
`wasi:otel` with the bindings componentize-py generates for the world
`wasm-otel:guest/command`, and prints the total."""

import json
import secrets
import time

from wit_world import exports
from wit_world.imports import tracing
from wit_world.imports.wall_clock import Datetime
from wit_world.imports.wasi_otel_types import InstrumentationScope, KeyValue

SCOPE = InstrumentationScope(
    name="py-guest", version="0.1.0", schema_url=None, attributes=[]
)

# The order this guest prices: item names and unit prices in EUR.
ORDER_ID = "A-1042"
ITEMS = [("tea", 4.5), ("cups", 12.0), ("kettle", 39.99)]
DISCOUNT_PERCENT = 10


def now() -> Datetime:
    """The wall clock as a `wasi:clocks` datetime."""
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    return Datetime(seconds=seconds, nanoseconds=nanoseconds)


def random_hex(size: int) -> str:
    """`size` random bytes as lowercase hex, never all zeros."""
    while True:
        value = secrets.token_hex(size)
        if value.strip("0"):
            return value


def attribute(key: str, value) -> KeyValue:
    """An attribute whose value is JSON-encoded, as `wasi:otel` wants."""
    return KeyValue(key=key, value=json.dumps(value))


def root_parent() -> tracing.SpanContext:
    """The host's span, which root spans hang under; when the host offers
    none (an all-zero trace id), a fresh trace with no parent span."""
    outer = tracing.outer_span_context()
    if outer.trace_id.strip("0"):
        return outer
    return tracing.SpanContext(
        trace_id=random_hex(16),
        span_id="",
        trace_flags=tracing.TraceFlags.SAMPLED,
        is_remote=False,
        trace_state=[],
    )


class Span:
    """A span that tells the host when it starts, and everything recorded
    on it when it ends."""

    def __init__(self, name: str, parent: tracing.SpanContext):
        self.name = name
        self.parent_id = parent.span_id
        self.context = tracing.SpanContext(
            trace_id=parent.trace_id,
            span_id=random_hex(8),
            trace_flags=parent.trace_flags,
            is_remote=False,
            trace_state=parent.trace_state,
        )
        self.start = now()
        self.attributes: list[KeyValue] = []
        self.events: list[tracing.Event] = []
        self.status: tracing.Status = tracing.Status_Unset()
        tracing.on_start(self.context)

    def set(self, key: str, value) -> None:
        self.attributes.append(attribute(key, value))

    def event(self, name: str, **attributes) -> None:
        self.events.append(
            tracing.Event(
                name=name,
                time=now(),
                attributes=[attribute(k, v) for k, v in attributes.items()],
            )
        )

    def end(self) -> None:
        tracing.on_end(
            tracing.SpanData(
                span_context=self.context,
                parent_span_id=self.parent_id,
                span_kind=tracing.SpanKind.INTERNAL,
                name=self.name,
                start_time=self.start,
                end_time=now(),
                attributes=self.attributes,
                events=self.events,
                links=[],
                status=self.status,
                instrumentation_scope=SCOPE,
                dropped_attributes=0,
                dropped_events=0,
                dropped_links=0,
            )
        )


def price(parent: tracing.SpanContext) -> float:
    """The order's total after the discount, in a span of its own."""
    span = Span("order.price", parent)
    subtotal = sum(unit for _, unit in ITEMS)
    total = round(subtotal * (100 - DISCOUNT_PERCENT) / 100, 2)
    span.event("discount.applied", **{"discount.percent": DISCOUNT_PERCENT})
    span.set("order.subtotal", subtotal)
    span.status = tracing.Status_Ok()
    span.end()
    return total


class Run(exports.Run):
    def run(self) -> None:
        order = Span("order.process", root_parent())
        order.set("order.id", ORDER_ID)
        order.set("order.items", len(ITEMS))
        order.set("order.express", True)
        total = price(order.context)
        order.set("order.total", total)
        order.status = tracing.Status_Ok()
        order.end()
        print(f"order {ORDER_ID}: {len(ITEMS)} items, total {total:.2f} EUR")
