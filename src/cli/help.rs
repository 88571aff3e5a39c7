//! The text after each command's `--help` options: examples, and the exit codes CI
//! relies on.

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success; with --detailed-exitcode: success and no changes pending
  1  any error, usage errors included (an unknown flag, a missing argument)
  2  only with --detailed-exitcode: changes are pending

Examples:
  canopy apply examples/realistic --yes    # create canopy.db and apply the example
  canopy get                               # the live tree
  canopy plan manifests/ --out plan.json   # review, then: canopy apply plan.json";

pub const VALIDATE: &str = "\
Examples:
  canopy validate manifests/
  canopy validate manifests/ -o json        # diagnostics for CI annotations
  kustomize build . | canopy validate -

Exit codes: 0 valid (warnings allowed), 1 any error. Needs no database.";

pub const PLAN: &str = "\
Examples:
  canopy plan manifests/
  canopy plan manifests/ -o json --detailed-exitcode   # exit 2 when changes are pending
  canopy plan --against main-checkout/ pr-checkout/ -o markdown > comment.md
  canopy plan manifests/ -o markdown --hold-above 100   # say whether the daemon would hold it
  canopy plan manifests/ --out plan.json && canopy apply plan.json

Exit codes: 0 success (no changes with --detailed-exitcode), 1 error, 2 changes pending
(--detailed-exitcode only). With -o json, invalid manifests print their diagnostics as
JSON (the schema of `canopy validate -o json`) and exit 1.

A text plan of more than 50 changes lists only the risky ones (deactivations with their
cascade, prunes, moves, plan changes, removed users) and counts the rest; -v, or -o
json|markdown|diff, lists every change. Progress is drawn on standard error when it is a
terminal (not with -q or -v).";

pub const APPLY: &str = "\
Examples:
  canopy apply manifests/ --yes            # plan and apply in one transaction
  canopy apply plan.json                   # apply a saved plan exactly (no question asked)

A saved plan is refused (exit 1, nothing written) when the live state changed since it
was made or when the file was edited.

Exit codes: 0 applied (or nothing to do), 1 any error (nothing written). Like `plan`, a
text plan of more than 50 changes lists only the risky ones unless -v is given.";

pub const GET: &str = "\
Examples:
  canopy get                               # the whole tree
  canopy get partner-nordic -o table       # one subtree
  canopy get -o json | jq '.[] | select(.effectiveActive == false) | .name'
  canopy get -o name
  canopy get acme-eu -o yaml               # everything: spec, users, effective values
  canopy get -o wide                       # the table plus group, users, display name
  canopy get --root partner-nordic --depth 2 -o mermaid   # a diagram for a Markdown page
  canopy get -o dot | dot -Tsvg > tree.svg # Graphviz";

pub const EXPORT: &str = "\
Examples:
  canopy export --out live/                # one file per root, plus plans.yaml
  canopy export --all > everything.yaml    # unmanaged objects too, marked for adoption
  canopy export --only partner-nordic      # one subtree and the plans it uses";

pub const USAGE: &str = "\
Examples:
  canopy usage
  canopy usage --period 2026-05 -o json
  canopy usage -o csv > usage.csv          # for a spreadsheet
  canopy usage --import metered.csv        # record rows account,metric,period,amount first";

pub const HISTORY: &str = "\
Examples:
  canopy history                           # the whole audit log, oldest first
  canopy history acme-eu                   # one object's changes
  canopy history --follow -o json --after 1200   # stream new entries (one JSON object a line)";

pub const MIGRATE: &str = "\
Examples:
  canopy migrate
  canopy migrate --database-url postgres://canopy@db:5432/canopy";

pub const CRDS: &str = "\
Examples:
  canopy crds | kubectl apply -f -";

pub const SCHEMA: &str = "\
Examples:
  canopy schema > canopy.schema.json       # for the YAML language server";

pub const VERSION: &str = "\
Examples:
  canopy version
  canopy version -o json";

pub const COMPLETIONS: &str = "\
Examples:
  canopy completions bash > /etc/bash_completion.d/canopy
  canopy completions zsh > \"${fpath[1]}/_canopy\"
  canopy completions fish > ~/.config/fish/completions/canopy.fish
  canopy completions powershell >> $PROFILE";

pub const RUN: &str = "\
Examples:
  canopy run --watch /srv/accounts-repo
  canopy run --watch repo/ --hold-above 50 --drift report --log-format json
  canopy run --kubernetes                       # KUBECONFIG or in-cluster
  canopy run --kubernetes --namespace team-a --watch repo/";

pub const APPROVE: &str = "\
Examples:
  canopy approve 3f2a9c                    # the id from the daemon's /status or logs";

pub const SUSPEND: &str = "\
Examples:
  canopy suspend --for 2h --reason \"billing migration\"";

pub const RESUME: &str = "\
Examples:
  canopy resume";

#[cfg(test)]
mod tests {
    use crate::plan::render::BRIEF_ABOVE;

    #[test]
    fn the_large_plan_threshold_in_help_is_the_one_rendering_uses() {
        let phrase = format!("more than {BRIEF_ABOVE} changes");
        assert!(super::PLAN.contains(&phrase));
        assert!(super::APPLY.contains(&phrase));
    }
}
