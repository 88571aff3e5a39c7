//! Turning key paths (`spec.users[1].email` in the third document) into line:column.
//!
//! Parsing keeps no positions, so the happy path stays fast; only when a finding
//! exists is its file parsed again, here, with saphyr-parser's event stream, which
//! carries a position for every node. A path that does not exist in the document
//! (a missing field, say) resolves to the deepest part of it that does.

use rustc_hash::{FxHashMap, FxHashSet};
use saphyr_parser::{Event, Parser, Span};

use super::diagnostic::{FieldPath, Segment, Target};
use super::input::saturating_u32;
use super::parse::split_documents;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// Where a node sits: its key (for a mapping value) and the value itself.
#[derive(Debug, Clone, Copy)]
struct NodePosition {
    key: Option<Position>,
    value: Position,
}

/// Resolves every `(document, path, target)` request against `text`, returning the
/// positions in the same order.
pub fn resolve(text: &str, requests: &[(u32, &FieldPath, Target)]) -> Vec<Position> {
    let chunks = split_documents(text);
    let mut by_document: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
    for (index, (document, _, _)) in requests.iter().enumerate() {
        by_document.entry(*document).or_default().push(index);
    }
    let mut positions = vec![Position { line: 1, column: 1 }; requests.len()];
    for (document, indices) in by_document {
        let Some(chunk) = chunks.get(document as usize) else {
            continue;
        };
        let wanted: FxHashSet<&[Segment]> = indices
            .iter()
            .flat_map(|&index| {
                let path = &requests[index].1.0;
                (0..=path.len()).map(move |length| &path[..length])
            })
            .collect();
        let found = walk(chunk.text, &wanted);
        let line_offset = saturating_u32(chunk.first_line);
        for index in indices {
            let (_, path, target) = requests[index];
            let mut position =
                pick(&found, &path.0, target).unwrap_or(Position { line: 1, column: 1 });
            position.line = position.line.saturating_add(line_offset);
            positions[index] = position;
        }
    }
    positions
}

/// The position for `path`: the node itself if it exists, else the key of its
/// deepest existing ancestor.
fn pick(
    found: &FxHashMap<Vec<Segment>, NodePosition>,
    path: &[Segment],
    target: Target,
) -> Option<Position> {
    if let Some(node) = found.get(path) {
        return Some(match target {
            Target::Key => node.key.unwrap_or(node.value),
            Target::Value => node.value,
        });
    }
    (0..path.len())
        .rev()
        .find_map(|length| found.get(&path[..length]))
        .map(|node| node.key.unwrap_or(node.value))
}

/// A collection being walked.
struct Frame {
    state: FrameState,
    /// Whether entering the collection pushed a path segment (the root pushes none).
    pushed: bool,
}

enum FrameState {
    /// In a mapping: the key just read and its position, when a value is due.
    Mapping {
        pending_key: Option<(Segment, Position)>,
    },
    Sequence {
        next_index: u32,
    },
}

/// A key that no path names: complex keys and aliases used as keys.
fn unaddressable_key() -> Segment {
    Segment::Key("\u{0}".to_string())
}

/// Walks a document's events once, recording the position of every wanted path.
fn walk(text: &str, wanted: &FxHashSet<&[Segment]>) -> FxHashMap<Vec<Segment>, NodePosition> {
    let mut found = FxHashMap::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut path: Vec<Segment> = Vec::new();
    // Depth inside a complex mapping key, which is skipped.
    let mut skip_depth = 0u32;
    let mut skip_start = Position { line: 1, column: 1 };
    let mut parser = Parser::new_from_str(text);
    while let Some(Ok((event, span))) = parser.next_event() {
        let position = start_of(span);
        let is_start = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
        let is_end = matches!(event, Event::MappingEnd | Event::SequenceEnd);
        if skip_depth > 0 {
            skip_depth = if is_start {
                skip_depth + 1
            } else if is_end {
                skip_depth - 1
            } else {
                skip_depth
            };
            if skip_depth == 0 {
                set_pending_key(&mut stack, unaddressable_key(), skip_start);
            }
            continue;
        }
        let expects_key = matches!(
            stack.last(),
            Some(Frame {
                state: FrameState::Mapping { pending_key: None },
                ..
            })
        );
        match event {
            Event::Scalar(..) | Event::Alias(_) if expects_key => {
                let key = match event {
                    Event::Scalar(value, ..) => Segment::Key(value.into_owned()),
                    _ => unaddressable_key(),
                };
                set_pending_key(&mut stack, key, position);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) if expects_key => {
                skip_depth = 1;
                skip_start = position;
            }
            Event::Scalar(..) | Event::Alias(_)
                if enter_node(&mut stack, &mut path, wanted, &mut found, position) =>
            {
                path.pop();
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let pushed = enter_node(&mut stack, &mut path, wanted, &mut found, position);
                let state = if matches!(event, Event::MappingStart(..)) {
                    FrameState::Mapping { pending_key: None }
                } else {
                    FrameState::Sequence { next_index: 0 }
                };
                stack.push(Frame { state, pushed });
            }
            Event::MappingEnd | Event::SequenceEnd
                if stack.pop().is_some_and(|frame| frame.pushed) =>
            {
                path.pop();
            }
            _ => {}
        }
    }
    found
}

