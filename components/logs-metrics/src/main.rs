//! `logs-metrics [ITEM:QUANTITY:PRICE]...`: totals a batch of orders (a
//! built-in batch of four when none is given) and reports it with spans,
//! log records and metrics from `wasm-otel-guest`'s own API.
//!
//! An order with a quantity of zero, or one that does not parse, is
//! rejected; the others are totalled. With the built-in batch it prints
//! `3 of 4 orders accepted, total 5.00 EUR` and emits exactly this, every
//! scope named `logs-metrics` at the crate's version:
//!
//! ```text
//! spans
//! orders.process              orders.count (int)
//! ├── orders.validate         orders.accepted, orders.rejected (int)
//! └── orders.total            orders.total (double)
//!
//! log records                                        in span
//! INFO  "processing 4 orders"        orders.count=4   orders.process
//! WARN  "rejected order for melon"   order.item="melon", order.reason="zero quantity",
//!       event order.rejected                          orders.validate
//! INFO  5.0 (a double body)          orders.currency="EUR",
//!       event orders.totalled                         orders.total
//! INFO  "done"                       none             none (after every span)
//!
//! metrics (cumulative, one export at the end)
//! orders.processed        u64 counter, {order}   3 {order.status=accepted}, 1 {order.status=rejected}
//! orders.revenue          f64 counter, EUR       5.0
//! orders.backlog          i64 up-down, {order}   1 (+4 taken in, -3 totalled)
//! orders.amount           f64 histogram, EUR     bounds [1, 2, 5]: 1.5, 1.5, 2.0
//! orders.quantity         u64 histogram, {item}  default bounds: 3, 2, 10
//! orders.average_amount   f64 gauge, EUR         5/3
//! orders.balance          i64 gauge, {cent}      300 (revenue less 200 of delivery)
//! orders.largest_quantity u64 gauge, {item}      10
//! ```
//!
//! A refused metrics export is reported on stderr; the exit code stays 0.

use std::fmt;

use wasm_otel_guest::metrics::{self, Counter, Gauge, Histogram, UpDownCounter};
use wasm_otel_guest::{KeyValue, Logger, Meter, Tracer};

/// The batch totalled when no order is given.
const DEFAULT_ORDERS: [&str; 4] = ["apple:3:0.5", "pear:2:0.75", "melon:0:2.0", "cherry:10:0.2"];

/// What delivering a batch costs, in cents.
const DELIVERY_COST_CENTS: i64 = 200;

/// The name and version of every scope.
const SCOPE: &str = env!("CARGO_PKG_NAME");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let orders: Vec<&str> = if args.is_empty() {
        DEFAULT_ORDERS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };

    let metrics = metrics::flush_on_drop();
    let telemetry = Telemetry::new();
    let summary = process(&telemetry, &orders);
    telemetry.logger.info("done").emit();

    println!("{summary}");
    if let Err(err) = metrics.finish() {
        eprintln!("logs-metrics: {err}");
    }
}

/// The tracer, logger and instruments of the program.
struct Telemetry {
    tracer: Tracer,
    logger: Logger,
    processed: Counter<u64>,
    revenue: Counter<f64>,
    backlog: UpDownCounter<i64>,
    amount: Histogram<f64>,
    quantity: Histogram<u64>,
    average_amount: Gauge<f64>,
    balance: Gauge<i64>,
    largest_quantity: Gauge<u64>,
}

impl Telemetry {
    fn new() -> Self {
        let meter = Meter::new(SCOPE).with_version(VERSION);
        Telemetry {
            tracer: Tracer::new(SCOPE).with_version(VERSION),
            logger: Logger::new(SCOPE).with_version(VERSION),
            processed: meter
                .u64_counter("orders.processed")
                .with_description("Orders processed, by outcome")
                .with_unit("{order}")
                .build(),
            revenue: meter
                .f64_counter("orders.revenue")
                .with_description("Money taken")
                .with_unit("EUR")
                .build(),
            backlog: meter
                .i64_up_down_counter("orders.backlog")
                .with_description("Orders taken in and not yet totalled")
                .with_unit("{order}")
                .build(),
            amount: meter
                .f64_histogram("orders.amount")
                .with_description("Amount of each accepted order")
                .with_unit("EUR")
                .with_boundaries([1.0, 2.0, 5.0])
                .build(),
            quantity: meter
                .u64_histogram("orders.quantity")
                .with_description("Items in each accepted order")
                .with_unit("{item}")
                .build(),
            average_amount: meter
                .f64_gauge("orders.average_amount")
                .with_unit("EUR")
                .build(),
            balance: meter
                .i64_gauge("orders.balance")
                .with_description("Revenue less delivery")
                .with_unit("{cent}")
                .build(),
            largest_quantity: meter
                .u64_gauge("orders.largest_quantity")
                .with_unit("{item}")
                .build(),
        }
    }
}

/// One order line that parsed and has a quantity.
#[derive(Debug, PartialEq)]
struct Order<'a> {
    item: &'a str,
    quantity: u64,
    unit_price: f64,
}

impl Order<'_> {
    fn amount(&self) -> f64 {
        self.quantity as f64 * self.unit_price
    }
}

