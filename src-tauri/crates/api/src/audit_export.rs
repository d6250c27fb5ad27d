//! The audit trail's export formats. Each record keeps `prev_hash`, `hash`, its time in
//! milliseconds and its `detail` as the exact text the hash covers, so a complete export can
//! be verified offline (see `switchboard_store::queries::audit::verify_records`).

use serde::Serialize;
use serde_json::value::RawValue;
use switchboard_core::clock::to_rfc3339;
use switchboard_engine::audit::StoredAuditRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    Jsonl,
    Csv,
}

impl ExportFormat {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "jsonl" => Some(Self::Jsonl),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Jsonl => "application/jsonl; charset=utf-8",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }

    /// What comes before the first record: the CSV header line.
    pub(crate) fn preamble(self) -> Vec<u8> {
        match self {
            Self::Jsonl => Vec::new(),
            Self::Csv => {
                let mut line = CSV_COLUMNS.join(",");
                line.push_str("\r\n");
                line.into_bytes()
            }
        }
    }

    pub(crate) fn encode(self, records: &[StoredAuditRecord]) -> Result<Vec<u8>, String> {
        match self {
            Self::Jsonl => jsonl(records),
            Self::Csv => csv(records),
        }
    }
}

pub(crate) const CSV_COLUMNS: [&str; 12] = [
    "id",
    "at",
    "at_ms",
    "actor_kind",
    "actor",
    "kind",
    "conversation_id",
    "run_id",
    "action_id",
    "detail",
    "prev_hash",
    "hash",
];

#[derive(Serialize)]
struct Line<'a, D: Serialize> {
    id: i64,
    at: String,
    at_ms: i64,
    actor_kind: &'a str,
    actor: &'a str,
    kind: &'a str,
    conversation_id: Option<i64>,
    run_id: Option<i64>,
    action_id: Option<i64>,
    detail: D,
    prev_hash: &'a str,
    hash: &'a str,
}

fn line<D: Serialize>(r: &StoredAuditRecord, detail: D) -> Line<'_, D> {
    Line {
        id: r.id,
        at: to_rfc3339(r.at),
        at_ms: r.at,
        actor_kind: &r.actor_kind,
        actor: &r.actor,
        kind: &r.kind,
        conversation_id: r.conversation_id,
        run_id: r.run_id,
        action_id: r.action_id,
        detail,
        prev_hash: &r.prev_hash,
        hash: &r.hash,
    }
}

/// One JSON object a line; `detail` is embedded verbatim as JSON.
fn jsonl(records: &[StoredAuditRecord]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for r in records {
        // The column is checked JSON, so this holds; should it not, the text is kept as a
        // string rather than dropped, and verification will name the record.
        match RawValue::from_string(r.detail.clone()) {
            Ok(raw) => serde_json::to_writer(&mut out, &line(r, raw)),
            Err(_) => serde_json::to_writer(&mut out, &line(r, &r.detail)),
        }
        .map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok(out)
}

/// RFC 4180 rows (quoted where needed, CRLF), `detail` as its JSON text.
fn csv(records: &[StoredAuditRecord]) -> Result<Vec<u8>, String> {
    let mut writer = ::csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in records {
        writer
            .serialize(line(r, &r.detail))
            .map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}
