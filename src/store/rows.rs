//! The row shapes both backends read and write, and their conversion to and from the
//! model: no SQL here, only values.
//!
//! ```text
//! SQL row ──borrowed──> AccountRow<'_> ──decode──> model::Node      (snapshot)
//!                              └────────hash──────> Fingerprinter   (snapshot)
//! plan::NodeWrite ──encode──> EncodedNode (JSON text columns)       (apply)
//! ```
//!
//! JSON columns hold canonical JSON text: maps are `BTreeMap`s, so keys are sorted and
//! the same value always encodes to the same text. Decoding checks every value, so a
//! hand-edited row that no longer fits the model is reported by name instead of
//! silently misread.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{
    Billing, CustomerType, Effective, Inherited, Interner, LiveMeta, Node, NodeSpec, NodeType,
    PlanSpec, Role, ServicePlan, Text, User,
};
use crate::plan::NodeWrite;

use super::StoreError;

/// The `accounts` columns a snapshot reads, in [`AccountRow::read`]'s order: one list
/// for both backends.
const ACCOUNT_COLUMNS: &str = "name, node_type, display_name, parent, account_number, active,
    customer_type, reseller, plan, address, contact, services, settings, locked_settings,
    effective_active, effective_services, effective_settings, effective_locked_settings,
    managed_by, archived_at IS NOT NULL";

/// The `users` columns a snapshot reads, in [`UserRow::read`]'s order.
const USER_COLUMNS: &str =
    "account, email, CAST(position AS BIGINT), name, role, language, timezone";

/// The `service_plans` query of a snapshot, columns in [`PlanRow::read`]'s order.
pub(crate) const SELECT_PLANS: &str = "SELECT name, billing, licenses, limits, display_name,
    managed_by, archived_at IS NOT NULL FROM service_plans ORDER BY name";

/// The `accounts` query of a snapshot; `filter` is empty or a backend's `WHERE` clause
/// naming the rows (the order is the one [`UserAttacher`] and the fingerprint expect).
pub(crate) fn select_accounts(filter: &str) -> String {
    format!("SELECT {ACCOUNT_COLUMNS} FROM accounts {filter} ORDER BY name")
}

/// The `users` query of a snapshot, grouped by account in position order.
pub(crate) fn select_users(filter: &str) -> String {
    format!("SELECT {USER_COLUMNS} FROM users {filter} ORDER BY account, position, email")
}

/// One driver row, read by column position: what each backend supplies so that the
/// row shapes below are read by one function per table.
pub(crate) trait Columns<'r> {
    type Error;
    fn text(&self, index: usize) -> Result<&'r str, Self::Error>;
    fn optional_text(&self, index: usize) -> Result<Option<&'r str>, Self::Error>;
    fn integer(&self, index: usize) -> Result<i64, Self::Error>;
    fn optional_integer(&self, index: usize) -> Result<Option<i64>, Self::Error>;
    fn flag(&self, index: usize) -> Result<bool, Self::Error>;
}

/// One `accounts` row as read, borrowing from the driver's row buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccountRow<'a> {
    pub name: &'a str,
    pub node_type: &'a str,
    pub display_name: &'a str,
    pub parent: Option<&'a str>,
    pub account_number: Option<i64>,
    pub active: bool,
    pub customer_type: Option<&'a str>,
    pub reseller: bool,
    pub plan: Option<&'a str>,
    pub address: Option<&'a str>,
    pub contact: Option<&'a str>,
    pub services: &'a str,
    pub settings: &'a str,
    pub locked_settings: &'a str,
    pub effective_active: bool,
    pub effective_services: &'a str,
    pub effective_settings: &'a str,
    pub effective_locked_settings: &'a str,
    pub managed_by: Option<&'a str>,
    pub archived: bool,
}

/// One `users` row as read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserRow<'a> {
    pub account: &'a str,
    pub email: &'a str,
    pub position: i64,
    pub name: &'a str,
    pub role: &'a str,
    pub language: Option<&'a str>,
    pub timezone: Option<&'a str>,
}

