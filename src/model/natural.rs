//! Natural order of names, as people sort them: `shop-2` before `shop-10`.
//!
//! Runs of digits compare by their numeric value, everything else byte by byte; names
//! that compare equal that way (`shop-02`, `shop-2`) fall back to plain byte order, so
//! the order is total and deterministic. `canopy get` and `canopy export` both list
//! objects in [`tree_order`].

use std::cmp::Ordering;

use super::Hierarchy;
use super::effective::parent_indices;

/// Compares two names in natural order.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut left, mut right) = (a.as_bytes(), b.as_bytes());
    loop {
        match (left.first(), right.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (number_a, rest_a) = split_number(left);
                let (number_b, rest_b) = split_number(right);
                let by_value = number_a
                    .len()
                    .cmp(&number_b.len())
                    .then_with(|| number_a.cmp(number_b));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (left, right) = (rest_a, rest_b);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (left, right) = (&left[1..], &right[1..]);
            }
        }
    }
}

/// A leading run of digits without its leading zeros, and what follows it.
fn split_number(bytes: &[u8]) -> (&[u8], &[u8]) {
    let end = bytes
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(bytes.len());
    let (number, rest) = bytes.split_at(end);
    let zeros = number.iter().take_while(|&&byte| byte == b'0').count();
    (&number[zeros..], rest)
}

/// Node indices depth-first, parents before children, roots and siblings in natural
/// order; nodes on a parent cycle (invalid, never stored) come last.
pub fn tree_order(hierarchy: &Hierarchy) -> Vec<usize> {
    let count = hierarchy.nodes.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut roots = Vec::new();
    for (index, parent) in parent_indices(hierarchy).into_iter().enumerate() {
        match parent {
            Some(parent) => children[parent].push(index),
            None => roots.push(index),
        }
    }
    let by_name =
        |a: &usize, b: &usize| compare(&hierarchy.nodes[*a].name, &hierarchy.nodes[*b].name);
    roots.sort_by(by_name);
    for siblings in &mut children {
        siblings.sort_by(by_name);
    }
    let mut order = Vec::with_capacity(count);
    let mut seen = vec![false; count];
    let mut stack: Vec<usize> = roots.into_iter().rev().collect();
    while let Some(index) = stack.pop() {
        if std::mem::replace(&mut seen[index], true) {
            continue;
        }
        order.push(index);
        stack.extend(children[index].iter().rev());
    }
    order.extend((0..count).filter(|&index| !seen[index]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, NodeSpec, NodeType};

    #[rstest::rstest]
    #[case("shop-2", "shop-10")]
    #[case("shop-9", "shop-10")]
    #[case("shop", "shop-1")]
    #[case("a-2-b-3", "a-2-b-10")]
    #[case("shop-02", "shop-2")]
    #[case("shop-2", "shop-02b")]
    #[case("acme", "acme-de")]
    #[case("x-1", "y-0")]
    fn names_sort_the_way_people_count(#[case] first: &str, #[case] second: &str) {
        assert_eq!(compare(first, second), Ordering::Less);
        assert_eq!(compare(second, first), Ordering::Greater);
    }

    #[test]
    fn a_sort_puts_ten_after_nine() {
        let mut names = vec!["shop-10", "shop-1", "shop-2", "shop-9", "shop-100"];
        names.sort_by(|a, b| compare(a, b));
        assert_eq!(names, ["shop-1", "shop-2", "shop-9", "shop-10", "shop-100"]);
    }

    fn node(name: &str, parent: Option<&str>) -> Node {
        let mut spec = NodeSpec::new(NodeType::Partner, name);
        spec.parent = parent.map(Into::into);
        Node {
            name: name.into(),
            spec,
            adopt: false,
            live: Default::default(),
            effective: None,
        }
    }

    #[test]
    fn the_tree_order_is_depth_first_with_natural_siblings() {
        let hierarchy = Hierarchy::new(
            vec![
                node("root-10", None),
                node("root-2", None),
                node("shop-10", Some("root-2")),
                node("shop-2", Some("root-2")),
                node("shop-2-a", Some("shop-2")),
            ],
            Vec::new(),
        );
        let names: Vec<&str> = tree_order(&hierarchy)
            .into_iter()
            .map(|index| hierarchy.nodes[index].name.as_str())
            .collect();
        assert_eq!(
            names,
            ["root-2", "shop-2", "shop-2-a", "shop-10", "root-10"]
        );
    }
}
