//! The knowledge base operators keep for the domain layer. Runs quote the most relevant
//! active documents (see `runs::gather`); edits are audited.

use crate::settings::require_owner;
use crate::{Actor, Engine, EngineError};
use serde_json::json;
use switchboard_core::ids::DocumentId;
use switchboard_store::model::{ActorKind, Page};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::knowledge;

pub use knowledge::{Document, KnowledgeFilter};

const MAX_TITLE_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 50_000;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 40;

/// A document as an operator writes it.
#[derive(Clone, Debug)]
pub struct DocumentDraft {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
}

impl DocumentDraft {
    /// Trimmed and checked; tags deduplicated in their given order.
    fn checked(self) -> Result<DocumentDraft, EngineError> {
        let title = self.title.trim().to_string();
        let body = self.body.trim().to_string();
        if title.is_empty() || body.is_empty() {
            return Err(EngineError::Invalid(
                "a knowledge document needs a title and a body".into(),
            ));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(EngineError::Invalid(format!(
                "a title has at most {MAX_TITLE_CHARS} characters"
            )));
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(EngineError::Invalid(format!(
                "a body has at most {MAX_BODY_CHARS} characters; split the document"
            )));
        }
        let mut tags: Vec<String> = Vec::new();
        for tag in self.tags {
            let tag = tag.trim().to_string();
            if tag.is_empty() || tags.contains(&tag) {
                continue;
            }
            if tag.chars().count() > MAX_TAG_CHARS {
                return Err(EngineError::Invalid(format!(
                    "a tag has at most {MAX_TAG_CHARS} characters"
                )));
            }
            tags.push(tag);
        }
        if tags.len() > MAX_TAGS {
            return Err(EngineError::Invalid(format!("at most {MAX_TAGS} tags")));
        }
        Ok(DocumentDraft { title, body, tags })
    }
}

impl Engine {
    pub async fn knowledge(&self, filter: KnowledgeFilter) -> Result<Page<Document>, EngineError> {
        Ok(self
            .store()
            .read(move |c| knowledge::list(c, &filter))
            .await?)
    }

    pub async fn knowledge_document(&self, id: DocumentId) -> Result<Document, EngineError> {
        Ok(self.store().read(move |c| knowledge::get(c, id)).await?)
    }

    pub async fn create_knowledge(
        &self,
        actor: &Actor,
        draft: DocumentDraft,
    ) -> Result<Document, EngineError> {
        require_owner(actor, "edit the knowledge base")?;
        let draft = draft.checked()?;
        let label = actor.label();
        let now = self.now_ms();
        Ok(self
            .store()
            .write(move |c| {
                let document = knowledge::insert(c, &draft.title, &draft.body, &draft.tags, now)?;
                audit_document(c, &label, "knowledge.created", &document, now)?;
                Ok(document)
            })
            .await?)
    }

    pub async fn update_knowledge(
        &self,
        actor: &Actor,
        id: DocumentId,
        draft: DocumentDraft,
    ) -> Result<Document, EngineError> {
        require_owner(actor, "edit the knowledge base")?;
        let draft = draft.checked()?;
        let label = actor.label();
        let now = self.now_ms();
        Ok(self
            .store()
            .write(move |c| {
                let document =
                    knowledge::update(c, id, &draft.title, &draft.body, &draft.tags, now)?;
                audit_document(c, &label, "knowledge.updated", &document, now)?;
                Ok(document)
            })
            .await?)
    }

    /// Retires a document: later runs no longer see it.
    pub async fn delete_knowledge(&self, actor: &Actor, id: DocumentId) -> Result<(), EngineError> {
        require_owner(actor, "edit the knowledge base")?;
        let label = actor.label();
        let now = self.now_ms();
        Ok(self
            .store()
            .write(move |c| {
                let document = knowledge::retire(c, id, now)?;
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "knowledge.deleted",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: json!({ "document_id": id.0, "title": document.title }),
                    },
                    now,
                )?;
                Ok(())
            })
            .await?)
    }
}

/// The audit record of a write: the document as saved, so the trail shows what the model
/// could quote from then on.
fn audit_document(
    c: &switchboard_store::rusqlite::Connection,
    actor: &str,
    kind: &str,
    document: &Document,
    now: switchboard_core::Timestamp,
) -> Result<(), switchboard_store::StoreError> {
    audit::append(
        c,
        &NewAuditEvent {
            actor_kind: ActorKind::Operator,
            actor,
            kind,
            conversation_id: None,
            run_id: None,
            action_id: None,
            detail: json!({ "document_id": document.id.0, "title": document.title,
                            "body": document.body, "tags": document.tags }),
        },
        now,
    )?;
    Ok(())
}
