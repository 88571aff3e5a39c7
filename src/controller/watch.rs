//! The watching controller: reflectors over the four kinds, a debounced set of touched
//! namespaces, and after each batch the writes back to the API server.
//!
//! ```text
//! watcher+reflector: Account, AccountGroup, ServicePlan (namespaced), AccountScope ─┐
//!    an object touched → its namespace dirty; a scope touched → every namespace     │
//!    dirty; nothing runs until all four have listed                                 │
//! quiet for `debounce` (or dirty for 20 × debounce) ──> one batch of dirty namespaces
//!    └─ Message::Batch ─> daemon run loop ─> worker: batch::run (one txn per namespace)
//!    <─ reply: per namespace Done ─ finalizers ─ status patches (only changed)
//!                                 └─ Events queued for their own task (never waited for)
//! transient failure of a namespace ─> requeued with backoff and jitter
//! resync interval, a relist, gaining the Lease ─> every namespace dirty
//! ```
//!
//! The controller is one more source of triggers and desired state for the daemon: it
//! never opens the database. Only the leader sends batches and writes to the API
//! server; the flag is checked again before every write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{BoxStream, SelectAll, StreamExt};
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use prometheus_client::metrics::counter::Counter;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};

use crate::daemon::backoff::Backoff;
use crate::manifest::{Account, AccountGroup, AccountScope, ServicePlan};
use crate::model::Kind;

use super::batch::{Done, Item};
use super::desired::{self, Resources};
use super::events::{self, EventQueue, Publisher};
use super::finalizer;
use super::lease::Leadership;
use super::scope::ScopeIndex;
use super::status;
use super::sync;
use super::write;

/// What the controller watches and how it batches.
#[derive(Debug, Clone)]
pub struct Options {
    /// Watch one namespace only (`None`: the whole cluster).
    pub namespace: Option<String>,
    /// How long events must settle before a batch runs.
    pub debounce: Duration,
    /// How often every namespace is passed again (statuses unchanged are not written).
    pub resync: Duration,
    /// The reporting instance of Events.
    pub instance: Option<String>,
}

/// What the controller asks of the daemon.
#[derive(Debug)]
pub enum Message {
    /// Run these namespaces through the worker and reply.
    Batch(Request),
    /// This instance gained or lost the Lease.
    Leadership(bool),
}

#[derive(Debug)]
pub struct Request {
    pub items: Vec<Item>,
    pub reply: oneshot::Sender<(Vec<Item>, Reply)>,
}

