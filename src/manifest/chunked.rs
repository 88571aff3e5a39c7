//! [`Chunked`]: one sequence kept as the vectors it was gathered in.
//!
//! Each manifest is declared on a parsing thread into a vector of its own; a load then
//! reads all of them as one sequence, in file order. Appending the files' vectors into
//! one would hold every declaration twice at the peak of a load (the files' vectors
//! beside the merged copy: 50.2 and 39.2 MB at 100k accounts); a `Chunked` keeps the
//! vectors and finds an item by its position through a table of four bytes per item.

use std::ops::{Index, IndexMut};

use rayon::prelude::*;

/// A sequence stored as consecutive vectors (chunks).
#[derive(Debug, Clone)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    /// The chunk of each item, by position.
    chunk_of: Vec<u32>,
    /// The position of each chunk's first item.
    starts: Vec<usize>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Chunked<T> {
        Chunked {
            chunks: Vec::new(),
            chunk_of: Vec::new(),
            starts: Vec::new(),
        }
    }
}

impl<T> Chunked<T> {
    pub fn len(&self) -> usize {
        self.chunk_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunk_of.is_empty()
    }

    /// Adds `item` at the end (to the last chunk).
    pub fn push(&mut self, item: T) {
        if self.chunks.is_empty() {
            self.start_chunk(Vec::new());
        }
        let last = self.chunks.len() - 1;
        self.chunks[last].push(item);
        self.chunk_of.push(chunk_number(last));
    }

    /// Moves `items` in at the end, as a chunk of its own (no item is copied).
    pub fn push_chunk(&mut self, items: Vec<T>) {
        if items.is_empty() {
            return;
        }
        let chunk = chunk_number(self.chunks.len());
        self.chunk_of
            .extend(std::iter::repeat_n(chunk, items.len()));
        self.start_chunk(items);
    }

    /// Moves every item of `other` in at the end, leaving it empty.
    pub fn append(&mut self, other: &mut Chunked<T>) {
        for chunk in std::mem::take(other).chunks {
            self.push_chunk(chunk);
        }
    }

    /// Trims each chunk ([`trimmed`]).
    pub fn trim(&mut self) {
        for chunk in &mut self.chunks {
            *chunk = trimmed(std::mem::take(chunk));
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// The items in parallel; collected, they keep their order.
    pub fn par_iter(&self) -> impl ParallelIterator<Item = &T>
    where
        T: Sync,
    {
        self.chunks.par_iter().flat_map_iter(|chunk| chunk.iter())
    }

    fn start_chunk(&mut self, items: Vec<T>) {
        let start = self
            .starts
            .last()
            .map_or(0, |&start| start + self.chunks.last().map_or(0, Vec::len));
        self.starts.push(start);
        self.chunks.push(items);
    }
}

/// `items` in an allocation of its length when more than an eighth of it is spare (as
/// pushing leaves it). A copy rather than `shrink_to_fit`: the allocator keeps a block
/// asked to shrink by less than half.
pub(crate) fn trimmed<T>(items: Vec<T>) -> Vec<T> {
    if items.capacity() - items.len() <= items.len() / 8 {
        return items;
    }
    let mut exact = Vec::with_capacity(items.len());
    exact.extend(items);
    exact
}

/// A chunk's number in the four bytes the table keeps: a load has far fewer files.
fn chunk_number(chunk: usize) -> u32 {
    u32::try_from(chunk).expect("fewer than 2^32 manifests in one load")
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;

    fn index(&self, position: usize) -> &T {
        let chunk = self.chunk_of[position] as usize;
        &self.chunks[chunk][position - self.starts[chunk]]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, position: usize) -> &mut T {
        let chunk = self.chunk_of[position] as usize;
        &mut self.chunks[chunk][position - self.starts[chunk]]
    }
}

impl<T> IntoIterator for Chunked<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    /// Each chunk is freed as soon as its last item is taken.
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter().flatten()
    }
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_read_as_one_sequence_in_order() {
        let mut first = Chunked::default();
        first.push(0);
        first.push(1);
        let mut all = Chunked::default();
        all.append(&mut first);
        assert!(first.is_empty());
        all.push_chunk(Vec::new());
        all.push_chunk(vec![2, 3, 4]);
        all.push(5);
        assert_eq!(all.len(), 6);
        assert_eq!(all.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            (0..6).map(|i| all[i]).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        all[3] = 30;
        let parallel: Vec<i32> = all.par_iter().copied().collect();
        assert_eq!(parallel, [0, 1, 2, 30, 4, 5]);
        all.trim();
        assert_eq!(all.into_iter().collect::<Vec<_>>(), [0, 1, 2, 30, 4, 5]);
    }
}
