//! Operator accounts. Tokens are looked up by their SHA-256: the token itself is never stored.

use crate::model::{Operator, Role};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::OperatorId;
use switchboard_core::Timestamp;

const COLUMNS: &str = "id, name, email, role, active, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Operator> {
    Ok(Operator {
        id: OperatorId(row.get(0)?),
        name: row.get(1)?,
        email: row.get(2)?,
        role: row.get(3)?,
        active: row.get(4)?,
        created_at: row.get(5)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<Operator>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM operators ORDER BY id"))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn get(conn: &Connection, id: OperatorId) -> Result<Operator, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM operators WHERE id = ?1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "operator",
        id: id.0,
    })
}

/// The active operator whose token hashes to `token_hash`.
pub fn by_token_hash(conn: &Connection, token_hash: &str) -> Result<Option<Operator>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM operators WHERE token_hash = ?1 AND active = 1"),
            [token_hash],
            from_row,
        )
        .optional()?)
}

pub struct NewOperator<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub role: Role,
    pub token_hash: &'a str,
}

pub fn insert(
    conn: &Connection,
    operator: &NewOperator<'_>,
    now: Timestamp,
) -> Result<Operator, StoreError> {
    if let Some(email) = operator.email {
        let taken: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM operators WHERE email = ?1)",
            [email],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::Conflict(format!(
                "an operator with the email {email:?} already exists"
            )));
        }
    }
    conn.execute(
        "INSERT INTO operators (name, email, role, token_hash, active, created_at) VALUES (?1, ?2, ?3, ?4, 1, ?5)",
        params![operator.name, operator.email, operator.role, operator.token_hash, now],
    )?;
    get(conn, OperatorId(conn.last_insert_rowid()))
}

/// Changes the role and/or the active flag; `None` leaves a field as it is.
pub fn update(
    conn: &Connection,
    id: OperatorId,
    role: Option<Role>,
    active: Option<bool>,
) -> Result<Operator, StoreError> {
    get(conn, id)?;
    conn.execute(
        "UPDATE operators SET role = COALESCE(?2, role), active = COALESCE(?3, active) WHERE id = ?1",
        params![id.0, role, active],
    )?;
    get(conn, id)
}

/// Replaces the token: the old one stops working in the same transaction.
pub fn set_token_hash(
    conn: &Connection,
    id: OperatorId,
    token_hash: &str,
) -> Result<Operator, StoreError> {
    get(conn, id)?;
    conn.execute(
        "UPDATE operators SET token_hash = ?2 WHERE id = ?1",
        params![id.0, token_hash],
    )?;
    get(conn, id)
}
