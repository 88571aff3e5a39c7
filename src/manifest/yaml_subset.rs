//! The YAML that manifests are written in, read without libyaml: the fast path of
//! [`super::parse`].
//!
//! Manifests, generated or hand-written, use a small part of YAML: block mappings and
//! sequences, one-line flow collections (`{state: Bavaria, country: DE}`, or a whole
//! document on one line), one-line plain and quoted scalars, comments. [`parse`] reads
//! a document written only with those into a [`Value`] tree, and [`Value`] is a serde `Deserializer` giving each
//! visitor what serde_yaml would give it for the same text. Anything else (anchors,
//! tags, block scalars, multi-line scalars, tabs, escapes beyond `\\` and `\"`, a
//! duplicate key, a scalar serde_yaml could read as a float…) makes [`parse`] or the
//! deserializer give up, and the caller reads the document again with serde_yaml.
//! Giving up is always safe: serde_yaml stays the reference, for every error message
//! and position too (a failed fast read is never reported; it is read again).
//!
//! The fast path reads about five times faster than libyaml's event stream plus
//! serde_yaml's event buffer (canopy-bench's `parse.reader` figure); the generated
//! million-account repository is 427 MB of YAML.

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashSet;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

/// Deeper documents are left to serde_yaml (whose own limit is 128).
pub(super) const MAX_DEPTH: usize = 48;

/// libyaml refuses implicit keys longer than 1024 characters; such keys are left to it.
const MAX_KEY_LENGTH: usize = 512;

/// A node of a document read by [`parse`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'t> {
    /// A plain (unquoted) scalar, possibly empty (`key:` with no value).
    Plain(&'t str),
    /// A single- or double-quoted scalar, unescaped.
    Quoted(Cow<'t, str>),
    Sequence(Vec<Value<'t>>),
    /// Keys are plain scalars, in document order, free of duplicates.
    Mapping(Vec<(&'t str, Value<'t>)>),
}

/// Reads one document (a chunk of [`super::parse::split_documents`]), or `None` when
/// it uses YAML outside the subset.
pub fn parse(text: &str) -> Option<Value<'_>> {
    if !printable(text) {
        return None;
    }
    let mut lines = Vec::with_capacity(text.len() / 24);
    let mut first = true;
    for raw in text.split('\n') {
        let content = raw.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = raw.len() - content.len();
        if indent == 0 && (raw.starts_with("---") || raw.starts_with("...")) {
            let rest = raw[3..].trim_start_matches(' ');
            let marker_only = raw.len() == 3 || raw.as_bytes()[3] == b' ';
            if first
                && raw.starts_with("---")
                && marker_only
                && (rest.is_empty() || rest.starts_with('#'))
            {
                continue;
            }
            return None;
        }
        if indent == 0 && content.starts_with('%') {
            return None;
        }
        first = false;
        lines.push(Line {
            indent,
            text: content.trim_end_matches(' '),
        });
    }
    // A document that is one flow collection on one line (`{apiVersion: …, spec: {…}}`).
    if let [only] = lines.as_slice()
        && only.indent == 0
        && only.text.starts_with(['[', '{'])
    {
        return inline(only.text);
    }
    let mut parser = Parser {
        lines,
        position: 0,
        depth: 0,
    };
    let root = parser.lines.first()?;
    if root.indent != 0 {
        return None;
    }
    let value = parser.node(0)?;
    (parser.position == parser.lines.len()).then_some(value)
}

/// Only characters libyaml reads as they are: no tabs, carriage returns or other
/// control characters, no byte-order mark, no line breaks beyond `\n`.
fn printable(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes
        .iter()
        .any(|&byte| (byte < 0x20 && byte != b'\n') || byte == 0x7f)
    {
        return false;
    }
    if bytes.is_ascii() {
        return true;
    }
    !text.chars().any(|c| {
        matches!(
            c,
            '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
    })
}

/// One line with content: its indentation and its text (trailing spaces dropped).
#[derive(Debug, Clone, Copy)]
struct Line<'t> {
    indent: usize,
    text: &'t str,
}

struct Parser<'t> {
    lines: Vec<Line<'t>>,
    position: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    fn current(&self) -> Option<Line<'t>> {
        self.lines.get(self.position).copied()
    }

    /// The block node starting on the current line, at `indent`.
    fn node(&mut self, indent: usize) -> Option<Value<'t>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        // Anything but a sequence entry must be a mapping's first key: `mapping` splits
        // it (once) and gives up when it is not one.
        let value = if is_entry(self.current()?.text) {
            self.sequence(indent)
        } else {
            self.mapping(indent)
        };
        self.depth -= 1;
        value
    }

    fn mapping(&mut self, indent: usize) -> Option<Value<'t>> {
        let mut entries: Vec<(&'t str, Value<'t>)> = Vec::new();
        let mut keys = Keys::default();
        while let Some(line) = self.current() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let (key, rest) = split_key(line.text)?;
            self.position += 1;
            let value = if rest.is_empty() || rest.starts_with('#') {
                match self.current() {
                    Some(next) if next.indent > indent => self.node(next.indent)?,
                    Some(next) if next.indent == indent && is_entry(next.text) => {
                        self.sequence(indent)?
                    }
                    _ => Value::Plain(""),
                }
            } else {
                inline(rest)?
            };
            keys.push(&mut entries, key, value)?;
        }
        Some(Value::Mapping(entries))
    }

    fn sequence(&mut self, indent: usize) -> Option<Value<'t>> {
        let mut items = Vec::new();
        while let Some(line) = self.current() {
            if line.indent < indent || (line.indent == indent && !is_entry(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let after_dash = &line.text[1..];
            let rest = after_dash.trim_start_matches(' ');
            let column = indent + 1 + (after_dash.len() - rest.len());
            let item = if rest.is_empty() || rest.starts_with('#') {
                self.position += 1;
                match self.current() {
                    Some(next) if next.indent > indent => self.node(next.indent)?,
                    _ => Value::Plain(""),
                }
            } else if is_entry(rest) || (!starts_flow_or_quote(rest) && split_key(rest).is_some()) {
                // A compact collection (`- - a`, `- key: value`): the rest of the line
                // is the first line of a collection at its own column.
                self.lines[self.position] = Line {
                    indent: column,
                    text: rest,
                };
                self.node(column)?
            } else {
                self.position += 1;
                inline(rest)?
            };
            items.push(item);
        }
        Some(Value::Sequence(items))
    }
}

