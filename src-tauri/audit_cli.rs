//! `switchboard audit verify`.

use crate::cli::CommonArgs;
use switchboard_store::queries::audit::{self, ChainStatus};
use switchboard_store::Store;

pub fn verify(args: &CommonArgs) -> anyhow::Result<()> {
    let config = crate::setup::load_config(args)?;
    let path = config.data_dir()?.join("switchboard.db");
    if !path.exists() {
        anyhow::bail!("no database at {}", path.display());
    }
    let store = Store::open(&path)?;
    match store.read_blocking(audit::verify)? {
        ChainStatus::Intact { records } => {
            println!("audit trail intact: {records} records verified");
            Ok(())
        }
        ChainStatus::Broken { record_id, reason } => {
            anyhow::bail!("audit trail broken at record {record_id}: {reason}")
        }
    }
}
