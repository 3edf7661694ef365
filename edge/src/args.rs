//! An event's arguments, typed: a handler's parameter takes the first argument, or every
//! argument when it is a tuple; an emitted value is one argument, or each element of a tuple
//! ([`Args::of`]); [`Bytes`] travel as binary attachments both ways.
//!
//! ```
//! use wasmio_edge::app::{App, Args, Bytes};
//!
//! #[derive(serde::Serialize)]
//! struct Upload {
//!     name: String,
//!     file: Bytes, // sent as a binary attachment
//! }
//!
//! App::new().namespace("/", |ns| {
//!     ns.on("move", |socket, (x, y): (i32, i32)| Ok(socket.ack(&(x + y))?))
//!         .on("upload", |socket, (name, file): (String, Bytes)| {
//!             Ok(socket.to("watchers").emit("uploaded", &Upload { name, file })?)
//!         })
//! });
//!
//! // `socket.emit("upload", "a.bin", new Uint8Array([1, 2]))` arrives as:
//! let args = Args { json: r#"["a.bin",{"_placeholder":true,"num":0}]"#.into(), attachments: vec![vec![1, 2]] };
//! assert_eq!(args.typed::<(String, Bytes)>().unwrap(), ("a.bin".to_owned(), Bytes(vec![1, 2])));
//! assert_eq!(args.typed::<String>().unwrap(), "a.bin"); // not a tuple: the first argument
//!
//! let sent = Args::one(&Upload { name: "b".into(), file: Bytes(vec![3]) }).unwrap();
//! assert_eq!(sent.json, r#"[{"name":"b","file":{"_placeholder":true,"num":0}}]"#);
//! assert_eq!(sent.attachments, vec![vec![3]]);
//! ```

use std::cell::RefCell;

use serde::de::{DeserializeOwned, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use wasmio_protocol::server::ApiError;

use crate::app::EventError;

thread_local! {
    /// The attachments of the arguments being serialized ([`Args::one`], [`Args::many`]).
    static OUTGOING: RefCell<Option<Vec<Vec<u8>>>> = const { RefCell::new(None) };
}

/// An event's arguments (after the name): a JSON array text and binary attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The arguments, a JSON array text (placeholders stand for attachments).
    pub json: String,
    /// Binary attachments, in placeholder order.
    pub attachments: Vec<Vec<u8>>,
}

impl Args {
    /// One value as the only argument; the [`Bytes`] in it become attachments.
    pub fn one<T: Serialize + ?Sized>(value: &T) -> Result<Args, ApiError> {
        encode(|| serde_json::to_string(&[value]))
    }

    /// The arguments `value` stands for, as a handler's parameter reads them ([`Args::typed`]):
    /// each element of a tuple (or of a fixed-size array), none for `()` (not for a JSON null,
    /// which is one argument), else `value` alone.
    /// `socket.emit("move", &(3, 4))` is socket.io's `emit("move", 3, 4)`, as a handler taking
    /// `(x, y): (i32, i32)` reads it; `&vec![3, 4]` is one argument, an array (so is
    /// [`Args::one`] of anything).
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Args, ApiError> {
        match value.serialize(ShapeOf) {
            Ok(Shape::Elements) => Args::many(value),
            // `()` itself: a JSON null (`Value::Null`) serializes the same way, but has a size.
            Ok(Shape::Nothing) if std::mem::size_of_val(value) == 0 => {
                Ok(Args { json: "[]".to_owned(), attachments: Vec::new() })
            }
            _ => Args::one(value),
        }
    }

    /// A value that serializes to a sequence (a tuple), each element an argument:
    /// `Args::many(&("text", 42, Bytes(vec![1, 2])))` is `emit(event, "text", 42, <binary>)`.
    pub fn many<T: Serialize + ?Sized>(values: &T) -> Result<Args, ApiError> {
        let args = encode(|| serde_json::to_string(values))?;
        match args.json.starts_with('[') {
            true => Ok(args),
            false => Err(ApiError::InvalidJson),
        }
    }