/// The keys of one mapping so far, to refuse a duplicate: compared one by one while
/// there are few (a manifest's mappings have a handful), hashed beyond that.
#[derive(Default)]
struct Keys<'t> {
    hashed: Option<FxHashSet<&'t str>>,
}

impl<'t> Keys<'t> {
    const COMPARED: usize = 16;

    /// Appends the entry; `None` when its key is already there.
    fn push(
        &mut self,
        entries: &mut Vec<(&'t str, Value<'t>)>,
        key: &'t str,
        value: Value<'t>,
    ) -> Option<()> {
        let fresh = match &mut self.hashed {
            Some(hashed) => hashed.insert(key),
            None if entries.len() < Self::COMPARED => entries.iter().all(|(seen, _)| *seen != key),
            None => {
                let mut hashed: FxHashSet<&'t str> =
                    entries.iter().map(|(seen, _)| *seen).collect();
                let fresh = hashed.insert(key);
                self.hashed = Some(hashed);
                fresh
            }
        };
        fresh.then(|| entries.push((key, value)))
    }
}

/// A sequence entry: `-` alone or followed by a space.
fn is_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

fn starts_flow_or_quote(text: &str) -> bool {
    text.starts_with(['[', '{', '"', '\''])
}

/// Splits `key: rest` (or `key:`) with a plain key; `None` when the line is no such
/// mapping entry, or one with a key outside the subset.
fn split_key(text: &str) -> Option<(&str, &str)> {
    if !plain_start(text) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut at = 0;
    let colon = loop {
        let found = at + memchr(b':', &bytes[at..])?;
        if found + 1 == bytes.len() || bytes[found + 1] == b' ' {
            break found;
        }
        at = found + 1;
    };
    let key = text[..colon].trim_end_matches(' ');
    if key.is_empty()
        || key.len() > MAX_KEY_LENGTH
        || find_pair(key.as_bytes(), b' ', b'#').is_some()
    {
        return None;
    }
    Some((key, text[colon + 1..].trim_start_matches(' ')))
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&byte| byte == needle)
}

/// Where `first` is directly followed by `second` (` #`, `: `), by a plain byte loop:
/// the texts are short, and a substring searcher costs more to set up than to run.
fn find_pair(bytes: &[u8], first: u8, second: u8) -> Option<usize> {
    bytes
        .windows(2)
        .position(|pair| pair[0] == first && pair[1] == second)
}

/// Whether a plain scalar may start this text (in block context), leaving out what
/// the subset does not read.
fn plain_start(text: &str) -> bool {
    match text.as_bytes() {
        [] => false,
        [b'-', next, ..] => *next != b' ',
        [b'-'] => false,
        [first, ..] => !matches!(
            first,
            b'?' | b':'
                | b','
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'#'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'\''
                | b'"'
                | b'%'
                | b'@'
                | b'`'
        ),
    }
}

