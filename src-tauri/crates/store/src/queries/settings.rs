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

/// One version of an editable context layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerVersion {
    pub layer: String,
    pub version: i64,
    pub content: String,
    pub author: String,
    pub created_at: Timestamp,
}

fn layer_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LayerVersion> {
    Ok(LayerVersion {
        layer: row.get(0)?,
        version: row.get(1)?,
        content: row.get(2)?,
        author: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// The version in force of `layer` (the newest), if one was ever written.
pub fn current_layer(conn: &Connection, layer: &str) -> Result<Option<LayerVersion>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT layer, version, content, author, created_at FROM context_layers
             WHERE layer = ?1 ORDER BY version DESC LIMIT 1",
            [layer],
            layer_from_row,
        )
        .optional()?)
}

/// Every version of `layer`, newest first.
pub fn layer_versions(conn: &Connection, layer: &str) -> Result<Vec<LayerVersion>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT layer, version, content, author, created_at FROM context_layers
         WHERE layer = ?1 ORDER BY version DESC",
    )?;
    let rows = stmt
        .query_map([layer], layer_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Appends the next version of `layer`. With `base_version`, refuses when someone else
/// saved a newer version meanwhile, so one editor never silently overwrites another.
pub fn add_layer_version(
    conn: &Connection,
    layer: &str,
    content: &str,
    author: &str,
    base_version: Option<i64>,
    now: Timestamp,
) -> Result<LayerVersion, StoreError> {
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM context_layers WHERE layer = ?1",
        [layer],
        |r| r.get(0),
    )?;
    if let Some(base) = base_version {
        if base != current {
            return Err(StoreError::Conflict(format!(
                "the {layer} layer is at version {current}, not {base}: someone saved it meanwhile; reload and edit again"
            )));
        }
    }
    let version = current + 1;
    conn.execute(
        "INSERT INTO context_layers (layer, version, content, author, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![layer, version, content, author, now],
    )?;
    Ok(LayerVersion {
        layer: layer.to_string(),
        version,
        content: content.to_string(),
        author: author.to_string(),
        created_at: now,
    })
}

/// A message template Meta approved, as configured for this number.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub name: String,
    pub language: String,
    pub category: String,
    /// Meta's component list (`[{"type": "BODY", "text": "Hi {{1}}"}, …]`).
    pub components: serde_json::Value,
    pub status: String,
}

pub fn templates(conn: &Connection) -> Result<Vec<Template>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, language, category, components, status FROM templates ORDER BY name, language",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, language, category, components, status) = row?;
        out.push(Template {
            name,
            language,
            category,
            components: serde_json::from_str(&components)?,
            status,
        });
    }
    Ok(out)
}

/// Replaces the whole configured list (one transaction on the writer).
pub fn replace_templates(conn: &Connection, templates: &[Template]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM templates", [])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO templates (name, language, category, components, status) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for t in templates {
        stmt.execute(params![
            t.name,
            t.language,
            t.category,
            t.components.to_string(),
            t.status
        ])?;
    }
    Ok(())
}