/// One `service_plans` row as read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanRow<'a> {
    pub name: &'a str,
    pub billing: &'a str,
    pub licenses: Option<i64>,
    pub limits: &'a str,
    pub display_name: Option<&'a str>,
    pub managed_by: Option<&'a str>,
    pub archived: bool,
}

impl<'r> AccountRow<'r> {
    /// Reads a row of [`select_accounts`].
    pub(crate) fn read<C: Columns<'r>>(row: &C) -> Result<AccountRow<'r>, C::Error> {
        Ok(AccountRow {
            name: row.text(0)?,
            node_type: row.text(1)?,
            display_name: row.text(2)?,
            parent: row.optional_text(3)?,
            account_number: row.optional_integer(4)?,
            active: row.flag(5)?,
            customer_type: row.optional_text(6)?,
            reseller: row.flag(7)?,
            plan: row.optional_text(8)?,
            address: row.optional_text(9)?,
            contact: row.optional_text(10)?,
            services: row.text(11)?,
            settings: row.text(12)?,
            locked_settings: row.text(13)?,
            effective_active: row.flag(14)?,
            effective_services: row.text(15)?,
            effective_settings: row.text(16)?,
            effective_locked_settings: row.text(17)?,
            managed_by: row.optional_text(18)?,
            archived: row.flag(19)?,
        })
    }
}

impl<'r> UserRow<'r> {
    /// Reads a row of [`select_users`].
    pub(crate) fn read<C: Columns<'r>>(row: &C) -> Result<UserRow<'r>, C::Error> {
        Ok(UserRow {
            account: row.text(0)?,
            email: row.text(1)?,
            position: row.integer(2)?,
            name: row.text(3)?,
            role: row.text(4)?,
            language: row.optional_text(5)?,
            timezone: row.optional_text(6)?,
        })
    }
}

impl<'r> PlanRow<'r> {
    /// Reads a row of [`SELECT_PLANS`].
    pub(crate) fn read<C: Columns<'r>>(row: &C) -> Result<PlanRow<'r>, C::Error> {
        Ok(PlanRow {
            name: row.text(0)?,
            billing: row.text(1)?,
            licenses: row.optional_integer(2)?,
            limits: row.text(3)?,
            display_name: row.optional_text(4)?,
            managed_by: row.optional_text(5)?,
            archived: row.flag(6)?,
        })
    }
}

/// A hash over every row a snapshot reads, fed in the order the rows are read.
///
/// Each field is written with a tag and its length so that no two different row
/// sequences hash alike by shifting bytes between fields. Fields are gathered in a
/// buffer and hashed in large blocks: BLAKE3 is much faster on 64 KiB than on the few
/// bytes of one field, and the hash of a byte stream does not depend on how it is cut.
pub(crate) struct Fingerprinter {
    hasher: blake3::Hasher,
    buffer: Vec<u8>,
}

/// The buffer size at which the fingerprint hashes what it gathered.
const FINGERPRINT_BLOCK: usize = 64 * 1024;

