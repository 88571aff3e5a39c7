//! Duplicate detection: a created account whose display name closely resembles another
//! account's (any source, live or declared) gets a `similar-name` warning.
//!
//! Names are normalized first (lowercase, punctuation dropped, legal suffixes such as
//! GmbH, AG, Inc., Ltd. removed), then scored with Jaro-Winkler. Names whose numbers or
//! one-letter words differ ("Store 12" / "Store 13", "Building A" / "Building B") are
//! never similar: numbered or lettered accounts are a deliberate pattern, not a typo.
//!
//! Comparing every created name with every other is O(n²) (10¹⁰ comparisons for 100k
//! against 100k). Instead this uses the sorted-neighbourhood method: all normalized
//! names are sorted twice, once as written and once reversed, and each created name is
//! compared with its few neighbours in both orders. Near-duplicates differ in a few
//! characters, so they share a long prefix (adjacent in the first order) or a long
//! suffix (adjacent in the second): O(n log n) in all.

use std::ops::Range;

use crate::model::Node;
use crate::plan::Warning;

use super::join::{Joined, Role};

/// Scores at or above this (0..=1) produce a warning.
const THRESHOLD: f64 = 0.9;
/// Neighbours compared on each side, in each of the two orders.
const WINDOW: usize = 4;
/// Tokens that name a legal form rather than the business.
const LEGAL_FORMS: &[&str] = &[
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

struct Candidate<'a> {
    name: &'a str,
    display: &'a str,
    /// The normalized name, in [`Keys::forward`].
    key: Range<usize>,
    /// The normalized name reversed, in [`Keys::backward`].
    reversed: Range<usize>,
    /// Characters in the normalized name.
    length: usize,
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
    if !nodes
        .iter()
        .filter(is_account)
        .any(|node| node.role == Role::Create)
    {
        return Vec::new();
    }
    let mut keys = Keys::default();
    let mut word = String::new();
    let candidates: Vec<Candidate<'_>> = nodes
        .iter()
        .filter(is_account)
        .filter(|node| !node.removed())
        .filter_map(|node| {
            let display = node.spec().display_name.as_str();
            let start = keys.forward.len();
            normalize_into(display, &mut keys.forward, &mut word);
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
                created: node.role == Role::Create,
            })
        })
        .collect();
    let forward = Order::new(&candidates, |candidate| keys.forward(candidate));
    let backward = Order::new(&candidates, |candidate| keys.backward(candidate));
    candidates
        .iter()
        .enumerate()
        .filter(|(_, candidate)| candidate.created)
        .filter_map(|(index, candidate)| {
            let (other, score) = [&forward, &backward]
                .into_iter()
                .flat_map(|order| order.neighbours(index))
                .filter_map(|other| Some((other, score(&keys, candidate, &candidates[other])?)))
                .max_by(|(a, score_a), (b, score_b)| {
                    score_a
                        .total_cmp(score_b)
                        .then_with(|| candidates[*b].name.cmp(candidates[*a].name))
                })?;
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

/// Candidates in one sort order, with each candidate's place in it.
struct Order {
    sorted: Vec<usize>,
    place: Vec<usize>,
}

impl Order {
    fn new<'c, 'k>(candidates: &[Candidate<'c>], key: impl Fn(&Candidate<'c>) -> &'k str) -> Order {
        let mut sorted: Vec<usize> = (0..candidates.len()).collect();
        sorted.sort_unstable_by(|&a, &b| {
            key(&candidates[a])
                .cmp(key(&candidates[b]))
                .then_with(|| candidates[a].name.cmp(candidates[b].name))
        });
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

/// The similarity of two candidates, when it reaches the threshold.
fn score(keys: &Keys, a: &Candidate<'_>, b: &Candidate<'_>) -> Option<f64> {
    let (key_a, key_b) = (keys.forward(a), keys.forward(b));
    if !marks(key_a).eq(marks(key_b)) {
        return None;
    }
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

/// The parts of a normalized name that tell deliberate siblings apart: runs of digits
/// and one-letter words.
fn marks(text: &str) -> impl Iterator<Item = &str> {
    let digit_runs = text
        .split(|character: char| !character.is_ascii_digit())
        .filter(|run| !run.is_empty());
    let letters = text
        .split(' ')
        .filter(|word| word.chars().count() == 1 && !word.chars().all(|c| c.is_ascii_digit()));
    digit_runs.chain(letters)
}

/// Lowercase words of a display name without punctuation and legal forms.
#[cfg(test)]
pub(super) fn normalize(display: &str) -> String {
    let mut normalized = String::new();
    normalize_into(display, &mut normalized, &mut String::new());
    normalized
}

/// Appends the normalized form of `display` to `out`; `word` is scratch space.
fn normalize_into(display: &str, out: &mut String, word: &mut String) {
    let start = out.len();
    for piece in display.split(|character: char| !character.is_alphanumeric()) {
        if piece.is_empty() {
            continue;
        }
        word.clear();
        word.extend(piece.chars().flat_map(char::to_lowercase));
        if LEGAL_FORMS.contains(&word.as_str()) {
            continue;
        }
        if out.len() > start {
            out.push(' ');
        }
        out.push_str(word);
    }
}
