//! The controller's pass against a real (in-memory SQLite) store.

use super::*;
use crate::controller::desired::{Desired, desired};
use crate::controller::scope::{Binding, source_of};
use crate::manifest::Account;
use crate::manifest::types::{AccountSpec, AccountStatus, AccountType, ConditionStatus};
use crate::plan::Op;
use crate::store::sqlite::SqliteStore;
use crate::store::{
    AuditRecord, Cause, HeldPlan, Result as StoreResult, Retry, Snapshot, Suspension, UsageRow,
    WriteTxn,
};

const NOW: &str = "2026-01-01T00:00:00Z";

fn settings() -> Settings {
    Settings {
        actor: "test".to_string(),
        gate: Gate::Off,
        max_prune_percent: 10.0,
    }
}

fn account(
    namespace: &str,
    name: &str,
    account_type: AccountType,
    parent: Option<&str>,
) -> Account {
    let mut account = Account::new(
        name,
        AccountSpec {
            account_type,
            display_name: None,
            parent: parent.map(str::to_string),
            active: true,
            customer_type: None,
            reseller: false,
            plan: None,
            address: None,
            contact: None,
            services: Default::default(),
            settings: Default::default(),
            locked_settings: Vec::new(),
            users: Vec::new(),
            users_from: None,
            deletion_policy: None,
        },
    );
    account.metadata.namespace = Some(namespace.to_string());
    account.metadata.generation = Some(1);
    account
}

fn scoped(namespace: &str, root: Option<&str>, accounts: Vec<Account>) -> DesiredSource {
    let binding = Binding::Scoped {
        scope: "scope".to_string(),
        source: source_of(namespace),
        root: root.map(str::to_string),
    };
    let resources = Resources {
        accounts,
        ..Resources::default()
    };
    match desired(namespace, resources, binding) {
        Desired::Source(source) => source,
        Desired::Refused(binding) => panic!("a scoped namespace is reconciled, not {binding:?}"),
    }
}

fn store() -> SqliteStore {
    SqliteStore::open_memory().expect("an in-memory store").0
}

fn ready(patch: &StatusPatch) -> (ConditionStatus, String) {
    let status: AccountStatus = serde_json::from_value(patch.status.clone()).expect("a status");
    let ready = status
        .conditions
        .iter()
        .find(|c| c.condition_type == "Ready")
        .expect("a Ready condition");
    (ready.status, ready.reason.clone())
}

fn number(patch: &StatusPatch) -> String {
    let status: AccountStatus = serde_json::from_value(patch.status.clone()).expect("a status");
    status.account_number.unwrap_or_default()
}

/// Writes the patches back as the API server would, so the next pass sees them.
fn record(resources: &mut Resources, patches: &[StatusPatch]) {
    for patch in patches {
        if let Some(account) = resources
            .accounts
            .iter_mut()
            .find(|a| a.metadata.name.as_deref() == Some(patch.name.as_str()))
        {
            account.status = serde_json::from_value(patch.status.clone()).ok();
        }
    }
}

fn platform() -> DesiredSource {
    scoped(
        "platform",
        None,
        vec![
            account("platform", "partner-a", AccountType::Partner, None),
            account("platform", "partner-b", AccountType::Partner, None),
        ],
    )
}

#[test]
fn a_new_account_becomes_ready_with_its_account_number() {
    let mut store = store();
    let source = platform();
    let synced = sync(&mut store, &source, &settings());
    assert_eq!(synced.outcome, Outcome::Applied);
    let patches = patches("platform", &source.resources, &synced, None, NOW);
    assert_eq!(patches.len(), 2);
    for patch in &patches {
        assert_eq!(ready(patch), (ConditionStatus::True, "Applied".to_string()));
        assert!(number(patch).parse::<i64>().is_ok(), "{:?}", patch.status);
    }
    let live = store.snapshot().expect("snapshot").hierarchy;
    let owner = live
        .node("partner-a")
        .and_then(|n| n.live.managed_by.clone());
    assert_eq!(owner.as_deref(), Some("kubernetes/platform"));
}

