//! PostgreSQL reads of a snapshot: three queries, each streamed row by row (sqlx
//! `fetch`, never collected), decoded through borrowed rows so each string is copied
//! once.

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use crate::model::{Node, ServicePlan};
use crate::plan::Plan;

use super::super::Result;
use super::super::batch::{self, Loaded};
use super::super::rows::{AccountRow, Fingerprinter, PlanRow, UserAttacher, UserRow};
use super::database;

/// Which rows a load reads: all of them (a snapshot), or those of some node names
/// (an apply after the snapshot was handed out).
#[derive(Clone, Copy)]
pub(super) enum Rows<'a> {
    All,
    Named(&'a [&'a str]),
}

impl Rows<'_> {
    /// The WHERE clause limiting `column` to the named rows (an array bound as $1).
    fn filter(self, column: &str) -> String {
        match self {
            Rows::All => String::new(),
            Rows::Named(_) => format!("WHERE {column} = ANY($1::text[])"),
        }
    }
}

/// Runs a query and hands each row to `visit`, streaming (rows are not collected).
async fn each_row(
    connection: &mut PgConnection,
    operation: &'static str,
    sql: &str,
    rows: Rows<'_>,
    mut visit: impl FnMut(&PgRow) -> Result<()>,
) -> Result<()> {
    // Built from constant column lists and filters only; values are bound.
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    let query = match rows {
        Rows::All => query,
        Rows::Named(names) => query.bind(names),
    };
    let mut stream = query.fetch(connection);
    while let Some(row) = stream.try_next().await.map_err(database(operation))? {
        visit(&row)?;
    }
    Ok(())
}

async fn load_accounts(
    connection: &mut PgConnection,
    rows: Rows<'_>,
    hasher: &mut Fingerprinter,
) -> Result<Vec<Node>> {
    const OPERATION: &str = "read accounts";
    hasher.table("accounts");
    let mut nodes = Vec::new();
    let sql = format!(
        "SELECT name, node_type, display_name, parent, account_number, active,
                customer_type, reseller, plan, address, contact, services, settings,
                locked_settings, effective_active, effective_services, effective_settings,
                effective_locked_settings, managed_by, archived_at IS NOT NULL
         FROM accounts {} ORDER BY name",
        rows.filter("name")
    );
    each_row(connection, OPERATION, &sql, rows, |row| {
        let read = || -> std::result::Result<AccountRow<'_>, sqlx::Error> {
            Ok(AccountRow {
                name: row.try_get(0)?,
                node_type: row.try_get(1)?,
                display_name: row.try_get(2)?,
                parent: row.try_get(3)?,
                account_number: row.try_get(4)?,
                active: row.try_get(5)?,
                customer_type: row.try_get(6)?,
                reseller: row.try_get(7)?,
                plan: row.try_get(8)?,
                address: row.try_get(9)?,
                contact: row.try_get(10)?,
                services: row.try_get(11)?,
                settings: row.try_get(12)?,
                locked_settings: row.try_get(13)?,
                effective_active: row.try_get(14)?,
                effective_services: row.try_get(15)?,
                effective_settings: row.try_get(16)?,
                effective_locked_settings: row.try_get(17)?,
                managed_by: row.try_get(18)?,
                archived: row.try_get(19)?,
            })
        };
        let account = read().map_err(database(OPERATION))?;
        hasher.account(&account);
        nodes.push(account.decode()?);
        Ok(())
    })
    .await?;
    Ok(nodes)
}

/// Streams the users into the (sorted) nodes they belong to.
async fn load_users(
    connection: &mut PgConnection,
    rows: Rows<'_>,
    hasher: &mut Fingerprinter,
    nodes: &mut [Node],
) -> Result<()> {
    const OPERATION: &str = "read users";
    hasher.table("users");
    let mut attacher = UserAttacher::new(nodes);
    let sql = format!(
        "SELECT account, email, position::int8, name, role, language, timezone
         FROM users {} ORDER BY account, position, email",
        rows.filter("account")
    );
    each_row(connection, OPERATION, &sql, rows, |row| {
        let read = || -> std::result::Result<UserRow<'_>, sqlx::Error> {
            Ok(UserRow {
                account: row.try_get(0)?,
                email: row.try_get(1)?,
                position: row.try_get(2)?,
                name: row.try_get(3)?,
                role: row.try_get(4)?,
                language: row.try_get(5)?,
                timezone: row.try_get(6)?,
            })
        };
        let user = read().map_err(database(OPERATION))?;
        hasher.user(&user);
        attacher.attach(user.account, user.decode()?);
        Ok(())
    })
    .await?;
    attacher.finish();
    Ok(())
}

async fn load_plans(
    connection: &mut PgConnection,
    hasher: &mut Fingerprinter,
) -> Result<Vec<ServicePlan>> {
    const OPERATION: &str = "read service_plans";
    hasher.table("service_plans");
    let mut plans = Vec::new();
    let sql = "SELECT name, billing, licenses, limits, display_name, managed_by,
                      archived_at IS NOT NULL
               FROM service_plans ORDER BY name";
    each_row(connection, OPERATION, sql, Rows::All, |row| {
        let read = || -> std::result::Result<PlanRow<'_>, sqlx::Error> {
            Ok(PlanRow {
                name: row.try_get(0)?,
                billing: row.try_get(1)?,
                licenses: row.try_get(2)?,
                limits: row.try_get(3)?,
                display_name: row.try_get(4)?,
                managed_by: row.try_get(5)?,
                archived: row.try_get(6)?,
            })
        };
        let plan = read().map_err(database(OPERATION))?;
        hasher.plan(&plan);
        plans.push(plan.decode()?);
        Ok(())
    })
    .await?;
    Ok(plans)
}

/// Reads everything (or the named nodes, all plans) in three queries, in the
/// caller's transaction.
pub(super) async fn load(connection: &mut PgConnection, rows: Rows<'_>) -> Result<Loaded> {
    let mut hasher = Fingerprinter::new();
    let plans = load_plans(connection, &mut hasher).await?;
    let nodes = load_accounts(connection, rows, &mut hasher).await?;
    let mut loaded = batch::assemble(nodes, plans);
    load_users(
        connection,
        rows,
        &mut hasher,
        &mut loaded.snapshot.hierarchy.nodes,
    )
    .await?;
    loaded.snapshot.fingerprint = hasher.finish();
    Ok(loaded)
}

/// What an apply needs of the live state. When the snapshot was handed out (its
/// fingerprint is `handed_out`), only the rows the plan names are read again (see
/// [`batch::touched`]): the writer lock, held since `begin`, kept that state.
pub(super) async fn load_for_apply(
    connection: &mut PgConnection,
    handed_out: Option<String>,
    plan: &Plan,
) -> Result<Loaded> {
    Ok(match handed_out {
        None => load(connection, Rows::All).await?,
        Some(fingerprint) => {
            let names = batch::touched(plan);
            let mut loaded = load(connection, Rows::Named(&names)).await?;
            loaded.snapshot.fingerprint = fingerprint;
            loaded
        }
    })
}
