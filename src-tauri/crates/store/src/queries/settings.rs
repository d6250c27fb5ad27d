use crate::StoreError;
use rusqlite::{params, Connection};
use switchboard_core::Timestamp;

/// Settings edited in the console, as a JSON object of key → value.
pub fn all(conn: &Connection) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM settings ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut map = serde_json::Map::new();
    for row in rows {
        let (key, value) = row?;
        map.insert(key, serde_json::from_str(&value)?);
    }
    Ok(map)
}

pub fn set(
    conn: &Connection,
    key: &str,
    value: &serde_json::Value,
    updated_by: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by,
                                         updated_at = excluded.updated_at",
        params![key, value.to_string(), updated_by, now],
    )?;
    Ok(())
}