    /// All arguments as one typed value (a tuple, a `Vec`, a struct of a sequence).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, EventError> {
        T::deserialize(Value::Array(self.values()?)).map_err(invalid)
    }

    /// The first argument as a typed value.
    pub fn first<T: DeserializeOwned>(&self) -> Result<T, EventError> {
        T::deserialize(self.values()?.into_iter().next().unwrap_or(Value::Null)).map_err(invalid)
    }

    /// The arguments as a handler's parameter takes them: every argument for a tuple (missing
    /// ones are `null`, extra ones ignored), the first one for any other type.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, EventError> {
        T::deserialize(Handed(self.values()?)).map_err(invalid)
    }

    /// The argument at `index` alone (a JSON `null` when there is none), with the attachments
    /// it holds: a relay of one argument that keeps binary as it came, which a
    /// `serde_json::Value` parameter cannot (it reads bytes as numbers).
    /// `socket.to(&room).emit_args("message", args.nth(1)?)` is socket.io's
    /// `socket.to(room).emit("message", msg)` in a handler of `(room, msg)`.
    pub fn nth(&self, index: usize) -> Result<Args, EventError> {
        let values: Vec<Value> = crate::js_json::parse(&self.json).map_err(invalid)?;
        let mut value = values.into_iter().nth(index).unwrap_or(Value::Null);
        let mut attachments = Vec::new();
        self.each_placeholder(&mut value, &mut |placeholder, bytes| {
            placeholder["num"] = Value::from(attachments.len());
            attachments.push(bytes.clone());
        });
        Ok(Args { json: serde_json::to_string(&[value]).map_err(invalid)?, attachments })
    }

    /// The arguments as JSON values, each attachment placeholder replaced by its bytes (an
    /// array of numbers, which a [`Bytes`] or a `Vec<u8>` reads).
    fn values(&self) -> Result<Vec<Value>, EventError> {
        let mut values: Vec<Value> = crate::js_json::parse(&self.json).map_err(invalid)?;
        if !self.attachments.is_empty() {
            for value in &mut values {
                self.each_placeholder(value, &mut |placeholder, bytes| {
                    *placeholder = Value::Array(bytes.iter().map(|b| Value::from(*b)).collect());
                });
            }
        }
        Ok(values)
    }

    /// Calls `f` with each placeholder in `value` that names an attachment, and its bytes.
    fn each_placeholder(&self, value: &mut Value, f: &mut impl FnMut(&mut Value, &Vec<u8>)) {
        match value {
            Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
                // `num` as JavaScript indexes with it: `-0`, `0.0` and `1e0` are whole numbers.
                let index = map.get("num").and_then(Value::as_f64).filter(|n| *n >= 0.0 && n.fract() == 0.0);
                if let Some(bytes) = index.and_then(|n| self.attachments.get(n as usize)) {
                    f(value, bytes);
                }
            }
            Value::Object(map) => map.values_mut().for_each(|v| self.each_placeholder(v, f)),
            Value::Array(list) => list.iter_mut().for_each(|v| self.each_placeholder(v, f)),
            _ => {}
        }
    }
}

fn invalid(error: serde_json::Error) -> EventError {
    EventError::new(format!("invalid arguments: {error}"))
}

/// Serializes with the [`Bytes`] met collected as attachments.
fn encode(serialize: impl FnOnce() -> serde_json::Result<String>) -> Result<Args, ApiError> {
    let outer = OUTGOING.with(|o| o.borrow_mut().replace(Vec::new()));
    let json = serialize();
    let attachments = OUTGOING.with(|o| std::mem::replace(&mut *o.borrow_mut(), outer)).unwrap_or_default();
    Ok(Args { json: json.map_err(|_| ApiError::InvalidJson)?, attachments })
}