/// A value on the rest of a line (after `key: ` or `- `): a plain or quoted scalar or
/// a one-line flow collection, with an optional trailing comment.
fn inline(text: &str) -> Option<Value<'_>> {
    match text.as_bytes()[0] {
        b'[' | b'{' => {
            let mut flow = Flow { text, at: 0 };
            let value = flow.node(0)?;
            flow.end_of_line().then_some(value)
        }
        b'"' | b'\'' => {
            let (value, end) = quoted(text)?;
            ends_line(&text[end..]).then_some(Value::Quoted(value))
        }
        _ => {
            if !plain_start(text) {
                return None;
            }
            let plain = match find_pair(text.as_bytes(), b' ', b'#') {
                Some(comment) => text[..comment].trim_end_matches(' '),
                None => text,
            };
            if find_pair(plain.as_bytes(), b':', b' ').is_some() || plain.ends_with(':') {
                return None;
            }
            Some(Value::Plain(plain))
        }
    }
}

/// Nothing, or spaces and an optional comment (a comment needs a space before it).
fn ends_line(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.len() < rest.len() && trimmed.starts_with('#'))
}

/// A quoted scalar at the start of `text` (on one line): its value and the byte
/// after the closing quote.
fn quoted(text: &str) -> Option<(Cow<'_, str>, usize)> {
    let quote = text.as_bytes()[0];
    let body = &text[1..];
    let mut owned: Option<String> = None;
    let mut start = 0;
    let bytes = body.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if quote == b'\'' && byte == b'\'' {
            if bytes.get(at + 1) == Some(&b'\'') {
                owned
                    .get_or_insert_with(String::new)
                    .push_str(&body[start..=at]);
                at += 2;
                start = at;
                continue;
            }
            return Some(finish_quoted(body, start, at, owned));
        }
        if quote == b'"' {
            if byte == b'"' {
                return Some(finish_quoted(body, start, at, owned));
            }
            if byte == b'\\' {
                let escaped = match bytes.get(at + 1)? {
                    b'\\' => '\\',
                    b'"' => '"',
                    b'/' => '/',
                    _ => return None,
                };
                let buffer = owned.get_or_insert_with(String::new);
                buffer.push_str(&body[start..at]);
                buffer.push(escaped);
                at += 2;
                start = at;
                continue;
            }
        }
        at += 1;
    }
    None
}

fn finish_quoted(
    body: &str,
    start: usize,
    close: usize,
    owned: Option<String>,
) -> (Cow<'_, str>, usize) {
    let value = match owned {
        Some(mut buffer) => {
            buffer.push_str(&body[start..close]);
            Cow::Owned(buffer)
        }
        None => Cow::Borrowed(&body[..close]),
    };
    (value, close + 2)
}

/// A flow collection on one line.
struct Flow<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Flow<'t> {
    fn skip_spaces(&mut self) {
        while self.text.as_bytes().get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn end_of_line(&mut self) -> bool {
        ends_line(&self.text[self.at..])
    }

    fn node(&mut self, depth: usize) -> Option<Value<'t>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_spaces();
        match self.peek()? {
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_spaces();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(Value::Sequence(items));
                }
                loop {
                    items.push(self.node(depth + 1)?);
                    self.skip_spaces();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(Value::Sequence(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                self.at += 1;
                let mut entries: Vec<(&'t str, Value<'t>)> = Vec::new();
                let mut keys = Keys::default();
                self.skip_spaces();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Some(Value::Mapping(entries));
                }
                loop {
                    self.skip_spaces();
                    let key = self.plain(true)?;
                    if self.text.as_bytes().get(self.at..self.at + 2) != Some(b": ") {
                        return None;
                    }
                    self.at += 2;
                    let value = self.node(depth + 1)?;
                    keys.push(&mut entries, key, value)?;
                    self.skip_spaces();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(Value::Mapping(entries));
                        }
                        _ => return None,
                    }
                }
            }
            b'"' | b'\'' => {
                let (value, end) = quoted(&self.text[self.at..])?;
                self.at += end;
                Some(Value::Quoted(value))
            }
            _ => self.plain(false).map(Value::Plain),
        }
    }

    /// A plain scalar in a flow collection: it ends at `,`, a bracket, or (a key)
    /// at `:`. A value holding `:` or `#` is left to serde_yaml.
    fn plain(&mut self, key: bool) -> Option<&'t str> {
        let rest = &self.text[self.at..];
        if !plain_start(rest) {
            return None;
        }
        let end = rest
            .find([',', '[', ']', '{', '}', ':', '#'])
            .unwrap_or(rest.len());
        let stop = rest.as_bytes().get(end).copied();
        if stop == Some(b'#') || (stop == Some(b':') && !key) || (key && stop != Some(b':')) {
            return None;
        }
        let value = rest[..end].trim_end_matches(' ');
        if value.is_empty() || (key && value.len() > MAX_KEY_LENGTH) {
            return None;
        }
        self.at += end;
        Some(value)
    }
}

