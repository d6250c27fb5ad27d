//! Editing the action policies: validated, versioned, audited, and in force for the next run.
//!
//! The newest stored version is the one in force; with none stored, the built-in defaults
//! (`switchboard_pipeline::policy::default_verdict`) apply. The engine loads the newest
//! version at start and swaps it in after each edit commits.

use crate::{Actor, Engine, EngineError};
use serde_json::json;
use switchboard_core::Timestamp;
pub use switchboard_pipeline::actions::BUILTIN_KINDS;
use switchboard_pipeline::policy::{default_verdict, Policy, Verdict};
use switchboard_store::model::{ActorKind, PolicyVersion};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::policies;

/// What a built-in action kind gets when no rule matches.
pub fn default_verdict_name(kind: &str) -> &'static str {
    match default_verdict(kind) {
        Verdict::Auto => "auto",
        Verdict::Approval => "approval",
        Verdict::Forbid => "forbid",
    }
}

/// More rules than anyone can review is a mistake, not a policy.
const MAX_RULES: usize = 200;

/// The policy in force and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyInForce {
    /// 0 when no version was ever stored (the built-in defaults).
    pub version: i64,
    pub policy: Policy,
    pub author: Option<String>,
    pub created_at: Option<Timestamp>,
}

impl PolicyInForce {
    fn from_version(v: PolicyVersion) -> Result<PolicyInForce, EngineError> {
        let policy: Policy = serde_json::from_value(v.rules).map_err(|e| {
            EngineError::Internal(format!(
                "stored policy version {} is unreadable: {e}",
                v.version
            ))
        })?;
        Ok(PolicyInForce {
            version: v.version,
            policy,
            author: Some(v.author),
            created_at: Some(v.created_at),
        })
    }

    fn defaults() -> PolicyInForce {
        PolicyInForce {
            version: 0,
            policy: Policy::default(),
            author: None,
            created_at: None,
        }
    }
}

impl Engine {
    /// Reads the newest stored policy into the pipeline. Called once at start.
    pub(crate) fn load_stored_policy(&self) -> Result<(), EngineError> {
        let latest = self.store().read_blocking(policies::latest)?;
        if let Some(version) = latest {
            let number = version.version;
            match PolicyInForce::from_version(version) {
                Ok(in_force) => self.set_policy(in_force.policy),
                // Refusing to start would lock the owner out of fixing it; the defaults
                // are the safe side (what reaches customers waits for a human).
                Err(e) => {
                    tracing::error!(version = number, error = %e, "using the default policies")
                }
            }
        }
        Ok(())
    }

    pub async fn policy_in_force(&self) -> Result<PolicyInForce, EngineError> {
        match self.store().read(policies::latest).await? {
            Some(version) => PolicyInForce::from_version(version),
            None => Ok(PolicyInForce::defaults()),
        }
    }

    pub async fn policy_versions(&self) -> Result<Vec<PolicyVersion>, EngineError> {
        Ok(self.store().read(policies::versions).await?)
    }

    /// Validates `rules` (the whole policy, `{"rules": [...]}`), stores it as a new
    /// version with its audit record (old → new), then puts it in force.
    pub async fn set_policies(
        &self,
        actor: &Actor,
        rules: serde_json::Value,
    ) -> Result<PolicyInForce, EngineError> {
        let policy = self.validate_policy(rules)?;
        let stored =
            serde_json::to_value(&policy).map_err(|e| EngineError::Internal(e.to_string()))?;
        // One edit at a time, so the policy put in force is always the newest stored.
        let _edit = self.inner.policy_edit.lock().await;
        let now = self.now_ms();
        let label = actor.label();
        let version = self
            .store()
            .write(move |c| {
                let old = policies::latest(c)?;
                let new = policies::insert(c, &stored, &label, now)?;
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "policy.changed",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: json!({
                            "old_version": old.as_ref().map_or(0, |o| o.version),
                            "new_version": new.version,
                            "old": old.map_or_else(|| json!({"rules": []}), |o| o.rules),
                            "new": new.rules,
                        }),
                    },
                    now,
                )?;
                Ok(new)
            })
            .await?;
        self.set_policy(policy.clone());
        Ok(PolicyInForce {
            version: version.version,
            policy,
            author: Some(version.author),
            created_at: Some(version.created_at),
        })
    }

    /// The rule set as a whole: its shape (unknown fields refused), and what a shape cannot
    /// say — the action named exists, thresholds are in range, fields are named.
    pub fn validate_policy(&self, rules: serde_json::Value) -> Result<Policy, EngineError> {
        let policy: Policy = serde_json::from_value(rules).map_err(|e| {
            EngineError::Invalid(format!(
                "the policy must be {{\"rules\": [{{\"action\", \"when\", \"verdict\"}}]}}: {e}"
            ))
        })?;
        if policy.rules.len() > MAX_RULES {
            return Err(EngineError::Invalid(format!(
                "at most {MAX_RULES} rules, not {}",
                policy.rules.len()
            )));
        }
        let catalog = self.pipeline().validator.catalog();
        let mut problems = Vec::new();
        for (i, rule) in policy.rules.iter().enumerate() {
            let n = i + 1;
            let known = rule.action == "*"
                || BUILTIN_KINDS.contains(&rule.action.as_str())
                || catalog.custom(&rule.action).is_some();
            if !known {
                let mut kinds: Vec<String> = BUILTIN_KINDS.iter().map(|k| k.to_string()).collect();
                kinds.extend(catalog.custom_actions().iter().map(|c| c.name.clone()));
                problems.push(format!(
                    "rule {n}: unknown action {:?}; use * or one of {}",
                    rule.action,
                    kinds.join(", ")
                ));
            }
            if let Some(threshold) = rule.when.confidence_below {
                if !(threshold > 0.0 && threshold <= 1.0) {
                    problems.push(format!(
                        "rule {n}: confidence_below must be above 0 and at most 1, not {threshold}"
                    ));
                }
            }
            if let Some(limit) = &rule.when.param_above {
                if limit.field.trim().is_empty() || !limit.above.is_finite() {
                    problems.push(format!(
                        "rule {n}: param_above needs a field name and a finite number"
                    ));
                }
            }
            if let Some(equals) = &rule.when.param_equals {
                if equals.field.trim().is_empty() {
                    problems.push(format!("rule {n}: param_equals needs a field name"));
                }
            }
            if rule.when.any_tag.iter().any(|t| t.trim().is_empty()) {
                problems.push(format!("rule {n}: any_tag has an empty tag"));
            }
        }
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(EngineError::Invalid(problems.join("; ")))
        }
    }
}
