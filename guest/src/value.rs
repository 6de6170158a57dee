//! Attribute values and their JSON encoding, the form `wasi:otel` carries
//! them in.

use std::fmt::Write;

use crate::bindings::types;

/// An attribute value: a scalar or a homogeneous array of scalars.
///
/// Values convert from the Rust types they hold, so most calls take
/// `impl Into<Value>` and accept `"text"`, `42`, `true`, `2.5` or
/// `vec!["a", "b"]` directly.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A double. NaN and the infinities are sent as the strings `NaN`,
    /// `Infinity` and `-Infinity`, since JSON has no numbers for them.
    F64(f64),
    /// An array of strings.
    StringArray(Vec<String>),
    /// An array of booleans.
    BoolArray(Vec<bool>),
    /// An array of signed 64-bit integers.
    I64Array(Vec<i64>),
    /// An array of doubles.
    F64Array(Vec<f64>),
}

impl Value {
    /// The value as the JSON text `wasi:otel` expects.
    pub(crate) fn to_json(&self) -> String {
        let mut out = String::new();
        match self {
            Value::String(s) => write_string(&mut out, s),
            Value::Bool(b) => write_bool(&mut out, *b),
            Value::I64(i) => write_i64(&mut out, *i),
            Value::F64(f) => write_f64(&mut out, *f),
            Value::StringArray(a) => write_array(&mut out, a, |o, s| write_string(o, s)),
            Value::BoolArray(a) => write_array(&mut out, a, |o, b| write_bool(o, *b)),
            Value::I64Array(a) => write_array(&mut out, a, |o, i| write_i64(o, *i)),
            Value::F64Array(a) => write_array(&mut out, a, |o, f| write_f64(o, *f)),
        }
        out
    }
}

/// One attribute: a key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The attribute's name, such as `http.request.method`.
    pub key: String,
    /// The attribute's value.
    pub value: Value,
}

impl KeyValue {
    /// An attribute named `key` holding `value`.
    pub fn new(key: impl Into<String>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }

    /// The attribute in the form `wasi:otel` carries it.
    pub(crate) fn to_wit(&self) -> types::KeyValue {
        types::KeyValue {
            key: self.key.clone(),
            value: self.value.to_json(),
        }
    }
}

/// Appends `s` as a JSON string.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < '\u{20}' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `b` as a JSON literal.
pub(crate) fn write_bool(out: &mut String, b: bool) {
    out.push_str(if b { "true" } else { "false" });
}

/// Appends `i` as a JSON integer.
pub(crate) fn write_i64(out: &mut String, i: i64) {
    let _ = write!(out, "{i}");
}

/// Appends `f` as a JSON number that reads back as a double.
pub(crate) fn write_f64(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("\"NaN\"");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        // `Debug` prints the shortest text that parses back to the same
        // double and always includes a `.` or an exponent (`2.0`, `1e16`,
        // `1.5e-7`), so the host never mistakes the double for an integer.
        let _ = write!(out, "{f:?}");
    }
}

/// Appends `items` as a JSON array, each written by `write`.
pub(crate) fn write_array<T>(
    out: &mut String,
    items: &[T],
    mut write: impl FnMut(&mut String, &T),
) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

macro_rules! value_from {
    ($($from:ty => |$v:ident| $to:expr;)*) => {
        $(
            impl From<$from> for Value {
                fn from($v: $from) -> Self {
                    $to
                }
            }
        )*
    };
}

value_from! {
    &str => |v| Value::String(v.to_owned());
    String => |v| Value::String(v);
    &String => |v| Value::String(v.clone());
    bool => |v| Value::Bool(v);
    i64 => |v| Value::I64(v);
    i32 => |v| Value::I64(i64::from(v));
    u32 => |v| Value::I64(i64::from(v));
    f64 => |v| Value::F64(v);
    Vec<String> => |v| Value::StringArray(v);
    &[String] => |v| Value::StringArray(v.to_vec());
    Vec<&str> => |v| Value::StringArray(owned(&v));
    &[&str] => |v| Value::StringArray(owned(v));
    Vec<bool> => |v| Value::BoolArray(v);
    &[bool] => |v| Value::BoolArray(v.to_vec());
    Vec<i64> => |v| Value::I64Array(v);
    &[i64] => |v| Value::I64Array(v.to_vec());
    Vec<f64> => |v| Value::F64Array(v);
    &[f64] => |v| Value::F64Array(v.to_vec());
}

