//! [`Rare`]: a collection most nodes leave empty, held in one pointer.
//!
//! Services, settings and locked settings are declared on a few partners and almost no
//! customers, yet every node carries the three fields: as a `BTreeMap` or a `Vec` each
//! takes 24 bytes in the node, as a `Rare` 8, and nothing is allocated until something
//! is put in. Reading sees the collection itself (an empty one when there is none), so
//! `spec.services.get(..)`, `.iter()` and `for … in &spec.services` read as before.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A collection with a shared empty value to hand out when there is none.
pub trait Collection: Default + 'static {
    fn empty() -> &'static Self;
    fn is_empty(&self) -> bool;
}

impl<V: Sync + 'static> Collection for BTreeMap<String, V> {
    fn empty() -> &'static Self {
        // One per value type; `BTreeMap::new` allocates nothing.
        const { &BTreeMap::new() }
    }

    fn is_empty(&self) -> bool {
        BTreeMap::is_empty(self)
    }
}

impl Collection for Vec<String> {
    fn empty() -> &'static Self {
        const { &Vec::new() }
    }

    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

/// A collection that is allocated only when it holds something. Equal when the
/// collections are, whether an empty one is allocated or not.
#[derive(Clone, Default)]
pub struct Rare<T>(Option<Box<T>>);

impl<T: Collection> Rare<T> {
    pub fn new() -> Rare<T> {
        Rare(None)
    }

    /// Whether the collection is empty (`skip_serializing_if` names this).
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(Collection::is_empty)
    }
}

impl<T: Collection> From<T> for Rare<T> {
    fn from(collection: T) -> Rare<T> {
        if collection.is_empty() {
            Rare(None)
        } else {
            Rare(Some(Box::new(collection)))
        }
    }
}

impl<T: Collection> Deref for Rare<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or_else(|| T::empty())
    }
}

impl<T: Collection> DerefMut for Rare<T> {
    /// Allocates the collection if there is none: write through it only to fill it.
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<'a, T: Collection> IntoIterator for &'a Rare<T>
where
    &'a T: IntoIterator,
{
    type Item = <&'a T as IntoIterator>::Item;
    type IntoIter = <&'a T as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

impl<T: Collection + PartialEq> PartialEq for Rare<T> {
    fn eq(&self, other: &Rare<T>) -> bool {
        **self == **other
    }
}

impl<T: Collection + Eq> Eq for Rare<T> {}

impl<T: Collection + PartialEq> PartialEq<T> for Rare<T> {
    fn eq(&self, other: &T) -> bool {
        **self == *other
    }
}

impl<T: Collection + fmt::Debug> fmt::Debug for Rare<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Collection + Serialize> Serialize for Rare<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, T: Collection + Deserialize<'de>> Deserialize<'de> for Rare<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rare<T>, D::Error> {
        T::deserialize(deserializer).map(Rare::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_collection_allocates_nothing_and_equals_an_allocated_empty_one() {
        assert_eq!(
            std::mem::size_of::<Rare<BTreeMap<String, bool>>>(),
            8,
            "one pointer"
        );
        let none: Rare<BTreeMap<String, bool>> = Rare::new();
        assert!(none.0.is_none());
        assert!(none.is_empty());
        assert_eq!(none.get("scanning"), None);
        let mut filled = Rare::from(BTreeMap::new());
        assert!(filled.0.is_none(), "an empty collection is not boxed");
        filled.insert("scanning".to_string(), false);
        assert_eq!(filled.get("scanning"), Some(&false));
        assert_ne!(filled, none);
        filled.clear();
        assert_eq!(filled, none, "empty equals empty, allocated or not");
        let one = Rare::from(BTreeMap::from([("a".to_string(), true)]));
        let pairs: Vec<_> = (&one).into_iter().collect();
        assert_eq!(pairs, [(&"a".to_string(), &true)]);
        let json = serde_json::to_string(&Rare::from(vec!["x".to_string()])).unwrap();
        assert_eq!(json, r#"["x"]"#);
        let back: Rare<Vec<String>> = serde_json::from_str("[]").unwrap();
        assert!(back.0.is_none());
    }
}