impl Fingerprinter {
    pub fn new() -> Fingerprinter {
        Fingerprinter {
            hasher: blake3::Hasher::new(),
            buffer: Vec::with_capacity(FINGERPRINT_BLOCK + 4096),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Hashes the gathered bytes once a block is full (called between rows).
    fn end_row(&mut self) {
        if self.buffer.len() >= FINGERPRINT_BLOCK {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
    }

    /// Starts a new table section, so rows cannot pass for rows of another table.
    pub fn table(&mut self, table: &str) {
        self.text(Some(table));
    }

    fn text(&mut self, value: Option<&str>) {
        match value {
            None => self.bytes(&[0]),
            Some(text) => {
                self.bytes(&[1]);
                self.bytes(&(text.len() as u64).to_le_bytes());
                self.bytes(text.as_bytes());
            }
        }
    }

    fn number(&mut self, value: Option<i64>) {
        match value {
            None => self.bytes(&[2]),
            Some(number) => {
                self.bytes(&[3]);
                self.bytes(&number.to_le_bytes());
            }
        }
    }

    fn flag(&mut self, value: bool) {
        self.bytes(&[4 + u8::from(value)]);
    }

    pub fn account(&mut self, row: &AccountRow<'_>) {
        for text in [row.name, row.node_type, row.display_name] {
            self.text(Some(text));
        }
        self.text(row.parent);
        self.number(row.account_number);
        self.flag(row.active);
        self.text(row.customer_type);
        self.flag(row.reseller);
        for text in [row.plan, row.address, row.contact] {
            self.text(text);
        }
        for text in [row.services, row.settings, row.locked_settings] {
            self.text(Some(text));
        }
        self.flag(row.effective_active);
        for text in [
            row.effective_services,
            row.effective_settings,
            row.effective_locked_settings,
        ] {
            self.text(Some(text));
        }
        self.text(row.managed_by);
        self.flag(row.archived);
        self.end_row();
    }

    pub fn user(&mut self, row: &UserRow<'_>) {
        self.text(Some(row.account));
        self.text(Some(row.email));
        self.number(Some(row.position));
        self.text(Some(row.name));
        self.text(Some(row.role));
        self.text(row.language);
        self.text(row.timezone);
        self.end_row();
    }

    pub fn plan(&mut self, row: &PlanRow<'_>) {
        self.text(Some(row.name));
        self.text(Some(row.billing));
        self.number(row.licenses);
        self.text(Some(row.limits));
        self.text(row.display_name);
        self.text(row.managed_by);
        self.flag(row.archived);
        self.end_row();
    }

    pub fn finish(&self) -> String {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.buffer);
        hasher.finalize().to_hex().to_string()
    }
}

fn invalid(table: &str, name: &str, message: impl Into<String>) -> StoreError {
    StoreError::InvalidRow {
        table: table.to_string(),
        name: name.to_string(),
        message: message.into(),
    }
}

/// Decodes a JSON column; `{}` and `[]` (the common case) skip the parser.
fn json_column<T: DeserializeOwned + Default>(
    table: &str,
    name: &str,
    column: &str,
    text: &str,
) -> Result<T, StoreError> {
    if text == "{}" || text == "[]" {
        return Ok(T::default());
    }
    serde_json::from_str(text)
        .map_err(|error| invalid(table, name, format!("column {column}: {error}")))
}

fn optional_json_column<T: DeserializeOwned + Default>(
    table: &str,
    name: &str,
    column: &str,
    text: Option<&str>,
) -> Result<Option<T>, StoreError> {
    text.map(|text| json_column(table, name, column, text))
        .transpose()
}

/// Decodes account rows, sharing one [`Inherited`] between rows whose effective
/// columns hold the same text (most rows inherit their values unchanged, so a snapshot
/// holds a few distinct values, not one copy per row), and one copy of each parent,
/// plan and source name.
#[derive(Debug, Default)]
pub struct AccountDecoder {
    shared: FxHashMap<Box<str>, Arc<Inherited>>,
    key: String,
    strings: Interner,
}

impl AccountDecoder {
    /// The values of these three column texts, decoded the first time they are seen.
    fn inherited(
        &mut self,
        name: &str,
        services: &str,
        settings: &str,
        locked_settings: &str,
    ) -> Result<Arc<Inherited>, StoreError> {
        const TABLE: &str = "accounts";
        self.key.clear();
        // Lengths first, so that no two different triples make the same key.
        let lengths = [services.len(), settings.len(), locked_settings.len()];
        for length in lengths {
            // Into the reused key: no allocation per row.
            let _ = write!(self.key, "{length}:");
        }
        self.key.push_str(services);
        self.key.push_str(settings);
        self.key.push_str(locked_settings);
        if let Some(found) = self.shared.get(self.key.as_str()) {
            return Ok(Arc::clone(found));
        }
        let values = Arc::new(Inherited {
            services: json_column(TABLE, name, "effective_services", services)?,
            settings: json_column(TABLE, name, "effective_settings", settings)?,
            locked_settings: json_column(
                TABLE,
                name,
                "effective_locked_settings",
                locked_settings,
            )?,
        });
        self.shared
            .insert(self.key.as_str().into(), Arc::clone(&values));
        Ok(values)
    }
}

impl AccountRow<'_> {
    /// The model node of this row (`adopt` false: the live side never adopts).
    pub fn decode(&self, decoder: &mut AccountDecoder) -> Result<Node, StoreError> {
        const TABLE: &str = "accounts";
        let name = self.name;
        let node_type = NodeType::parse(self.node_type).ok_or_else(|| {
            invalid(
                TABLE,
                name,
                format!("unknown node_type `{}`", self.node_type),
            )
        })?;
        let customer_type =
            match self.customer_type {
                None => None,
                Some(text) => Some(CustomerType::parse(text).ok_or_else(|| {
                    invalid(TABLE, name, format!("unknown customer_type `{text}`"))
                })?),
            };
        let spec = NodeSpec {
            node_type,
            display_name: self.display_name.into(),
            parent: decoder.strings.optional(self.parent),
            active: self.active,
            customer_type,
            reseller: self.reseller,
            plan: decoder.strings.optional(self.plan),
            address: optional_json_column(TABLE, name, "address", self.address)?,
            contact: optional_json_column(TABLE, name, "contact", self.contact)?,
            services: json_column(TABLE, name, "services", self.services)?,
            settings: json_column(TABLE, name, "settings", self.settings)?,
            locked_settings: json_column(TABLE, name, "locked_settings", self.locked_settings)?,
            users: Vec::new(),
        };
        let effective = Effective {
            active: self.effective_active,
            values: decoder.inherited(
                name,
                self.effective_services,
                self.effective_settings,
                self.effective_locked_settings,
            )?,
        };
        Ok(Node {
            name: name.into(),
            spec,
            adopt: false,
            live: LiveMeta {
                account_number: self.account_number,
                managed_by: decoder.strings.optional(self.managed_by),
                archived: self.archived,
            },
            effective: Some(effective),
        })
    }
}

impl UserRow<'_> {
    /// The model user of this row; `strings` shares its language and time zone.
    pub fn decode(&self, strings: &mut Interner) -> Result<User, StoreError> {
        let role = Role::parse(self.role).ok_or_else(|| {
            invalid(
                "users",
                self.account,
                format!("user {}: unknown role `{}`", self.email, self.role),
            )
        })?;
        Ok(User {
            email: self.email.into(),
            name: self.name.into(),
            role,
            language: strings.optional(self.language),
            timezone: strings.optional(self.timezone),
        })
    }
}