#[test]
fn a_tenant_namespace_builds_on_a_root_another_namespace_declares() {
    let mut store = store();
    sync(&mut store, &platform(), &settings());
    let tenant = scoped(
        "team-a",
        Some("partner-a"),
        vec![account(
            "team-a",
            "acme",
            AccountType::Customer,
            Some("partner-a"),
        )],
    );
    let synced = sync(&mut store, &tenant, &settings());
    assert_eq!(synced.outcome, Outcome::Applied);
    let owner = synced
        .live
        .node("acme")
        .and_then(|n| n.live.managed_by.clone());
    assert_eq!(owner.as_deref(), Some("kubernetes/team-a"));
}

#[test]
fn a_parent_change_is_a_move_that_keeps_the_number() {
    let mut store = store();
    let mut accounts = platform().resources.accounts;
    accounts.push(account(
        "platform",
        "acme",
        AccountType::Customer,
        Some("partner-a"),
    ));
    let first = sync(
        &mut store,
        &scoped("platform", None, accounts.clone()),
        &settings(),
    );
    let before = first.live.node("acme").and_then(|n| n.live.account_number);
    accounts[2].spec.parent = Some("partner-b".to_string());
    let moved = sync(&mut store, &scoped("platform", None, accounts), &settings());
    let plan = moved.plan.expect("a plan");
    let ops: Vec<Op> = plan.changes.iter().map(|c| c.op).collect();
    assert_eq!(ops, [Op::Move]);
    let after = moved.live.node("acme").and_then(|n| n.live.account_number);
    assert!(before.is_some());
    assert_eq!(before, after);
}

#[test]
fn a_parent_outside_the_scope_stalls_and_writes_nothing() {
    let mut store = store();
    sync(&mut store, &platform(), &settings());
    let before = store.snapshot().expect("snapshot").fingerprint;
    let tenant = scoped(
        "team-a",
        Some("partner-a"),
        vec![account(
            "team-a",
            "intruder",
            AccountType::Customer,
            Some("partner-b"),
        )],
    );
    let synced = sync(&mut store, &tenant, &settings());
    assert!(!synced.retry, "out of scope is permanent");
    let patches = patches("team-a", &tenant.resources, &synced, None, NOW);
    assert_eq!(
        ready(&patches[0]),
        (ConditionStatus::False, "OutOfScope".to_string())
    );
    assert_eq!(number(&patches[0]), "Pending");
    assert_eq!(store.snapshot().expect("snapshot").fingerprint, before);
}

#[test]
fn a_namespace_without_scope_stalls_without_touching_the_store() {
    let resources = Resources {
        accounts: vec![account("stray", "partner-x", AccountType::Partner, None)],
        ..Resources::default()
    };
    let Desired::Refused(binding) = desired("stray", resources.clone(), Binding::NoScope) else {
        panic!("an unbound namespace is refused");
    };
    let synced = refused(Outcome::Refused(binding));
    let patches = patches("stray", &resources, &synced, None, NOW);
    assert_eq!(
        ready(&patches[0]),
        (ConditionStatus::False, "NoScope".to_string())
    );
}

#[test]
fn statuses_are_patched_again_only_when_they_change() {
    let mut store = store();
    let mut source = platform();
    let synced = sync(&mut store, &source, &settings());
    let first = patches("platform", &source.resources, &synced, None, NOW);
    record(&mut source.resources, &first);
    let resync = sync(&mut store, &source, &settings());
    assert_eq!(resync.plan.as_ref().map(|p| p.changes.len()), Some(0));
    let again = patches(
        "platform",
        &source.resources,
        &resync,
        None,
        "2026-01-01T00:05:00Z",
    );
    assert_eq!(again, Vec::new());
}

/// A real store whose first `begin` fails as a lost connection would.
struct FlakyStore {
    inner: SqliteStore,
    failures: usize,
}