/// What the program prints.
#[derive(Debug, PartialEq)]
struct Summary {
    accepted: usize,
    count: usize,
    total: f64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} orders accepted, total {:.2} EUR",
            self.accepted, self.count, self.total
        )
    }
}

fn process(telemetry: &Telemetry, lines: &[&str]) -> Summary {
    let _span = telemetry
        .tracer
        .span("orders.process")
        .attribute("orders.count", lines.len() as i64)
        .start();
    let count = i64::try_from(lines.len()).unwrap_or(i64::MAX);
    telemetry
        .logger
        .info(format!("processing {} orders", lines.len()))
        .attribute("orders.count", count)
        .emit();
    telemetry.backlog.add(count, &[]);

    let accepted = validate(telemetry, lines);
    let total = total(telemetry, &accepted);
    Summary {
        accepted: accepted.len(),
        count: lines.len(),
        total,
    }
}

/// Keeps the orders that parse and have a quantity, logging the others.
fn validate<'a>(telemetry: &Telemetry, lines: &[&'a str]) -> Vec<Order<'a>> {
    let mut span = telemetry.tracer.span("orders.validate").start();

    let mut accepted = Vec::new();
    for line in lines {
        let (status, order) = match parse(line) {
            Ok(order) => ("accepted", Some(order)),
            Err(rejection) => {
                telemetry
                    .logger
                    .warn(format!("rejected order for {}", rejection.item))
                    .attribute("order.item", rejection.item)
                    .attribute("order.reason", rejection.reason)
                    .event_name("order.rejected")
                    .emit();
                ("rejected", None)
            }
        };
        telemetry
            .processed
            .add(1, &[KeyValue::new("order.status", status)]);
        accepted.extend(order);
    }

    let rejected = lines.len() - accepted.len();
    span.set_attribute("orders.accepted", accepted.len() as i64);
    span.set_attribute("orders.rejected", rejected as i64);
    accepted
}

/// Totals the accepted orders and measures them.
fn total(telemetry: &Telemetry, orders: &[Order<'_>]) -> f64 {
    let mut span = telemetry.tracer.span("orders.total").start();

    let mut total = 0.0;
    for order in orders {
        let amount = order.amount();
        total += amount;
        telemetry.amount.record(amount, &[]);
        telemetry.quantity.record(order.quantity, &[]);
        telemetry.backlog.add(-1, &[]);
    }
    telemetry.revenue.add(total, &[]);
    if !orders.is_empty() {
        let average = total / orders.len() as f64;
        telemetry.average_amount.record(average, &[]);
    }
    let cents = (total * 100.0).round() as i64;
    telemetry.balance.record(cents - DELIVERY_COST_CENTS, &[]);
    let largest = orders.iter().map(|o| o.quantity).max().unwrap_or(0);
    telemetry.largest_quantity.record(largest, &[]);

    span.set_attribute("orders.total", total);
    telemetry
        .logger
        .info(total)
        .attribute("orders.currency", "EUR")
        .event_name("orders.totalled")
        .emit();
    total
}

/// Why an order line was rejected.
#[derive(Debug, PartialEq)]
struct Rejection<'a> {
    item: &'a str,
    reason: &'static str,
}

/// `ITEM:QUANTITY:PRICE`, with a quantity of at least one and a finite,
/// non-negative price.
fn parse(line: &str) -> Result<Order<'_>, Rejection<'_>> {
    let mut parts = line.splitn(3, ':');
    let item = parts.next().unwrap_or_default();
    let reject = |reason| Rejection { item, reason };

    let quantity: u64 = match parts.next().map(str::parse) {
        Some(Ok(quantity)) => quantity,
        _ => return Err(reject("bad quantity")),
    };
    let unit_price: f64 = match parts.next().map(str::parse) {
        Some(Ok(price)) if f64::is_finite(price) && price >= 0.0 => price,
        _ => return Err(reject("bad price")),
    };
    if item.is_empty() {
        return Err(reject("no item"));
    }
    if quantity == 0 {
        return Err(reject("zero quantity"));
    }
    Ok(Order {
        item,
        quantity,
        unit_price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_line_is_item_quantity_and_price() {
        assert_eq!(
            parse("apple:3:0.5"),
            Ok(Order {
                item: "apple",
                quantity: 3,
                unit_price: 0.5
            })
        );
    }

    #[test]
    fn bad_lines_are_rejected_with_a_reason() {
        let reason = |line| parse(line).unwrap_err().reason;
        assert_eq!(reason("melon:0:2.0"), "zero quantity");
        assert_eq!(reason("melon:x:2.0"), "bad quantity");
        assert_eq!(reason("melon:1"), "bad price");
        assert_eq!(reason("melon:1:-1"), "bad price");
        assert_eq!(reason("melon:1:NaN"), "bad price");
        assert_eq!(reason(":1:1"), "no item");
        assert_eq!(reason(""), "bad quantity");
    }

    #[test]
    fn the_default_batch_totals_five_euros_from_three_orders() {
        let telemetry = Telemetry::new();
        let summary = process(&telemetry, &DEFAULT_ORDERS);
        assert_eq!(
            summary.to_string(),
            "3 of 4 orders accepted, total 5.00 EUR"
        );
    }
}