impl PlanRow<'_> {
    pub fn decode(&self) -> Result<ServicePlan, StoreError> {
        const TABLE: &str = "service_plans";
        let name = self.name;
        let billing = Billing::parse(self.billing)
            .ok_or_else(|| invalid(TABLE, name, format!("unknown billing `{}`", self.billing)))?;
        let licenses = self
            .licenses
            .map(|count| {
                u32::try_from(count)
                    .map_err(|_| invalid(TABLE, name, format!("licenses {count} out of range")))
            })
            .transpose()?;
        Ok(ServicePlan {
            name: name.to_string(),
            spec: PlanSpec {
                billing,
                licenses,
                limits: json_column(TABLE, name, "limits", self.limits)?,
                display_name: self.display_name.map(str::to_string),
            },
            adopt: false,
            live: LiveMeta {
                account_number: None,
                managed_by: self.managed_by.map(Text::from),
                archived: self.archived,
            },
        })
    }
}

/// Attaches users, streamed in (account, position) order, to nodes sorted by name,
/// without keeping a copy of each user's account name. Users of accounts that are not
/// in `nodes` (archived, or not read) are dropped. Each node's users are gathered
/// first and moved in at exact capacity: a growing `Vec` would keep up to twice the
/// room, for every account.
pub(crate) struct UserAttacher<'a> {
    nodes: &'a mut [Node],
    cursor: usize,
    /// The users of `nodes[cursor]` gathered so far.
    pending: Vec<User>,
}

