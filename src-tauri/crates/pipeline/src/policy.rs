//! Policies: for each proposed action, run it, wait for an operator, or forbid it.
//!
//! Enforced here, outside the model: nothing the model writes can change a verdict. The
//! first matching rule wins; without a match the action kind's default applies.

use crate::actions::Action;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Runs without a human.
    Auto,
    /// Waits in the approval queue.
    Approval,
    /// Never runs; kept and audited.
    Forbid,
}

/// When a rule applies. Every condition set must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Condition {
    /// The model's confidence is below this.
    pub confidence_below: Option<f64>,
    /// The conversation has one of these tags.
    pub any_tag: Vec<String>,
    /// `true`: only outside business hours; `false`: only inside.
    pub outside_business_hours: Option<bool>,
    /// A numeric parameter is above a limit, e.g. `{"field": "amount", "above": 1000}`.
    pub param_above: Option<ParamLimit>,
    /// A parameter equals a value, e.g. `{"field": "priority", "equals": "urgent"}`.
    pub param_equals: Option<ParamEquals>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamLimit {
    pub field: String,
    pub above: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamEquals {
    pub field: String,
    pub equals: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// An action kind, or `*` for every kind.
    pub action: String,
    #[serde(default)]
    pub when: Condition,
    pub verdict: Verdict,
}

/// No rules means every action kind gets its default ([`default_verdict`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

/// Facts about the conversation the conditions look at.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub tags: Vec<String>,
    pub within_business_hours: bool,
}

/// A verdict and the rule that gave it, for the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub rule: String,
}

/// A new install: what reaches the customer waits for a human; internal bookkeeping and
/// handing over to a human run at once; custom actions (the business's own systems) wait;
/// closing a conversation waits, since it ends the thread for the team.
pub fn default_verdict(kind: &str) -> Verdict {
    match kind {
        "escalate_to_human"
        | "no_action"
        | "create_task"
        | "schedule_followup"
        | "set_session_variable"
        | "update_contact" => Verdict::Auto,
        "reply" | "send_template" | "close_conversation" => Verdict::Approval,
        _ => Verdict::Approval,
    }
}

impl Policy {
    pub fn decide(&self, action: &Action, confidence: f64, facts: &Facts) -> Decision {
        let params = action.params();
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.action != "*" && rule.action != action.kind() {
                continue;
            }
            if matches(&rule.when, &params, confidence, facts) {
                return Decision {
                    verdict: rule.verdict,
                    rule: format!("rule {} ({} → {:?})", index + 1, rule.action, rule.verdict),
                };
            }
        }
        Decision {
            verdict: default_verdict(action.kind()),
            rule: format!("default for {}", action.kind()),
        }
    }
}

fn matches(when: &Condition, params: &serde_json::Value, confidence: f64, facts: &Facts) -> bool {
    if let Some(threshold) = when.confidence_below {
        if confidence >= threshold {
            return false;
        }
    }
    if !when.any_tag.is_empty() && !when.any_tag.iter().any(|t| facts.tags.contains(t)) {
        return false;
    }
    if let Some(outside) = when.outside_business_hours {
        if outside == facts.within_business_hours {
            return false;
        }
    }
    if let Some(limit) = &when.param_above {
        match params.get(&limit.field).and_then(serde_json::Value::as_f64) {
            Some(value) if value > limit.above => {}
            _ => return false,
        }
    }
    if let Some(equals) = &when.param_equals {
        if params.get(&equals.field) != Some(&equals.equals) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{NoAction, Reply};
    use serde_json::json;

    #[test]
    fn defaults_hold_replies_and_run_escalations() {
        let policy = Policy::default();
        let facts = Facts::default();
        let reply = Action::Reply(Reply {
            text: "hola".into(),
        });
        assert_eq!(
            policy.decide(&reply, 0.99, &facts).verdict,
            Verdict::Approval,
            "replies wait for a human by default"
        );
        let nothing = Action::NoAction(NoAction { reason: None });
        assert_eq!(policy.decide(&nothing, 0.1, &facts).verdict, Verdict::Auto);
        let custom = Action::Custom {
            name: "issue_refund".into(),
            params: Default::default(),
        };
        assert_eq!(
            policy.decide(&custom, 1.0, &facts).verdict,
            Verdict::Approval,
            "custom actions wait by default"
        );
    }

    #[test]
    fn rules_match_on_confidence_tags_hours_and_parameters() {
        let policy: Policy = serde_json::from_value(json!({"rules": [
            {"action": "issue_refund", "when": {"param_above": {"field": "amount", "above": 500}}, "verdict": "forbid"},
            {"action": "reply", "when": {"confidence_below": 0.5}, "verdict": "approval"},
            {"action": "reply", "when": {"any_tag": ["vip"]}, "verdict": "approval"},
            {"action": "reply", "when": {"outside_business_hours": true}, "verdict": "auto"}
        ]}))
        .unwrap();
        let refund = |amount: i64| Action::Custom {
            name: "issue_refund".into(),
            params: json!({"amount": amount}).as_object().unwrap().clone(),
        };
        assert_eq!(
            policy.decide(&refund(900), 1.0, &Facts::default()).verdict,
            Verdict::Forbid
        );
        assert_eq!(
            policy.decide(&refund(100), 1.0, &Facts::default()).verdict,
            Verdict::Approval,
            "falls back to the default"
        );
        let reply = Action::Reply(Reply { text: "x".into() });
        let night = Facts {
            tags: vec![],
            within_business_hours: false,
        };
        assert_eq!(
            policy.decide(&reply, 0.9, &night).verdict,
            Verdict::Auto,
            "night rule lets replies run"
        );
        assert_eq!(
            policy.decide(&reply, 0.3, &night).verdict,
            Verdict::Approval,
            "earlier rule wins: low confidence waits"
        );
        let vip = Facts {
            tags: vec!["vip".into()],
            within_business_hours: false,
        };
        assert_eq!(policy.decide(&reply, 0.9, &vip).verdict, Verdict::Approval);
        let bad = serde_json::from_value::<Policy>(
            json!({"rules": [{"action": "reply", "verdict": "maybe"}]}),
        );
        assert!(bad.is_err(), "an unknown verdict is refused");
    }
}
