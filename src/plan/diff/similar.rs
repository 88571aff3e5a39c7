//! Duplicate detection: a created account whose display name closely resembles another
//! account's (any source, live or declared) gets a `similar-name` warning.
//!
//! Names are normalized first (lowercase, punctuation dropped, umlauts and accents
//! spelled out in ASCII so that "Müller" equals "Mueller", legal suffixes such as GmbH,
//! AG, Inc., Ltd. removed), then scored by edit distance: the share of characters that
//! stay when one name is edited into the other (normalized Levenshtein), 0.85 or more
//! warns. That catches typos and spellings ("Acme Euu", "ACME GmbH" / "Acme GmbH.")
//! but not names that differ by a word ("Shop One" / "Shop Ten" keep 62%). Never
//! similar: names whose words with digits or one-letter words differ ("Store 12" /
//! "Store 13", "Building A" / "Building B": a deliberate pattern, not a typo); a name
//! that is another plus words ("MegaCorp HR", a sub-division of "MegaCorp Inc."); an
//! account and its own ancestors or descendants; siblings created in the same change.
//! Each pair warns once.
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
use rustc_hash::{FxHashSet, FxHasher};

use crate::model::Node;
use crate::plan::Warning;

use super::join::{Joined, Role, position};

/// Scores at or above this (0..=1) produce a warning.
const THRESHOLD: f64 = 0.85;
/// A cheaper Jaro-Winkler score below this skips the edit distance: near-duplicates
/// score well above it.
const PREFILTER: f64 = 0.8;
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
    parent: Option<&'a str>,
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

/// One `similar-name` warning per pair of a created account and an account that
/// resembles it.
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
    let related = |a: &Candidate<'_>, b: &Candidate<'_>| related(nodes, a, b);
    let mut warned: FxHashSet<(&str, &str)> = FxHashSet::default();
    let mut warnings = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        if !candidate.created {
            continue;
        }
        let Some((other, score)) =
            most_similar(&candidates, &keys, [&forward, &backward], index, &related)
        else {
            continue;
        };
        let other = &candidates[other];
        if !warned.insert((
            candidate.name.min(other.name),
            candidate.name.max(other.name),
        )) {
            continue;
        }
        warnings.push(Warning {
            code: "similar-name".to_string(),
            name: candidate.name.to_string(),
            message: format!(
                "display name \"{}\" is similar to account {} (\"{}\", score {score:.2})",
                candidate.display, other.name, other.display
            ),
        });
    }
    warnings
}

/// Whether two accounts are expected to have alike names: one is an ancestor of the
/// other, or both are created under the same parent in this change.
fn related<'a>(nodes: &[Joined<'a, Node>], a: &Candidate<'a>, b: &Candidate<'a>) -> bool {
    if a.created && b.created && a.parent.is_some() && a.parent == b.parent {
        return true;
    }
    is_ancestor(nodes, a.name, b.parent) || is_ancestor(nodes, b.name, a.parent)
}

/// Whether `ancestor` is `parent` or one of its ancestors (the walk is bounded, so a
/// cycle in an invalid desired state cannot hang it).
fn is_ancestor<'a>(
    nodes: &[Joined<'a, Node>],
    ancestor: &str,
    mut parent: Option<&'a str>,
) -> bool {
    for _ in 0..=nodes.len() {
        let Some(name) = parent else { return false };
        if name == ancestor {
            return true;
        }
        parent = position(nodes, name).and_then(|at| nodes[at].spec().parent.as_deref());
    }
    false
}

/// Every remaining account with a non-empty normalized name, and the key buffers.
fn candidates<'a>(nodes: &[Joined<'a, Node>]) -> (Vec<Candidate<'a>>, Keys) {
    // Sized once: a normalized name is about as long as the name (spelled-out umlauts
    // aside), and growing buffers of a million names copies them again and again.
    let bytes: usize = nodes
        .iter()
        .map(|node| node.spec().display_name.len())
        .sum();
    let mut keys = Keys {
        forward: String::with_capacity(bytes),
        backward: String::with_capacity(bytes),
    };
    let mut normalizer = Normalizer::default();
    let mut candidates: Vec<Candidate<'_>> = Vec::with_capacity(nodes.len());
    let found = nodes
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
                parent: node.spec().parent.as_deref(),
                key,
                reversed: reversed_start..keys.backward.len(),
                length,
                marks,
                created: node.role == Role::Create,
            })
        });
    candidates.extend(found);
    (candidates, keys)
}