/// Why the fast path gave up; never shown (the document is read again by serde_yaml).
#[derive(Debug)]
pub struct GaveUp;

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outside the YAML subset")
    }
}

impl std::error::Error for GaveUp {}

impl de::Error for GaveUp {
    fn custom<T: fmt::Display>(_: T) -> GaveUp {
        GaveUp
    }
}

/// serde_yaml's null: empty, `~`, `null`, `Null`, `NULL`.
fn is_null(plain: &str) -> bool {
    matches!(plain, "" | "~" | "null" | "Null" | "NULL")
}

fn as_bool(plain: &str) -> Option<bool> {
    match plain {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Plain decimal digits with no sign and no leading zero: the one spelling of an
/// integer the fast path reads (serde_yaml also reads `+1`, `0x1f`, `0o17`, `0b1`).
fn decimal(plain: &str) -> bool {
    let bytes = plain.as_bytes();
    !bytes.is_empty()
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes.len() == 1 || bytes[0] != b'0')
}

/// `-` and [`decimal`] digits other than `0`.
fn negative(plain: &str) -> bool {
    plain
        .strip_prefix('-')
        .is_some_and(|digits| decimal(digits) && digits != "0")
}

/// Whether serde_yaml might read this plain scalar as something other than a string
/// (a number of any spelling, infinity, NaN) where the fast path would not.
fn maybe_number(plain: &str) -> bool {
    plain.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

impl<'de> de::Deserializer<'de> for &Value<'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) => {
                if is_null(plain) {
                    visitor.visit_unit()
                } else if let Some(boolean) = as_bool(plain) {
                    visitor.visit_bool(boolean)
                } else if decimal(plain) {
                    visitor.visit_u64(plain.parse().map_err(|_| GaveUp)?)
                } else if negative(plain) {
                    visitor.visit_i64(plain.parse().map_err(|_| GaveUp)?)
                } else if maybe_number(plain) {
                    Err(GaveUp)
                } else {
                    visitor.visit_borrowed_str(plain)
                }
            }
            Value::Quoted(text) => visit_text(text, visitor),
            Value::Sequence(items) => visitor.visit_seq(Items(items.iter())),
            Value::Mapping(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) => visitor.visit_bool(as_bool(plain).ok_or(GaveUp)?),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) if decimal(plain) || negative(plain) => {
                visitor.visit_i64(plain.parse().map_err(|_| GaveUp)?)
            }
            _ => Err(GaveUp),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) if decimal(plain) => {
                visitor.visit_u64(plain.parse().map_err(|_| GaveUp)?)
            }
            _ => Err(GaveUp),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) => visitor.visit_borrowed_str(plain),
            Value::Quoted(text) => visit_text(text, visitor),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) if is_null(plain) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) if is_null(plain) => visitor.visit_unit(),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Sequence(items) => visitor.visit_seq(Items(items.iter())),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self {
            Value::Mapping(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                value: None,
            }),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        match self {
            Value::Plain(plain) if !plain.is_empty() => visitor.visit_enum(UnitVariant(plain)),
            Value::Quoted(text) if !text.is_empty() => visitor.visit_enum(UnitVariant(text)),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        visitor.visit_unit()
    }
}

fn visit_text<'de, V: Visitor<'de>>(text: &Cow<'de, str>, visitor: V) -> Result<V::Value, GaveUp> {
    match text {
        Cow::Borrowed(text) => visitor.visit_borrowed_str(text),
        Cow::Owned(text) => visitor.visit_str(text),
    }
}