macro_rules! value_from_array {
    ($($item:ty => |$v:ident| $to:expr;)*) => {
        $(
            impl<const N: usize> From<[$item; N]> for Value {
                fn from($v: [$item; N]) -> Self {
                    $to
                }
            }
        )*
    };
}

value_from_array! {
    &str => |v| Value::StringArray(owned(&v));
    String => |v| Value::StringArray(v.to_vec());
    bool => |v| Value::BoolArray(v.to_vec());
    i64 => |v| Value::I64Array(v.to_vec());
    f64 => |v| Value::F64Array(v.to_vec());
}

fn owned(strings: &[&str]) -> Vec<String> {
    strings.iter().map(|&s| s.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: impl Into<Value>) -> String {
        value.into().to_json()
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(json("plain"), r#""plain""#);
        assert_eq!(json(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(json(r"C:\dir"), r#""C:\\dir""#);
        assert_eq!(json("a\nb\tc\r"), r#""a\u000ab\u0009c\u000d""#);
        assert_eq!(json("\u{0}\u{1f}"), r#""\u0000\u001f""#);
        assert_eq!(json(String::from("")), r#""""#);
    }

    #[test]
    fn strings_keep_non_ascii_characters_as_they_are() {
        assert_eq!(
            json("h\u{e9}llo \u{1f600} \u{7f}"),
            "\"h\u{e9}llo \u{1f600} \u{7f}\""
        );
    }

    #[test]
    fn scalars_encode_as_json_literals() {
        assert_eq!(json(true), "true");
        assert_eq!(json(false), "false");
        assert_eq!(json(-42i64), "-42");
        assert_eq!(json(i64::MIN), "-9223372036854775808");
        assert_eq!(json(7), "7");
        assert_eq!(json(u32::MAX), "4294967295");
    }

    #[test]
    fn doubles_always_carry_a_point_or_an_exponent() {
        assert_eq!(json(2.0), "2.0");
        assert_eq!(json(-0.0), "-0.0");
        assert_eq!(json(2.5), "2.5");
        assert_eq!(json(1e16), "1e16");
        assert_eq!(json(1.5e-7), "1.5e-7");
        assert_eq!(json(f64::MAX), "1.7976931348623157e308");
    }

    #[test]
    fn doubles_round_trip_through_their_text() {
        let samples = [
            0.1,
            1.0 / 3.0,
            123456789.125,
            9007199254740993.0,
            f64::MIN_POSITIVE,
            5e-324,
            -2.2250738585072014e-308,
            1e300,
        ];
        for f in samples {
            let text = json(f);
            assert!(text.contains(['.', 'e']), "{text}");
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                f.to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn non_finite_doubles_are_strings() {
        assert_eq!(json(f64::NAN), r#""NaN""#);
        assert_eq!(json(f64::INFINITY), r#""Infinity""#);
        assert_eq!(json(f64::NEG_INFINITY), r#""-Infinity""#);
    }

    #[test]
    fn arrays_encode_each_item() {
        assert_eq!(json(vec!["a", "b\"c"]), r#"["a","b\"c"]"#);
        assert_eq!(json(vec![String::from("x")]), r#"["x"]"#);
        assert_eq!(json(&[true, false][..]), "[true,false]");
        assert_eq!(json(vec![1i64, -2, 3]), "[1,-2,3]");
        assert_eq!(json([1.0, 2.5, f64::NAN]), r#"[1.0,2.5,"NaN"]"#);
        assert_eq!(json(Vec::<i64>::new()), "[]");
        assert_eq!(json(["one", "two"]), r#"["one","two"]"#);
    }

    #[test]
    fn conversions_pick_the_matching_variant() {
        let names = [String::from("a"), String::from("b")];
        assert_eq!(Value::from(&names[..]), Value::StringArray(names.to_vec()));
        assert_eq!(
            Value::from(&["a", "b"][..]),
            Value::StringArray(names.to_vec())
        );
        assert_eq!(Value::from(3i32), Value::I64(3));
        assert_eq!(Value::from(&names[0]), Value::String("a".into()));
        assert_eq!(Value::from(vec![1.5]), Value::F64Array(vec![1.5]));
        assert_eq!(Value::from(&[2i64][..]), Value::I64Array(vec![2]));
    }

    #[test]
    fn key_values_carry_the_key_and_the_encoded_value() {
        let kv = KeyValue::new("k", 1).to_wit();
        assert_eq!((kv.key.as_str(), kv.value.as_str()), ("k", "1"));
    }
}
