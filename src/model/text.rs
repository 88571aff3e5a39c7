//! [`Text`]: a shared, immutable string one pointer wide, for the values a hierarchy
//! repeats (parents, plans, sources, languages, time zones).
//!
//! Siblings name one parent and a hierarchy has a handful of plans: each node holds a
//! pointer to one shared copy (handed out by an [`Interner`]) instead of its own
//! string. A `String` takes 24 bytes in the node and a heap block per node, an
//! `Arc<str>` 16 bytes; a `Text` takes 8, and `Option<Text>` too. The price is one more
//! pointer to follow when the text is read.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use rustc_hash::FxHashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A shared, immutable string; compares, orders and hashes as its `str`.
#[derive(Clone)]
pub struct Text(Arc<Box<str>>);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether both are the same shared copy (equal texts need not be).
    pub fn ptr_eq(&self, other: &Text) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Text {
        Text(Arc::new(Box::from(text)))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(Arc::new(text.into_boxed_str()))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.ptr_eq(other) || self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    /// As the `str`, so that a set of texts is searched by `&str` ([`Borrow`]).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    /// A copy of its own: what decodes many should share through an [`Interner`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        String::deserialize(deserializer).map(Text::from)
    }
}

/// Hands out one shared copy of each distinct text it is given, so that the nodes and
/// users that repeat a value hold one string between them.
#[derive(Debug, Default)]
pub struct Interner {
    texts: FxHashSet<Text>,
}

impl Interner {
    pub fn intern(&mut self, text: &str) -> Text {
        if let Some(found) = self.texts.get(text) {
            return found.clone();
        }
        let shared = Text::from(text);
        self.texts.insert(shared.clone());
        shared
    }

    /// [`Interner::intern`] of an optional text.
    pub fn optional(&mut self, text: Option<&str>) -> Option<Text> {
        text.map(|text| self.intern(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_one_pointer_wide_even_when_optional() {
        assert_eq!(std::mem::size_of::<Text>(), 8);
        assert_eq!(std::mem::size_of::<Option<Text>>(), 8);
    }

    #[test]
    fn interned_texts_share_one_copy_and_compare_as_strings() {
        let mut interner = Interner::default();
        let first = interner.intern("partner-1");
        let second = interner.intern("partner-1");
        assert!(first.ptr_eq(&second));
        let own = Text::from("partner-1");
        assert!(!own.ptr_eq(&first));
        assert_eq!(own, first);
        assert!(interner.intern(&own).ptr_eq(&first));
        let (a, b) = (Text::from("a"), Text::from("b"));
        assert!(a < b);
        assert_eq!(first, "partner-1");
        assert_eq!(first.to_string(), "partner-1");
        assert_eq!(serde_json::to_string(&first).unwrap(), "\"partner-1\"");
        let back: Text = serde_json::from_str("\"partner-1\"").unwrap();
        assert_eq!(back, first);
    }
}
