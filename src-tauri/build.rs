fn main() {
    #[cfg(feature = "desktop")]
    {
        // Listing the app's commands makes Tauri generate a permission per command, so the
        // capability file decides exactly what the window may call.
        let attributes = tauri_build::Attributes::new().app_manifest(
            tauri_build::AppManifest::new().commands(&["api_request", "subscribe_events"]),
        );
        if let Err(e) = tauri_build::try_build(attributes) {
            panic!("tauri build step failed: {e:#}");
        }
    }
}