fn set_pending_key(stack: &mut [Frame], key: Segment, position: Position) {
    if let Some(Frame {
        state: FrameState::Mapping { pending_key },
        ..
    }) = stack.last_mut()
    {
        *pending_key = Some((key, position));
    }
}

/// Registers a node at the current place in its parent collection, pushing its path
/// segment. Returns whether a segment was pushed (the root has none).
fn enter_node(
    stack: &mut [Frame],
    path: &mut Vec<Segment>,
    wanted: &FxHashSet<&[Segment]>,
    found: &mut FxHashMap<Vec<Segment>, NodePosition>,
    position: Position,
) -> bool {
    let (segment, key) = match stack.last_mut().map(|frame| &mut frame.state) {
        Some(FrameState::Mapping { pending_key }) => match pending_key.take() {
            Some((segment, key_position)) => (Some(segment), Some(key_position)),
            None => (None, None),
        },
        Some(FrameState::Sequence { next_index }) => {
            let index = *next_index;
            *next_index += 1;
            (Some(Segment::Index(index)), None)
        }
        None => (None, None),
    };
    let pushed = segment.is_some();
    if let Some(segment) = segment {
        path.push(segment);
    }
    if wanted.contains(path.as_slice()) {
        found.insert(
            path.clone(),
            NodePosition {
                key,
                value: position,
            },
        );
    }
    pushed
}

fn start_of(span: Span) -> Position {
    Position {
        line: saturating_u32(span.start.line()),
        column: saturating_u32(span.start.col() + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# comment\napiVersion: v\nspec:\n  parent: x\n---\nspec:\n  users:\n    - {email: a@b.example, name: A}\n    - email: c@d.example\n      name: C\n";

    fn at(document: u32, path: FieldPath, target: Target) -> (u32, u32) {
        let position = resolve(TEXT, &[(document, &path, target)])[0];
        (position.line, position.column)
    }

    #[test]
    fn a_value_is_found_in_its_document() {
        let path = FieldPath::new().key("spec").key("parent");
        assert_eq!(at(0, path.clone(), Target::Value), (4, 11));
        assert_eq!(at(0, path, Target::Key), (4, 3));
    }

    #[test]
    fn sequence_items_and_flow_mappings_are_addressed() {
        let users = FieldPath::new().key("spec").key("users");
        assert_eq!(
            at(1, users.clone().index(0).key("name"), Target::Value),
            (8, 34)
        );
        assert_eq!(at(1, users.index(1).key("name"), Target::Value), (10, 13));
    }

    #[test]
    fn a_missing_path_falls_back_to_its_deepest_existing_key() {
        let path = FieldPath::new().key("spec").key("plan");
        assert_eq!(at(0, path, Target::Value), (3, 1));
    }

    #[test]
    fn many_requests_resolve_in_order() {
        let first = FieldPath::new().key("apiVersion");
        let second = FieldPath::new().key("spec").key("users").index(1);
        let positions = resolve(
            TEXT,
            &[(1, &second, Target::Value), (0, &first, Target::Key)],
        );
        assert_eq!(positions[0], Position { line: 9, column: 7 });
        assert_eq!(positions[1], Position { line: 2, column: 1 });
    }
}