impl Store for FlakyStore {
    fn snapshot(&mut self) -> StoreResult<Snapshot> {
        self.inner.snapshot()
    }
    fn begin(&mut self) -> StoreResult<Box<dyn WriteTxn + '_>> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(StoreError::Database {
                operation: "begin".to_string(),
                cause: Cause::new("connection lost", Retry::Transient),
            });
        }
        self.inner.begin()
    }
    fn usage(&mut self, period: Option<&str>) -> StoreResult<Vec<UsageRow>> {
        self.inner.usage(period)
    }
    fn record_usage(&mut self, rows: &[UsageRow]) -> StoreResult<()> {
        self.inner.record_usage(rows)
    }
    fn audit(&mut self, after: i64, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        self.inner.audit(after, limit)
    }
    fn suspension(&mut self) -> StoreResult<Option<Suspension>> {
        self.inner.suspension()
    }
    fn suspend(&mut self, seconds: i64, reason: &str, by: &str) -> StoreResult<Suspension> {
        self.inner.suspend(seconds, reason, by)
    }
    fn resume(&mut self) -> StoreResult<bool> {
        self.inner.resume()
    }
    fn hold_plan(&mut self, held: &HeldPlan) -> StoreResult<()> {
        self.inner.hold_plan(held)
    }
    fn held_plans(&mut self) -> StoreResult<Vec<HeldPlan>> {
        self.inner.held_plans()
    }
    fn release_held_plans(&mut self, source: &str, id: Option<&str>) -> StoreResult<()> {
        self.inner.release_held_plans(source, id)
    }
    fn change_counter(&mut self) -> StoreResult<i64> {
        self.inner.change_counter()
    }
    fn change_stamp(&mut self) -> StoreResult<crate::store::ChangeStamp> {
        self.inner.change_stamp()
    }
    fn try_lock_session(&mut self) -> StoreResult<bool> {
        self.inner.try_lock_session()
    }
    fn unlock_session(&mut self) -> StoreResult<()> {
        self.inner.unlock_session()
    }
    fn holds_session_lock(&mut self) -> StoreResult<bool> {
        self.inner.holds_session_lock()
    }
}

#[test]
fn a_transient_database_error_requeues_and_the_retry_succeeds() {
    let mut store = FlakyStore {
        inner: store(),
        failures: 1,
    };
    let source = platform();
    let failed = sync(&mut store, &source, &settings());
    assert!(failed.retry);
    let patches_now = patches("platform", &source.resources, &failed, None, NOW);
    assert_eq!(
        ready(&patches_now[0]),
        (ConditionStatus::False, "Retrying".to_string())
    );
    let retried = sync(&mut store, &source, &settings());
    assert!(!retried.retry);
    assert_eq!(retried.outcome, Outcome::Applied);
}

#[test]
fn a_thousand_resources_reach_the_database_in_one_transaction() {
    let mut store = store();
    let mut accounts = vec![account("platform", "partner-a", AccountType::Partner, None)];
    accounts.extend((0..999).map(|index| {
        account(
            "platform",
            &format!("customer-{index}"),
            AccountType::Customer,
            Some("partner-a"),
        )
    }));
    let source = scoped("platform", None, accounts);
    let counter_before = store.change_counter().expect("counter");
    let synced = sync(&mut store, &source, &settings());
    assert_eq!(synced.outcome, Outcome::Applied);
    assert_eq!(synced.live.nodes.len(), 1000);
    let patches = patches("platform", &source.resources, &synced, None, NOW);
    assert_eq!(patches.len(), 1000);
    assert!(patches.iter().all(|p| ready(p).0 == ConditionStatus::True));
    // One pass is one transaction: every row of it is in the database together.
    let audit = store.audit(0, 2000).expect("audit");
    assert_eq!(audit.len(), 1000, "one audit row per created account");
    assert!(store.change_counter().expect("counter") > counter_before);
}

