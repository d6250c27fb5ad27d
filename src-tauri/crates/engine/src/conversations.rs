//! Reading conversations and their messages.

use crate::{Engine, EngineError};
use switchboard_core::ids::{ConversationId, MessageId};
use switchboard_store::model::{Conversation, Message, Page};
use switchboard_store::queries::{conversations, messages};

pub use conversations::ConversationFilter;

impl Engine {
    pub async fn conversations(
        &self,
        filter: ConversationFilter,
    ) -> Result<Page<Conversation>, EngineError> {
        Ok(self
            .store()
            .read(move |c| conversations::list(c, &filter))
            .await?)
    }

    pub async fn conversation(&self, id: ConversationId) -> Result<Conversation, EngineError> {
        Ok(self
            .store()
            .read(move |c| conversations::get(c, id))
            .await?)
    }

    pub async fn messages(
        &self,
        conversation: ConversationId,
        before: Option<MessageId>,
        limit: Option<u32>,
    ) -> Result<Page<Message>, EngineError> {
        Ok(self
            .store()
            .read(move |c| {
                conversations::get(c, conversation)?;
                messages::list(c, conversation, before, limit)
            })
            .await?)
    }
}
