//! [`NameTable`]: the positions of named items, found by name in one hash probe.
//!
//! Validation and the planner resolve every parent by name. A map from `&str` to
//! `usize` keeps a 24-byte entry per name and, at a million names, a table of two
//! million slots: 52 MB held through the load's and the diff's peaks. This table keeps
//! the position alone (4 bytes a slot, 10 MB at a million) and reads the name through
//! the items themselves, which the caller hands to every call.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Positions (below 2^32) of items that each have a name; the items are not held, so
/// each call takes `name_of`, which returns the name of the item at a position.
pub struct NameTable {
    table: HashTable<u32>,
}

impl NameTable {
    /// The positions `0..count`, the first position of a name repeated; `on_repeat`
    /// is called with the first and the repeated position of each repetition.
    pub fn build<'n>(
        count: usize,
        name_of: impl Fn(usize) -> &'n str,
        mut on_repeat: impl FnMut(usize, usize),
    ) -> NameTable {
        let mut table = HashTable::with_capacity(count);
        let rehash = |&position: &u32| hash(name_of(widen(position)));
        for position in 0..count {
            let name = name_of(position);
            let entry = table.entry(
                hash(name),
                |&known: &u32| name_of(widen(known)) == name,
                rehash,
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(first) => {
                    on_repeat(widen(*first.get()), position);
                }
                hashbrown::hash_table::Entry::Vacant(slot) => {
                    slot.insert(narrow(position));
                }
            }
        }
        NameTable { table }
    }

    /// The position of the item named `name`.
    pub fn get<'n>(&self, name: &str, name_of: impl Fn(usize) -> &'n str) -> Option<usize> {
        self.table
            .find(hash(name), |&known| name_of(widen(known)) == name)
            .map(|&position| widen(position))
    }
}

fn hash(name: &str) -> u64 {
    FxBuildHasher.hash_one(name)
}

fn widen(position: u32) -> usize {
    // `usize` is at least 32 bits on every target canopy builds for.
    position as usize
}

/// A position as stored. Each item is a node or plan of at least a hundred bytes in
/// memory, so 2^32 of them cannot be loaded; past that the table would be wrong, and
/// this stops instead.
fn narrow(position: usize) -> u32 {
    u32::try_from(position).expect("fewer than 2^32 named items in memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_name_at_its_first_position() {
        let names = ["b", "a", "c", "a", "b"];
        let mut repeats = Vec::new();
        let table = NameTable::build(
            names.len(),
            |position| names[position],
            |first, again| repeats.push((first, again)),
        );
        let name_of = |position: usize| names[position];
        assert_eq!(table.get("b", name_of), Some(0));
        assert_eq!(table.get("a", name_of), Some(1));
        assert_eq!(table.get("c", name_of), Some(2));
        assert_eq!(table.get("d", name_of), None);
        assert_eq!(repeats, [(1, 3), (0, 4)]);
    }

    #[test]
    fn finds_every_name_of_a_large_set() {
        let names: Vec<String> = (0..50_000).map(|i| format!("node-{i}")).collect();
        let table = NameTable::build(
            names.len(),
            |position| &names[position],
            |first, again| panic!("no name repeats: {first} and {again}"),
        );
        for (position, name) in names.iter().enumerate() {
            assert_eq!(table.get(name, |at| &names[at]), Some(position));
        }
        assert_eq!(table.get("node-50000", |at| &names[at]), None);
    }
}