#[test]
fn a_tenant_namespace_cannot_reach_outside_its_scope() {
    let mut store = store();
    let mut platform = platform();
    platform.resources.accounts.push(account(
        "platform",
        "customer-b",
        AccountType::Customer,
        Some("partner-b"),
    ));
    sync(&mut store, &platform, &settings());
    let mut inactive_sibling = account("team-a", "partner-b", AccountType::Partner, None);
    inactive_sibling.spec.active = false;
    let mut adopted = account("team-a", "partner-b", AccountType::Partner, None);
    adopted
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert("canopy.dev/adopt".to_string(), "true".to_string());
    let attacks: Vec<(&str, Vec<Account>)> = vec![
        (
            "a parent outside the scope",
            vec![account(
                "team-a",
                "intruder",
                AccountType::Customer,
                Some("partner-b"),
            )],
        ),
        (
            "moving another namespace's account in",
            vec![account(
                "team-a",
                "customer-b",
                AccountType::Customer,
                Some("partner-a"),
            )],
        ),
        ("deactivating a sibling", vec![inactive_sibling]),
        ("adopting an account outside the scope", vec![adopted]),
        (
            "moving the scope root",
            vec![account(
                "team-a",
                "partner-a",
                AccountType::Partner,
                Some("partner-b"),
            )],
        ),
    ];
    let before = store.snapshot().expect("snapshot").fingerprint;
    for (what, accounts) in attacks {
        let tenant = scoped("team-a", Some("partner-a"), accounts);
        let synced = sync(&mut store, &tenant, &settings());
        assert_ne!(synced.outcome, Outcome::Applied, "{what}");
        assert!(!synced.retry, "{what}: refusals are permanent");
        let patches = patches("team-a", &tenant.resources, &synced, None, NOW);
        assert_eq!(ready(&patches[0]).0, ConditionStatus::False, "{what}");
        assert_eq!(
            store.snapshot().expect("snapshot").fingerprint,
            before,
            "{what}: the store changed"
        );
    }
}

#[test]
fn deleting_orphans_the_account_unless_its_policy_archives_it() {
    use crate::manifest::types::DeletionPolicy;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    let mut store = store();
    let mut accounts = vec![
        account("platform", "partner-a", AccountType::Partner, None),
        account(
            "platform",
            "customer-o",
            AccountType::Customer,
            Some("partner-a"),
        ),
        account(
            "platform",
            "customer-x",
            AccountType::Customer,
            Some("partner-a"),
        ),
    ];
    let created = sync(
        &mut store,
        &scoped("platform", None, accounts.clone()),
        &settings(),
    );
    assert_eq!(created.outcome, Outcome::Applied);
    for deleted in &mut accounts[1..] {
        deleted.metadata.deletion_timestamp = Some(Time(Default::default()));
    }
    accounts[2].spec.deletion_policy = Some(DeletionPolicy::Archive);
    let source = scoped("platform", None, accounts);
    assert_eq!(source.archive, [(Kind::Account, "customer-x".to_string())]);
    let synced = sync(&mut store, &source, &settings());
    assert_eq!(synced.outcome, Outcome::Applied);
    let deletes: Vec<&str> = synced
        .plan
        .iter()
        .flat_map(|plan| &plan.changes)
        .filter(|change| change.op == Op::Delete)
        .map(|change| change.name.as_str())
        .collect();
    assert_eq!(deletes, ["customer-x"]);
    let releases: Vec<&str> = synced
        .plan
        .iter()
        .flat_map(|plan| &plan.changes)
        .filter(|change| change.op == Op::Release)
        .map(|change| change.name.as_str())
        .collect();
    assert_eq!(releases, ["customer-o"]);
    let live = store.snapshot().expect("snapshot").hierarchy;
    let kept = live.node("customer-o").expect("Orphan keeps the account");
    assert_eq!(kept.live.managed_by, None, "and releases it");
    assert!(live.node("customer-x").is_none(), "Archive archives it");
    assert!(live.node("partner-a").is_some());
    let later = sync(
        &mut store,
        &scoped(
            "platform",
            None,
            vec![account("platform", "partner-a", AccountType::Partner, None)],
        ),
        &settings(),
    );
    assert_eq!(later.outcome, Outcome::Applied);
    let later = later.plan.expect("a plan");
    assert!(later.orphans.is_empty(), "{:?}", later.orphans);
    assert!(later.changes.is_empty(), "{:?}", later.changes);
}

#[test]
fn archiving_the_last_resource_of_a_namespace_is_not_an_empty_source() {
    use crate::manifest::types::DeletionPolicy;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    let mut store = store();
    let mut only = account("platform", "partner-z", AccountType::Partner, None);
    sync(
        &mut store,
        &scoped("platform", None, vec![only.clone()]),
        &settings(),
    );
    only.metadata.deletion_timestamp = Some(Time(Default::default()));
    only.spec.deletion_policy = Some(DeletionPolicy::Archive);
    let synced = sync(
        &mut store,
        &scoped("platform", None, vec![only]),
        &settings(),
    );
    assert_eq!(synced.outcome, Outcome::Applied);
    let live = store.snapshot().expect("snapshot").hierarchy;
    assert!(live.node("partner-z").is_none());
}