/// The best-scoring unrelated neighbour of a candidate in either order, ties to the
/// smaller name.
fn most_similar<'a>(
    candidates: &[Candidate<'a>],
    keys: &Keys,
    orders: [&Order; 2],
    index: usize,
    related: &impl Fn(&Candidate<'a>, &Candidate<'a>) -> bool,
) -> Option<(usize, f64)> {
    let candidate = &candidates[index];
    let mut best: Option<(usize, f64)> = None;
    for other in orders.into_iter().flat_map(|order| order.neighbours(index)) {
        let Some(score) = score(keys, candidate, &candidates[other]) else {
            continue;
        };
        if related(candidate, &candidates[other]) {
            continue;
        }
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

/// Candidates in one sort order (by key, then name), with each created candidate's
/// place in it. Only the candidates that can be a created one's neighbour are sorted.
struct Order {
    sorted: Vec<usize>,
    /// By candidate index; meaningful for the created candidates.
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
        let compare = |&(prefix_a, a): &(u128, usize), &(prefix_b, b): &(u128, usize)| {
            prefix_a.cmp(&prefix_b).then_with(|| {
                key(&candidates[a])
                    .cmp(key(&candidates[b]))
                    .then_with(|| candidates[a].name.cmp(candidates[b].name))
            })
        };
        let created = candidates.iter().filter(|c| c.created).count();
        if created * (2 * WINDOW + 1) + 2 * WINDOW < candidates.len() {
            prefixed = nearby(prefixed, |&(_, index)| candidates[index].created, &compare);
        }
        prefixed.par_sort_unstable_by(compare);
        let sorted: Vec<usize> = prefixed.into_iter().map(|(_, index)| index).collect();
        let mut place = vec![usize::MAX; candidates.len()];
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

/// The created candidates and every other candidate that can be one of their
/// [`WINDOW`] neighbours on either side: a few created accounts against a million
/// live ones then sort a few thousand entries, not a million.
///
/// The created entries, sorted, cut the order into gaps. Walking up from a created
/// entry meets the smallest entries of the gap above it first, and walking down the
/// largest of the gap below: keeping the [`WINDOW`] smallest and largest of each gap
/// (all of a gap that has fewer) keeps every neighbour, in the same order.
fn nearby<T: Copy>(
    entries: Vec<T>,
    is_created: impl Fn(&T) -> bool,
    compare: &impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    use std::cmp::Ordering::Less;
    let (mut created, others): (Vec<T>, Vec<T>) = entries.into_iter().partition(is_created);
    created.sort_unstable_by(compare);
    // Per gap (below the first created entry, between two, above the last): its
    // smallest and its largest entries, each list sorted.
    let mut smallest: Vec<Vec<T>> = vec![Vec::new(); created.len() + 1];
    let mut largest: Vec<Vec<T>> = vec![Vec::new(); created.len() + 1];
    for entry in others {
        let gap = created.partition_point(|known| compare(known, &entry) == Less);
        let low = &mut smallest[gap];
        let at = low.partition_point(|known| compare(known, &entry) == Less);
        if at < WINDOW {
            low.insert(at, entry);
            low.truncate(WINDOW);
        }
        let high = &mut largest[gap];
        let at = high.partition_point(|known| compare(known, &entry) == Less);
        if high.len() < WINDOW {
            high.insert(at, entry);
        } else if at > 0 {
            high.insert(at, entry);
            high.remove(0);
        }
    }
    let mut kept = created;
    for (low, high) in smallest.into_iter().zip(largest) {
        // An entry among both the smallest and the largest of its gap is kept once
        // (entries are distinct: the order is total).
        let extra = high
            .into_iter()
            .filter(|entry| !low.iter().any(|known| compare(known, entry).is_eq()));
        kept.extend(low.iter().copied().chain(extra));
    }
    kept
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
    score_keys(keys.forward(a), keys.forward(b), a.length, b.length)
}

/// The similarity of two normalized names of `length_a` and `length_b` characters.
fn score_keys(key_a: &str, key_b: &str, length_a: usize, length_b: usize) -> Option<f64> {
    if key_a == key_b {
        return Some(1.0);
    }
    // The edit-distance score is at most shorter/longer: skipping names too different
    // in length saves most comparisons.
    let (shorter, longer) = (length_a.min(length_b), length_a.max(length_b));
    if (shorter as f64) < THRESHOLD * longer as f64 {
        return None;
    }
    if strsim::jaro_winkler(key_a, key_b) < PREFILTER || extends(key_a, key_b) {
        return None;
    }
    let score = strsim::normalized_levenshtein(key_a, key_b);
    (score >= THRESHOLD).then_some(score)
}

/// Whether one name is the other plus more words ("megacorp hr" / "megacorp").
fn extends(key_a: &str, key_b: &str) -> bool {
    let (shorter, longer) = if key_a.len() <= key_b.len() {
        (key_a, key_b)
    } else {
        (key_b, key_a)
    };
    let longer_words: Vec<&str> = longer.split(' ').collect();
    let shorter_words: Vec<&str> = shorter.split(' ').collect();
    shorter_words.len() < longer_words.len()
        && shorter_words.iter().all(|word| longer_words.contains(word))
}

/// The score of two display names, as a plan would give it (for tests).
#[cfg(test)]
pub(super) fn similarity(a: &str, b: &str) -> Option<f64> {
    let mut normalizer = Normalizer::default();
    let (mut key_a, mut key_b) = (String::new(), String::new());
    let marks_a = normalizer.append(a, &mut key_a);
    let marks_b = normalizer.append(b, &mut key_b);
    if marks_a != marks_b || key_a.is_empty() || key_b.is_empty() {
        return None;
    }
    score_keys(&key_a, &key_b, key_a.chars().count(), key_b.chars().count())
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
                for character in piece.chars().flat_map(char::to_lowercase) {
                    match spelled_out(character) {
                        Some(ascii) => word.push_str(ascii),
                        None => word.push(character),
                    }
                }
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

/// The usual ASCII spelling of a lowercase letter with an umlaut or accent.
fn spelled_out(character: char) -> Option<&'static str> {
    Some(match character {
        'ä' | 'æ' => "ae",
        'ö' | 'ø' | 'œ' => "oe",
        'ü' => "ue",
        'ß' => "ss",
        'å' => "aa",
        'à' | 'á' | 'â' | 'ã' => "a",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' => "o",
        'ù' | 'ú' | 'û' => "u",
        'ý' | 'ÿ' => "y",
        _ => return None,
    })
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

#[cfg(test)]
mod nearby_tests {
    use super::{WINDOW, nearby};

    /// (key, serial): odd serials are the created entries.
    type Entry = (u32, u32);

    /// Each created entry with its neighbours in `entries` sorted.
    fn neighbours(mut entries: Vec<Entry>) -> Vec<(Entry, Vec<Entry>)> {
        entries.sort_unstable();
        entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.1 % 2 == 1)
            .map(|(at, &entry)| {
                let end = (at + WINDOW + 1).min(entries.len());
                let around = entries[at.saturating_sub(WINDOW)..end].to_vec();
                (entry, around)
            })
            .collect()
    }

    #[test]
    fn keeping_the_extremes_of_each_gap_keeps_every_neighbour() {
        let mut state: u64 = 7;
        let mut next = move |bound: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        for round in 0..300 {
            let count = 1 + next(400) as u32;
            // Few distinct keys, so that equal keys fall back to the second field.
            let keys = 1 + next(if round % 2 == 0 { 20 } else { 10_000 });
            let created_every = 1 + next(60);
            let entries: Vec<Entry> = (0..count)
                .map(|serial| {
                    let created = u64::from(serial) % created_every == 0;
                    (next(keys) as u32, serial * 2 + u32::from(created))
                })
                .collect();
            let kept = nearby(entries.clone(), |entry| entry.1 % 2 == 1, &|a, b| a.cmp(b));
            assert!(kept.len() <= entries.len());
            assert_eq!(neighbours(kept), neighbours(entries), "round {round}");
        }
    }
}
