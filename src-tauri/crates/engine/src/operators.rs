//! Operator accounts and their API tokens, and the record of refused requests.
//!
//! A token is shown once, when it is issued; only its SHA-256 is stored. Tokens are 256
//! random bits, so looking one up by its hash in an index leaks nothing a timing attack
//! could use: the hash of a guess says nothing about the hash of a real token.

use crate::{Actor, Engine, EngineError};
use serde_json::json;
use sha2::{Digest, Sha256};
use switchboard_core::ids::OperatorId;
use switchboard_core::Secret;
use switchboard_store::model::{ActorKind, Operator, Role};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::operators::{self, NewOperator};

/// Operator tokens start with this, so a leaked one is recognisable in a scan.
pub const TOKEN_PREFIX: &str = "sbo_";

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> Secret {
    Secret::new(format!("{TOKEN_PREFIX}{}", Secret::generate().expose()))
}

/// An operator and the token just issued to them (shown once, never stored).
pub struct IssuedToken {
    pub operator: Operator,
    pub token: Secret,
}

/// What an owner gives to create an operator.
#[derive(Clone, Debug)]
pub struct NewOperatorInput {
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
}

fn clean_name(name: &str) -> Result<String, EngineError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(EngineError::Invalid(
            "an operator needs a name of 1 to 100 characters".into(),
        ));
    }
    Ok(name.to_string())
}

fn clean_email(email: Option<&str>) -> Result<Option<String>, EngineError> {
    match email.map(str::trim).filter(|e| !e.is_empty()) {
        None => Ok(None),
        Some(e) if e.contains('@') && e.len() <= 200 && !e.contains(char::is_whitespace) => {
            Ok(Some(e.to_string()))
        }
        Some(e) => Err(EngineError::Invalid(format!(
            "{e:?} is not an email address"
        ))),
    }
}

fn operator_event<'a>(
    actor_label: &'a str,
    kind: &'a str,
    detail: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        actor_kind: ActorKind::Operator,
        actor: actor_label,
        kind,
        conversation_id: None,
        run_id: None,
        action_id: None,
        detail,
    }
}

impl Engine {
    /// The active operator holding `token`, as an actor.
    pub async fn actor_for_token(&self, token: &str) -> Result<Option<Actor>, EngineError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let operator = self
            .store()
            .read(move |c| operators::by_token_hash(c, &hash))
            .await?;
        Ok(operator.map(|o| Actor {
            operator_id: Some(o.id),
            name: o.name,
            role: o.role,
        }))
    }

    pub async fn operators(&self) -> Result<Vec<Operator>, EngineError> {
        Ok(self.store().read(operators::list).await?)
    }

    pub async fn operator(&self, id: OperatorId) -> Result<Operator, EngineError> {
        Ok(self.store().read(move |c| operators::get(c, id)).await?)
    }

    /// Creates an operator and issues their first token.
    pub async fn create_operator(
        &self,
        actor: &Actor,
        input: NewOperatorInput,
    ) -> Result<IssuedToken, EngineError> {
        let name = clean_name(&input.name)?;
        let email = clean_email(input.email.as_deref())?;
        let token = new_token();
        let hash = token_hash(token.expose());
        let now = self.now_ms();
        let label = actor.label();
        let role = input.role;
        let operator = self
            .store()
            .write(move |c| {
                let operator = operators::insert(
                    c,
                    &NewOperator {
                        name: &name,
                        email: email.as_deref(),
                        role,
                        token_hash: &hash,
                    },
                    now,
                )?;
                audit::append(
                    c,
                    &operator_event(
                        &label,
                        "operator.created",
                        json!({"operator_id": operator.id, "name": operator.name, "email": operator.email, "role": operator.role}),
                    ),
                    now,
                )?;
                Ok(operator)
            })
            .await?;
        Ok(IssuedToken { operator, token })
    }

    /// Changes an operator's role or active flag; the audit record has old → new.
    pub async fn update_operator(
        &self,
        actor: &Actor,
        id: OperatorId,
        role: Option<Role>,
        active: Option<bool>,
    ) -> Result<Operator, EngineError> {
        if role.is_none() && active.is_none() {
            return Err(EngineError::Invalid(
                "give a new role, active, or both".into(),
            ));
        }
        if actor.operator_id == Some(id) && (active == Some(false) || role.is_some()) {
            // An owner demoting or locking out themselves is almost always a slip; another
            // owner (or the engine's token) can do it.
            return Err(EngineError::Conflict(
                "operators cannot change their own role or deactivate themselves".into(),
            ));
        }
        let now = self.now_ms();
        let label = actor.label();
        Ok(self
            .store()
            .write(move |c| {
                let before = operators::get(c, id)?;
                let after = operators::update(c, id, role, active)?;
                audit::append(
                    c,
                    &operator_event(
                        &label,
                        "operator.updated",
                        json!({
                            "operator_id": id,
                            "old": {"role": before.role, "active": before.active},
                            "new": {"role": after.role, "active": after.active},
                        }),
                    ),
                    now,
                )?;
                Ok(after)
            })
            .await?)
    }

    /// Issues a new token; the old one stops working when this commits.
    pub async fn rotate_operator_token(
        &self,
        actor: &Actor,
        id: OperatorId,
    ) -> Result<IssuedToken, EngineError> {
        let token = new_token();
        let hash = token_hash(token.expose());
        let now = self.now_ms();
        let label = actor.label();
        let operator = self
            .store()
            .write(move |c| {
                let operator = operators::set_token_hash(c, id, &hash)?;
                audit::append(
                    c,
                    &operator_event(&label, "operator.token_rotated", json!({"operator_id": id})),
                    now,
                )?;
                Ok(operator)
            })
            .await?;
        Ok(IssuedToken { operator, token })
    }

    /// Records a refused request in the audit trail: who asked for what, and which role
    /// it needs.
    pub async fn record_access_denied(
        &self,
        actor: &Actor,
        method: &str,
        route: &str,
        required: Role,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let detail = json!({
            "method": method, "route": route, "role": actor.role, "required_role": required,
        });
        self.store()
            .write(move |c| {
                audit::append(c, &operator_event(&label, "access_denied", detail), now)?;
                Ok(())
            })
            .await?;
        Ok(())
    }
}
