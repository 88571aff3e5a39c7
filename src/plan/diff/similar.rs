//! Duplicate detection: a created account whose display name closely resembles another
//! account's (any source, live or declared) gets a `similar-name` warning.
//!
//! Names are normalized first (lowercase, punctuation dropped, legal suffixes such as
//! GmbH, AG, Inc., Ltd. removed), then scored with Jaro-Winkler. Names whose words with
//! digits or one-letter words differ ("Store 12" / "Store 13", "Building A" / "Building
//! B") are never similar: numbered or lettered accounts are a deliberate pattern, not a
//! typo.
//!
//! Comparing every created name with every other is O(n²) (10¹⁰ comparisons for 100k
//! against 100k). Instead this uses the sorted-neighbourhood method: all normalized
//! names are sorted twice, once as written and once reversed, and each created name is
//! compared with its few neighbours in both orders. Near-duplicates differ in a few
//! characters, so they share a long prefix (adjacent in the first order) or a long
//! suffix (adjacent in the second): O(n log n) in all.

use std::hash::{Hash, Hasher};
use std::ops::Range;

use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHasher;

use crate::model::Node;
use crate::plan::Warning;

use super::join::{Joined, Role};

/// Scores at or above this (0..=1) produce a warning.
const THRESHOLD: f64 = 0.9;
/// Neighbours compared on each side, in each of the two orders.
const WINDOW: usize = 4;
/// Tokens that name a legal form rather than the business.
const LEGAL_FORMS: [&str; 33] = [
    "ab",
    "ag",
    "aps",
    "as",
    "bv",
    "co",
    "company",
    "corp",
    "corporation",
    "eg",
    "ev",
    "gmbh",
    "inc",
    "incorporated",
    "kg",
    "kk",
    "limited",
    "llc",
    "llp",
    "ltd",
    "mbh",
    "nv",
    "ohg",
    "oy",
    "plc",
    "pty",
    "sa",
    "sarl",
    "sas",
    "se",
    "spa",
    "srl",
    "ug",
];
/// [`LEGAL_FORMS`] packed into numbers: checking a word is then a few dozen integer
/// comparisons instead of as many string comparisons (it runs for every word of every
/// account name).
const LEGAL_FORM_KEYS: [u128; LEGAL_FORMS.len()] = {
    let mut keys = [0; LEGAL_FORMS.len()];
    let mut index = 0;
    while index < LEGAL_FORMS.len() {
        keys[index] = pack(LEGAL_FORMS[index].as_bytes());
        index += 1;
    }
    keys
};

struct Candidate<'a> {
    name: &'a str,
    display: &'a str,
    /// The normalized name, in [`Keys::forward`].
    key: Range<usize>,
    /// The normalized name reversed, in [`Keys::backward`].
    reversed: Range<usize>,
    /// Characters in the normalized name.
    length: usize,
    /// A hash of the words that tell deliberate siblings apart (see [`Normalizer`]).
    marks: u64,
    created: bool,
}

/// Normalized names packed into two buffers: sorting 100k names then compares bytes
/// that sit together in memory instead of chasing 100k separate allocations.
#[derive(Default)]
struct Keys {
    forward: String,
    backward: String,
}

impl Keys {
    fn forward(&self, candidate: &Candidate<'_>) -> &str {
        &self.forward[candidate.key.clone()]
    }

    fn backward(&self, candidate: &Candidate<'_>) -> &str {
        &self.backward[candidate.reversed.clone()]
    }
}

/// One `similar-name` warning per created account that resembles another account.
pub(super) fn similar_name_warnings(nodes: &[Joined<'_, Node>]) -> Vec<Warning> {
    let is_account = |node: &&Joined<'_, Node>| !node.spec().node_type.is_group();
    // The role sits in the joined entry itself: checking it first keeps a plan without
    // creates from touching every node's spec.
    if !nodes
        .iter()
        .any(|node| node.role == Role::Create && is_account(&node))
    {
        return Vec::new();
    }
    let (candidates, keys) = candidates(nodes);
    // The two sorts are independent and the most expensive step: run them side by side.
    let (forward, backward) = rayon::join(
        || Order::new(&candidates, |candidate| keys.forward(candidate)),
        || Order::new(&candidates, |candidate| keys.backward(candidate)),
    );
    candidates
        .iter()
        .enumerate()
        .filter(|(_, candidate)| candidate.created)
        .filter_map(|(index, candidate)| {
            let (other, score) = most_similar(&candidates, &keys, [&forward, &backward], index)?;
            let other = &candidates[other];
            Some(Warning {
                code: "similar-name".to_string(),
                name: candidate.name.to_string(),
                message: format!(
                    "display name \"{}\" is similar to account {} (\"{}\", score {score:.2})",
                    candidate.display, other.name, other.display
                ),
            })
        })
        .collect()
}

/// Every remaining account with a non-empty normalized name, and the key buffers.
fn candidates<'a>(nodes: &[Joined<'a, Node>]) -> (Vec<Candidate<'a>>, Keys) {
    let mut keys = Keys::default();
    let mut normalizer = Normalizer::default();
    let candidates: Vec<Candidate<'_>> = nodes
        .iter()
        .filter(|node| !node.spec().node_type.is_group())
        .filter(|node| !node.removed())
        .filter_map(|node| {
            let display = node.spec().display_name.as_str();
            let start = keys.forward.len();
            let marks = normalizer.append(display, &mut keys.forward);
            let key = start..keys.forward.len();
            if key.is_empty() {
                return None;
            }
            let reversed_start = keys.backward.len();
            let characters = keys.forward[key.clone()].chars().rev();
            let length = characters.clone().count();
            keys.backward.extend(characters);
            Some(Candidate {
                name: node.name,
                display,
                key,
                reversed: reversed_start..keys.backward.len(),
                length,
                marks,
                created: node.role == Role::Create,
            })
        })
        .collect();
    (candidates, keys)
}

