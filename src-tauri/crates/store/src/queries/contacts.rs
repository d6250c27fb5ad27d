use crate::model::Contact;
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::ContactId;
use switchboard_core::Timestamp;

/// Who a contact is: phone (`wa_id`), business-scoped user id, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactKey {
    pub phone_number_id: String,
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

pub(crate) fn from_row(row: &Row<'_>, offset: usize) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: ContactId(row.get(offset)?),
        phone_number_id: row.get(offset + 1)?,
        wa_id: row.get(offset + 2)?,
        user_id: row.get(offset + 3)?,
        name: row.get(offset + 4)?,
        sandbox: row.get(offset + 5)?,
    })
}

pub(crate) const COLUMNS: &str =
    "ct.id, ct.phone_number_id, ct.wa_id, ct.user_id, ct.name, ct.sandbox";

/// Finds the contact by phone, else by user id, and fills in whatever the payload adds
/// (a name, the other identifier). Creates it when unknown.
pub fn upsert(
    conn: &Connection,
    key: &ContactKey,
    name: Option<&str>,
    sandbox: bool,
    now: Timestamp,
) -> Result<Contact, StoreError> {
    if key.wa_id.is_none() && key.user_id.is_none() {
        return Err(StoreError::Conflict(
            "a contact needs a phone number or a user id".into(),
        ));
    }
    let by_wa: Option<i64> = match &key.wa_id {
        Some(wa) => conn
            .query_row(
                "SELECT id FROM contacts WHERE phone_number_id = ?1 AND wa_id = ?2",
                params![key.phone_number_id, wa],
                |r| r.get(0),
            )
            .optional()?,
        None => None,
    };
    let by_user: Option<i64> = match (&key.user_id, by_wa) {
        (Some(user), None) => conn
            .query_row(
                "SELECT id FROM contacts WHERE phone_number_id = ?1 AND user_id = ?2",
                params![key.phone_number_id, user],
                |r| r.get(0),
            )
            .optional()?,
        _ => None,
    };
    let id = match by_wa.or(by_user) {
        Some(id) => {
            conn.execute(
                "UPDATE contacts SET
                    name = COALESCE(?2, name),
                    wa_id = COALESCE(wa_id, ?3),
                    user_id = COALESCE(user_id, ?4),
                    updated_at = ?5
                 WHERE id = ?1",
                params![id, name, key.wa_id, key.user_id, now],
            )?;
            id
        }
        None => {
            conn.execute(
                "INSERT INTO contacts (phone_number_id, wa_id, user_id, name, sandbox, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![key.phone_number_id, key.wa_id, key.user_id, name, sandbox, now],
            )?;
            conn.last_insert_rowid()
        }
    };
    get(conn, ContactId(id))
}

pub fn get(conn: &Connection, id: ContactId) -> Result<Contact, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM contacts ct WHERE ct.id = ?1"),
        [id.0],
        |row| from_row(row, 0),
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "contact",
        id: id.0,
    })
}