impl<'a> UserAttacher<'a> {
    pub fn new(nodes: &'a mut [Node]) -> UserAttacher<'a> {
        UserAttacher {
            nodes,
            cursor: 0,
            pending: Vec::new(),
        }
    }

    pub fn attach(&mut self, account: &str, user: User) {
        while self.cursor < self.nodes.len() && self.nodes[self.cursor].name.as_str() < account {
            self.flush();
            self.cursor += 1;
        }
        if self
            .nodes
            .get(self.cursor)
            .is_some_and(|node| node.name == account)
        {
            self.pending.push(user);
        }
    }

    fn flush(&mut self) {
        if let Some(node) = self.nodes.get_mut(self.cursor)
            && !self.pending.is_empty()
        {
            // Collected from a drain: allocated at exactly its length. Decoded rows
            // have no users of their own yet.
            node.spec.users = self.pending.drain(..).collect();
        }
    }

    /// Moves the last node's users in.
    pub fn finish(mut self) {
        self.flush();
    }
}

/// Canonical JSON text of a value, in an allocation of its length.
///
/// Encoded into a buffer the thread reuses, then copied: `serde_json::to_string`
/// grows its string by doubling, and an apply holds one text per change (the audit
/// log's) until it commits, each with up to half of it spare.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    /// A buffer grown past this by one large value is not kept for the next.
    const KEPT_BYTES: usize = 1 << 20;
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let encode_error = |message: String| {
        let cause = super::Cause::new(message, super::Retry::Permanent);
        StoreError::database("encode json", cause)
    };
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let written = serde_json::to_writer(&mut *buffer, value)
            .map_err(|error| encode_error(error.to_string()))
            .and_then(|()| {
                std::str::from_utf8(buffer)
                    .map(str::to_owned)
                    .map_err(|error| encode_error(error.to_string()))
            });
        if buffer.capacity() > KEPT_BYTES {
            *buffer = Vec::new();
        }
        written
    })
}

fn map_json<V: Serialize>(map: &BTreeMap<String, V>) -> Result<Cow<'static, str>, StoreError> {
    if map.is_empty() {
        Ok(Cow::Borrowed("{}"))
    } else {
        to_json(map).map(Cow::Owned)
    }
}

fn list_json(list: &[String]) -> Result<Cow<'static, str>, StoreError> {
    if list.is_empty() {
        Ok(Cow::Borrowed("[]"))
    } else {
        to_json(&list).map(Cow::Owned)
    }
}

/// The JSON text columns of one node write, ready to bind.
#[derive(Debug, Clone)]
pub(crate) struct EncodedNode {
    pub address: Option<String>,
    pub contact: Option<String>,
    pub services: Cow<'static, str>,
    pub settings: Cow<'static, str>,
    pub locked_settings: Cow<'static, str>,
    pub effective: EncodedEffective,
}

/// The JSON text columns of effective values.
#[derive(Debug, Clone)]
pub(crate) struct EncodedEffective {
    pub services: Cow<'static, str>,
    pub settings: Cow<'static, str>,
    pub locked_settings: Cow<'static, str>,
}

pub(crate) fn encode_effective(effective: &Effective) -> Result<EncodedEffective, StoreError> {
    Ok(EncodedEffective {
        services: map_json(&effective.values.services)?,
        settings: map_json(&effective.values.settings)?,
        locked_settings: list_json(&effective.values.locked_settings)?,
    })
}

pub(crate) fn encode_node(write: &NodeWrite) -> Result<EncodedNode, StoreError> {
    let spec = &write.spec;
    Ok(EncodedNode {
        address: spec.address.as_ref().map(to_json).transpose()?,
        contact: spec.contact.as_ref().map(to_json).transpose()?,
        services: map_json(&spec.services)?,
        settings: map_json(&spec.settings)?,
        locked_settings: list_json(&spec.locked_settings)?,
        effective: encode_effective(&write.effective)?,
    })
}