/// The best-scoring neighbour of a candidate in either order, ties to the smaller name.
fn most_similar(
    candidates: &[Candidate<'_>],
    keys: &Keys,
    orders: [&Order; 2],
    index: usize,
) -> Option<(usize, f64)> {
    let candidate = &candidates[index];
    let mut best: Option<(usize, f64)> = None;
    for other in orders.into_iter().flat_map(|order| order.neighbours(index)) {
        let Some(score) = score(keys, candidate, &candidates[other]) else {
            continue;
        };
        let better = best.is_none_or(|(best_index, best_score)| {
            score > best_score
                || (score == best_score && candidates[other].name < candidates[best_index].name)
        });
        if better {
            best = Some((other, score));
        }
    }
    best
}

/// Candidates in one sort order, with each candidate's place in it.
struct Order {
    sorted: Vec<usize>,
    place: Vec<usize>,
}

impl Order {
    fn new<'c, 'k>(
        candidates: &[Candidate<'c>],
        key: impl Fn(&Candidate<'c>) -> &'k str + Sync,
    ) -> Order {
        // The first 16 bytes as a number decide most comparisons without touching the
        // key buffer; equal prefixes fall back to the whole key, then the name.
        let mut prefixed: Vec<(u128, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(index, candidate)| (prefix(key(candidate)), index))
            .collect();
        prefixed.par_sort_unstable_by(|&(prefix_a, a), &(prefix_b, b)| {
            prefix_a.cmp(&prefix_b).then_with(|| {
                key(&candidates[a])
                    .cmp(key(&candidates[b]))
                    .then_with(|| candidates[a].name.cmp(candidates[b].name))
            })
        });
        let sorted: Vec<usize> = prefixed.into_iter().map(|(_, index)| index).collect();
        let mut place = vec![0; candidates.len()];
        for (at, &index) in sorted.iter().enumerate() {
            place[index] = at;
        }
        Order { sorted, place }
    }

    fn neighbours(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let at = self.place[index];
        let end = (at + WINDOW + 1).min(self.sorted.len());
        self.sorted[at.saturating_sub(WINDOW)..end]
            .iter()
            .copied()
            .filter(move |&other| other != index)
    }
}

/// The first 16 bytes of a key as a big-endian number: ordered like the bytes.
fn prefix(key: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let length = key.len().min(16);
    bytes[..length].copy_from_slice(&key.as_bytes()[..length]);
    u128::from_be_bytes(bytes)
}

/// The similarity of two candidates, when it reaches the threshold.
fn score(keys: &Keys, a: &Candidate<'_>, b: &Candidate<'_>) -> Option<f64> {
    if a.marks != b.marks {
        return None;
    }
    let (key_a, key_b) = (keys.forward(a), keys.forward(b));
    if key_a == key_b {
        return Some(1.0);
    }
    // Jaro-Winkler cannot reach 0.9 when one name is less than half as long as the
    // other (Jaro ≤ (2 + shorter/longer) / 3, and the prefix bonus adds at most
    // 0.4·(1 − Jaro)); skipping those saves most comparisons.
    let (shorter, longer) = (a.length.min(b.length), a.length.max(b.length));
    if shorter * 2 < longer {
        return None;
    }
    let score = strsim::jaro_winkler(key_a, key_b);
    (score >= THRESHOLD).then_some(score)
}

/// Lowercase words of a display name without punctuation and legal forms.
#[cfg(test)]
pub(super) fn normalize(display: &str) -> String {
    let mut normalized = String::new();
    Normalizer::default().append(display, &mut normalized);
    normalized
}

/// Normalizes display names into a shared buffer, reusing its scratch word.
#[derive(Default)]
struct Normalizer {
    word: String,
}

impl Normalizer {
    /// Appends the normalized form of `display` to `out` and returns the hash of its
    /// marks: the words containing a digit and the one-letter words, in order.
    fn append(&mut self, display: &str, out: &mut String) -> u64 {
        let start = out.len();
        let mut marks = FxHasher::default();
        for piece in display.split(|character: char| !character.is_alphanumeric()) {
            if piece.is_empty() {
                continue;
            }
            let word = &mut self.word;
            word.clear();
            if piece.is_ascii() {
                word.push_str(piece);
                word.make_ascii_lowercase();
            } else {
                word.extend(piece.chars().flat_map(char::to_lowercase));
            }
            if is_legal_form(word) {
                continue;
            }
            let one_letter = word.chars().nth(1).is_none();
            if one_letter || word.bytes().any(|byte| byte.is_ascii_digit()) {
                word.hash(&mut marks);
            }
            if out.len() > start {
                out.push(' ');
            }
            out.push_str(word);
        }
        marks.finish()
    }
}

fn is_legal_form(word: &str) -> bool {
    word.len() <= 16 && LEGAL_FORM_KEYS.contains(&pack(word.as_bytes()))
}

/// Up to 16 bytes as one number; distinct for distinct words without NUL bytes.
const fn pack(bytes: &[u8]) -> u128 {
    let mut packed = 0u128;
    let mut index = 0;
    while index < bytes.len() && index < 16 {
        packed = (packed << 8) | bytes[index] as u128;
        index += 1;
    }
    packed
}