/// Binary data: a binary attachment of the packet (an `ArrayBuffer` / `Buffer` for the client),
/// not a JSON array of numbers. Read from an attachment or from an array of numbers. Only
/// when serialized by the emit itself: inside `serde_json::json!` (a `Value` made beforehand)
/// it is already an array of numbers, so put it in a struct or a tuple.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let num = OUTGOING.with(|o| {
            o.borrow_mut().as_mut().map(|attachments| {
                attachments.push(self.0.clone());
                attachments.len() - 1
            })
        });
        match num {
            Some(num) => {
                let mut placeholder = serializer.serialize_struct("Placeholder", 2)?;
                placeholder.serialize_field("_placeholder", &true)?;
                placeholder.serialize_field("num", &num)?;
                placeholder.end()
            }
            // Outside `Args` (socket.data, storage): plain bytes.
            None => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<u8>::deserialize(deserializer).map(Bytes)
    }
}

/// What a value stands for as arguments ([`Args::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A tuple or a fixed-size array: each element.
    Elements,
    /// `()`: no argument.
    Nothing,
    /// Anything else: the value itself.
    Itself,
}

/// Tells a value's [`Shape`] from the first call its `Serialize` makes, serializing nothing.
struct ShapeOf;

/// The rest of a compound value, ignored; ends with its [`Shape`].
struct Skip(Shape);

/// Serializer methods whose value stands for itself.
macro_rules! itself {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method(self, $(_: $ty),*) -> Result<Shape, serde_json::Error> {
                Ok(Shape::Itself)
            }
        )*
    };
}

/// Compound serializer methods whose value stands for itself.
macro_rules! itself_compound {
    ($($method:ident -> $ty:ident ($($arg:ty),*);)*) => {
        $(
            fn $method(self, $(_: $arg),*) -> Result<Skip, serde_json::Error> {
                Ok(Skip(Shape::Itself))
            }
        )*
    };
}

impl Serializer for ShapeOf {
    type Ok = Shape;
    type Error = serde_json::Error;
    type SerializeSeq = Skip;
    type SerializeTuple = Skip;
    type SerializeTupleStruct = Skip;
    type SerializeTupleVariant = Skip;
    type SerializeMap = Skip;
    type SerializeStruct = Skip;
    type SerializeStructVariant = Skip;

    fn serialize_unit(self) -> Result<Shape, serde_json::Error> {
        Ok(Shape::Nothing)
    }

