// A JavaScript guest: prices one order in two nested spans, sent through
// `wasi:otel` with the bindings `jco componentize` generates for the world
// `wasm-otel:guest/command`, and prints the total.

import {
  onEnd,
  onStart,
  outerSpanContext,
} from "wasi:otel/tracing@0.2.0-rc.2";

const SCOPE = {
  name: "js-guest",
  version: "0.1.0",
  schemaUrl: undefined,
  attributes: [],
};

// The order this guest prices: item names and unit prices in EUR.
const ORDER_ID = "B-2077";
const ITEMS = [
  ["pens", 2.5],
  ["paper", 7.25],
  ["stapler", 15.0],
  ["lamp", 24.99],
];
const DISCOUNT_PERCENT = 15;

// The wall clock at the first reading of a run, and the monotonic clock
// then. (Top-level code runs when the component is built, so this cannot
// be read there; and `performance.timeOrigin` is 0 in this engine.)
let epoch;

/** The wall clock as a `wasi:clocks` datetime (u64 seconds are BigInts),
 * to a microsecond: `Date.now()` alone counts whole milliseconds, so the
 * monotonic clock's progress since the first reading is added to it. */
function now() {
  epoch ??= { ms: Date.now(), at: performance.now() };
  const ms = epoch.ms + (performance.now() - epoch.at);
  const us = Math.round(ms * 1000);
  return {
    seconds: BigInt(Math.floor(us / 1_000_000)),
    nanoseconds: (us % 1_000_000) * 1000,
  };
}

/** `size` random bytes as lowercase hex, never all zeros. */
function randomHex(size) {
  const bytes = new Uint8Array(size);
  do {
    crypto.getRandomValues(bytes);
  } while (bytes.every((b) => b === 0));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An attribute whose value is JSON-encoded, as `wasi:otel` wants. A
 * whole number is written with a fraction when it is meant as a double. */
function attribute(key, value, { double = false } = {}) {
  const json =
    double && Number.isInteger(value) ? value.toFixed(1) : JSON.stringify(value);
  return { key, value: json };
}

/** The host's span, which root spans hang under; when the host offers
 * none (an all-zero trace id), a fresh trace with no parent span. */
function rootParent() {
  const outer = outerSpanContext();
  if (/[^0]/.test(outer.traceId)) {
    return outer;
  }
  return {
    traceId: randomHex(16),
    spanId: "",
    traceFlags: { sampled: true },
    isRemote: false,
    traceState: [],
  };
}

/** A span that tells the host when it starts, and everything recorded on
 * it when it ends. */
class Span {
  constructor(name, parent) {
    this.name = name;
    this.parentId = parent.spanId;
    this.context = {
      traceId: parent.traceId,
      spanId: randomHex(8),
      traceFlags: parent.traceFlags,
      isRemote: false,
      traceState: parent.traceState,
    };
    this.start = now();
    this.attributes = [];
    this.events = [];
    this.status = { tag: "unset" };
    onStart(this.context);
  }

  set(key, value, options) {
    this.attributes.push(attribute(key, value, options));
  }

  event(name, attributes) {
    this.events.push({ name, time: now(), attributes });
  }

  end() {
    onEnd({
      spanContext: this.context,
      parentSpanId: this.parentId,
      spanKind: "internal",
      name: this.name,
      startTime: this.start,
      endTime: now(),
      attributes: this.attributes,
      events: this.events,
      links: [],
      status: this.status,
      instrumentationScope: SCOPE,
      droppedAttributes: 0,
      droppedEvents: 0,
      droppedLinks: 0,
    });
  }
}

/** `amount` rounded to whole cents. */
function cents(amount) {
  return Math.round(amount * 100) / 100;
}

/** The order's total after the discount, in a span of its own. */
function price(parent) {
  const span = new Span("order.price", parent);
  const subtotal = cents(ITEMS.reduce((sum, [, unit]) => sum + unit, 0));
  const total = cents((subtotal * (100 - DISCOUNT_PERCENT)) / 100);
  span.event("discount.applied", [
    attribute("discount.percent", DISCOUNT_PERCENT),
  ]);
  span.set("order.subtotal", subtotal, { double: true });
  span.status = { tag: "ok" };
  span.end();
  return total;
}

/** `wasi:cli/run`: returning is exit code 0. */
export const run = {
  run() {
    const order = new Span("order.process", rootParent());
    order.set("order.id", ORDER_ID);
    order.set("order.items", ITEMS.length);
    order.set("order.express", false);
    const total = price(order.context);
    order.set("order.total", total, { double: true });
    order.status = { tag: "ok" };
    order.end();
    console.log(
      `order ${ORDER_ID}: ${ITEMS.length} items, total ${total.toFixed(2)} EUR`,
    );
  },
};