/// How the worker handled a batch.
#[derive(Debug)]
pub enum Reply {
    /// Per item, in order.
    Done(Vec<Done>),
    /// Nothing ran (another instance writes, reconciling is suspended, or the
    /// database is away): try again later.
    NotRun(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Watched {
    Accounts,
    Groups,
    Plans,
    Scopes,
}

/// What a watch event means for the next batch.
#[derive(Debug)]
enum Touch {
    Namespace(String),
    Everything,
    Listed(Watched),
    Nothing,
}

struct Stores {
    accounts: Store<Account>,
    groups: Store<AccountGroup>,
    plans: Store<ServicePlan>,
    scopes: Store<AccountScope>,
}

/// Runs until the daemon goes away (its receiver dropped); Events dropped from a full
/// queue count on `events_dropped`.
pub async fn run(
    client: Client,
    options: Options,
    leadership: Leadership,
    daemon: UnboundedSender<Message>,
    events_dropped: Counter,
) {
    let (stores, events) = reflect(&client, options.namespace.as_deref());
    let publisher = Publisher::new(client.clone(), options.instance.clone());
    let queue = EventQueue::start(
        publisher,
        leadership.leader.clone(),
        events::QUEUE_LIMIT,
        events_dropped,
    );
    let mut controller = Controller {
        client,
        stores,
        events: queue,
        leadership,
        daemon,
        pending: Pending::default(),
        listed: BTreeSet::new(),
        retries: BTreeMap::new(),
        debounce: options.debounce.max(Duration::from_millis(1)),
    };
    // The reflectors are polled on their own task, so that their stores keep up with
    // the API server while a batch writes back (a batch that follows reads them: a
    // store left behind would have it redo writes, 409 on stale resourceVersions).
    let (sender, touches) = unbounded_channel();
    let _pump = Pump(tokio::spawn(async move {
        let mut events = events;
        while let Some(touch) = events.next().await {
            if !matches!(touch, Touch::Nothing) && sender.send(touch).is_err() {
                return;
            }
        }
    }));
    controller.run(touches, options.resync).await;
}

/// The task polling the reflectors; stopped with the controller.
struct Pump(JoinHandle<()>);

impl Drop for Pump {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn reflect(
    client: &Client,
    namespace: Option<&str>,
) -> (Stores, SelectAll<BoxStream<'static, Touch>>) {
    let (accounts, accounts_stream) =
        watch::<Account>(namespaced(client, namespace), Watched::Accounts);
    let (groups, groups_stream) =
        watch::<AccountGroup>(namespaced(client, namespace), Watched::Groups);
    let (plans, plans_stream) = watch::<ServicePlan>(namespaced(client, namespace), Watched::Plans);
    let (scopes, scopes_stream) = watch::<AccountScope>(Api::all(client.clone()), Watched::Scopes);
    let streams = futures_util::stream::select_all([
        accounts_stream,
        groups_stream,
        plans_stream,
        scopes_stream,
    ]);
    let stores = Stores {
        accounts,
        groups,
        plans,
        scopes,
    };
    (stores, streams)
}

fn namespaced<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn watch<K>(api: Api<K>, watched: Watched) -> (Store<K>, BoxStream<'static, Touch>)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store::<K>();
    // managedFields are never read here: dropped before the store keeps (and every
    // batch copies) the object.
    let stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|object| object.managed_fields_mut().clear())
        .reflect(writer)
        .map(move |event| match event {
            Ok(Event::Apply(object) | Event::Delete(object)) => {
                if watched == Watched::Scopes {
                    Touch::Everything
                } else {
                    Touch::Namespace(object.namespace().unwrap_or_default())
                }
            }
            Ok(Event::InitDone) => Touch::Listed(watched),
            Ok(Event::Init | Event::InitApply(_)) => Touch::Nothing,
            Err(error) => {
                tracing::warn!(?watched, %error, "watching the API server; retrying with backoff");
                Touch::Nothing
            }
        })
        .boxed();
    (reader, stream)
}

/// The namespaces waiting for a batch.
#[derive(Debug, Default)]
struct Pending {
    namespaces: BTreeSet<String>,
    everything: bool,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Pending {
    fn touch(&mut self, namespace: Option<String>) {
        match namespace {
            Some(namespace) => {
                self.namespaces.insert(namespace);
            }
            None => self.everything = true,
        }
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// When the batch is due: quiet for `debounce`, or waiting for 20 × `debounce`.
    fn due(&self, debounce: Duration) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + debounce).min(first + debounce * 20))
    }

    fn take(&mut self) -> (BTreeSet<String>, bool) {
        self.first = None;
        self.last = None;
        (
            std::mem::take(&mut self.namespaces),
            std::mem::take(&mut self.everything),
        )
    }
}

struct Controller {
    client: Client,
    stores: Stores,
    events: EventQueue,
    leadership: Leadership,
    daemon: UnboundedSender<Message>,
    pending: Pending,
    listed: BTreeSet<Watched>,
    /// Namespaces that failed transiently: when to try again (`None`: queued), and
    /// their schedule.
    retries: BTreeMap<String, (Option<Instant>, Backoff)>,
    debounce: Duration,
}

impl Controller {
    async fn run(&mut self, mut touches: UnboundedReceiver<Touch>, resync: Duration) {
        let resync = resync.max(Duration::from_millis(10));
        let mut resync = interval_at(Instant::now() + resync, resync);
        resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut changes = self.leadership.changes.clone();
        let mut elected = true;
        loop {
            let ready = self.listed.len() == 4 && self.leadership.is_leader();
            let due = self.pending.due(self.debounce).filter(|_| ready);
            let retry = self
                .retries
                .values()
                .filter_map(|(at, _)| *at)
                .min()
                .filter(|_| ready);
            tokio::select! {
                Some(touch) = touches.recv() => self.touched(touch),
                _ = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    let (namespaces, everything) = self.pending.take();
                    if !self.pass(namespaces, everything).await {
                        return;
                    }
                }
                _ = sleep_until(retry.unwrap_or_else(Instant::now)), if retry.is_some() => self.requeue_due(),
                _ = resync.tick() => self.pending.touch(None),
                changed = changes.changed(), if elected => {
                    if changed.is_err() {
                        elected = false;
                        continue;
                    }
                    let leader = *changes.borrow_and_update();
                    if leader {
                        self.pending.touch(None);
                    }
                    if self.daemon.send(Message::Leadership(leader)).is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn touched(&mut self, touch: Touch) {
        match touch {
            Touch::Namespace(namespace) => self.pending.touch(Some(namespace)),
            Touch::Everything => self.pending.touch(None),
            Touch::Listed(watched) => {
                // A first list, or a relist after the watch fell behind: pass everything.
                self.listed.insert(watched);
                self.pending.touch(None);
            }
            Touch::Nothing => {}
        }
    }

    fn requeue_due(&mut self) {
        let now = Instant::now();
        for (namespace, (at, _)) in &mut self.retries {
            if at.is_some_and(|at| at <= now) {
                *at = None;
                self.pending.touch(Some(namespace.clone()));
            }
        }
    }

    /// One batch through the daemon and back; `false` when the daemon is gone.
    async fn pass(&mut self, namespaces: BTreeSet<String>, everything: bool) -> bool {
        let items = self.items(namespaces, everything);
        if items.is_empty() {
            return true;
        }
        let (reply, answer) = oneshot::channel();
        if self
            .daemon
            .send(Message::Batch(Request { items, reply }))
            .is_err()
        {
            return false;
        }
        let Ok((items, reply)) = answer.await else {
            return false;
        };
        match reply {
            Reply::NotRun(why) => {
                tracing::debug!(%why, "batch not run; trying again later");
                for item in &items {
                    self.failed(&item.namespace);
                }
            }
            Reply::Done(done) => {
                for (item, done) in items.iter().zip(done) {
                    if !self.leadership.is_leader() {
                        tracing::info!("not the leader any more: nothing more is written");
                        return true;
                    }
                    self.write_back(item, done).await;
                }
                self.write_scope_statuses().await;
            }
        }
        true
    }

    /// The AccountScopes' own status (Ready, or Stalled by a shared namespace), when
    /// it changed.
    async fn write_scope_statuses(&mut self) {
        let scopes = self.stores.scopes.state();
        let index = ScopeIndex::new(scopes.iter().map(|s| &**s));
        let now = now();
        for scope in &scopes {
            let name = scope.name_any();
            let previous = scope.status.as_ref();
            let Some(status) =
                status::scope_status(&name, scope.metadata.generation, &index, previous, &now)
            else {
                continue;
            };
            if let Err(error) = write::apply_scope_status(&self.client, &name, &status).await {
                tracing::warn!(scope = %name, %error, "writing AccountScope status");
            }
        }
    }

    /// The items of the dirty namespaces (every namespace that has resources or is
    /// named by a scope, when `everything`).
    fn items(&self, namespaces: BTreeSet<String>, everything: bool) -> Vec<Item> {
        let scopes: Vec<Arc<AccountScope>> = self.stores.scopes.state();
        let index = ScopeIndex::new(scopes.iter().map(|s| &**s));
        let wanted = |namespace: &str| everything || namespaces.contains(namespace);
        let split = desired::by_namespace(
            dirty(&self.stores.accounts, wanted),
            dirty(&self.stores.groups, wanted),
            dirty(&self.stores.plans, wanted),
        );
        split
            .into_iter()
            .map(|(namespace, resources)| {
                let binding = index.binding(&namespace);
                let desired = desired::desired(&namespace, resources.clone(), binding);
                Item {
                    namespace,
                    resources,
                    desired,
                }
            })
            .collect()
    }

    /// Statuses, Events and finalizers of one namespace after its pass.
    async fn write_back(&mut self, item: &Item, done: Done) {
        let resources = item.status_resources();
        let now = now();
        let patches = sync::patches(
            &item.namespace,
            resources,
            &done.synced,
            done.usage.as_ref(),
            &now,
        );
        let mut transient = done.synced.retry;
        // Finalizers first: they carry the resourceVersion the pass saw, which a status
        // write would move on (a 409 every time).
        let changes = finalizer::changes(item, &done.synced.outcome);
        for error in finalizer::apply(&self.client, &item.namespace, &changes).await {
            tracing::warn!(%error, "updating the finalizer");
            transient |= write::is_transient(&error.source);
        }
        let failed = write::apply_statuses(&self.client, &patches).await;
        for error in &failed {
            tracing::warn!(%error, "writing status");
            transient |= error.is_transient();
        }
        let events = events::of_pass(&item.resources, done.synced.plan.as_ref(), &patches);
        self.events.push(&item.namespace, events, |kind, name| {
            uid(&item.resources, kind, name)
        });
        if transient {
            self.failed(&item.namespace);
        } else {
            self.retries.remove(&item.namespace);
        }
    }

    /// Schedules another try of `namespace` with backoff and jitter.
    fn failed(&mut self, namespace: &str) {
        let entry = self
            .retries
            .entry(namespace.to_string())
            .or_insert_with(|| (None, Backoff::default()));
        let delay = entry.1.next_delay();
        entry.0 = Some(Instant::now() + delay);
        tracing::info!(
            namespace,
            retry_in_ms = delay.as_millis() as u64,
            "namespace requeued"
        );
    }
}

/// The objects of the namespaces `wanted` takes, cloned out of a reflector store; the
/// others are only looked at (their namespace borrowed, nothing copied).
fn dirty<K>(store: &Store<K>, wanted: impl Fn(&str) -> bool) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store
        .state()
        .iter()
        .filter(|object| wanted(object.meta().namespace.as_deref().unwrap_or_default()))
        .map(|object| (**object).clone())
        .collect()
}

fn uid(resources: &Resources, kind: Kind, name: &str) -> Option<String> {
    let meta = match kind {
        Kind::Account => resources
            .accounts
            .iter()
            .map(|a| &a.metadata)
            .find(|m| m.name.as_deref() == Some(name)),
        Kind::AccountGroup => resources
            .groups
            .iter()
            .map(|g| &g.metadata)
            .find(|m| m.name.as_deref() == Some(name)),
        Kind::ServicePlan => resources
            .plans
            .iter()
            .map(|p| &p.metadata)
            .find(|m| m.name.as_deref() == Some(name)),
    };
    meta.and_then(|m| m.uid.clone())
}

/// The time of a condition that changes now, as Kubernetes writes it (RFC 3339, seconds).
fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