    fn serialize_tuple(self, _: usize) -> Result<Skip, serde_json::Error> {
        Ok(Skip(Shape::Elements))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Shape, serde_json::Error> {
        Ok(Shape::Itself)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Shape, serde_json::Error> {
        Ok(Shape::Itself)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Shape, serde_json::Error> {
        Ok(Shape::Itself)
    }

    itself! {
        serialize_bool(v: bool); serialize_i8(v: i8); serialize_i16(v: i16); serialize_i32(v: i32);
        serialize_i64(v: i64); serialize_u8(v: u8); serialize_u16(v: u16); serialize_u32(v: u32);
        serialize_u64(v: u64); serialize_f32(v: f32); serialize_f64(v: f64); serialize_char(v: char);
        serialize_str(v: &str); serialize_bytes(v: &[u8]); serialize_none();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    itself_compound! {
        serialize_seq -> SerializeSeq(Option<usize>);
        serialize_tuple_struct -> SerializeTupleStruct(&'static str, usize);
        serialize_tuple_variant -> SerializeTupleVariant(&'static str, u32, &'static str, usize);
        serialize_map -> SerializeMap(Option<usize>);
        serialize_struct -> SerializeStruct(&'static str, usize);
        serialize_struct_variant -> SerializeStructVariant(&'static str, u32, &'static str, usize);
    }
}

/// Implements a compound serializer trait for [`Skip`]: its parts are ignored.
macro_rules! skip_parts {
    ($($trait:ident { $($method:ident($($arg:ty),*);)* })*) => {
        $(
            impl serde::ser::$trait for Skip {
                type Ok = Shape;
                type Error = serde_json::Error;
                $(
                    fn $method<T: Serialize + ?Sized>(&mut self, $(_: $arg,)* _: &T) -> Result<(), serde_json::Error> {
                        Ok(())
                    }
                )*
                fn end(self) -> Result<Shape, serde_json::Error> {
                    Ok(self.0)
                }
            }
        )*
    };
}

skip_parts! {
    SerializeSeq { serialize_element(); }
    SerializeTuple { serialize_element(); }
    SerializeTupleStruct { serialize_field(); }
    SerializeTupleVariant { serialize_field(); }
    SerializeMap { serialize_key(); serialize_value(); }
    SerializeStruct { serialize_field(&'static str); }
    SerializeStructVariant { serialize_field(&'static str); }
}

/// The arguments handed to a typed parameter ([`Args::typed`]).
struct Handed(Vec<Value>);

impl Handed {
    fn first(self) -> Value {
        self.0.into_iter().next().unwrap_or(Value::Null)
    }

    fn exactly(mut self, len: usize) -> Value {
        self.0.resize(len, Value::Null);
        Value::Array(self.0)
    }
}

/// Forwards `deserialize_*` methods to the first argument.
macro_rules! to_first {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                self.first().$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Handed {
    type Error = serde_json::Error;

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.exactly(len).deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.exactly(len).deserialize_tuple_struct(name, len, visitor)
    }

    /// A handler taking `()` takes no arguments and ignores any the client sent, as a
    /// socket.io listener declared without parameters does.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    to_first! {
        deserialize_any(); deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32();
        deserialize_i64(); deserialize_i128(); deserialize_u8(); deserialize_u16(); deserialize_u32();
        deserialize_u64(); deserialize_u128(); deserialize_f32(); deserialize_f64(); deserialize_char();
        deserialize_str(); deserialize_string(); deserialize_bytes(); deserialize_byte_buf();
        deserialize_option(); deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str); deserialize_seq(); deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier(); deserialize_ignored_any();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: &str, attachments: Vec<Vec<u8>>) -> Args {
        Args { json: json.to_owned(), attachments }
    }

    #[test]
    fn a_tuple_takes_every_argument_other_types_the_first() {
        let given = args(r#"[1, 2, "three"]"#, Vec::new());
        assert_eq!(given.typed::<(i32, i32, String)>().unwrap(), (1, 2, "three".to_owned()));
        assert_eq!(given.typed::<i32>().unwrap(), 1);
        // Missing arguments are null (an Option), extra ones ignored.
        assert_eq!(given.typed::<(i32, i32, String, Option<bool>)>().unwrap().3, None);
        assert_eq!(given.typed::<(i32,)>().unwrap(), (1,));
        assert_eq!(args("[[1, 2]]", Vec::new()).typed::<Vec<i32>>().unwrap(), vec![1, 2]);
        assert_eq!(args("[]", Vec::new()).typed::<Option<String>>().unwrap(), None);
        assert!(given.typed::<(String, i32)>().is_err(), "a wrong type is an error");
        given.typed::<()>().expect("a handler taking () ignores the arguments");
        args("[]", Vec::new()).typed::<()>().expect("or their absence");
    }

    #[test]
    fn a_value_stands_for_its_elements_when_a_tuple_for_none_when_unit_else_for_itself() {
        let json = |args: Result<Args, ApiError>| args.unwrap().json;
        assert_eq!(json(Args::of(&(3, "four"))), r#"[3,"four"]"#);
        assert_eq!(json(Args::of(&[3, 4])), "[3,4]", "a fixed-size array, as a handler reads one");
        assert_eq!(json(Args::of(&())), "[]");
        assert_eq!(json(Args::of(&serde_json::Value::Null)), "[null]", "a JSON null is a value");
        assert_eq!(json(Args::of(&None::<i32>)), "[null]");
        assert_eq!(json(Args::of(&vec![3, 4])), "[[3,4]]");
        assert_eq!(json(Args::of(&Some((3, 4)))), "[[3,4]]");
        assert_eq!(json(Args::of("text")), r#"["text"]"#);
        assert_eq!(json(Args::of(&serde_json::json!({ "a": [1] }))), r#"[{"a":[1]}]"#);
        let with_bytes = Args::of(&("f", Bytes(vec![1]))).unwrap();
        assert_eq!(with_bytes.json, r#"["f",{"_placeholder":true,"num":0}]"#);
        assert_eq!(with_bytes.attachments, vec![vec![1]]);
        // As a handler reads them back.
        assert_eq!(Args::of(&(3, "four")).unwrap().typed::<(i32, String)>().unwrap(), (3, "four".to_owned()));
    }

    #[test]
    fn attachments_are_read_as_bytes_and_bytes_are_written_as_attachments() {
        let given = args(r#"["f", {"_placeholder": true, "num": 0}]"#, vec![vec![1, 2, 3]]);
        assert_eq!(given.typed::<(String, Bytes)>().unwrap(), ("f".to_owned(), Bytes(vec![1, 2, 3])));
        assert_eq!(given.typed::<(String, Vec<u8>)>().unwrap().1, vec![1, 2, 3]);
        // `num` as JavaScript indexes with it.
        for num in ["-0", "0.0", "0e0"] {
            let given = args(&format!(r#"[{{"_placeholder": true, "num": {num}}}]"#), vec![vec![4]]);
            assert_eq!(given.typed::<(Bytes,)>().unwrap().0, Bytes(vec![4]), "num {num}");
        }

        #[derive(Serialize)]
        struct Upload {
            name: &'static str,
            data: Bytes,
        }
        let sent = Args::one(&Upload { name: "f", data: Bytes(vec![9, 8]) }).unwrap();
        assert_eq!(sent.json, r#"[{"name":"f","data":{"_placeholder":true,"num":0}}]"#);
        assert_eq!(sent.attachments, vec![vec![9, 8]]);
        let many = Args::many(&(Bytes(vec![1]), "x", Bytes(vec![2]))).unwrap();
        assert_eq!(many.json, r#"[{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]"#);
        assert_eq!(many.attachments, vec![vec![1], vec![2]]);
        assert_eq!(Args::many(&"not a sequence"), Err(ApiError::InvalidJson));
        // Outside Args, bytes stay plain JSON.
        assert_eq!(serde_json::to_string(&Bytes(vec![1, 2])).unwrap(), "[1,2]");
    }

    #[test]
    fn one_argument_is_taken_alone_with_the_attachments_it_holds() {
        let given = args(
            r#"["room", {"file": {"_placeholder": true, "num": 1}, "n": 1.5}, {"_placeholder": true, "num": 0}]"#,
            vec![vec![1], vec![2, 3]],
        );
        let second = given.nth(1).unwrap();
        assert_eq!(second.json, r#"[{"file":{"_placeholder":true,"num":0},"n":1.5}]"#);
        assert_eq!(second.attachments, vec![vec![2, 3]]);
        let third = given.nth(2).unwrap();
        assert_eq!((third.json.as_str(), third.attachments), (r#"[{"_placeholder":true,"num":0}]"#, vec![vec![1]]));
        assert_eq!(given.nth(0).unwrap(), args(r#"["room"]"#, Vec::new()));
        assert_eq!(
            given.nth(3).unwrap(),
            args("[null]", Vec::new()),
            "a missing argument is null, as JSON.stringify writes undefined"
        );
        // A placeholder naming no attachment stays as it came, as socket.io-parser leaves it.
        let dangling = args(r#"[{"_placeholder": true, "num": 5}]"#, vec![vec![1]]).nth(0).unwrap();
        assert_eq!((dangling.json.as_str(), dangling.attachments.len()), (r#"[{"_placeholder":true,"num":5}]"#, 0));
        assert!(args("[1,", Vec::new()).nth(0).is_err());
    }
}