pub(crate) fn encode_limits(plan: &PlanSpec) -> Result<Cow<'static, str>, StoreError> {
    map_json(&plan.limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>() -> AccountRow<'a> {
        AccountRow {
            name: "acme",
            node_type: "customer",
            display_name: "ACME",
            parent: Some("partner"),
            account_number: Some(1000),
            active: true,
            customer_type: Some("endCustomer"),
            reseller: false,
            plan: None,
            address: Some(r#"{"country":"DE"}"#),
            contact: None,
            services: r#"{"scanning":false}"#,
            settings: "{}",
            locked_settings: "[]",
            effective_active: false,
            effective_services: r#"{"scanning":false}"#,
            effective_settings: "{}",
            effective_locked_settings: "[]",
            managed_by: Some("default"),
            archived: false,
        }
    }

    #[test]
    fn a_row_decodes_into_the_node_it_describes() {
        let node = row().decode(&mut AccountDecoder::default()).unwrap();
        assert_eq!(node.spec.node_type, NodeType::Customer);
        assert_eq!(node.spec.address.unwrap().country.as_deref(), Some("DE"));
        assert!(!node.spec.services["scanning"]);
        assert!(!node.effective.unwrap().active);
        assert_eq!(node.live.account_number, Some(1000));
    }

    #[test]
    fn a_row_with_an_unknown_type_is_reported_by_name() {
        let mut bad = row();
        bad.node_type = "planet";
        let message = bad
            .decode(&mut AccountDecoder::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("acme"), "{message}");
        assert!(message.contains("planet"), "{message}");
    }

    #[test]
    fn a_row_with_broken_json_is_reported_with_its_column() {
        let mut bad = row();
        bad.settings = "{not json";
        let message = bad
            .decode(&mut AccountDecoder::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("settings"), "{message}");
    }

    #[test]
    fn moving_bytes_between_fields_changes_the_fingerprint() {
        let mut first = Fingerprinter::new();
        first.account(&row());
        let mut shifted = row();
        shifted.name = "acm";
        shifted.display_name = "eACME";
        let mut second = Fingerprinter::new();
        second.account(&shifted);
        assert_ne!(first.finish(), second.finish());
    }

    /// Fingerprints are stored in saved plans, so hashing in blocks must give the
    /// value canopy always gave (computed by the field-by-field hashing it replaced).
    #[test]
    fn fingerprints_do_not_depend_on_how_the_rows_are_hashed() {
        let mut fingerprint = Fingerprinter::new();
        fingerprint.table("service_plans");
        fingerprint.plan(&PlanRow {
            name: "gold",
            billing: "purchased",
            licenses: Some(5),
            limits: "{}",
            display_name: None,
            managed_by: Some("git"),
            archived: false,
        });
        fingerprint.table("accounts");
        // Far more than one 64 KiB block.
        for index in 0..3000 {
            let name = format!("account-{index}");
            let mut account = row();
            account.name = &name;
            account.account_number = Some(1000 + index);
            account.active = index % 3 != 0;
            account.effective_active = index % 3 != 0;
            account.archived = index == 7;
            fingerprint.account(&account);
        }
        fingerprint.table("users");
        for position in 0..10 {
            fingerprint.user(&UserRow {
                account: "account-1",
                email: "a@b.example",
                position,
                name: "Anna",
                role: "admin",
                language: None,
                timezone: Some("Europe/Berlin"),
            });
        }
        assert_eq!(
            fingerprint.finish(),
            "e9f5b26dd74f744c69490691fc861c8fdc356f2efc233172aaea884a5eea3910"
        );
    }

    #[test]
    fn users_attach_to_their_accounts_in_order() {
        let mut nodes: Vec<Node> = ["a", "b", "c"]
            .iter()
            .map(|name| {
                let mut node = row().decode(&mut AccountDecoder::default()).unwrap();
                node.name = (*name).into();
                node
            })
            .collect();
        let user = |email: &str| User {
            email: email.into(),
            name: email.into(),
            role: Role::User,
            language: None,
            timezone: None,
        };
        let mut attacher = UserAttacher::new(&mut nodes);
        attacher.attach("a", user("1"));
        attacher.attach("a", user("2"));
        attacher.attach("archived", user("x"));
        attacher.attach("c", user("3"));
        attacher.finish();
        let emails = |node: &Node| -> Vec<String> {
            node.spec
                .users
                .iter()
                .map(|u| u.email.to_string())
                .collect()
        };
        assert_eq!(emails(&nodes[0]), ["1", "2"]);
        assert!(emails(&nodes[1]).is_empty());
        assert_eq!(emails(&nodes[2]), ["3"]);
        assert_eq!(nodes[0].spec.users.capacity(), 2, "no room to spare");
    }
}