struct Items<'a, 'de>(std::slice::Iter<'a, Value<'de>>);

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = GaveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GaveUp> {
        self.0.next().map(|item| seed.deserialize(item)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'a, 'de> {
    entries: std::slice::Iter<'a, (&'de str, Value<'de>)>,
    value: Option<&'a Value<'de>>,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = GaveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GaveUp> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(&Value::Plain(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GaveUp> {
        seed.deserialize(self.value.take().ok_or(GaveUp)?)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as its variant's name.
struct UnitVariant<'a>(&'a str);

impl<'de> de::EnumAccess<'de> for UnitVariant<'_> {
    type Error = GaveUp;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), GaveUp> {
        let name: de::value::StrDeserializer<'_, GaveUp> = self.0.into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_> {
    type Error = GaveUp;

    fn unit_variant(self) -> Result<(), GaveUp> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, GaveUp> {
        Err(GaveUp)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping<'t>(entries: &[(&'t str, Value<'t>)]) -> Value<'t> {
        Value::Mapping(entries.to_vec())
    }

    #[test]
    fn block_collections_nest_by_indentation() {
        let text = "---\n# a comment\na: 1\nb:\n  c: x y  # trailing\n  d:\n  - e\n  -   f: g\n      h: 'i''j'\n  - [k, \"l\"]\n";
        let expected = mapping(&[
            ("a", Value::Plain("1")),
            (
                "b",
                mapping(&[
                    ("c", Value::Plain("x y")),
                    (
                        "d",
                        Value::Sequence(vec![
                            Value::Plain("e"),
                            mapping(&[
                                ("f", Value::Plain("g")),
                                ("h", Value::Quoted(Cow::Borrowed("i'j"))),
                            ]),
                            Value::Sequence(vec![
                                Value::Plain("k"),
                                Value::Quoted(Cow::Borrowed("l")),
                            ]),
                        ]),
                    ),
                ]),
            ),
        ]);
        assert_eq!(parse(text), Some(expected));
    }

    #[test]
    fn empty_values_and_flow_collections() {
        let text = "a:\nb: {c: d e, f: [], g: {}}\n";
        let expected = mapping(&[
            ("a", Value::Plain("")),
            (
                "b",
                mapping(&[
                    ("c", Value::Plain("d e")),
                    ("f", Value::Sequence(Vec::new())),
                    ("g", Value::Mapping(Vec::new())),
                ]),
            ),
        ]);
        assert_eq!(parse(text), Some(expected));
    }

    #[test]
    fn a_document_on_one_flow_line() {
        let text = "---\n{kind: Account, spec: {users: [{email: a@b.example}]}} # c\n";
        let expected = mapping(&[
            ("kind", Value::Plain("Account")),
            (
                "spec",
                mapping(&[(
                    "users",
                    Value::Sequence(vec![mapping(&[("email", Value::Plain("a@b.example"))])]),
                )]),
            ),
        ]);
        assert_eq!(parse(text), Some(expected));
        assert_eq!(
            parse("[a, b]\n"),
            Some(Value::Sequence(vec![Value::Plain("a"), Value::Plain("b")]))
        );
        assert_eq!(parse("{a: b}\nc: d\n"), None);
        assert_eq!(parse(" {a: b}\n"), None);
        assert_eq!(parse("{a: b,\n c: d}\n"), None);
    }

    /// Each of these is valid YAML outside the subset, or invalid YAML: both are left
    /// to serde_yaml.
    #[test]
    fn what_the_subset_leaves_to_serde_yaml() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: one\n  two\n",
            "a: 'one\n  two'\n",
            "a: [1,\n  2]\n",
            "a:\tb\n",
            "a: b\r\n",
            "? a\n: b\n",
            "a: 1\na: 2\n",
            "a: b: c\n",
            "a: \"\\t\"\n",
            "  a: 1\n",
            "a: 1\n b: 2\n",
            "- a\nb: 1\n",
            "%YAML 1.2\n---\na: 1\n",
            "--- a: 1\n",
            "a: 1\n...\n",
            "a: {b: c\n",
            "a: [b]]\n",
            "a: 'b'c\n",
            "a: {b: c}d\n",
            "\u{feff}a: 1\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn numbers_in_other_spellings_are_left_to_serde_yaml() {
        use serde::Deserialize;
        let read = |text: &'static str| {
            let value = parse(text).expect("in the subset");
            serde_json::Value::deserialize(&value).ok()
        };
        assert_eq!(read("a: 12\n"), Some(serde_json::json!({"a": 12})));
        assert_eq!(read("a: -3\n"), Some(serde_json::json!({"a": -3})));
        assert_eq!(read("a: x\n"), Some(serde_json::json!({"a": "x"})));
        assert_eq!(read("a: ~\n"), Some(serde_json::json!({"a": null})));
        for text in [
            "a: 1.5\n",
            "a: 0x1f\n",
            "a: +1\n",
            "a: 007\n",
            "a: .inf\n",
            "a: 1e3\n",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
    }
}
