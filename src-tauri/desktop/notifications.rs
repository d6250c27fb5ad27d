//! OS notifications for what needs an operator now: the engine's `notification` events (a
//! new escalation, an approval waiting longer than `notifications.approval_wait_secs`).
//!
//! Clicking one brings the window forward and emits the Tauri event `navigate` with
//! `{"conversation_id": N}`; the console listens for it and opens that conversation.
//! On Linux the notification is sent with notify-rust (which tauri-plugin-notification uses
//! underneath) because the plugin ignores actions on desktop, and the click is the
//! notification's `default` action. Elsewhere the plugin shows it, without the click.
//! Without a notification service the app keeps working: the failure is logged once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use switchboard_core::ids::ConversationId;
use switchboard_core::Event;
use switchboard_engine::Engine;
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// The Tauri event a click emits; its payload is `{"conversation_id": N}`.
pub const NAVIGATE_EVENT: &str = "navigate";

/// Logs the first failure to show a notification, and only that one.
#[derive(Clone, Default)]
struct Unavailable(Arc<AtomicBool>);

impl Unavailable {
    /// Returns whether this failure was the one logged as a warning.
    fn report(&self, error: &dyn std::fmt::Display) -> bool {
        if !self.0.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "desktop notifications are unavailable (no notification service?); the app works without them");
            true
        } else {
            tracing::debug!(%error, "a desktop notification could not be shown");
            false
        }
    }
}

/// Shows the engine's notifications until the engine's event bus closes.
pub fn spawn<R: Runtime>(app: AppHandle<R>, engine: &Engine) {
    let mut events = engine.bus().subscribe();
    let unavailable = Unavailable::default();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.next().await {
            if let Event::Notification {
                title,
                body,
                conversation_id,
                ..
            } = event
            {
                show(&app, &title, &body, conversation_id, &unavailable);
            }
        }
    });
}

/// Brings the window forward and tells the console to open the conversation.
pub fn open_conversation<R: Runtime>(app: &AppHandle<R>, conversation: ConversationId) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    if let Err(e) = app.emit(
        NAVIGATE_EVENT,
        serde_json::json!({ "conversation_id": conversation }),
    ) {
        tracing::warn!(error = %e, "cannot tell the window to open the conversation");
    }
}

/// XDG notification bodies may be read as markup: customer-written text stays text.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(target_os = "linux")]
fn show<R: Runtime>(
    app: &AppHandle<R>,
    title: &str,
    body: &str,
    conversation: ConversationId,
    unavailable: &Unavailable,
) {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Switchboard")
        .summary(title)
        .body(&escape_markup(body))
        .action("default", "Open");
    let app = app.clone();
    let unavailable = unavailable.clone();
    // Waiting for the click blocks until the notification is clicked or closed.
    tauri::async_runtime::spawn_blocking(move || match notification.show() {
        Ok(handle) => handle.wait_for_action(|action| {
            if action == "default" {
                open_conversation(&app, conversation);
            }
        }),
        Err(e) => {
            unavailable.report(&e);
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn show<R: Runtime>(
    app: &AppHandle<R>,
    title: &str,
    body: &str,
    _conversation: ConversationId,
    unavailable: &Unavailable,
) {
    use tauri_plugin_notification::NotificationExt;
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        unavailable.report(&e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tauri::Listener;

    #[test]
    fn a_click_emits_navigate_with_the_conversation_id() {
        let app = tauri::test::mock_builder()
            .build(tauri::test::mock_context(tauri::test::noop_assets()))
            .expect("a mock app");
        let (tx, rx) = std::sync::mpsc::channel();
        app.listen_any(NAVIGATE_EVENT, move |event| {
            let _ = tx.send(event.payload().to_string());
        });
        open_conversation(app.handle(), ConversationId(42));
        let payload = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the console is told to navigate");
        assert_eq!(payload, r#"{"conversation_id":42}"#);
    }

    #[test]
    fn a_missing_notification_service_is_logged_once_only() {
        let unavailable = Unavailable::default();
        let shared = unavailable.clone();
        assert!(unavailable.report(&"no D-Bus session"));
        assert!(!shared.report(&"no D-Bus session"));
        assert!(!unavailable.report(&"still none"));
    }

    #[test]
    fn customer_text_cannot_become_markup() {
        assert_eq!(
            escape_markup("<b>refund</b> & more"),
            "&lt;b&gt;refund&lt;/b&gt; &amp; more"
        );
    }
}
