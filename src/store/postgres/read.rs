//! PostgreSQL reads of a snapshot: three queries, each streamed row by row (sqlx
//! `fetch`, never collected), decoded through borrowed rows so each string is copied
//! once.

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use crate::model::{Interner, Node, ServicePlan};
use crate::plan::Plan;

use super::super::Result;
use super::super::batch::{self, Loaded};
use super::super::rows::{
    AccountDecoder, AccountRow, Columns, Fingerprinter, PlanRow, SELECT_PLANS, UserAttacher,
    UserRow, select_accounts, select_users,
};
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

impl<'r> Columns<'r> for &'r PgRow {
    type Error = sqlx::Error;
    fn text(&self, index: usize) -> std::result::Result<&'r str, sqlx::Error> {
        Row::try_get(*self, index)
    }
    fn optional_text(&self, index: usize) -> std::result::Result<Option<&'r str>, sqlx::Error> {
        Row::try_get(*self, index)
    }
    fn integer(&self, index: usize) -> std::result::Result<i64, sqlx::Error> {
        Row::try_get(*self, index)
    }
    fn optional_integer(&self, index: usize) -> std::result::Result<Option<i64>, sqlx::Error> {
        Row::try_get(*self, index)
    }
    fn flag(&self, index: usize) -> std::result::Result<bool, sqlx::Error> {
        Row::try_get(*self, index)
    }
}

async fn load_accounts(
    connection: &mut PgConnection,
    rows: Rows<'_>,
    hasher: &mut Fingerprinter,
) -> Result<Vec<Node>> {
    const OPERATION: &str = "read accounts";
    hasher.table("accounts");
    let mut nodes = Vec::new();
    let mut decoder = AccountDecoder::default();
    let sql = select_accounts(&rows.filter("name"));
    each_row(connection, OPERATION, &sql, rows, |row| {
        let account = AccountRow::read(&row).map_err(database(OPERATION))?;
        hasher.account(&account);
        nodes.push(account.decode(&mut decoder)?);
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
    let mut strings = Interner::default();
    let sql = select_users(&rows.filter("account"));
    each_row(connection, OPERATION, &sql, rows, |row| {
        let user = UserRow::read(&row).map_err(database(OPERATION))?;
        hasher.user(&user);
        attacher.attach(user.account, user.decode(&mut strings)?);
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
    each_row(connection, OPERATION, SELECT_PLANS, Rows::All, |row| {
        let plan = PlanRow::read(&row).map_err(database(OPERATION))?;
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

/// The fingerprint of everything [`load`] reads, from the same queries in the same
/// order, the rows hashed but not decoded.
pub(super) async fn fingerprint(connection: &mut PgConnection) -> Result<String> {
    let mut hasher = Fingerprinter::new();
    hasher.table("service_plans");
    const PLANS: &str = "read service_plans";
    each_row(connection, PLANS, SELECT_PLANS, Rows::All, |row| {
        hasher.plan(&PlanRow::read(&row).map_err(database(PLANS))?);
        Ok(())
    })
    .await?;
    hasher.table("accounts");
    const ACCOUNTS: &str = "read accounts";
    let sql = select_accounts(&Rows::All.filter("name"));
    each_row(connection, ACCOUNTS, &sql, Rows::All, |row| {
        hasher.account(&AccountRow::read(&row).map_err(database(ACCOUNTS))?);
        Ok(())
    })
    .await?;
    hasher.table("users");
    const USERS: &str = "read users";
    let sql = select_users(&Rows::All.filter("account"));
    each_row(connection, USERS, &sql, Rows::All, |row| {
        hasher.user(&UserRow::read(&row).map_err(database(USERS))?);
        Ok(())
    })
    .await?;
    Ok(hasher.finish())
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
