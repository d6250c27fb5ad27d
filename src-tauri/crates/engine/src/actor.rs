use switchboard_core::ids::OperatorId;
use switchboard_store::model::Role;

/// Who is asking: every operation is attributed, and roles bound what each may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub operator_id: Option<OperatorId>,
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// The holder of the engine's own API token (the desktop app's user, or `serve`'s admin).
    pub fn owner_token() -> Actor {
        Actor {
            operator_id: None,
            name: "owner".into(),
            role: Role::Owner,
        }
    }

    /// A label for audit records and `decided_by` columns.
    pub fn label(&self) -> String {
        match self.operator_id {
            Some(id) => format!("operator:{id}:{}", self.name),
            None => format!("operator:{}", self.name),
        }
    }
}
