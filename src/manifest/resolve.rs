//! From findings to diagnostics: every location resolved, messages completed, sorted
//! by file order and position.
//!
//! Only sources with key-path findings are read again, each once, and each of their
//! documents walked once ([`super::locate::resolve`]).

use rustc_hash::FxHashMap;

use super::diagnostic::{At, Diagnostic, FieldPath, Finding, Location, Spot, Target};
use super::input::Source;
use super::locate::{self, Position};

/// Diagnostics sort by where they are: the input as a whole first, then sources in
/// order and by position, then cluster objects.
type SortKey = (u8, u32, u32, u32);

/// Resolves every finding's location and sorts the diagnostics.
pub(crate) fn diagnostics(findings: Vec<Finding>, sources: &[Source]) -> Vec<Diagnostic> {
    let resolver = Resolver::new(&findings, sources);
    let mut located: Vec<(SortKey, Diagnostic)> = findings
        .into_iter()
        .map(|finding| {
            let (location, key) = resolver.location(&finding.at);
            let mut message = finding.message;
            if let Some(also) = &finding.also {
                let (first, _) = resolver.location(also);
                message.push_str(&format!(" (first declared at {first})"));
            }
            let diagnostic = Diagnostic {
                severity: finding.severity,
                rule: finding.rule,
                location,
                object: finding.object,
                message,
            };
            (key, diagnostic)
        })
        .collect();
    located.sort_by_key(|(key, _)| *key);
    located
        .into_iter()
        .map(|(_, diagnostic)| diagnostic)
        .collect()
}

type PathKey = (u32, u32, FieldPath, Target);

struct Resolver<'a> {
    sources: &'a [Source],
    positions: FxHashMap<PathKey, Position>,
}

impl<'a> Resolver<'a> {
    fn new(findings: &[Finding], sources: &'a [Source]) -> Resolver<'a> {
        let mut requests: FxHashMap<u32, Vec<(u32, FieldPath, Target)>> = FxHashMap::default();
        for finding in findings {
            for at in std::iter::once(&finding.at).chain(finding.also.as_ref()) {
                if let At::Source {
                    source,
                    spot:
                        Spot::Path {
                            document,
                            path,
                            target,
                        },
                } = at
                {
                    let wanted = requests.entry(*source).or_default();
                    wanted.push((*document, path.clone(), *target));
                }
            }
        }
        let mut positions = FxHashMap::default();
        for (source, wanted) in requests {
            let Some(text) = sources
                .get(source as usize)
                .and_then(|source| source.text().ok())
            else {
                continue;
            };
            let borrowed: Vec<_> = wanted.iter().map(|(d, p, t)| (*d, p, *t)).collect();
            let found = locate::resolve(&text, &borrowed);
            for ((document, path, target), position) in wanted.into_iter().zip(found) {
                positions.insert((source, document, path, target), position);
            }
        }
        Resolver { sources, positions }
    }

    fn location(&self, at: &At) -> (Location, SortKey) {
        match at {
            At::Input => (Location::Input, (0, 0, 0, 0)),
            At::Object { kind, name, path } => {
                let location = Location::Object {
                    kind: *kind,
                    name: name.clone(),
                    field: path.to_string(),
                };
                (location, (2, 0, 0, 0))
            }
            At::Source { source, spot } => self.source_location(*source, spot),
        }
    }

    fn source_location(&self, source: u32, spot: &Spot) -> (Location, SortKey) {
        let file = self
            .sources
            .get(source as usize)
            .map_or_else(|| "<unknown>".to_string(), |s| s.display.clone());
        let whole = (1, source, 0, 0);
        let (line, column) = match spot {
            Spot::Whole => return (Location::File { file }, whole),
            Spot::Position { line, column } => (*line, *column),
            Spot::Path {
                document,
                path,
                target,
            } => {
                let key = (source, *document, path.clone(), *target);
                match self.positions.get(&key) {
                    Some(position) => (position.line, position.column),
                    // The file could not be read again: name it at least.
                    None => return (Location::File { file }, whole),
                }
            }
        };
        let location = Location::Position { file, line, column };
        (location, (1, source, line, column))
    }
}
